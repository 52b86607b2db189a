import { writeFileAtomic } from "./atomic.js";
import type { TopLevelSpec } from "vega-lite";
import { imageGridPng } from "./png.js";

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

const CSS = `
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: 0.9em; margin-top: 0.4em; }
svg, img { max-width: 100%; height: auto; } img { image-rendering: pixelated; }
img.manifold, svg.manifold { width: 720px; }
svg.manifold text { font-size: 10px; fill: #333; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; margin: 0.5em 0; } th, td { padding: 0.2em 0.8em; border-bottom: 1px solid #eee; text-align: left; }
table.num td { text-align: right; font-variant-numeric: tabular-nums; }
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
  const [curve, scatter] = await Promise.all([
    metrics.length
      ? elboChart(metrics).then((svg) => figure(svg, "Mean ELBO per image on the training and test sets after each epoch (higher is better).") + metricsTable(metrics))
      : "<p><em>no epochs yet</em></p>",
    n ? latentChart(data.latent).then((svg) => figure(svg, `Encoder means g(x) of ${n} test images, coloured by digit.`)) : "<p><em>no latent points</em></p>",
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
