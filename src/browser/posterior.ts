// The true posterior of a drawn digit: the worker computes logMarginal (log p(x) by quadrature and p(z|x) on its
// grid), the ELBO by quadrature and the Laplace Gaussian, as Node does; the page shows log p(x), the ELBO and the
// gap side by side (src/charts' exactRows), the posterior zoomed beside them (src/charts' posteriorSpec, the
// report's chart) and on the latent plot.
import { exactRows } from "../charts/exact-rows.js";
import { posteriorSpec } from "../charts/specs.js";
import type { PosteriorGrid } from "../charts/types.js";
import { modelBytes } from "../vae/checkpoint-meta.js";
import { ChartHost } from "./chart-host.js";
import { $, showError } from "./dom.js";
import { renderLatent, setPosterior } from "./latent-plot.js";
import type { ExactRequest, ExactResult, FromWorker } from "./protocol.js";
import { explorer, state, type DrawnDigit } from "./state.js";

let worker: Worker | null = null;
let busy = false;
/** The drawing to compute once the worker is free (only the latest is kept). */
let queued: DrawnDigit | null = null;
let cachedModel: { version: number; bytes: Uint8Array } | null = null;

/** The side of the zoomed chart's plot area in pixels. */
const ZOOM_SIZE = 230;
let zoomed: { grid: PosteriorGrid; seq: number } | null = null;
let zoomPending: number | null = null;
const zoom = new ChartHost($("zoom-chart"), (view) => {
  let plot = null;
  let window = null;
  if (view) {
    const pad = view.padding() as { left?: number; top?: number };
    plot = { left: view.origin()[0] + (pad.left ?? 0), top: view.origin()[1] + (pad.top ?? 0), width: view.width(), height: view.height() };
    const domain = (name: string) => (view.scale(name) as unknown as { domain(): number[] }).domain();
    window = { z1: domain("x"), z2: domain("y") };
  }
  explorer.zoom = { renders: explorer.zoom.renders + 1, seq: zoomPending, window, plot };
  $("zoom").classList.toggle("empty", !view);
}, "Its posterior p(z|x), zoomed, appears here once log p(x) is computed.");

/** Draws the posterior of drawing `seq` zoomed in the draw panel (null: empties it). */
function showZoom(p: { grid: PosteriorGrid; seq: number } | null): void {
  zoomed = p;
  void zoom.update(() => {
    zoomPending = zoomed?.seq ?? null;
    return zoomed && posteriorSpec(zoomed.grid, { size: ZOOM_SIZE });
  });
}

function modelFile(): Uint8Array {
  if (cachedModel?.version !== state.modelVersion) cachedModel = { version: state.modelVersion, bytes: modelBytes(state.model) };
  return cachedModel.bytes;
}

function createWorker(): Worker {
  const w = new Worker("/worker.js", { type: "module" });
  w.onmessage = (e: MessageEvent<FromWorker>) => {
    const msg = e.data;
    busy = false;
    if (msg.type === "exact") onResult(msg);
    else if (msg.type === "exact-error") {
      if (explorer.drawn?.seq === msg.id) $("exact-note").textContent = `error: ${msg.message}`;
      showError(`log p(x) of the drawn digit: ${msg.message}`);
    }
    sendQueued();
  };
  w.onerror = (e) => {
    e.preventDefault();
    busy = false;
    showError(`posterior worker: ${e.message}`);
  };
  return w;
}

function sendQueued(): void {
  const drawn = queued;
  if (!drawn || busy) return;
  queued = null;
  if (explorer.drawn !== drawn) return; // cleared or redrawn meanwhile
  worker ??= createWorker();
  busy = true;
  const req: ExactRequest = { type: "exact", id: drawn.seq, model: modelFile(), pixels: Float32Array.from(drawn.pixels) };
  worker.postMessage(req, [req.pixels.buffer]);
}

/** Asks the worker for the drawing's log p(x) and posterior; the answer replaces the table and the plot's posterior. */
export function requestExact(drawn: DrawnDigit): void {
  showRows(null, "computing log p(x) by quadrature…");
  showZoom(null);
  queued = drawn;
  sendQueued();
}

/** Empties the table and takes the posterior off the plot. */
export function clearExact(): void {
  queued = null;
  showRows(null, "");
  showZoom(null);
  setPosterior(null);
  void renderLatent();
}

function onResult(r: ExactResult): void {
  const drawn = explorer.drawn;
  if (!drawn || drawn.seq !== r.id) return; // an answer for an older drawing
  const rows = exactRows({ elbo: r.elbo, laplace: r.laplace, logMarginal: r.logMarginal, logMarginalError: r.error, gap: r.gap, points: r.points, mode: r.mode });
  showRows(rows, `by quadrature on a ${r.points}×${r.points} grid in ${r.seconds.toFixed(1)} s${r.converged ? "" : " (not converged)"}; the posterior is below and on the latent plot`);
  const { type: _type, id: _id, logPosterior, ...numbers } = r;
  drawn.exact = { ...numbers, logPosterior: Array.from(logPosterior), qStd: drawn.qStd, shown: Object.fromEntries(rows.map((row) => [row.key, row.formatted])) };
  const grid = { box: r.box, points: r.points, logPosterior, encoderMean: [drawn.encoderMean[0], drawn.encoderMean[1]] as [number, number], qStd: drawn.qStd, mode: r.mode, laplaceCovariance: r.laplaceCovariance };
  showZoom({ grid, seq: r.id });
  setPosterior({ grid, seq: r.id });
  void renderLatent();
}

function showRows(rows: ReturnType<typeof exactRows> | null, note: string): void {
  const body = $("exact-rows");
  body.replaceChildren();
  for (const row of rows ?? []) {
    const tr = document.createElement("tr");
    tr.dataset.key = row.key;
    if (row.key === "logMarginal" || row.key === "gap") tr.className = "main";
    const [label, value] = [document.createElement("td"), document.createElement("td")];
    label.textContent = row.label;
    label.title = row.note;
    value.className = "num";
    value.textContent = row.formatted;
    tr.append(label, value);
    body.append(tr);
  }
  $("exact-note").textContent = note;
}
