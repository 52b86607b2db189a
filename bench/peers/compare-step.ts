// One seed training step (batch 100, H = 500, Adam 1e-3, one reparameterized draw) in images/s:
// ours through `Trainer` on each backend, the same model written in tfjs on each of its backends.
import { setBackend } from "../../src/index.js";
import { sideBySide, type Contender, type Schedule } from "./harness.js";
import { OurStep, trainingImages } from "./ours.js";
import type { OurThreads } from "./threads.js";

export interface StepRow {
  name: string;
  msPerStep: number;
  imagesPerSecond: number;
  /** Timed steps (after warmup). */
  steps: number;
  /** Fastest and slowest sample, ms per step. */
  range: [number, number];
  /** The loss (−ELBO estimate, nats per image) of the last step: the same model should give similar values. */
  loss: number;
}

export interface StepOptions {
  batchSize: number;
  hidden: number;
  /** Images cycled through (MNIST train, binarized). */
  images: number;
}

export const seedStep: StepOptions = { batchSize: 100, hidden: 500, images: 1000 };

/** A peer's training step on the same images; `step()` does one untimed step. */
export interface PeerStep extends Contender {
  lastLoss: number;
  step(): number;
  dispose(): void;
}

export interface StepPeers {
  make: (images: Float32Array, opts: StepOptions) => Promise<PeerStep[]>;
  /** Tensors alive in the peer library (a leak across steps would show). */
  tensorCount: () => number;
}

export async function compareStep(opts: StepOptions, stepPeers: StepPeers | undefined, threads: OurThreads, schedule: Schedule, progress: (s: string) => void): Promise<{ rows: StepRow[]; notes: string[] }> {
  progress("training step");
  const images = trainingImages(opts.images);
  const ours = [new OurStep("wasm", images, opts.batchSize, opts.hidden), new OurStep("js", images, opts.batchSize, opts.hidden)];
  const contenders: (Contender & { lastLoss: number })[] = [...ours];
  if (threads.start && threads.stop) {
    const { start, stop } = threads;
    const step = new OurStep("wasm", images, opts.batchSize, opts.hidden);
    // The pool runs only around its own samples, so the other rows stay on one thread; it is started,
    // and one step taken on it, untimed (the first steps on a fresh pool measured ~10% slower).
    contenders.push({
      name: `ours wasm×${threads.threads}`,
      get lastLoss() {
        return step.lastLoss;
      },
      before: () => setBackend("wasm"),
      run: async (reps) => {
        await start();
        try {
          step.run(1);
          return step.run(reps);
        } finally {
          stop();
        }
      },
    });
  }
  const peers = (await stepPeers?.make(images, opts)) ?? [];
  contenders.push(...peers);
  // One untimed step each first: optimizers make their slots on the first step.
  for (const p of peers) {
    await p.before?.();
    p.step();
  }
  const tensorsBefore = stepPeers?.tensorCount();
  const timings = await sideBySide(contenders, schedule);
  setBackend("wasm");
  const notes: string[] = [];
  const leaked = stepPeers ? stepPeers.tensorCount() - tensorsBefore! : 0;
  if (leaked !== 0) notes.push(`tfjs: ${leaked} more tensors after the timed steps than before them (a leak in the step)`);
  for (const p of peers) p.dispose();
  const rows = contenders.map((c) => {
    const t = timings[c.name];
    return { name: c.name, msPerStep: t.ms, imagesPerSecond: (opts.batchSize * 1000) / t.ms, steps: t.samples * t.reps, range: [t.min, t.max] as [number, number], loss: c.lastLoss };
  });
  return { rows, notes };
}
