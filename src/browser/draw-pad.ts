// The drawing pad: strokes on a 280×280 canvas, averaged to 28×28 and binarized like MNIST; the digit's g(x),
// f(g(x)) and (once a stroke ends) its ELBO, then its true posterior (posterior.ts).
import { Random, Tensor, binarize, estimateElbo, noGrad, type ElboEstimate } from "../index.js";
import { decode } from "./decoder.js";
import { $, putImage } from "./dom.js";
import { drawOverlay, renderLatent, setPosterior } from "./latent-plot.js";
import { clearExact, requestExact } from "./posterior.js";
import { D, ELBO_SAMPLES, ELBO_SEED, SIDE, explorer, state } from "./state.js";

const pad = $<HTMLCanvasElement>("pad");
const padCtx = pad.getContext("2d", { willReadFrequently: true })!;
const STROKE = 28;

export function clearPad(): void {
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

/** g(x), f(g(x)) and, if asked, the ELBO and the true posterior of the digit on the pad under the current model. */
export function analyzeDrawn(withElbo: boolean): void {
  const grey = padGrey();
  const pixels = binarize(grey);
  const x = new Tensor(pixels, [1, D]);
  const q = noGrad(() => state.model.encode(x));
  const encoderMean = Array.from(q.mean.contiguous().data);
  const variance = typeof q.variance === "number" ? [q.variance, q.variance] : Array.from(q.variance.contiguous().data, Math.exp);
  putImage($<HTMLCanvasElement>("drawn").getContext("2d")!, pixels);
  putImage($<HTMLCanvasElement>("recon").getContext("2d")!, decode(encoderMean));
  let elbo: ElboEstimate | null = null;
  if (withElbo) elbo = estimateElbo(state.model, x, ELBO_SAMPLES, new Random(ELBO_SEED));
  const drawn = { grey: Array.from(grey), pixels: Array.from(pixels), encoderMean, qStd: [Math.sqrt(variance[0]), Math.sqrt(variance[1])] as [number, number], elbo, exact: null, seq: ++state.drawSeq };
  explorer.drawn = drawn;
  const f = (v: number) => v.toFixed(2);
  $("t-elbo").textContent = elbo ? `${f(elbo.elbo)} ± ${f(elbo.stderr)}` : "…";
  $("t-prior").textContent = elbo ? f(elbo.logPrior) : "…";
  $("t-lik").textContent = elbo ? f(elbo.logLikelihood) : "…";
  $("t-q").textContent = elbo ? f(elbo.negLogQ) : "…";
  $("t-g").textContent = `(${encoderMean.map((v) => v.toFixed(3)).join(", ")})`;
  drawOverlay();
  if (withElbo) requestExact(drawn);
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
  // The posterior on the plot belongs to the digit as it was: take it off while the digit changes.
  setPosterior(null);
  void renderLatent();
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
  clearExact();
  drawOverlay();
});
