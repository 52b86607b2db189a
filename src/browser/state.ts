// What the explorer page holds (the model, the test images, what it has computed) and `window.__explorer`, which
// exposes the computed numbers to tests (test/browser) and the curious. Every other module of the page reads
// and writes these.
import { VAE, type ElboEstimate } from "../index.js";
import type { ExactResult } from "./protocol.js";

export const SIDE = 28;
export const D = SIDE * SIDE;
/** The ELBO of a drawn digit: K draws of ε from a fixed seed (the CLI's `vae elbo` defaults). */
export const ELBO_SAMPLES = 1000;
export const ELBO_SEED = 1;
/** Test images whose ELBO is reported after each epoch of in-page training. */
export const EVAL_IMAGES = 1000;
/** Φ⁻¹(0.95): the manifold's square on the latent plot. */
export const MANIFOLD_EDGE = 1.6448536269514722;

export type TrainingState = "idle" | "loading" | "running" | "done" | "stopped" | "error";

/** The true posterior of a drawn digit (the worker's ExactResult), with q(z|x)'s spread, as `window.__explorer` shows it. */
export interface DrawnExact extends Omit<ExactResult, "type" | "id" | "logPosterior"> {
  logPosterior: number[];
  qStd: [number, number];
  /** The texts of the table's cells: ELBO (quadrature), log p(x), the gap. */
  shown: Record<string, string>;
}

export interface DrawnDigit {
  /** Mean ink per 28×28 cell, 0..255, and its binarization (p > 127), row-major. */
  grey: number[];
  pixels: number[];
  encoderMean: number[];
  /** q(z|x)'s standard deviations. */
  qStd: [number, number];
  /** Set once the stroke ended (K = ELBO_SAMPLES draws, seed ELBO_SEED). */
  elbo: ElboEstimate | null;
  /** Set when the worker's log p(x) and posterior for this drawing arrive. */
  exact: DrawnExact | null;
  seq: number;
}

export const state = {
  model: new VAE({}, { seed: 0 }),
  /** Counts model changes, so that a worker's answer for an older model is dropped. */
  modelVersion: 0,
  /** Metadata besides format and config written by "Download weights". */
  downloadExtra: {} as Record<string, unknown>,
  downloadName: "model.safetensors",
  testPixels: new Uint8Array(0) as Uint8Array,
  testImages: new Float32Array(0) as Float32Array,
  labels: new Uint8Array(0) as Uint8Array,
  means: null as Float32Array | null,
  /** The latent plot shows [-lim, lim]². */
  lim: 3,
  drawSeq: 0,
  hoverSeq: 0,
};

export const explorer = {
  ready: false,
  errors: [] as string[],
  elboSamples: ELBO_SAMPLES,
  elboSeed: ELBO_SEED,
  model: { source: "", config: null as unknown, trainedHere: false },
  /** The latent point last decoded into #decoded, and a counter of decodes. */
  hover: null as { z: [number, number]; seq: number } | null,
  drawn: null as DrawnDigit | null,
  training: {
    state: "idle" as TrainingState,
    epochs: [] as { epoch: number; trainElbo: number; testElbo: number; imagesPerSecond: number; seconds: number }[],
    imagesPerSecond: NaN,
    error: null as string | null,
  },
  /** The latent plot: renders so far, the layers of the last one, and the drawing (seq) whose posterior it shows. */
  plot: { renders: 0, layers: [] as string[], posteriorSeq: null as number | null },
  /**
   * The zoomed posterior of the draw panel (posteriorSpec): the drawing (seq) it shows, or null when empty; its
   * window (the axes' domains) and its plot area in the chart canvas's pixels.
   */
  zoom: { renders: 0, seq: null as number | null, window: null as { z1: number[]; z2: number[] } | null, plot: null as { left: number; top: number; width: number; height: number } | null },
  /** The latent plot shows [-lim, lim]² of the latent space. */
  get lim(): number {
    return state.lim;
  },
  /** Client (viewport) coordinates of latent point z on the latent plot (set by latent-plot.ts). */
  latentToClient(_z1: number, _z2: number): { x: number; y: number } {
    throw new Error("explorer: the latent plot is not drawn yet");
  },
};
(window as unknown as { __explorer: typeof explorer }).__explorer = explorer;
