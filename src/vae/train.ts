// Minibatch training of the VAE with Adam and docs/derivation.md part 2's estimator (one ε per image per step),
// and evaluation of the bounds over a data set in batches. Images are binarized pixels in one
// Float32Array, row after row of D values. Browser-safe (no Node imports), so a Web Worker can run it.
import { noGrad } from "../autograd/index.js";
import { Adam } from "../nn/optim.js";
import { Random, randomStateProblem, shownValue, type RandomState } from "../tensor/random.js";
import { isBinaryData } from "../tensor/binary.js";
import { allocate } from "../tensor/dtype.js";
import { stepScope } from "../tensor/step-memory.js";
import { Tensor, markBinary } from "../tensor/tensor.js";
import { elboSamples, iwae, negativeElbo, sampleEps } from "./elbo.js";
import type { VAE } from "./model.js";

export interface TrainOptions {
  batchSize: number;
  lr: number;
  /** Seeds the shuffling and ε streams (the model's initialization is seeded separately). */
  seed: number;
}

/** Everything besides the tensors that a resumed run needs to continue bit for bit; JSON-safe. */
export interface TrainerState {
  /** Epochs completed. */
  epoch: number;
  /** Minibatches done in the current epoch. */
  batch: number;
  /** Adam's step count. */
  t: number;
  /** The shuffling RNG at the start of the current epoch: the epoch's permutation is regenerated from it. */
  shuffleRng: RandomState;
  epsRng: RandomState;
  /** Sum of the one-draw ELBOs and count of the images seen so far in the current epoch. */
  elboSum: number;
  seen: number;
}

export interface StepResult {
  /** Epoch (from 0) and minibatch (from 1) just done, of `batches`. */
  epoch: number;
  batch: number;
  batches: number;
  /** Mean one-draw ELBO of this minibatch, and its running mean over the epoch so far. */
  elbo: number;
  trainElbo: number;
  /** Images in this minibatch, and so far in the epoch. */
  size: number;
  images: number;
  /** Set when this step completed an epoch: the number of epochs done and the epoch's mean train ELBO. */
  epochEnd?: { epoch: number; trainElbo: number };
}

/**
 * A step whose loss or gradient is NaN or ±Infinity, thrown before the update: the parameters and Adam's
 * moments still hold the values of the last finite step (the step's draws of ε are consumed). (A weight
 * gradient that overflows while its bias gradient is finite is seen one step later, as the loss.)
 */
export class DivergenceError extends Error {
  /** Where and what: "training diverged at epoch E, batch b/B: <what> is <value>", which the message and the command line's error start with. */
  readonly summary: string;

  constructor(
    /** Epoch (from 0) and minibatch (from 1) of the step. */
    readonly epoch: number,
    readonly batch: number,
    readonly batches: number,
    /** "the loss", or "the gradient of <parameter>". */
    readonly what: string,
    readonly value: number,
    readonly lr: number,
  ) {
    const summary = `training diverged at epoch ${epoch + 1}, batch ${batch}/${batches}: ${what} is ${value}`;
    super(`${summary}; the parameters are left as they were before this step; try a smaller learning rate than ${lr}`);
    this.summary = summary;
  }
}

/** What is wrong with `state` as a TrainerState (see Trainer.getState), or undefined. */
function trainerStateProblem(state: unknown): string | undefined {
  if (typeof state !== "object" || state === null || Array.isArray(state)) return `expected an object, got ${shownValue(state)}`;
  const st = state as Record<string, unknown>;
  for (const key of ["epoch", "batch", "t", "seen"]) {
    if (!Number.isSafeInteger(st[key]) || (st[key] as number) < 0) return `${key} must be a non-negative integer, got ${shownValue(st[key])}`;
  }
  if (!Number.isFinite(st.elboSum)) return `elboSum must be a finite number, got ${shownValue(st.elboSum)}`;
  return randomStateProblem(st.shuffleRng, "shuffleRng") ?? randomStateProblem(st.epsRng, "epsRng");
}

