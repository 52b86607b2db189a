// The latent explorer page: everything here is computed in the browser with this library (the server only
// sends bytes). Panels: the test set's encoder means, the decoder under the pointer, the manifold grid, a pad
// to draw a digit (its g(x) and ELBO) and training in a Web Worker (worker.ts) with a live ELBO curve.
// `window.__explorer` exposes what the page computed, for tests (test/browser) and the curious.
import { Random, Tensor, VAE, binarize, encoderMeans, estimateElbo, initWasm, noGrad, quantileGrid, type ElboEstimate } from "../index.js";
import { modelBytes, modelFromBytes } from "../vae/checkpoint-meta.js";
import type { EpochMessage, ExplorerInfo, FromWorker, TrainRequest } from "./protocol.js";

const SIDE = 28;
const D = SIDE * SIDE;
const GRID = 20;
/** The ELBO of a drawn digit: K draws of ε from a fixed seed (the CLI's `vae elbo` defaults). */
const ELBO_SAMPLES = 1000;
const ELBO_SEED = 1;
/** Test images whose ELBO is reported after each epoch of in-page training. */
const EVAL_IMAGES = 1000;
/** Vega's category10, as in the HTML report. */
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

type Info = ExplorerInfo;

type TrainingState = "idle" | "loading" | "running" | "done" | "stopped" | "error";

interface DrawnDigit {
  /** Mean ink per 28×28 cell, 0..255, and its binarization (p > 127), row-major. */
  grey: number[];
  pixels: number[];
  encoderMean: number[];
  /** Set once the stroke ended (K = ELBO_SAMPLES draws, seed ELBO_SEED). */
  elbo: ElboEstimate | null;
  seq: number;
}

const explorer = {
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
  /** The scatter shows [-lim, lim]² of the latent space. */
  get lim(): number {
    return state.lim;
  },
  /** Client (viewport) coordinates of latent point z on the scatter. */
  latentToClient(z1: number, z2: number): { x: number; y: number } {
    const r = $("scatter-overlay").getBoundingClientRect();
    return { x: r.left + toX(z1), y: r.top + toY(z2) };
  },
};
(window as unknown as { __explorer: typeof explorer }).__explorer = explorer;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`explorer: no element #${id}`);
  return el as T;
};

function showError(message: string): void {
  explorer.errors.push(message);
  const box = $("error");
  box.hidden = false;
  box.textContent = (box.textContent ? box.textContent + "\n" : "") + message;
}
window.addEventListener("error", (e) => showError(`error: ${e.message}`));
window.addEventListener("unhandledrejection", (e) => showError(`error: ${(e.reason as Error)?.message ?? String(e.reason)}`));

// ---------------------------------------------------------------- state

const state = {
  model: new VAE({}, { seed: 0 }),
  /** Metadata besides format and config written by "Download weights". */
  downloadExtra: {} as Record<string, unknown>,
  downloadName: "model.safetensors",
  testPixels: new Uint8Array(0) as Uint8Array,
  testImages: new Float32Array(0) as Float32Array,
  labels: new Uint8Array(0) as Uint8Array,
  means: null as Float32Array | null,
  /** The scatter shows [-lim, lim]² of the latent space. */
  lim: 3,
  drawSeq: 0,
  hoverSeq: 0,
};

// ---------------------------------------------------------------- canvases

