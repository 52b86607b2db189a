// Messages between the explorer page (main.ts) and its training worker (worker.ts).

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

export type ToWorker = TrainRequest | { type: "stop" };

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
  | { type: "error"; message: string };

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
