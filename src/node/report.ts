import { writeFileAtomic } from "./atomic.js";
import type { TopLevelSpec } from "vega-lite";
import { encodePng, imageGridPng } from "./png.js";

export interface EpochMetrics { epoch: number; trainElbo: number; testElbo: number; seconds: number }

export interface ReportData {
  title?: string;
  metrics: EpochMetrics[];
  latent: { means: Float32Array | Float64Array; labels: Uint8Array };
  /** `z`: the grid's coordinates in increasing order (z₁ of the columns left to right, z₂ of the rows bottom to top), drawn as the axes. */
  manifold: { images: Float32Array; grid: number; side: number; z?: ArrayLike<number> };
  reconstructions: { originals: Float32Array; recon: Float32Array; count: number; side: number };
  samples: { images: Float32Array; count: number; side: number };
  part3?: { elbo: number; stderr: number; logPrior: number; logLikelihood: number; negLogQ: number; encoderMean: number[]; samples: number; index: number };
  /** The test ELBO of `testImages` images; the IWAE bound of the first `iwaeImages`, and the ELBO of those same images. */
  final?: { testElbo: number; testImages?: number; iwae?: number; iwaeK?: number; iwaeImages?: number; elboOnIwaeImages?: number };
  config?: Record<string, unknown>;
  /** Every exact quantity on the same test images (`eval --exact`), and the true posterior of a few of them. */
  exact?: ExactReport;
}

/** One image's true posterior p(z|x) on its quadrature grid, with q(z|x), the mode and the Laplace Gaussian. */
export interface ExactPosterior {
  /** Why this image: "smallest gap", "median gap", "largest gap". */
  which: string;
  index: number;
  label?: number;
  gap: number;
  logMarginal: number;
  elbo: number;
  laplace: number;
  box: { z1: [number, number]; z2: [number, number] };
  points: number;
  /** log p(z|x) at the n×n cell midpoints, row i (z₂ increasing), column j (z₁ increasing). */
  logPosterior: Float64Array;
  encoderMean: [number, number];
  /** q(z|x)'s standard deviation in each coordinate. */
  qStd: [number, number];
  mode: [number, number];
  /** (−H)⁻¹ at the mode, row-major. */
  laplaceCovariance: [number, number, number, number];
}

export interface ExactReport {
  images: number;
  elbo: number;
  iwae: Record<string, number>;
  laplace: number;
  logMarginal: number;
  logMarginalError: number;
  logMarginalMaxError?: number;
  gap: number;
  gapMin: number;
  gapMedian: number;
  gapMax: number;
  posteriors: ExactPosterior[];
}

const DIGITS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const CHART_CONFIG = { font: "system-ui, sans-serif", background: "white", view: { stroke: "#ddd" } };

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fmt(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

// vega and vega-lite draw the charts. They are optional peer dependencies (about 11 MB that only the
// report needs), imported on first use.
let charting: Promise<{ vega: typeof import("vega"); vegaLite: typeof import("vega-lite") }> | undefined;
function loadCharting(): NonNullable<typeof charting> {
  return (charting ??= Promise.all([import("vega"), import("vega-lite")]).then(
    ([vega, vegaLite]) => ({ vega, vegaLite }),
    (e: NodeJS.ErrnoException) => {
      charting = undefined;
      if (e?.code !== "ERR_MODULE_NOT_FOUND" || !/vega/.test(e.message)) throw e;
      throw new Error("report: the charts need the packages vega and vega-lite (optional dependencies of tsgrad-vae), which are not installed; run `npm install vega vega-lite`");
    },
  ));
}

/** Compiles a vega-lite spec, fills its named data sets and renders it to an SVG string in Node. */
async function toSvg(spec: TopLevelSpec, data: Record<string, object[]> = {}): Promise<string> {
  const { vega, vegaLite } = await loadCharting();
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "none" });
  for (const [name, values] of Object.entries(data)) view.data(name, values);
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function elboChart(metrics: EpochMetrics[]): Promise<string> {
  const values = metrics.flatMap((m) => [
    { epoch: m.epoch, set: "train", elbo: m.trainElbo },
    { epoch: m.epoch, set: "test", elbo: m.testElbo },
  ]);
  return toSvg({
    width: 640,
    height: 300,
    config: CHART_CONFIG,
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "epoch", type: "quantitative", title: "epoch", axis: { tickMinStep: 1, format: "d" } },
      y: { field: "elbo", type: "quantitative", title: "ELBO (nats per image)", scale: { zero: false } },
      color: { field: "set", type: "nominal", title: null, scale: { domain: ["train", "test"] }, legend: { orient: "bottom-right" } },
    },
  });
}