function setupCanvas(canvas: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d")!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

/** Draws 28×28 images of values in [0, 1] (1 = ink, black) at (x, y) tiles of a 2-D context in canvas pixels. */
function putImage(ctx: CanvasRenderingContext2D, values: ArrayLike<number>, offset = 0, x = 0, y = 0): void {
  const img = ctx.createImageData(SIDE, SIDE);
  for (let i = 0; i < D; i++) {
    const v = values[offset + i];
    const g = Math.round(255 * (1 - Math.min(1, Math.max(0, v || 0))));
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = g;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, x, y);
}

/** About `count` round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 6): number[] {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(Math.abs(v) < 1e-9 * step ? 0 : v);
  return out;
}

const fmtTick = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(Math.max(0, -Math.floor(Math.log10(Math.abs(v) || 1)) + 1)));

// ---------------------------------------------------------------- the latent scatter

/** A plot's frame, its x-axis title centred at baseline y = `xTitleY`, and its y-axis title rotated on the left. */
function frameWithTitles(ctx: CanvasRenderingContext2D, box: { left: number; top: number; width: number; height: number }, xTitle: string, xTitleY: number, yTitle: string): void {
  const { left, top, width, height } = box;
  ctx.strokeStyle = "#9aa3b5";
  ctx.strokeRect(left + 0.5, top + 0.5, width - 1, height - 1);
  ctx.fillStyle = "#1d2230";
  ctx.textAlign = "center";
  ctx.textBaseline = "alphabetic";
  ctx.fillText(xTitle, left + width / 2, xTitleY);
  ctx.save();
  ctx.translate(13, top + height / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(yTitle, 0, 0);
  ctx.restore();
}

const SCATTER = { size: 540, left: 46, top: 14, plot: 480 };
const toX = (z1: number) => SCATTER.left + ((z1 + state.lim) / (2 * state.lim)) * SCATTER.plot;
const toY = (z2: number) => SCATTER.top + ((state.lim - z2) / (2 * state.lim)) * SCATTER.plot;
const fromXY = (x: number, y: number): [number, number] => [
  ((x - SCATTER.left) / SCATTER.plot) * 2 * state.lim - state.lim,
  state.lim - ((y - SCATTER.top) / SCATTER.plot) * 2 * state.lim,
];

/** A symmetric range holding 99.5% of the means (and at least the manifold's square). */
function scatterLimit(means: Float32Array): number {
  const abs = Float32Array.from(means, Math.abs).sort();
  const q = abs[Math.min(abs.length - 1, Math.floor(0.995 * abs.length))] ?? 0;
  return Math.min(100, Math.max(2, Math.ceil(q * 1.08 * 2) / 2));
}

function drawScatter(): void {
  const ctx = setupCanvas($<HTMLCanvasElement>("scatter"), SCATTER.size, SCATTER.size);
  const { left, top, plot } = SCATTER;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, SCATTER.size, SCATTER.size);
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = "#5d6475";
  for (const t of ticks(-state.lim, state.lim, 8)) {
    ctx.strokeStyle = t === 0 ? "#c9ceda" : "#eceef3";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(Math.round(toX(t)) + 0.5, top);
    ctx.lineTo(Math.round(toX(t)) + 0.5, top + plot);
    ctx.moveTo(left, Math.round(toY(t)) + 0.5);
    ctx.lineTo(left + plot, Math.round(toY(t)) + 0.5);
    ctx.stroke();
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    ctx.fillText(fmtTick(t), toX(t), top + plot + 5);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    ctx.fillText(fmtTick(t), left - 6, toY(t));
  }
  ctx.font = "13px system-ui, sans-serif";
  frameWithTitles(ctx, { left, top, width: plot, height: plot }, "z₁", SCATTER.size - 6, "z₂");

  const means = state.means;
  if (!means) return;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, plot, plot);
  ctx.clip();
  ctx.globalAlpha = 0.7;
  for (let digit = 0; digit < 10; digit++) {
    ctx.fillStyle = COLORS[digit];
    ctx.beginPath();
    for (let i = 0; i < state.labels.length; i++) {
      if (state.labels[i] !== digit) continue;
      const x = toX(means[2 * i]);
      const y = toY(means[2 * i + 1]);
      ctx.moveTo(x + 1.9, y);
      ctx.arc(x, y, 1.9, 0, 2 * Math.PI);
    }
    ctx.fill();
  }
  ctx.restore();
}

