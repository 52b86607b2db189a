// The training-speed measurement that bench/browser.ts runs twice, in Node and in a Chromium worker: seed
// model (hidden 500 by default), minibatch Adam on binarized images, images per second over timed rounds of
// steps. Browser-safe: it imports only the core.
import { Trainer, VAE, getThreads, matmulWasmInto } from "../../src/index.js";
import { operands, vaeShapes } from "../shapes.js";
import { median, medianMs } from "../timing.js";

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
  const imagesPerSecond = median(rounds);
  return { imagesPerSecond, rounds, msPerStep: (1000 * o.batch) / imagesPerSecond, threads: getThreads() };
}

/** GFLOP/s (2mnk over the median of `reps` calls) of the WebAssembly kernel on each of the six products of a seed step, on the threads started. */
export function productSpeed(reps: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of vaeShapes) {
    const { a, b, out: c } = operands(s);
    out[s.label] = (2 * s.m * s.k * s.n) / (medianMs(() => matmulWasmInto(c, a, b, s.m, s.k, s.n, s.transA, s.transB), reps) * 1e6);
  }
  return out;
}
