// The training-speed measurement that bench/browser.ts runs twice, in Node and in a Chromium worker: seed
// model (hidden 500 by default), minibatch Adam on binarized images, images per second over timed rounds of
// steps. Browser-safe: it imports only the core.
import { Random, Trainer, VAE, getThreads, matmulWasmInto } from "../../src/index.js";
import { vaeShapes } from "../shapes.js";

export interface TrainingSpeedOptions {
  hidden: number;
  batch: number;
  /** Untimed steps first (compilation, Adam's slots, the thread pool's first products). */
  warmup: number;
  /** Steps per timed round. */
  steps: number;
  rounds: number;
}

export interface TrainingSpeed {
  imagesPerSecond: number;
  /** Images per second of each round, in order. */
  rounds: number[];
  msPerStep: number;
  threads: number;
}

/** `images`: binarized, [n × 784]; the trainer cycles through it (reshuffling each epoch) for as many steps as asked. */
export function trainingSpeed(images: Float32Array, o: TrainingSpeedOptions): TrainingSpeed {
  const model = new VAE({ hidden: o.hidden }, { seed: 0 });
  const trainer = new Trainer(model, images, { batchSize: o.batch, lr: 1e-3, seed: 0 });
  for (let i = 0; i < o.warmup; i++) trainer.step();
  const rounds: number[] = [];
  for (let r = 0; r < o.rounds; r++) {
    let imagesDone = 0;
    const t0 = performance.now();
    for (let i = 0; i < o.steps; i++) imagesDone += trainer.step().size;
    rounds.push(imagesDone / ((performance.now() - t0) / 1000));
  }
  const sorted = [...rounds].sort((a, b) => a - b);
  const imagesPerSecond = sorted[Math.floor(sorted.length / 2)];
  return { imagesPerSecond, rounds, msPerStep: (1000 * o.batch) / imagesPerSecond, threads: getThreads() };
}

/** GFLOP/s (2mnk over the median of `reps` calls) of the WebAssembly kernel on each of the six products of a seed step, on the threads started. */
export function productSpeed(reps: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of vaeShapes) {
    const rng = new Random(1);
    const a = Float32Array.from({ length: s.m * s.k }, () => rng.normal());
    const b = Float32Array.from({ length: s.k * s.n }, () => rng.normal());
    const c = new Float32Array(s.m * s.n);
    const times: number[] = [];
    for (let i = 0; i < reps + 3; i++) {
      const t0 = performance.now();
      matmulWasmInto(c, a, b, s.m, s.k, s.n, s.transA, s.transB);
      if (i >= 3) times.push(performance.now() - t0);
    }
    times.sort((x, y) => x - y);
    out[s.label] = (2 * s.m * s.k * s.n) / (times[Math.floor(times.length / 2)] * 1e6);
  }
  return out;
}