function drawOverlay(): void {
  const ctx = setupCanvas($<HTMLCanvasElement>("scatter-overlay"), SCATTER.size, SCATTER.size);
  const q = 1.6448536269514722; // Φ⁻¹(0.95): the manifold's square
  ctx.setLineDash([5, 4]);
  ctx.strokeStyle = "rgba(40,48,64,0.55)";
  ctx.lineWidth = 1;
  ctx.strokeRect(toX(-q), toY(q), toX(q) - toX(-q), toY(-q) - toY(q));
  ctx.setLineDash([]);

  const hover = explorer.hover;
  if (hover) {
    const [x, y] = [toX(hover.z[0]), toY(hover.z[1])];
    ctx.strokeStyle = "rgba(20,24,32,0.35)";
    ctx.beginPath();
    ctx.moveTo(SCATTER.left, y);
    ctx.lineTo(SCATTER.left + SCATTER.plot, y);
    ctx.moveTo(x, SCATTER.top);
    ctx.lineTo(x, SCATTER.top + SCATTER.plot);
    ctx.stroke();
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#111";
    ctx.beginPath();
    ctx.arc(x, y, 6, 0, 2 * Math.PI);
    ctx.stroke();
  }
  const drawn = explorer.drawn;
  if (drawn) {
    const [x, y] = [toX(drawn.encoderMean[0]), toY(drawn.encoderMean[1])];
    ctx.lineWidth = 2.5;
    ctx.strokeStyle = "#fff";
    ctx.fillStyle = "#111";
    ctx.beginPath();
    ctx.moveTo(x, y - 9);
    ctx.lineTo(x + 9, y);
    ctx.lineTo(x, y + 9);
    ctx.lineTo(x - 9, y);
    ctx.closePath();
    ctx.stroke();
    ctx.fill();
    ctx.font = "600 12px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.lineWidth = 3;
    ctx.strokeText("your digit", x + 12, y);
    ctx.fillText("your digit", x + 12, y);
  }
}

function drawLegend(): void {
  const legend = $("legend");
  legend.replaceChildren();
  COLORS.forEach((color, digit) => {
    const item = document.createElement("span");
    const dot = document.createElement("i");
    dot.style.background = color;
    item.append(dot, String(digit));
    legend.append(item);
  });
  const you = document.createElement("span");
  you.className = "you";
  you.append(document.createElement("i"), "your digit");
  legend.append(you);
}

// ---------------------------------------------------------------- decoder, manifold

function decode(z: ArrayLike<number>): Float32Array {
  const n = z.length / 2;
  return Float32Array.from(state.model.decode(new Tensor(Float32Array.from(z), [n, 2])).data);
}

let pendingHover: [number, number] | null = null;
function setHover(z: [number, number]): void {
  if (pendingHover === null) requestAnimationFrame(renderHover);
  pendingHover = z;
}
function renderHover(): void {
  const z = pendingHover;
  pendingHover = null;
  if (!z) return;
  putImage($<HTMLCanvasElement>("decoded").getContext("2d")!, decode(z));
  explorer.hover = { z, seq: ++state.hoverSeq };
  $("hover-z").textContent = `z = (${z[0].toFixed(3)}, ${z[1].toFixed(3)})`;
  drawOverlay();
}

const manifoldZ = quantileGrid(GRID);
function drawManifold(): void {
  const ctx = $<HTMLCanvasElement>("manifold").getContext("2d")!;
  const images = decode(manifoldZ);
  for (let k = 0; k < GRID * GRID; k++) putImage(ctx, images, k * D, (k % GRID) * SIDE, Math.floor(k / GRID) * SIDE);
  const [lo, hi] = [manifoldZ[0], manifoldZ[2 * (GRID - 1)]];
  $("manifold-axes").textContent = `columns: z₁ from ${lo.toFixed(2)} (left) to ${hi.toFixed(2)} (right) · rows: z₂ from ${hi.toFixed(2)} (top) to ${lo.toFixed(2)} (bottom)`;
}