async function latentChart({ means, labels }: ReportData["latent"]): Promise<string> {
  if (means.length !== 2 * labels.length) throw new Error(`latent: ${labels.length} labels need ${2 * labels.length} means, got ${means.length}`);
  const values = Array.from(labels, (digit, i) => ({ z1: means[2 * i]!, z2: means[2 * i + 1]!, digit }));
  const svg = await toSvg(
    {
      width: 520,
      height: 520,
      config: CHART_CONFIG,
      data: { name: "points" },
      mark: { type: "circle", size: 8, opacity: 0.6, aria: false },
      encoding: {
        x: { field: "z1", type: "quantitative", title: "z₁", scale: { zero: false, nice: true } },
        y: { field: "z2", type: "quantitative", title: "z₂", scale: { zero: false, nice: true } },
        color: { field: "digit", type: "nominal", title: "digit", scale: { domain: DIGITS, scheme: "category10" } },
      },
    },
    { points: values },
  );
  // Ten thousand points: trim coordinates to 0.01 px to keep the page small.
  return svg.replace(/translate\((-?[\d.]+),(-?[\d.]+)\)/g, (_, x: string, y: string) => `translate(${+(+x).toFixed(2)},${+(+y).toFixed(2)})`);
}

function img(png: Uint8Array, alt: string, cls?: string): string {
  return `<img${cls ? ` class="${cls}"` : ""} alt="${escapeHtml(alt)}" src="data:image/png;base64,${Buffer.from(png).toString("base64")}">`;
}

/** Interleaves rows of originals and reconstructions, at most `cols` per row, into one image list. */
function pairRows(a: Float32Array, b: Float32Array, count: number, side: number, cols: number): Float32Array {
  const px = side * side;
  if (a.length < count * px || b.length < count * px) throw new Error(`reconstructions: ${count} images of ${side}×${side} need ${count * px} values each, got ${a.length} and ${b.length}`);
  const out = new Float32Array(2 * Math.ceil(count / cols) * cols * px);
  for (let r = 0; r * cols < count; r++) {
    const n = Math.min(cols, count - r * cols);
    out.set(a.subarray(r * cols * px, (r * cols + n) * px), 2 * r * cols * px);
    out.set(b.subarray(r * cols * px, (r * cols + n) * px), (2 * r + 1) * cols * px);
  }
  return out;
}

function figure(body: string, caption: string): string {
  return `<figure>${body}\n<figcaption>${caption}</figcaption></figure>`;
}

function imageFigure(count: number, png: () => Uint8Array, alt: string, caption: string, cls?: string): string {
  return count > 0 ? figure(img(png(), alt, cls), caption) : "<p><em>none</em></p>";
}

function table(rows: [string, string][], cls?: string): string {
  return `<table${cls ? ` class="${cls}"` : ""}>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join("")}</table>`;
}

function summary({ part3, final }: ReportData): string {
  const out: string[] = [];
  if (part3) {
    const g = part3.encoderMean.map((v) => fmt(v, 4)).join(", ");
    out.push(
      `<p>ELBO of training image #${part3.index}: <b>${fmt(part3.elbo)} ± ${fmt(part3.stderr)}</b> nats (mean ± standard error over ${part3.samples} draws of ε).</p>`,
      table([
        ["E[log p(z)]", fmt(part3.logPrior)],
        ["E[log p(x|z)]", fmt(part3.logLikelihood)],
        ["E[−log q(z|x)]", fmt(part3.negLogQ)],
        ["g(x)", `(${g})`],
      ], "num"),
    );
  }
  if (final) {
    const images = (n: number | undefined, first = false) => (n === undefined ? "" : ` (${first ? "first " : ""}${n} test images)`);
    const rows: [string, string][] = [[`test ELBO${images(final.testImages)}`, fmt(final.testElbo)]];
    if (final.iwae !== undefined) {
      // Bounds side by side must be on the same images: the ELBO of the IWAE's images comes with it.
      if (final.elboOnIwaeImages !== undefined) rows.push([`ELBO${images(final.iwaeImages, true)}`, fmt(final.elboOnIwaeImages)]);
      rows.push([`IWAE bound${final.iwaeK !== undefined ? `, K = ${final.iwaeK}` : ""}${images(final.iwaeImages, true)}`, fmt(final.iwae)]);
    }
    out.push(table(rows, "num"));
  }
  return out.length ? out.join("\n") : "<p>No final numbers yet.</p>";
}

