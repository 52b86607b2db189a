// "Train here": the seed model trained from scratch in a Web Worker (worker.ts), its live ELBO curve
// (src/charts' elboCurveSpec), the status line and "Download weights".
import { elboCurveSpec } from "../charts/specs.js";
import { VAE } from "../index.js";
import { modelBytes } from "../vae/checkpoint-meta.js";
import { ChartHost } from "./chart-host.js";
import { $, showError } from "./dom.js";
import type { EpochMessage, FromWorker, TrainRequest } from "./protocol.js";
import { EVAL_IMAGES, explorer, state, type TrainingState } from "./state.js";

let worker: Worker | null = null;
let trainRequest: TrainRequest | null = null;
const steps: { epoch: number; elbo: number }[] = [];
let lastTestElbo = NaN;
/** Called after each epoch's model has replaced the page's (main.ts redraws the panels). */
let onModel: (source: string) => void = () => {};

const chart = new ChartHost($("chart"), () => {}, "The ELBO curve appears here during training.");

export function onTrainedModel(f: (source: string) => void): void {
  onModel = f;
}

/** Redraws the ELBO curve (at most every 250 ms: each redraw builds a new vega view). */
let chartTimer: ReturnType<typeof setTimeout> | null = null;
let lastChart = 0;
export function scheduleChart(): void {
  if (chartTimer) return;
  chartTimer = setTimeout(() => {
    chartTimer = null;
    lastChart = performance.now();
    void drawChart();
  }, Math.max(0, 250 - (performance.now() - lastChart)));
}

export function drawChart(): Promise<void> {
  return chart.update(() => {
    const epochs = explorer.training.epochs;
    if (steps.length === 0 && epochs.length === 0) return null;
    return elboCurveSpec({
      epochs,
      steps,
      xMax: Math.max(1, trainRequest?.epochs ?? 1),
      labels: { train: "train (epoch mean)", test: `test (first ${trainRequest?.evalImages ?? EVAL_IMAGES})` },
      width: 470,
      height: 190,
    });
  });
}

const numberInput = (id: string, min: number, integer = true): number => {
  const input = $<HTMLInputElement>(id);
  const v = Number(input.value);
  if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) throw new Error(`${input.parentElement?.textContent?.trim() ?? id} must be ${integer ? "an integer" : "a number"} ≥ ${min}, got "${input.value}"`);
  return v;
};

function setTraining(s: TrainingState): void {
  explorer.training.state = s;
  const running = s === "loading" || s === "running";
  $<HTMLButtonElement>("train").disabled = running;
  $<HTMLButtonElement>("stop").disabled = !running;
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
  void drawChart();
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
      steps.push({ epoch: msg.epoch + msg.batch / msg.batches, elbo: msg.elbo });
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
    case "exact":
    case "exact-error":
      break; // the posterior worker's messages; this worker sends none
  }
}

function onEpoch(msg: EpochMessage, req: TrainRequest): void {
  lastTestElbo = msg.testElbo;
  const model = new VAE({ hidden: req.hidden }, { seed: req.seed });
  for (const [name, p] of model.namedParameters()) p.data.set(msg.params[name]);
  state.model = model;
  state.modelVersion++;
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
    onModel(`trained here: ${req.limit} images, stopped in epoch ${msg.epoch + 1} after batch ${msg.partial.batch}/${msg.partial.batches} (step ${msg.step})`);
  } else {
    explorer.training.epochs.push({ epoch: msg.epoch, trainElbo: msg.trainElbo, testElbo: msg.testElbo, imagesPerSecond: msg.imagesPerSecond, seconds: msg.seconds });
    onModel(`trained here: ${req.limit} images, epoch ${msg.epoch} of ${req.epochs}`);
  }
  scheduleChart();
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
