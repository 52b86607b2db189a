// The latent explorer page: everything here is computed in the browser with this library (the server only
// sends bytes). This module starts the page and redraws it when the model changes; the panels are
// latent-plot.ts (encoder means, and a drawn digit's true posterior), decoder.ts (f(z) under the pointer, the
// manifold), draw-pad.ts and posterior.ts (a drawn digit's g(x), ELBO, log p(x) and gap), training.ts (training in
// a Web Worker with a live ELBO curve); their charts are src/charts' (vega-lite), as in the report. state.ts holds
// what the page computed and exposes it as `window.__explorer`.
import { VAE, binarize, encoderMeans, initWasm } from "../index.js";
import { latentLimit } from "../charts/specs.js";
import { modelFromBytes } from "../vae/checkpoint-meta.js";
import { drawManifold, setHover } from "./decoder.js";
import { $, showError } from "./dom.js";
import { analyzeDrawn, clearPad } from "./draw-pad.js";
import { drawOverlay, renderLatent, setPosterior } from "./latent-plot.js";
import type { ExplorerInfo } from "./protocol.js";
import { D, explorer, state } from "./state.js";
import { drawChart, onTrainedModel } from "./training.js";

window.addEventListener("error", (e) => showError(`error: ${e.message}`));
window.addEventListener("unhandledrejection", (e) => showError(`error: ${(e.reason as Error)?.message ?? String(e.reason)}`));

/** Re-encodes the test images in chunks (keeping the page responsive). */
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

/** Redraws every panel for the current model and means. */
async function refreshAll(): Promise<void> {
  if (state.means) state.lim = latentLimit(state.means);
  drawManifold();
  if (explorer.hover) setHover(explorer.hover.z);
  // A drawn digit's posterior belongs to the previous model: off the plot until the worker's new one arrives.
  setPosterior(null);
  if (explorer.drawn) analyzeDrawn(true);
  await renderLatent();
  drawOverlay();
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

onTrainedModel((source) => {
  describeModel(source);
  $("banner").hidden = true;
  void refreshAll();
});

async function fetchBytes(path: string): Promise<Uint8Array> {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return new Uint8Array(await res.arrayBuffer());
}

function showNoModelBanner(info: ExplorerInfo): void {
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
  void drawChart();
  await initWasm();
  const infoRes = await fetch("/api/info");
  if (!infoRes.ok) throw new Error(`GET /api/info: ${infoRes.status}`);
  const info = (await infoRes.json()) as ExplorerInfo;
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
  state.modelVersion++;
  const [pixels, labels] = await Promise.all([fetchBytes(`/data/test-images?n=${info.points}`), fetchBytes(`/data/test-labels?n=${info.points}`)]);
  state.testPixels = pixels;
  state.testImages = binarize(pixels);
  state.labels = labels;
  describeModel(source);
  drawManifold();
  void renderLatent();
  state.means = await encodeTestSet();
  await refreshAll();
  setHover([0, 0]);
  await new Promise((resolve) => requestAnimationFrame(resolve));
  explorer.ready = true;
}

start().catch((e: unknown) => showError(`the explorer could not start: ${(e as Error).message ?? e}`));
