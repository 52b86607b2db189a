// A lock file holding the pid of the process that owns a directory, created atomically (O_EXCL).
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export interface Lock {
  path: string;
  /** The pid of a dead process whose lock was taken over, if any. */
  stale?: number;
  /** Removes the lock if it still holds this process's pid. */
  release(): void;
}

/** Whether a process with this pid runs (EPERM: it does, as another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Creates `path` holding this pid, or throws naming the pid in it if that process runs (`what` says
 * what it guards). A lock left by a dead process (kill -9) is taken over: `stale` then names its pid.
 */
export function acquireLock(path: string, what: string): Lock {
  mkdirSync(dirname(path), { recursive: true });
  let stale: number | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, "wx");
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw new Error(`${path}: cannot create the lock of ${what}: ${(e as Error).message}`);
    }
    let text = readText(path);
    if (text === "") {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // its owner may be between create and write
      text = readText(path);
    }
    const pid = Number(text.trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
      throw new Error(`${what} is in use by process ${pid} (lock ${path}); wait for it to finish or stop it (kill ${pid}); if no such process is running, delete the lock`);
    }
    if (attempt > 0) throw new Error(`${path}: cannot take over the lock of ${what} (it holds ${JSON.stringify(text.trim())}); if no process is using it, delete the lock`);
    // The owner is gone (killed with -9, or the machine stopped). Two processes taking over the same
    // stale lock at the same instant could both remove it; the narrow window is accepted.
    stale = Number.isInteger(pid) && pid > 0 ? pid : undefined;
    rmSync(path, { force: true });
  }
  return {
    path,
    stale,
    release() {
      if (readText(path).trim() === String(process.pid)) rmSync(path, { force: true });
    },
  };
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