function configValue(v: unknown): string {
  return typeof v === "string" ? v : (JSON.stringify(v) ?? String(v));
}

function metricsTable(metrics: EpochMetrics[]): string {
  const rows = metrics.map((m) => `<tr><td>${m.epoch}</td><td>${fmt(m.trainElbo)}</td><td>${fmt(m.testElbo)}</td><td>${fmt(m.seconds, 1)}</td></tr>`);
  return `<details><summary>per-epoch numbers</summary><table class="num"><tr><th>epoch</th><th>train ELBO</th><th>test ELBO</th><th>seconds</th></tr>${rows.join("")}</table></details>`;
}

function boundsChart(e: ExactReport): Promise<string> {
  const ks = Object.keys(e.iwae).map(Number).sort((a, b) => a - b);
  const iwae = ks.map((k) => ({ K: k, bound: e.iwae[k], kind: "IWAE_K" }));
  const lines = [
    { value: e.logMarginal, kind: "log p(x), quadrature" },
    { value: e.laplace, kind: "Laplace" },
    { value: e.elbo, kind: "ELBO, quadrature" },
  ];
  const domain = ["IWAE_K", ...lines.map((l) => l.kind)];
  const color = { field: "kind", type: "nominal" as const, title: null, scale: { domain, range: ["#1f77b4", "#d62728", "#2ca02c", "#7f7f7f"] }, legend: { orient: "bottom-right" as const, labelLimit: 300 } };
  return toSvg({
    width: 640,
    height: 300,
    config: CHART_CONFIG,
    layer: [
      {
        data: { values: iwae },
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "K", type: "quantitative", title: "K, importance samples (log scale)", scale: { type: "log" }, axis: { values: ks, format: "d" } },
          y: { field: "bound", type: "quantitative", title: `mean over ${e.images} test images (nats)`, scale: { zero: false } },
          color,
        },
      },
      { data: { values: lines }, mark: { type: "rule", strokeDash: [6, 3] }, encoding: { y: { field: "value", type: "quantitative" }, color } },
    ],
  });
}

/** A white-to-blue colour for t in [0, 1]. */
function blues(t: number): [number, number, number] {
  const stops: [number, number, number][] = [[255, 255, 255], [158, 202, 225], [33, 113, 181], [8, 48, 107]];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  return stops[i].map((c, k) => Math.round(c + f * (stops[i + 1][k] - c))) as [number, number, number];
}

/**
 * The heat map of p(z|x) (linear in density, white at 0) over a square window that holds the posterior's
 * mass, q's 2σ ellipse and the mode, with q(z|x)'s 1σ and 2σ ellipses (solid, dashed), the encoder mean (red
 * ×), the mode ẑ (black +) and the Laplace Gaussian's 1σ and 2σ ellipses (orange).
 */