// ---------------------------------------------------------------- the drawing pad

const pad = $<HTMLCanvasElement>("pad");
const padCtx = pad.getContext("2d", { willReadFrequently: true })!;
const STROKE = 28;

function clearPad(): void {
  padCtx.fillStyle = "#fff";
  padCtx.fillRect(0, 0, pad.width, pad.height);
}

/** Mean ink per 10×10 block of the 280×280 pad: a 28×28 grey image, 0..255. */
function padGrey(): Uint8Array {
  const { data } = padCtx.getImageData(0, 0, pad.width, pad.height);
  const cell = pad.width / SIDE;
  const out = new Uint8Array(D);
  for (let r = 0; r < SIDE; r++) {
    for (let c = 0; c < SIDE; c++) {
      let ink = 0;
      for (let y = r * cell; y < (r + 1) * cell; y++) for (let x = c * cell; x < (c + 1) * cell; x++) ink += 255 - data[4 * (y * pad.width + x)];
      out[r * SIDE + c] = Math.round(ink / (cell * cell));
    }
  }
  return out;
}

/** g(x), f(g(x)) and, if asked, the ELBO of the digit on the pad under the current model. */
function analyzeDrawn(withElbo: boolean): void {
  const grey = padGrey();
  const pixels = binarize(grey);
  const x = new Tensor(pixels, [1, D]);
  const g = noGrad(() => state.model.encode(x).mean);
  const encoderMean = Array.from(g.data);
  putImage($<HTMLCanvasElement>("drawn").getContext("2d")!, pixels);
  putImage($<HTMLCanvasElement>("recon").getContext("2d")!, decode(encoderMean));
  let elbo: ElboEstimate | null = null;
  if (withElbo) elbo = estimateElbo(state.model, x, ELBO_SAMPLES, new Random(ELBO_SEED));
  explorer.drawn = { grey: Array.from(grey), pixels: Array.from(pixels), encoderMean, elbo, seq: ++state.drawSeq };
  const f = (v: number) => v.toFixed(2);
  $("t-elbo").textContent = elbo ? `${f(elbo.elbo)} ± ${f(elbo.stderr)}` : "…";
  $("t-prior").textContent = elbo ? f(elbo.logPrior) : "…";
  $("t-lik").textContent = elbo ? f(elbo.logLikelihood) : "…";
  $("t-q").textContent = elbo ? f(elbo.negLogQ) : "…";
  $("t-g").textContent = `(${encoderMean.map((v) => v.toFixed(3)).join(", ")})`;
  drawOverlay();
}

let drawing = false;
let last: [number, number] | null = null;
let pendingPad = false;
function padPoint(e: PointerEvent): [number, number] {
  const r = pad.getBoundingClientRect();
  return [((e.clientX - r.left) / r.width) * pad.width, ((e.clientY - r.top) / r.height) * pad.height];
}
function strokeTo(p: [number, number]): void {
  padCtx.strokeStyle = padCtx.fillStyle = "#000";
  padCtx.lineWidth = STROKE;
  padCtx.lineCap = padCtx.lineJoin = "round";
  if (!last) {
    padCtx.beginPath();
    padCtx.arc(p[0], p[1], STROKE / 2, 0, 2 * Math.PI);
    padCtx.fill();
  } else {
    padCtx.beginPath();
    padCtx.moveTo(last[0], last[1]);
    padCtx.lineTo(p[0], p[1]);
    padCtx.stroke();
  }
  last = p;
  if (!pendingPad) {
    pendingPad = true;
    requestAnimationFrame(() => {
      pendingPad = false;
      if (drawing) analyzeDrawn(false);
    });
  }
}
pad.addEventListener("pointerdown", (e) => {
  if (!explorer.ready) return;
  drawing = true;
  last = null;
  pad.setPointerCapture(e.pointerId);
  strokeTo(padPoint(e));
});
pad.addEventListener("pointermove", (e) => {
  if (drawing) strokeTo(padPoint(e));
});
const endStroke = () => {
  if (!drawing) return;
  drawing = false;
  last = null;
  $("t-elbo").textContent = "computing…";
  // Let the pad paint, then estimate the ELBO (K = 1000 decodes: a fraction of a second).
  setTimeout(() => analyzeDrawn(true), 0);
};
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);
$("clear").addEventListener("click", () => {
  clearPad();
  explorer.drawn = null;
  for (const id of ["drawn", "recon"]) $<HTMLCanvasElement>(id).getContext("2d")!.clearRect(0, 0, SIDE, SIDE);
  for (const id of ["t-elbo", "t-prior", "t-lik", "t-q", "t-g"]) $(id).textContent = "–";
  drawOverlay();
});

