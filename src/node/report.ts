// The HTML report of a training run: one self-contained page. Its charts are the shared ones of src/charts
// (vega-lite, rendered to inline SVG), its images PNGs in data URIs.
import { boundsSpec, chartSvg, elboCurveSpec, exactRows, latentSpec, posteriorSpec } from "../charts/index.js";
import type { EpochMetrics, ExactPosterior, ExactReport } from "../charts/types.js";
import { writeFileAtomic } from "./atomic.js";
import { imageGridPng } from "./png.js";

export type { EpochMetrics, ExactPosterior, ExactReport } from "../charts/types.js";

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

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fmt(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

function elboChart(metrics: EpochMetrics[]): Promise<string> {
  return chartSvg(elboCurveSpec({ epochs: metrics }), "report");
}

function latentChart({ means, labels }: ReportData["latent"]): Promise<string> {
  return chartSvg(latentSpec(means, labels, { size: 520 }), "report");
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

/** The posterior's heat map (src/charts' posteriorSpec) with a caption: which image, its gap and bounds. */
async function posteriorFigure(p: ExactPosterior): Promise<string> {
  const title = `${p.which}: test image ${p.index}${p.label === undefined ? "" : ` (a ${p.label})`}`;
  const svg = await chartSvg(posteriorSpec(p, { size: 240 }), "report");
  return `<div class="posterior-cell" role="img" aria-label="${escapeHtml(`posterior of ${title}`)}">${svg}
<div class="posterior-caption"><b>${escapeHtml(title)}</b><br>gap ${fmt(p.gap, 3)}, log p(x) ${fmt(p.logMarginal)}, ELBO ${fmt(p.elbo)}, Laplace ${fmt(p.laplace)}</div></div>`;
}

async function exactSection(e: ExactReport): Promise<string> {
  const [chart, ...maps] = await Promise.all([chartSvg(boundsSpec(e), "report"), ...e.posteriors.map(posteriorFigure)]);
  const rows = exactRows(e).map((r) => `<tr><th>${escapeHtml(r.label)}</th><td>${escapeHtml(r.formatted)}</td><td class="note">${escapeHtml(r.note)}</td></tr>`);
  return `<p>Every number below is a mean over the same first ${e.images} test images, in nats per image.</p>
<table class="num exact">${rows.join("")}</table>
${figure(chart, `The importance-weighted bound IWAE_K against K (log scale), against log p(x) computed by quadrature over z, the Laplace approximation and the ELBO (also by quadrature, without Monte Carlo noise). IWAE_K rises toward log p(x) as K grows; what remains at K = 5000 is the part of the gap that the encoder's q(z|x) is too poor a proposal to close.`)}
${figure(`<div class="posteriors">${maps.join("")}</div>`, `The true posterior p(z|x) (blue, linear in density) of the images with the smallest, the median and the largest gap among the ${e.images}: q(z|x)'s 1σ and 2σ ellipses (red, solid and dashed) around the encoder mean g(x) (red ×), the mode ẑ of p(x, z) (black +) and the Laplace Gaussian's 1σ and 2σ ellipses (orange, solid and dashed). The gap is KL(q ‖ p(z|x)): large where q sits away from the posterior or is narrower than it.`)}`;
}

const CSS = `
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: 0.9em; margin-top: 0.4em; }
svg, img { max-width: 100%; height: auto; } img { image-rendering: pixelated; }
img.manifold, svg.manifold { width: 720px; }
svg.manifold text { font-size: 10px; fill: #333; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; margin: 0.5em 0; } th, td { padding: 0.2em 0.8em; border-bottom: 1px solid #eee; text-align: left; }
table.num td { text-align: right; font-variant-numeric: tabular-nums; } table.exact td.note { text-align: left; color: #555; font-size: 0.9em; }
.posteriors { display: flex; flex-wrap: wrap; gap: 1em; } .posterior-cell { width: 300px; } .posterior-caption { font-size: 0.85em; }
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
