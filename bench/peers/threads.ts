// Our two-thread figures ("wasm×2"): the worker-thread pool of src/node/threads.ts (`useWorkerThreads`),
// loaded only if that module exists (it is being written alongside this bench; without it the
// columns are left out with a TODO note, and nothing else changes).
//
// With the pool started, `matmulInto` on the "wasm" backend splits products of at least its
// minimum work (m·k·n ≥ 2²⁰ by default) across the threads and runs smaller ones on one thread,
// as in training; the single-thread columns call `matmulWasmInto` directly and do not see the pool.
import { existsSync } from "node:fs";
import { matmulInto, setBackend } from "../../src/index.js";
import type { Kernel } from "./ours.js";

export interface OurThreads {
  /** Threads asked for. */
  threads: number;
  /** The product on the pool (one thread below its minimum work); only while started. */
  kernel?: Kernel;
  /** Starts the pool (untimed); resolves to the threads in use. */
  start?: () => Promise<number>;
  stop?: () => void;
  /** What was found, printed with the results. */
  note: string;
}

const modulePath = new URL("../../src/node/threads.ts", import.meta.url);

interface ThreadsModule {
  useWorkerThreads?: (threads?: number) => Promise<number>;
  stopWorkerThreads?: () => void;
}

export async function ourThreads(threads = 2): Promise<OurThreads> {
  if (!existsSync(modulePath)) return { threads, note: `TODO: no "wasm×${threads}" figures: src/node/threads.ts (useWorkerThreads) does not exist yet` };
  let mod: ThreadsModule;
  try {
    mod = (await import(modulePath.href)) as ThreadsModule;
  } catch (e) {
    return { threads, note: `TODO: no "wasm×${threads}" figures: src/node/threads.ts failed to load (${(e as Error).message.split("\n")[0]})` };
  }
  const { useWorkerThreads, stopWorkerThreads } = mod;
  if (typeof useWorkerThreads !== "function" || typeof stopWorkerThreads !== "function") {
    return { threads, note: `TODO: no "wasm×${threads}" figures: src/node/threads.ts exports no useWorkerThreads/stopWorkerThreads (it has: ${Object.keys(mod).join(", ")})` };
  }
  return {
    threads,
    kernel: (out, a, b, m, k, n, transA, transB) => matmulInto(out, a, b, m, k, n, transA, transB),
    start: async () => {
      setBackend("wasm");
      return useWorkerThreads(threads);
    },
    stop: () => stopWorkerThreads(),
    note: `wasm×${threads}: matmulInto on the "wasm" backend after useWorkerThreads(${threads}) (src/node/threads.ts): this thread and ${threads - 1} worker_thread(s); products under its minimum work (m·k·n < 2²⁰) stay on one thread`,
  };
}