/** Independent seeds for the streams of one run (splitmix32 in Random decorrelates nearby seeds). */
export const streamSeed = (seed: number, stream: number) => (seed + Math.imul(stream, 0x632be5ab)) >>> 0;

/** Adam over shuffled minibatches; the loss is `negativeElbo` with one draw of ε per image. */
export class Trainer {
  readonly optimizer: Adam;
  readonly count: number;
  readonly batches: number;
  epoch = 0;
  batch = 0;
  private elboSum = 0;
  private seen = 0;
  private readonly shuffleRng: Random;
  private readonly epsRng: Random;
  /**
   * The parameters whose gradients each step checks. A Linear layer's bias gradient is the column sums
   * of the same backpropagated δ as its weight gradient xᵀδ, so it is non-finite whenever δ is; with
   * finite inputs (the loss is finite) and finite δ, xᵀδ is non-finite only by overflowing float32, and
   * the step after such an update has a non-finite loss. Summing all 787,786 gradients at hidden 500
   * instead cost 1.7-2 ms of a 15-18 ms step (10-15%, measured on 2 cores); the 1,786 biases cost ~0.
   */
  private readonly checked: [string, Tensor][];
  /** Every pixel of `images` is +0 or 1 (checked once): the minibatches are marked without a scan. */
  private readonly binaryImages: boolean;
  private epochStart!: RandomState;
  private order!: Uint32Array;

  constructor(readonly model: VAE, readonly images: Float32Array, readonly options: TrainOptions) {
    const D = model.config.inputSize;
    this.count = images.length / D;
    if (!Number.isInteger(this.count) || this.count < 1) throw new Error(`Trainer: ${images.length} pixels are not a positive number of ${D}-pixel images`);
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new Error(`Trainer: batchSize must be a positive integer, got ${options.batchSize}`);
    this.optimizer = new Adam(model.namedParameters(), { lr: options.lr });
    const params = this.optimizer.params;
    // Stryker disable next-line LogicalOperator,StringLiteral: every Linear of the VAE has a bias, so any of these filters keeps the biases alone
    this.checked = [...params].filter(([name]) => !(name.endsWith(".weight") && params.has(`${name.slice(0, -".weight".length)}.bias`)));
    this.batches = Math.ceil(this.count / options.batchSize);
    this.shuffleRng = new Random(streamSeed(options.seed, 1));
    this.epsRng = new Random(streamSeed(options.seed, 2));
    this.binaryImages = isBinaryData(images);
    this.shuffle();
  }

  private shuffle(): void {
    this.epochStart = this.shuffleRng.getState();
    this.order = this.shuffleRng.shuffle(Uint32Array.from({ length: this.count }, (_, i) => i));
  }

  /** One Adam step on the next minibatch (the last one of an epoch may be smaller). */
  step(): StepResult {
    const { inputSize: D, latent } = this.model.config;
    const start = this.batch * this.options.batchSize;
    const b = Math.min(this.count, start + this.options.batchSize) - start;
    const diverged = (what: string, v: number) => new DivergenceError(this.epoch, this.batch + 1, this.batches, what, v, this.options.lr);
    this.optimizer.zeroGrad();
    // The forward and backward passes as one step scope: with threads, their activations and gradients
    // live in the threads' memory, reused by the next step (none of them outlives this one). The
    // parameters' gradients land in the optimizer's buffers, outside it.
    const value = stepScope(() => {
      const x = allocate("float32", b * D);
      for (let i = 0; i < b; i++) x.set(this.images.subarray(this.order[start + i] * D, (this.order[start + i] + 1) * D), i * D);
      const eps = sampleEps(this.epsRng, 1, b, latent);
      const xt = new Tensor(x, [b, D]);
      // Binarized pixels: the first layer runs as sums of W1's columns. The images were checked once.
      // Stryker disable next-line ConditionalExpression: speed only: the dense first layer gives the same values to float32 rounding (test/binary.test.ts)
      if (this.binaryImages) xt.storage.assumeBinary();
      const loss = negativeElbo(this.model, xt, eps);
      const value = loss.item();
      if (!Number.isFinite(value)) throw diverged("the loss (the negative ELBO)", value);
      loss.backward();
      return value;
    });
    for (const [name, p] of this.checked) {
      // Stryker disable next-line OptionalChaining: every parameter of the VAE gets a gradient
      const g = p.grad?.data;
      // Stryker disable next-line ConditionalExpression: every parameter of the VAE gets a gradient
      if (!g) continue;
      let sum = 0; // a float64 sum of float32 values is finite unless one of them is not
      // Stryker disable next-line EqualityOperator,AssignmentOperator: a NaN sum (g[length] is undefined) only makes the exact search below run; −sum is finite when sum is
      for (let i = 0; i < g.length; i++) sum += g[i];
      const bad = Number.isFinite(sum) ? undefined : g.find((v) => !Number.isFinite(v)); // (float64 values may overflow the sum)
      if (bad !== undefined) throw diverged(`the gradient of ${name}`, bad);
    }
    this.optimizer.step();

    const elbo = -value;
    this.elboSum += elbo * b;
    this.seen += b;
    const result: StepResult = { epoch: this.epoch, batch: ++this.batch, batches: this.batches, elbo, trainElbo: this.elboSum / this.seen, size: b, images: this.seen };
    if (this.batch === this.batches) {
      result.epochEnd = { epoch: ++this.epoch, trainElbo: result.trainElbo };
      this.batch = this.elboSum = this.seen = 0;
      this.shuffle();
    }
    return result;
  }

