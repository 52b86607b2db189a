// The command line's progress lines (src/cli/progress.ts): the durations they show and when they are written.
import { describe, expect, it } from "vitest";
import { fmtTime, progressReporter } from "../src/cli/progress.js";

describe("progress lines", () => {
  it("fmtTime shows whole seconds, minutes and seconds, or hours and minutes, rounding before it splits", () => {
    expect([0, 0.4, 42.5, 59.4, 59.6, 60, 187, 479.6, 3599.6, 3600, 3900, 7325].map(fmtTime)).toEqual(["0s", "0s", "43s", "59s", "1m00s", "1m00s", "3m07s", "8m00s", "1h00m", "1h00m", "1h05m", "2h02m"]);
  });

  it("off a terminal, writes a line each time the work passes a tenth, and the last one at 100% without an ETA", () => {
    const lines: string[] = [];
    const p = progressReporter({ out: () => {}, err: (s) => void lines.push(s), isTTY: false }, "job");
    for (let i = 1; i <= 40; i++) p.report(i / 40, `${i}/40`);
    p.done();
    expect(lines).toHaveLength(10); // 4/40, 8/40, …, 40/40
    expect(lines.every((l) => l.endsWith("\n") && !l.includes("\r"))).toBe(true);
    expect(lines[0]).toMatch(/^job: 4\/40 {2}10% {2}elapsed \d+s {2}ETA \d+s\n$/);
    expect(lines.at(-1)).toMatch(/^job: 40\/40 {2}100% {2}elapsed \d+s\n$/);
  });

  it("on a terminal, redraws one line in place and clears it at the end", () => {
    const out: string[] = [];
    const p = progressReporter({ out: () => {}, err: (s) => void out.push(s), isTTY: true }, "job");
    p.report(0.5, "half");
    p.report(0.6, "skipped: within 200 ms of the last draw");
    p.report(1, "all");
    p.done();
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(/^\rjob: half {2}50% {2}elapsed \d+s {2}ETA \d+s\x1b\[K$/);
    expect(out[1]).toMatch(/^\rjob: all {2}100%/);
    expect(out[2]).toBe("\r\x1b[K");
  });
});