// ---------------------------------------------------------------- model changes

/** Re-encodes the test images in chunks (keeping the page responsive), then redraws everything. */
async function encodeTestSet(): Promise<Float32Array> {
  const n = state.labels.length;
  const out = new Float32Array(2 * n);
  const chunk = 500;
  for (let start = 0; start < n; start += chunk) {
    const end = Math.min(n, start + chunk);
    out.set(encoderMeans(state.model, state.testImages.subarray(start * D, end * D)), 2 * start);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return out;
}

function refreshAll(): void {
  if (state.means) state.lim = scatterLimit(state.means);
  drawScatter();
  drawManifold();
  if (explorer.hover) setHover(explorer.hover.z);
  drawOverlay();
  if (explorer.drawn) analyzeDrawn(true);
}

function describeModel(source: string): void {
  const { hidden, encoderVariance } = state.model.config;
  explorer.model = { source, config: state.model.config, trainedHere: explorer.model.trainedHere };
  const el = $("source");
  el.replaceChildren("Model: ");
  const b = document.createElement("b");
  b.textContent = source;
  el.append(b, ` · hidden ${hidden}, σ² ${encoderVariance === "learned" ? "learned" : `= ${encoderVariance}`} · ${state.labels.length} test images`);
}

// ---------------------------------------------------------------- training in a worker

let worker: Worker | null = null;
let trainRequest: TrainRequest | null = null;
const steps: { x: number; y: number }[] = [];
let chartPending = false;

const numberInput = (id: string, min: number, integer = true): number => {
  const input = $<HTMLInputElement>(id);
  const v = Number(input.value);
  if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) throw new Error(`${input.parentElement?.textContent?.trim() ?? id} must be ${integer ? "an integer" : "a number"} ≥ ${min}, got "${input.value}"`);
  return v;
};

function setTraining(s: TrainingState): void {
  explorer.training.state = s;
  const busy = s === "loading" || s === "running";
  $<HTMLButtonElement>("train").disabled = busy;
  $<HTMLButtonElement>("stop").disabled = !busy;
}

function startTraining(): void {
  let req: TrainRequest;
  try {
    req = {
      type: "train",
      limit: Math.min(numberInput("opt-images", 1), 60000),
      hidden: numberInput("opt-hidden", 1),
      epochs: numberInput("opt-epochs", 1),
      batch: numberInput("opt-batch", 1),
      lr: numberInput("opt-lr", 0, false),
      seed: numberInput("opt-seed", 0),
      testPixels: state.testPixels.slice(),
      evalImages: Math.min(EVAL_IMAGES, state.labels.length),
    };
  } catch (e) {
    $("train-status").textContent = (e as Error).message;
    return;
  }
  worker ??= createWorker();
  trainRequest = req;
  steps.length = 0;
  explorer.training.epochs = [];
  explorer.training.error = null;
  explorer.training.imagesPerSecond = NaN;
  setTraining("loading");
  $("train-status").textContent = "starting the worker…";
  drawChart();
  worker.postMessage(req, [req.testPixels.buffer]);
}

