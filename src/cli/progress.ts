// Progress lines on stderr for long commands: updated in place on a terminal, else one line per tenth.
import type { Io } from "./commands.js";

/** 42s, 3m07s, 1h05m (whole seconds, rounded first: 479.6 s is 8m00s, not 7m60s). */
export function fmtTime(seconds: number): string {
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/**
 * A reporter of (fraction done, what) for work that takes a while: `prefix: what  elapsed 1m10s  ETA 4m02s`.
 * `done()` ends the line on a terminal.
 */
export function progressReporter(io: Io, prefix: string): { report: (fraction: number, what: string) => void; done: () => void } {
  const t0 = performance.now();
  let lastDraw = -Infinity;
  let lastTenth = 0;
  let drawn = false;
  return {
    report(fraction, what) {
      const now = performance.now();
      const tenth = Math.floor(fraction * 10);
      if (io.isTTY ? now - lastDraw < 200 && fraction < 1 : tenth <= lastTenth && fraction < 1) return;
      lastDraw = now;
      lastTenth = tenth;
      const elapsed = (now - t0) / 1000;
      const eta = fraction > 0 && fraction < 1 ? `  ETA ${fmtTime((elapsed * (1 - fraction)) / fraction)}` : "";
      const line = `${prefix}: ${what}  ${(100 * fraction).toFixed(0)}%  elapsed ${fmtTime(elapsed)}${eta}`;
      if (io.isTTY) {
        io.err(`\r${line}\x1b[K`);
        drawn = true;
      } else io.err(line + "\n");
    },
    done() {
      if (drawn) io.err("\r\x1b[K");
      drawn = false;
    },
  };
}
