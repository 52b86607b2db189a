// Messages between the explorer page and its workers (worker.ts): one trains (training.ts), another computes
// the true posterior of a drawn digit (posterior.ts).

export interface TrainRequest {
  type: "train";
  /** Train on the first `limit` training images. */
  limit: number;
  hidden: number;
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  /** Raw test pixels (0..255) whose encoder means are sent back after each epoch, for the scatter. */
  testPixels: Uint8Array;
  /** The first this many of them give the test ELBO of each epoch. */
  evalImages: number;
}

/** log p(x) by quadrature, the posterior on its grid and the ELBO by quadrature of one image, under the model given. */
export interface ExactRequest {
  type: "exact";
  /** Echoed in the answer, so that the page keeps only the answer for its latest drawing. */
  id: number;
  /** The model as a safetensors file (modelBytes). */
  model: Uint8Array;
  /** The binarized image, 0 or 1 per pixel. */
  pixels: Float32Array;
}

export type ToWorker = TrainRequest | ExactRequest | { type: "stop" };

/** What `logMarginal`, `elboByQuadrature` and `laplaceAt` give for the image of an ExactRequest. */
export interface ExactResult {
  type: "exact";
  id: number;
  logMarginal: number;
  /** logMarginal's error estimate, and whether the refinement met its tolerance. */
  error: number;
  converged: boolean;
  box: { z1: [number, number]; z2: [number, number] };
  points: number;
  /** log p(z|x) at the grid's cell midpoints, row i (z₂ increasing), column j (z₁ increasing). */
  logPosterior: Float64Array;
  mode: [number, number];
  /** The ELBO by quadrature, and the gap log p(x) − ELBO = KL(q ‖ p(z|x)). */
  elbo: number;
  gap: number;
  /** The Laplace approximation and its covariance (−H)⁻¹, absent where −H is not positive definite at the mode. */
  laplace?: number;
  laplaceCovariance?: [number, number, number, number];
  /** Seconds the worker spent. */
  seconds: number;
}

export interface EpochMessage {
  type: "epoch";
  /** Epochs done (0: the freshly initialized model, before any step). */
  epoch: number;
  step: number;
  /** Mean one-draw ELBO over the epoch's minibatches (NaN at epoch 0). */
  trainElbo: number;
  /** ELBO (one draw per image, fixed seed) of the first `evalImages` test images. */
  testElbo: number;
  /** Training images per second over the epoch's steps (NaN at epoch 0). */
  imagesPerSecond: number;
  /** Seconds spent in training steps during the epoch. */
  seconds: number;
  /** The model's parameters by name, after the epoch. */
  params: Record<string, Float32Array>;
  /** g(x) of every test image sent, [n × 2]. */
  means: Float32Array;
  /** Set when training was stopped within an epoch: the model after the last step, `batch` minibatches into epoch `epoch` + 1. */
  partial?: { batch: number; batches: number };
}

export type FromWorker =
  | { type: "status"; text: string }
  | { type: "start"; images: number; batches: number }
  | { type: "step"; epoch: number; batch: number; batches: number; elbo: number; trainElbo: number; imagesPerSecond: number }
  | EpochMessage
  | { type: "done" | "stopped"; epochs: number; seconds: number; images: number }
  | { type: "error"; message: string }
  | ExactResult
  | { type: "exact-error"; id: number; message: string };

/** What the page asks for first (GET /api/info). */
export interface ExplorerInfo {
  checkpoint: string | null;
  source: string;
  metadata: Record<string, string>;
  points: number;
  trainImages: number;
  defaultCheckpoint: string;
  /** Why there is no checkpoint, if there is none. */
  note?: string;
}