function createWorker(): Worker {
  const w = new Worker("/worker.js", { type: "module" });
  w.onmessage = (e: MessageEvent<FromWorker>) => onWorkerMessage(e.data);
  w.onerror = (e) => {
    e.preventDefault();
    explorer.training.error = e.message;
    setTraining("error");
    showError(`training worker: ${e.message}`);
  };
  return w;
}

function onWorkerMessage(msg: FromWorker): void {
  const req = trainRequest!;
  const status = $("train-status");
  switch (msg.type) {
    case "status":
      status.textContent = msg.text;
      break;
    case "start":
      setTraining("running");
      status.textContent = `training on ${msg.images} images, ${msg.batches} minibatches of ${req.batch} per epoch…`;
      break;
    case "step":
      steps.push({ x: msg.epoch + msg.batch / msg.batches, y: msg.elbo });
      explorer.training.imagesPerSecond = msg.imagesPerSecond;
      status.textContent = `epoch ${msg.epoch + 1}/${req.epochs} · batch ${msg.batch}/${msg.batches} · ${msg.imagesPerSecond.toFixed(0)} images/s · train ELBO ${msg.trainElbo.toFixed(2)}`;
      scheduleChart();
      break;
    case "epoch":
      onEpoch(msg, req);
      break;
    case "done":
    case "stopped": {
      const rate = msg.images / msg.seconds;
      explorer.training.imagesPerSecond = rate;
      setTraining(msg.type);
      status.textContent =
        `${msg.type === "done" ? "done" : "stopped"}: ${msg.epochs} epoch${msg.epochs === 1 ? "" : "s"}` +
        (msg.images > 0 ? `, ${rate.toFixed(0)} images/s` : "") +
        (Number.isFinite(lastTestElbo) ? ` · test ELBO ${lastTestElbo.toFixed(2)} nats (first ${req.evalImages} test images)` : "") +
        " · “Download weights” saves this model";
      break;
    }
    case "error":
      explorer.training.error = msg.message;
      setTraining("error");
      status.textContent = `error: ${msg.message}`;
      showError(`training: ${msg.message}`);
      break;
  }
}

let lastTestElbo = NaN;

function onEpoch(msg: EpochMessage, req: TrainRequest): void {
  lastTestElbo = msg.testElbo;
  const model = new VAE({ hidden: req.hidden }, { seed: req.seed });
  for (const [name, p] of model.namedParameters()) p.data.set(msg.params[name]);
  state.model = model;
  state.means = msg.means;
  state.downloadExtra = {
    epoch: msg.epoch,
    step: msg.step,
    hyper: { hidden: req.hidden, "learned-variance": false, batch: req.batch, lr: req.lr, seed: req.seed, limit: req.limit, "test-limit": req.evalImages },
  };
  state.downloadName = `tsgrad-vae-h${req.hidden}-n${req.limit}-e${msg.epoch}.safetensors`;
  explorer.model.trainedHere = true;
  if (msg.partial) {
    // Stopped within an epoch: the model after its last step (not a point of the per-epoch curves).
    state.downloadName = `tsgrad-vae-h${req.hidden}-n${req.limit}-step${msg.step}.safetensors`;
    describeModel(`trained here: ${req.limit} images, stopped in epoch ${msg.epoch + 1} after batch ${msg.partial.batch}/${msg.partial.batches} (step ${msg.step})`);
  } else {
    explorer.training.epochs.push({ epoch: msg.epoch, trainElbo: msg.trainElbo, testElbo: msg.testElbo, imagesPerSecond: msg.imagesPerSecond, seconds: msg.seconds });
    describeModel(`trained here: ${req.limit} images, epoch ${msg.epoch} of ${req.epochs}`);
  }
  $("banner").hidden = true;
  refreshAll();
  scheduleChart();
}

function scheduleChart(): void {
  if (chartPending) return;
  chartPending = true;
  requestAnimationFrame(() => {
    chartPending = false;
    drawChart();
  });
}