  getState(): TrainerState {
    const { epoch, batch, elboSum, seen } = this;
    return { epoch, batch, t: this.optimizer.t, shuffleRng: this.epochStart, epsRng: this.epsRng.getState(), elboSum, seen };
  }

  /**
   * Restores a state from `getState` (e.g. parsed from a file); the tensors of `tensors()` must be
   * restored separately. Throws, changing nothing, if a field is missing or out of range.
   */
  setState(state: TrainerState): void {
    const bad = trainerStateProblem(state);
    if (bad !== undefined) throw new Error(`Trainer.setState: ${bad}`);
    if (state.batch >= this.batches) {
      throw new Error(`Trainer.setState: batch ${state.batch} is not within 0..${this.batches - 1} (different data or batch size?)`);
    }
    ({ epoch: this.epoch, batch: this.batch, elboSum: this.elboSum, seen: this.seen } = state);
    this.optimizer.t = state.t;
    this.shuffleRng.setState(state.shuffleRng);
    this.shuffle();
    this.epsRng.setState(state.epsRng);
  }

  /** The model's parameters and Adam's moments (`adam.m.<name>`, `adam.v.<name>`), sharing their storage. */
  tensors(): Map<string, Tensor> {
    const out = new Map(this.optimizer.params);
    for (const [name, p] of this.optimizer.params) {
      out.set(`adam.m.${name}`, new Tensor(this.optimizer.m.get(name)!, p.shape));
      out.set(`adam.v.${name}`, new Tensor(this.optimizer.v.get(name)!, p.shape));
    }
    return out;
  }
}

export interface TrainLoopOptions {
  /** Train until this many epochs are done. */
  epochs: number;
  onStep?: (step: StepResult) => void;
  /** Awaited after each epoch, e.g. to evaluate and save. */
  onEpoch?: (end: { epoch: number; trainElbo: number }) => void | Promise<void>;
  /** Checked before each step: return true to stop (the state is then between two steps). */
  shouldStop?: () => boolean;
  /** Yield to the event loop every this many steps (so that messages and signals are seen). */
  yieldEvery?: number;
  pause?: () => Promise<void>;
}

/** Runs `trainer` to `epochs` epochs; "stopped" if `shouldStop` ended it early. */
export async function trainLoop(trainer: Trainer, options: TrainLoopOptions): Promise<"done" | "stopped"> {
  const { yieldEvery = 4, pause = () => new Promise<void>((resolve) => setTimeout(resolve, 0)) } = options;
  for (let n = 1; trainer.epoch < options.epochs; n++) {
    if (options.shouldStop?.()) return "stopped";
    const step = trainer.step();
    options.onStep?.(step);
    if (step.epochEnd) await options.onEpoch?.(step.epochEnd);
    if (n % yieldEvery === 0) await pause();
  }
  return "done";
}