function posteriorSvg(p: ExactPosterior): string {
  const n = p.points;
  const h1 = (p.box.z1[1] - p.box.z1[0]) / n;
  const h2 = (p.box.z2[1] - p.box.z2[0]) / n;
  const peak = p.logPosterior.reduce((a, v) => Math.max(a, v), -Infinity);
  let [a1, b1, a2, b2] = [Math.min(p.mode[0], p.encoderMean[0] - 2 * p.qStd[0]), Math.max(p.mode[0], p.encoderMean[0] + 2 * p.qStd[0]), Math.min(p.mode[1], p.encoderMean[1] - 2 * p.qStd[1]), Math.max(p.mode[1], p.encoderMean[1] + 2 * p.qStd[1])];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (p.logPosterior[i * n + j] < peak - 10) continue; // e⁻¹⁰ of the peak density
      const [z1, z2] = [p.box.z1[0] + (j + 0.5) * h1, p.box.z2[0] + (i + 0.5) * h2];
      [a1, b1, a2, b2] = [Math.min(a1, z1 - h1), Math.max(b1, z1 + h1), Math.min(a2, z2 - h2), Math.max(b2, z2 + h2)];
    }
  }
  const span = 1.15 * Math.max(b1 - a1, b2 - a2);
  const [c1, c2] = [(a1 + b1) / 2, (a2 + b2) / 2];
  const [x0, y1] = [c1 - span / 2, c2 + span / 2]; // left, top
  const R = 150; // heat map resolution
  const rgba = new Uint8Array(R * R * 4);
  for (let py = 0; py < R; py++) {
    for (let px = 0; px < R; px++) {
      const z1 = x0 + ((px + 0.5) / R) * span;
      const z2 = y1 - ((py + 0.5) / R) * span;
      const j = Math.floor((z1 - p.box.z1[0]) / h1);
      const i = Math.floor((z2 - p.box.z2[0]) / h2);
      const t = i >= 0 && i < n && j >= 0 && j < n ? Math.exp(p.logPosterior[i * n + j] - peak) : 0;
      rgba.set([...blues(t), 255], 4 * (py * R + px));
    }
  }
  const [left, top, S] = [58, 8, 300];
  const X = (z1: number) => +(left + ((z1 - x0) / span) * S).toFixed(2);
  const Y = (z2: number) => +(top + ((y1 - z2) / span) * S).toFixed(2);
  const scale = S / span;
  const parts = [`<image x="${left}" y="${top}" width="${S}" height="${S}" preserveAspectRatio="none" href="data:image/png;base64,${Buffer.from(encodePng(R, R, rgba)).toString("base64")}"/>`];
  parts.push(`<rect x="${left}" y="${top}" width="${S}" height="${S}" fill="none" stroke="#999"/>`);
  const [g1, g2] = [X(p.encoderMean[0]), Y(p.encoderMean[1])];
  for (const [k, dash] of [[1, ""], [2, ' stroke-dasharray="5 3"']] as const) {
    parts.push(`<ellipse class="q${k}" cx="${g1}" cy="${g2}" rx="${+(k * p.qStd[0] * scale).toFixed(2)}" ry="${+(k * p.qStd[1] * scale).toFixed(2)}" fill="none" stroke="#d62728" stroke-width="1.5"${dash}/>`);
  }
  // The Laplace ellipses: the eigenvectors of the covariance; the screen's y axis points down, so the angle flips.
  const [s11, s12, , s22] = p.laplaceCovariance;
  const m = (s11 + s22) / 2;
  const r = Math.hypot((s11 - s22) / 2, s12);
  const [big, small] = [m + r, Math.max(m - r, 0)];
  const angle = (0.5 * Math.atan2(2 * s12, s11 - s22) * 180) / Math.PI;
  const [m1, m2] = [X(p.mode[0]), Y(p.mode[1])];
  for (const [k, dash] of [[1, ""], [2, ' stroke-dasharray="5 3"']] as const) {
    parts.push(`<ellipse class="laplace${k}" cx="${m1}" cy="${m2}" rx="${+(k * Math.sqrt(big) * scale).toFixed(2)}" ry="${+(k * Math.sqrt(small) * scale).toFixed(2)}" transform="rotate(${+(-angle).toFixed(2)} ${m1} ${m2})" fill="none" stroke="#ff7f0e" stroke-width="1.5"${dash}/>`);
  }
  parts.push(`<path class="mean" d="M${g1 - 5} ${g2 - 5}L${g1 + 5} ${g2 + 5}M${g1 - 5} ${g2 + 5}L${g1 + 5} ${g2 - 5}" stroke="#d62728" stroke-width="2"/>`);
  parts.push(`<path class="mode" d="M${m1 - 6} ${m2}L${m1 + 6} ${m2}M${m1} ${m2 - 6}L${m1} ${m2 + 6}" stroke="#000" stroke-width="2"/>`);
  const label = (v: number) => fmt(v).replace(/^-/, "−");
  for (const t of [0, 0.5, 1]) {
    parts.push(`<text x="${left + t * S}" y="${top + S + 14}" text-anchor="middle">${label(x0 + t * span)}</text>`);
    parts.push(`<text x="${left - 4}" y="${top + (1 - t) * S + 4}" text-anchor="end">${label(y1 - span + t * span)}</text>`);
  }
  parts.push(`<text x="${left + S / 2}" y="${top + S + 30}" text-anchor="middle">z₁</text><text x="10" y="${top + S / 2}" text-anchor="middle">z₂</text>`);
  const title = `${p.which}: test image ${p.index}${p.label === undefined ? "" : ` (a ${p.label})`}`;
  return `<svg class="posterior" role="img" aria-label="${escapeHtml(`posterior of ${title}`)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${left + S + 20} ${top + S + 36}" style="font-size: 11px">${parts.join("")}</svg>
<div class="posterior-caption"><b>${escapeHtml(title)}</b><br>gap ${fmt(p.gap, 3)}, log p(x) ${fmt(p.logMarginal)}, ELBO ${fmt(p.elbo)}, Laplace ${fmt(p.laplace)}</div>`;
}