const CHART = { width: 560, height: 250, left: 58, right: 12, top: 26, bottom: 36 };
function drawChart(): void {
  const ctx = setupCanvas($<HTMLCanvasElement>("chart"), CHART.width, CHART.height);
  const { left, top } = CHART;
  const w = CHART.width - CHART.left - CHART.right;
  const h = CHART.height - CHART.top - CHART.bottom;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, CHART.width, CHART.height);
  const epochs = explorer.training.epochs;
  const xMax = Math.max(1, trainRequest?.epochs ?? 1);
  const values = [...steps.map((s) => s.y), ...epochs.flatMap((e) => [e.trainElbo, e.testElbo])].filter(Number.isFinite);
  ctx.font = "12px system-ui, sans-serif";
  if (values.length === 0) {
    ctx.fillStyle = "#5d6475";
    ctx.textAlign = "center";
    ctx.fillText("The ELBO curve appears here during training.", CHART.width / 2, CHART.height / 2);
    return;
  }
  // The first minibatches of a fresh model sit far below the rest: leave the lowest 3% of them out of the range.
  const sorted = steps.map((s) => s.y).sort((a, b) => a - b);
  const low = Math.min(sorted[Math.floor(sorted.length * 0.03)] ?? Infinity, ...epochs.map((e) => e.testElbo).filter(Number.isFinite));
  const high = Math.max(...values);
  const pad = Math.max(1, (high - low) * 0.06);
  const [y0, y1] = [low - pad, high + pad];
  const X = (x: number) => left + (x / xMax) * w;
  const Y = (y: number) => top + ((y1 - Math.max(y0, Math.min(y1, y))) / (y1 - y0)) * h;

  ctx.lineWidth = 1;
  ctx.fillStyle = "#5d6475";
  for (const t of ticks(y0, y1, 5)) {
    ctx.strokeStyle = "#eceef3";
    ctx.beginPath();
    ctx.moveTo(left, Math.round(Y(t)) + 0.5);
    ctx.lineTo(left + w, Math.round(Y(t)) + 0.5);
    ctx.stroke();
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    ctx.fillText(fmtTick(t), left - 6, Y(t));
  }
  for (const t of ticks(0, xMax, Math.min(10, xMax)).filter((t) => Number.isInteger(t))) {
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    ctx.fillText(String(t), X(t), top + h + 5);
  }
  frameWithTitles(ctx, { left, top, width: w, height: h }, "epoch", CHART.height - 4, "ELBO (nats per image)");

  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, w, h);
  ctx.clip();
  ctx.strokeStyle = "rgba(120,128,145,0.55)";
  ctx.beginPath();
  steps.forEach((s, i) => (i === 0 ? ctx.moveTo(X(s.x), Y(s.y)) : ctx.lineTo(X(s.x), Y(s.y))));
  ctx.stroke();
  const series = (key: "trainElbo" | "testElbo", color: string) => {
    const pts = epochs.filter((e) => Number.isFinite(e[key]));
    ctx.strokeStyle = ctx.fillStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    pts.forEach((e, i) => (i === 0 ? ctx.moveTo(X(e.epoch), Y(e[key])) : ctx.lineTo(X(e.epoch), Y(e[key]))));
    ctx.stroke();
    for (const e of pts) {
      ctx.beginPath();
      ctx.arc(X(e.epoch), Y(e[key]), 3.5, 0, 2 * Math.PI);
      ctx.fill();
    }
  };
  series("trainElbo", COLORS[0]);
  series("testElbo", COLORS[1]);
  ctx.restore();

  // Legend, above the plot.
  const items: [string, string, number][] = [
    ["minibatch", "rgba(120,128,145,0.8)", 1],
    ["train (epoch mean)", COLORS[0], 2],
    [`test (first ${trainRequest?.evalImages ?? EVAL_IMAGES})`, COLORS[1], 2],
  ];
  let x = left;
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  for (const [label, color, width] of items) {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    ctx.moveTo(x, 12);
    ctx.lineTo(x + 18, 12);
    ctx.stroke();
    ctx.fillStyle = "#1d2230";
    ctx.fillText(label, x + 23, 12);
    x += 23 + ctx.measureText(label).width + 18;
  }
}