/** Calls `f` on each batch of images in order (marked 0/1, without recording), with the index of its first image. */
function forBatches(images: Float32Array, D: number, batchSize: number, f: (x: Tensor, start: number) => void): void {
  const count = images.length / D;
  noGrad(() => {
    // Stryker disable next-line EqualityOperator: one more batch of 0 images adds nothing
    for (let start = 0; start < count; start += batchSize) {
      const b = Math.min(batchSize, count - start);
      const x = new Tensor(images.subarray(start * D, (start + b) * D), [b, D]);
      markBinary(x);
      f(x, start);
    }
  });
}

export interface EvalOptions {
  /** Draws of ε per image (default 1). */
  samples?: number;
  batchSize?: number;
  /** Seed of the ε stream; the default is fixed so that evaluations are comparable. */
  seed?: number;
}

export const EVAL_SEED = 12345;

/**
 * The mean over images of the Monte Carlo ELBO (docs/derivation.md part 2) with K draws per image, in nats per
 * image. With K = 1 the draws follow the images in order, so the result does not depend on batchSize.
 */
export function evaluateElbo(model: VAE, images: Float32Array, options: EvalOptions = {}): number {
  return elboPerImage(model, images, options).mean;
}

/**
 * evaluateElbo's pass, with each image's value kept: `perImage[i]` is the mean of image i's K draws,
 * `mean` what evaluateElbo returns (summed in the same order). The draws are those of evaluateElbo on
 * the same images and options, so the mean of `perImage` over the first n images is the ELBO of those
 * images with the draws the whole pass gave them.
 */
export function elboPerImage(model: VAE, images: Float32Array, options: EvalOptions = {}): { mean: number; perImage: Float64Array } {
  const { samples: k = 1, batchSize = 500, seed = EVAL_SEED } = options;
  const D = model.config.inputSize;
  const rng = new Random(seed);
  const count = images.length / D;
  const perImage = new Float64Array(count);
  let sum = 0;
  forBatches(images, D, batchSize, (x, start) => {
    const b = x.shape[0];
    const values = elboSamples(model, x, sampleEps(rng, k, b, model.config.latent)).elbo.data; // [K, b]
    for (let q = 0; q < values.length; q++) {
      sum += values[q];
      perImage[start + (q % b)] += values[q];
    }
  });
  for (let i = 0; i < count; i++) perImage[i] /= k;
  return { mean: sum / (k * count), perImage };
}

/**
 * The mean over images of the importance-weighted bound with K draws each (`iwae`, docs/derivation.md's ELBO at
 * K = 1), in batches of at most ~4M pixel logits to bound memory.
 */
export function evaluateIwae(model: VAE, images: Float32Array, options: EvalOptions = {}): number {
  const { samples: k = 100, seed = EVAL_SEED } = options;
  const batchSize = options.batchSize ?? Math.max(1, Math.floor(4e6 / (k * model.config.inputSize)));
  const rng = new Random(seed);
  let sum = 0;
  forBatches(images, model.config.inputSize, batchSize, (x) => {
    for (const v of iwae(model, x, sampleEps(rng, k, x.shape[0], model.config.latent)).data) sum += v;
  });
  return sum / (images.length / model.config.inputSize);
}

/** g(x) for every image, [count × d] row-major. */
export function encoderMeans(model: VAE, images: Float32Array, batchSize = 500): Float32Array {
  const D = model.config.inputSize;
  const d = model.config.latent;
  const out = new Float32Array((images.length / D) * d);
  noGrad(() => {
    // Stryker disable next-line EqualityOperator: one more batch of 0 images adds nothing
    for (let start = 0; start * D < images.length; start += batchSize) {
      // Stryker disable next-line MethodExpression: the rest of the images in one batch gives the same means
      const x = images.subarray(start * D, Math.min(images.length, (start + batchSize) * D));
      const xt = new Tensor(x, [x.length / D, D]);
      markBinary(xt);
      out.set(model.encode(xt).mean.data, start * d);
    }
  });
  return out;
}