function exactSection(e: ExactReport): Promise<string> {
  return boundsChart(e).then((chart) => {
    const rows: [string, string][] = [
      ["ELBO (by quadrature)", fmt(e.elbo, 3)],
      ...Object.keys(e.iwae).map(Number).sort((a, b) => a - b).map((k): [string, string] => [`IWAE bound, K = ${k}`, fmt(e.iwae[k], 3)]),
      ["Laplace approximation", fmt(e.laplace, 3)],
      ["log p(x) (by quadrature)", `${fmt(e.logMarginal, 3)} (error estimate: mean ${e.logMarginalError.toExponential(1)}${e.logMarginalMaxError === undefined ? "" : `, largest ${e.logMarginalMaxError.toExponential(1)}`})`],
      ["gap log p(x) − ELBO = KL(q ‖ p(z|x))", `${fmt(e.gap, 3)} (per image: smallest ${fmt(e.gapMin, 3)}, median ${fmt(e.gapMedian, 3)}, largest ${fmt(e.gapMax, 3)})`],
    ];
    const maps = e.posteriors.map((p) => `<div class="posterior-cell">${posteriorSvg(p)}</div>`).join("");
    return `<p>Every number below is a mean over the same first ${e.images} test images, in nats per image.</p>
${table(rows, "num")}
${figure(chart, `The importance-weighted bound IWAE_K against K (log scale), against log p(x) computed by quadrature over z, the Laplace approximation and the ELBO (also by quadrature, without Monte Carlo noise). IWAE_K rises toward log p(x) as K grows; what remains at K = 5000 is the part of the gap that the encoder's q(z|x) is too poor a proposal to close.`)}
${figure(`<div class="posteriors">${maps}</div>`, `The true posterior p(z|x) (blue, linear in density) of the images with the smallest, the median and the largest gap among the ${e.images}: q(z|x)'s 1σ and 2σ ellipses (red, solid and dashed) around the encoder mean g(x) (red ×), the mode ẑ of p(x, z) (black +) and the Laplace Gaussian's 1σ and 2σ ellipses (orange). The gap is KL(q ‖ p(z|x)): large where q sits away from the posterior or is narrower than it.`)}`;
  });
}

const CSS = `
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: 0.9em; margin-top: 0.4em; }
svg, img { max-width: 100%; height: auto; } img { image-rendering: pixelated; }
img.manifold, svg.manifold { width: 720px; }
svg.manifold text { font-size: 10px; fill: #333; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; margin: 0.5em 0; } th, td { padding: 0.2em 0.8em; border-bottom: 1px solid #eee; text-align: left; }
table.num td { text-align: right; font-variant-numeric: tabular-nums; }
.posteriors { display: flex; flex-wrap: wrap; gap: 1em; } .posterior-cell { width: 300px; } svg.posterior { width: 300px; } .posterior-caption { font-size: 0.85em; }
`;

/**
 * The manifold's PNG in an SVG with its axes: z₁ under each column (increasing to the right), z₂ left of
 * each row (decreasing downwards), as `quantileGrid` lays them out.
 */
function manifoldSvg(png: Uint8Array, z: ArrayLike<number>, alt: string): string {
  const n = z.length;
  const [left, top, size, bottom] = [46, 6, 720, 44];
  const cell = size / n;
  const label = (v: number) => fmt(v).replace(/^-/, "−");
  const parts = [`<image x="${left}" y="${top}" width="${size}" height="${size}" preserveAspectRatio="none" style="image-rendering: pixelated" href="data:image/png;base64,${Buffer.from(png).toString("base64")}"/>`];
  for (let j = 0; j < n; j++) {
    const x = +(left + (j + 0.5) * cell).toFixed(2);
    parts.push(`<line x1="${x}" x2="${x}" y1="${top + size}" y2="${top + size + 4}" stroke="#888"/><text class="z1" x="${x}" y="${top + size + 15}" text-anchor="middle">${label(z[j])}</text>`);
  }
  for (let i = 0; i < n; i++) {
    const y = +(top + (i + 0.5) * cell).toFixed(2);
    parts.push(`<line x1="${left - 4}" x2="${left}" y1="${y}" y2="${y}" stroke="#888"/><text class="z2" x="${left - 6}" y="${y + 3.5}" text-anchor="end">${label(z[n - 1 - i])}</text>`);
  }
  parts.push(`<text x="${left + size / 2}" y="${top + size + 34}" text-anchor="middle" style="font-size: 13px">z₁</text>`);
  parts.push(`<text x="12" y="${top + size / 2}" text-anchor="middle" style="font-size: 13px">z₂</text>`);
  return `<svg class="manifold" role="img" aria-label="${escapeHtml(alt)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${left + size + 8} ${top + size + bottom}">${parts.join("")}</svg>`;
}

/** Renders the training report as one self-contained HTML page (inline SVG charts, data-URI PNGs, inline CSS). */
export async function renderReport(data: ReportData): Promise<string> {
  const title = data.title ?? "VAE on binarized MNIST";
  const { manifold: m, reconstructions: r, samples: s, metrics } = data;
  const n = data.latent.labels.length;
  const [curve, scatter, exact] = await Promise.all([
    metrics.length
      ? elboChart(metrics).then((svg) => figure(svg, "Mean ELBO per image on the training and test sets after each epoch (higher is better).") + metricsTable(metrics))
      : "<p><em>no epochs yet</em></p>",
    n ? latentChart(data.latent).then((svg) => figure(svg, `Encoder means g(x) of ${n} test images, coloured by digit.`)) : "<p><em>no latent points</em></p>",
    data.exact ? exactSection(data.exact).then((html) => `<h2>The truth behind the bounds</h2>\n${html}`) : "",
  ]);
  const manifoldPng = () => imageGridPng(m.images, m.grid * m.grid, m.grid, { side: m.side, pad: 0 });
  const manifoldCaption = `Decoder means f(z) for a ${m.grid}×${m.grid} grid of latent points z placed at Gaussian quantiles of the prior
(the inverse normal CDF of evenly spaced probabilities in each coordinate), so that the grid spreads evenly over the prior's mass,
as in figure 4 of Kingma &amp; Welling (2014).${m.z ? " The axes give each column's z₁ and each row's z₂." : ""}`;
  const manifold = m.z && m.grid > 0 ? figure(manifoldSvg(manifoldPng(), m.z, "decoded manifold"), manifoldCaption) : imageFigure(m.grid, manifoldPng, "decoded manifold", manifoldCaption, "manifold");
  const rc = Math.min(r.count, 10);
  const pairs = Math.ceil(r.count / rc);
  const config = data.config && Object.keys(data.config).length
    ? `<h2>Configuration</h2>\n${table(Object.entries(data.config).map(([k, v]) => [k, configValue(v)]))}`
    : "";
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<h2>Summary</h2>
${summary(data)}
${exact}
<h2>ELBO per epoch</h2>
${curve}
<h2>Latent space</h2>
${scatter}
<h2>Learned manifold</h2>
${manifold}
<h2>Reconstructions</h2>
${imageFigure(r.count, () => imageGridPng(pairRows(r.originals, r.recon, r.count, r.side, rc), 2 * pairs * rc, rc, { side: r.side }), "test images and reconstructions",
  `Test images (upper row${pairs > 1 ? " of each pair" : ""}) and their reconstructions f(g(x)) (lower row).`)}
<h2>Samples</h2>
${imageFigure(s.count, () => imageGridPng(s.images, s.count, Math.ceil(Math.sqrt(s.count)), { side: s.side }), "samples from the prior",
  `Decoder means f(z) for ${s.count} draws z ~ N(0, I) from the prior.`)}
${config}
</body>
</html>
`;
}

/** Renders the report and writes it to `path` atomically. */
export async function writeReport(path: string, data: ReportData): Promise<void> {
  writeFileAtomic(path, await renderReport(data));
}