$("train").addEventListener("click", startTraining);
$("stop").addEventListener("click", () => worker?.postMessage({ type: "stop" }));
$("download").addEventListener("click", () => {
  const bytes = modelBytes(state.model, state.downloadExtra) as Uint8Array<ArrayBuffer>;
  const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = state.downloadName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
});

// ---------------------------------------------------------------- pointer on the scatter and the manifold

$("scatter-overlay").addEventListener("pointermove", (e) => {
  if (!explorer.ready) return;
  const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
  const [x, y] = [e.clientX - r.left, e.clientY - r.top];
  if (x < SCATTER.left || x > SCATTER.left + SCATTER.plot || y < SCATTER.top || y > SCATTER.top + SCATTER.plot) return;
  setHover(fromXY(x, y));
});
$("manifold").addEventListener("pointermove", (e) => {
  if (!explorer.ready) return;
  const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
  const col = Math.min(GRID - 1, Math.max(0, Math.floor(((e.clientX - r.left) / r.width) * GRID)));
  const row = Math.min(GRID - 1, Math.max(0, Math.floor(((e.clientY - r.top) / r.height) * GRID)));
  const k = row * GRID + col;
  setHover([manifoldZ[2 * k], manifoldZ[2 * k + 1]]);
});

// ---------------------------------------------------------------- start

async function fetchBytes(path: string): Promise<Uint8Array> {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return new Uint8Array(await res.arrayBuffer());
}

function showNoModelBanner(info: Info): void {
  const banner = $("banner");
  banner.hidden = false;
  banner.innerHTML =
    `<b>No trained model</b> (${info.note ?? "no checkpoint"}): this page shows a freshly initialized, untrained model, so the ` +
    `latent plot is a blob and the decoder draws grey noise. To get a trained one, run <code>npm run vae</code> ` +
    `(a few minutes; it writes <code>${info.defaultCheckpoint}</code>) and restart <code>npm run explore</code> ` +
    `(or pass <code>--checkpoint FILE</code>), or press <b>Train here</b> below to train one in this page.`;
}

async function start(): Promise<void> {
  clearPad();
  drawLegend();
  drawChart();
  await initWasm();
  const infoRes = await fetch("/api/info");
  if (!infoRes.ok) throw new Error(`GET /api/info: ${infoRes.status}`);
  const info = (await infoRes.json()) as Info;
  let source: string;
  if (info.checkpoint) {
    const { model, metadata } = modelFromBytes(await fetchBytes("/model.safetensors"), info.checkpoint);
    state.model = model;
    const { format: _format, config: _config, ...extra } = metadata;
    state.downloadExtra = extra;
    state.downloadName = info.checkpoint.replace(/^.*[\\/]/, "");
    source = info.source;
  } else {
    state.model = new VAE({}, { seed: 0 });
    source = "untrained (seed 0)";
    showNoModelBanner(info);
  }
  const [pixels, labels] = await Promise.all([fetchBytes(`/data/test-images?n=${info.points}`), fetchBytes(`/data/test-labels?n=${info.points}`)]);
  state.testPixels = pixels;
  state.testImages = binarize(pixels);
  state.labels = labels;
  describeModel(source);
  drawScatter();
  drawOverlay();
  drawManifold();
  state.means = await encodeTestSet();
  refreshAll();
  setHover([0, 0]);
  await new Promise((resolve) => requestAnimationFrame(resolve));
  explorer.ready = true;
}

start().catch((e: unknown) => showError(`the explorer could not start: ${(e as Error).message ?? e}`));
