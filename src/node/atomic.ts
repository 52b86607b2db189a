import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { processAlive } from "./lock.js";

/** The temporary that writeFileAtomic writes `path` through: `<path>.<pid>.<random>.tmp`, in path's directory. */
export function temporaryPath(path: string, pid = process.pid): string {
  return `${path}.${pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
}

/** The file and pid of a writeFileAtomic temporary's base name, or null if `name` is not one. */
function parseTemporary(name: string): { file: string; pid: number } | null {
  const m = /^(.+)\.(\d+)\.[0-9a-z]+\.tmp$/.exec(name);
  return m === null ? null : { file: m[1], pid: Number(m[2]) };
}

/** Writes `data` to `path` so that readers see either the old file or the whole new one, never a part. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = temporaryPath(path);
  try {
    const fd = openSync(tmp, "wx");
    try {
      const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(`writeFileAtomic: cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Removes the temporaries that writeFileAtomic left in `dir` for the files named `files` (base names)
 * when the process writing them died; those of running processes stay. Returns how many it removed.
 */
export function removeStaleTemporaries(dir: string, files: readonly string[]): number {
  let removed = 0;
  for (const name of readdirSync(dir)) {
    const t = parseTemporary(name);
    if (t === null || !files.includes(t.file) || processAlive(t.pid)) continue;
    rmSync(join(dir, name), { force: true });
    removed++;
  }
  return removed;
}
