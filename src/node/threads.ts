// Node glue for the matmul thread pool (../tensor/wasm/parallel.ts): worker_threads workers.
import './relaxed-simd.js';

import { Worker } from 'node:worker_threads';
import { type SpawnWorker, type ThreadOptions, startThreads, stopThreads } from '../tensor/wasm/parallel.js';

/** Spawns an eval'd worker_threads Worker that never keeps the process alive. */
export const spawnNodeWorker: SpawnWorker = (source, events) => {
  const w = new Worker(`globalThis.__tsgradParentPort = require("node:worker_threads").parentPort;\n${source}`, { eval: true });
  w.on('message', events.message);
  w.on('error', (e) => events.error(e.message));
  w.on('exit', (code) => events.error(`exited with code ${code}`));
  // Referenced until its first message ("ready"), so awaiting startup keeps Node alive; then
  // unref()ed (after the listeners: adding a 'message' listener refs the worker's port again).
  w.once('message', () => w.unref());
  return { postMessage: (message) => w.postMessage(message), terminate: () => void w.terminate() };
};

/**
 * Runs large float32 matmuls (backend "wasm") on `threads` threads: this one and threads-1
 * worker_threads. Call once at startup; usable at once, the promise resolves to the thread count
 * when the workers are up. @example useWorkerThreads()
 */
export function useWorkerThreads(threads = 2, options?: ThreadOptions): Promise<number> {
  return startThreads(spawnNodeWorker, threads, options);
}

/** Stops the workers (matmuls go back to one thread). Optional: workers never keep Node alive. */
export function stopWorkerThreads(): void {
  stopThreads();
}
