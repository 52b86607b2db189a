// The charts of the report, the explorer and the notebooks, as vega-lite specifications with their data inline.
// Only specifications are built here (plain objects, no vega code, no Node import): render.ts draws them, to
// SVG in Node and Deno, into a page with vega's View.
import type { TopLevelSpec } from "vega-lite";
import type { EpochMetrics, ExactReport, PosteriorGrid } from "./types.js";

/** Vega's category10: the colour of digit k is CATEGORY10[k]. */
export const CATEGORY10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"] as const;
export const CHART_CONFIG = { font: "system-ui, sans-serif", background: "white", view: { stroke: "#ddd" } };
const DIGITS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
/** q(z|x)'s ellipses and g(x)'s ×: red; the Laplace Gaussian's: orange; the mode's +: black. */
export const POSTERIOR_COLORS = { q: "#d62728", laplace: "#ff7f0e", mode: "#000000", heat: "#08306b" } as const;

// ---------------------------------------------------------------- geometry

/** A symmetric range [−lim, lim] holding 99.5% of the coordinates' magnitudes (at least 2, at most 100, in steps of ½). */
export function latentLimit(means: ArrayLike<number>): number {
  const abs = Float64Array.from(means, Math.abs).sort();
  const q = abs[Math.min(abs.length - 1, Math.floor(0.995 * abs.length))] ?? 0;
  return Math.min(100, Math.max(2, Math.ceil(q * 1.08 * 2) / 2));
}

export interface EllipsePoint {
  z1: number;
  z2: number;
  /** The point's place along the closed curve, 0..n. */
  i: number;
}

/**
 * The points of the ellipse {z : (z − c)ᵀ Σ⁻¹ (z − c) = k²} of a symmetric positive definite 2×2 covariance
 * Σ = [s11, s12, s12, s22] (row-major), n + 1 of them with the first repeated at the end: c + k(√λ₁ cos t·v₁ +
 * √λ₂ sin t·v₂) over Σ's eigenpairs, in closed form (λ = m ± r with m the mean of the diagonal and
 * r = √(((s11 − s22)/2)² + s12²); v₁ at angle ½·atan2(2·s12, s11 − s22)).
 */
export function ellipsePoints(center: readonly [number, number], covariance: readonly number[], k: number, n = 96): EllipsePoint[] {
  const [s11, s12, , s22] = covariance;
  const m = (s11 + s22) / 2;
  const r = Math.hypot((s11 - s22) / 2, s12);
  const [big, small] = [m + r, m - r];
  if (!(small > 0) || !Number.isFinite(big)) throw new Error(`ellipsePoints: the covariance [${covariance.join(", ")}] is not positive definite`);
  const angle = 0.5 * Math.atan2(2 * s12, s11 - s22);
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  const [a, b] = [k * Math.sqrt(big), k * Math.sqrt(small)];
  return Array.from({ length: n + 1 }, (_, i) => {
    const t = (2 * Math.PI * (i % n)) / n;
    const [u, v] = [a * Math.cos(t), b * Math.sin(t)];
    return { z1: center[0] + c * u - s * v, z2: center[1] + s * u + c * v, i };
  });
}

/** A square window [z1 from, z1 to] × [z2 from, z2 to] of the latent plane. */
export interface Window {
  z1: [number, number];
  z2: [number, number];
}

/** Nats below the peak that the window of a posterior must hold: e⁻¹⁰ of the peak density. */
const WINDOW_NATS = 10;

/** A square window holding the posterior's mass (density within e⁻¹⁰ of its peak), q's 2σ ellipse and the mode, with 15% margin. */
export function posteriorWindow(p: PosteriorGrid): Window {
  const n = p.points;
  const h1 = (p.box.z1[1] - p.box.z1[0]) / n;
  const h2 = (p.box.z2[1] - p.box.z2[0]) / n;
  const peak = maxOf(p.logPosterior);
  let [a1, b1] = [Math.min(p.mode[0], p.encoderMean[0] - 2 * p.qStd[0]), Math.max(p.mode[0], p.encoderMean[0] + 2 * p.qStd[0])];
  let [a2, b2] = [Math.min(p.mode[1], p.encoderMean[1] - 2 * p.qStd[1]), Math.max(p.mode[1], p.encoderMean[1] + 2 * p.qStd[1])];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (p.logPosterior[i * n + j] < peak - WINDOW_NATS) continue;
      const [z1, z2] = [p.box.z1[0] + (j + 0.5) * h1, p.box.z2[0] + (i + 0.5) * h2];
      [a1, b1, a2, b2] = [Math.min(a1, z1 - h1), Math.max(b1, z1 + h1), Math.min(a2, z2 - h2), Math.max(b2, z2 + h2)];
    }
  }
  const span = 1.15 * Math.max(b1 - a1, b2 - a2);
  const [c1, c2] = [(a1 + b1) / 2, (a2 + b2) / 2];
  return { z1: [c1 - span / 2, c1 + span / 2], z2: [c2 - span / 2, c2 + span / 2] };
}

function maxOf(values: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i] > m) m = values[i];
  return m;
}

/** One cell of a heat map: [z1, z1b] × [z2, z2b] with t = p(z|x) / its peak at the cell's centre. */
export interface HeatCell {
  z1: number;
  z1b: number;
  z2: number;
  z2b: number;
  t: number;
}

/** Relative densities below this are left out of the heat map (white, or transparent over the scatter). */
export const HEAT_FLOOR = 0.003;

/**
 * The heat map of p(z|x) over `window` in `resolution`² cells: each cell's t is exp(log p(z|x) − peak) of the
 * quadrature grid's cell that holds the cell's centre (0 outside the grid); cells with t < HEAT_FLOOR are left out.
 */
export function posteriorCells(p: PosteriorGrid, window: Window, resolution: number): HeatCell[] {
  const n = p.points;
  if (p.logPosterior.length !== n * n) throw new Error(`posteriorCells: ${p.logPosterior.length} values for a ${n}×${n} grid`);
  const h1 = (p.box.z1[1] - p.box.z1[0]) / n;
  const h2 = (p.box.z2[1] - p.box.z2[0]) / n;
  const w1 = (window.z1[1] - window.z1[0]) / resolution;
  const w2 = (window.z2[1] - window.z2[0]) / resolution;
  const peak = maxOf(p.logPosterior);
  const out: HeatCell[] = [];
  for (let r = 0; r < resolution; r++) {
    for (let c = 0; c < resolution; c++) {
      const [z1, z2] = [window.z1[0] + c * w1, window.z2[0] + r * w2];
      const j = Math.floor((z1 + w1 / 2 - p.box.z1[0]) / h1);
      const i = Math.floor((z2 + w2 / 2 - p.box.z2[0]) / h2);
      const t = i >= 0 && i < n && j >= 0 && j < n ? Math.exp(p.logPosterior[i * n + j] - peak) : 0;
      if (t >= HEAT_FLOOR) out.push({ z1, z1b: z1 + w1, z2, z2b: z2 + w2, t });
    }
  }
  return out;
}

// ---------------------------------------------------------------- layers

type Layer = Record<string, unknown>;
/** The specs are built as plain objects (their layers as records); vega-lite's compile checks them. */
const topLevel = (spec: object) => spec as unknown as TopLevelSpec;
const Q = "quantitative" as const;
const RINGS = { domain: ["1σ", "2σ"], range: [[1, 0], [5, 3]] };

/**
 * The posterior's layers over axes z1, z2: the heat map (coloured white to blue, or one dark blue whose opacity
 * follows the density, to lie over a scatter), q(z|x)'s 1σ and 2σ ellipses (red, solid and dashed), the Laplace
 * Gaussian's (orange), g(x) (red ×) and the mode ẑ (black +). Layers are named (posterior_heat, q_ellipses,
 * laplace_ellipses, encoder_mean, mode), which the SVG's groups carry as classes (…_marks).
 */
export function posteriorLayers(p: PosteriorGrid, options: { window?: Window; resolution?: number; heat: "color" | "opacity" }): Layer[] {
  const window = options.window ?? posteriorWindow(p);
  const cells = posteriorCells(p, window, options.resolution ?? 72);
  const heat =
    options.heat === "color"
      ? { color: { field: "t", type: Q, scale: { domain: [0, 1 / 3, 2 / 3, 1], range: ["#ffffff", "#9ecae1", "#2171b5", POSTERIOR_COLORS.heat], interpolate: "rgb" }, legend: null } }
      : { color: { value: POSTERIOR_COLORS.heat }, opacity: { field: "t", type: Q, scale: { domain: [0, 1], range: [0, 0.85] }, legend: null } };
  const rings = (center: readonly [number, number], cov: readonly number[]) => [1, 2].flatMap((k) => ellipsePoints(center, cov, k).map((pt) => ({ ...pt, ring: `${k}σ` })));
  const ellipseLayer = (name: string, values: object[], color: string): Layer => ({
    name,
    data: { values },
    mark: { type: "line", clip: true, strokeWidth: 1.5, color, aria: false },
    encoding: { order: { field: "i", type: Q }, detail: { field: "ring" }, strokeDash: { field: "ring", type: "nominal", scale: RINGS, legend: null } },
  });
  const layers: Layer[] = [
    { name: "posterior_heat", data: { values: cells }, mark: { type: "rect", clip: true, aria: false }, encoding: { x2: { field: "z1b" }, y2: { field: "z2b" }, ...heat } },
    ellipseLayer("q_ellipses", rings(p.encoderMean, [p.qStd[0] ** 2, 0, 0, p.qStd[1] ** 2]), POSTERIOR_COLORS.q),
  ];
  if (p.laplaceCovariance) layers.push(ellipseLayer("laplace_ellipses", rings(p.mode, p.laplaceCovariance), POSTERIOR_COLORS.laplace));
  layers.push(
    { name: "encoder_mean", data: { values: [{ z1: p.encoderMean[0], z2: p.encoderMean[1] }] }, mark: { type: "point", shape: "cross", angle: 45, size: 110, filled: true, opacity: 1, color: POSTERIOR_COLORS.q, clip: true } },
    { name: "mode", data: { values: [{ z1: p.mode[0], z2: p.mode[1] }] }, mark: { type: "point", shape: "cross", size: 110, filled: true, opacity: 1, color: POSTERIOR_COLORS.mode, clip: true } },
  );
  return layers;
}

// ---------------------------------------------------------------- charts

export interface LatentOptions {
  /** The plot's side in pixels (default 480). */
  size?: number;
  /** Both axes span [−lim, lim] (default: a nice range holding every point). */
  lim?: number;
  /** A dashed square at ±box (the manifold's extent). */
  box?: number;
  /** The true posterior of one image, drawn over the points on a white backdrop of its window (posteriorWindow), outlined. */
  posterior?: PosteriorGrid;
  /** Where the digits' legend goes (default right). */
  legend?: "right" | "bottom" | "none";
  /** Each point's area in square pixels (default 8) and opacity (default 0.6). */
  pointSize?: number;
  opacity?: number;
}

/** The encoder means g(x) [n × 2] of images coloured by their digit labels: axes z₁ and z₂ on one scale. */
export function latentSpec(means: ArrayLike<number>, labels: ArrayLike<number>, options: LatentOptions = {}): TopLevelSpec {
  if (means.length !== 2 * labels.length) throw new Error(`latent: ${labels.length} labels need ${2 * labels.length} means, got ${means.length}`);
  const { size = 480, lim, box, posterior, legend = "right", pointSize = 8, opacity = 0.6 } = options;
  const points = Array.from(labels, (digit, i) => ({ z1: means[2 * i], z2: means[2 * i + 1], digit }));
  const scale = lim === undefined ? { zero: false, nice: true } : { domain: [-lim, lim], nice: false, zero: false };
  const layers: Layer[] = [
    {
      name: "points",
      data: { values: points },
      mark: { type: "circle", size: pointSize, opacity, clip: true, aria: false },
      encoding: {
        color: {
          field: "digit", type: "nominal", title: "digit", scale: { domain: DIGITS, range: [...CATEGORY10] },
          legend: legend === "none" ? null : legend === "bottom" ? { orient: "bottom", direction: "horizontal", columns: 10, symbolOpacity: 1 } : { symbolOpacity: 1 },
        },
      },
    },
  ];
  if (box !== undefined) {
    const corners = [[-box, -box], [box, -box], [box, box], [-box, box], [-box, -box]].map(([z1, z2], i) => ({ z1, z2, i }));
    layers.push({ name: "manifold_box", data: { values: corners }, mark: { type: "line", clip: true, strokeDash: [5, 4], color: "#283040", strokeOpacity: 0.55, strokeWidth: 1, aria: false }, encoding: { order: { field: "i", type: Q } } });
  }
  if (posterior) {
    // Over a white backdrop in its window (the square the explorer's zoomed chart shows), outlined: at the plot's
    // scale the posterior is a few pixels wide, and the points would hide it.
    const window = posteriorWindow(posterior);
    layers.push(
      {
        name: "posterior_window",
        data: { values: [{ z1: window.z1[0], z1b: window.z1[1], z2: window.z2[0], z2b: window.z2[1] }] },
        mark: { type: "rect", clip: true, fill: "#ffffff", fillOpacity: 0.85, stroke: "#111111", strokeWidth: 1, aria: false },
        encoding: { x2: { field: "z1b" }, y2: { field: "z2b" } },
      },
      ...posteriorLayers(posterior, { window, heat: "opacity", resolution: 48 }),
    );
  }
  return topLevel({
    width: size,
    height: size,
    config: CHART_CONFIG,
    encoding: {
      x: { field: "z1", type: Q, title: "z₁", scale },
      y: { field: "z2", type: Q, title: "z₂", scale },
    },
    layer: layers,
  });
}

/** p(z|x) as a heat map (white at 0, linear in density) over its window, with q(z|x), g(x), the mode and Laplace. */
export function posteriorSpec(p: PosteriorGrid, options: { size?: number } = {}): TopLevelSpec {
  const size = options.size ?? 300;
  const window = posteriorWindow(p);
  return topLevel({
    width: size,
    height: size,
    config: CHART_CONFIG,
    encoding: {
      x: { field: "z1", type: Q, title: "z₁", scale: { domain: window.z1, nice: false, zero: false }, axis: { tickCount: 4 } },
      y: { field: "z2", type: Q, title: "z₂", scale: { domain: window.z2, nice: false, zero: false }, axis: { tickCount: 4 } },
    },
    layer: posteriorLayers(p, { window, heat: "color" }),
  });
}

export interface ElboCurveData {
  /** The per-epoch means; a non-finite value is left out. */
  epochs: Pick<EpochMetrics, "epoch" | "trainElbo" | "testElbo">[];
  /** One-minibatch ELBOs at fractional epochs (the explorer's live curve). */
  steps?: { epoch: number; elbo: number }[];
  /** The x axis spans [0, xMax] (default: the data). */
  xMax?: number;
  labels?: { train?: string; test?: string; steps?: string };
  width?: number;
  height?: number;
}

/**
 * The ELBO per epoch on the training and test sets (lines with points), and, when given, the minibatches' ELBO
 * (a thin grey line). With minibatches, the lowest 3% of them (a fresh model's first steps) are left out of the
 * y range, and lines are clipped to it.
 */
export function elboCurveSpec(d: ElboCurveData): TopLevelSpec {
  const labels = { train: "train", test: "test", steps: "minibatch", ...d.labels };
  const steps = (d.steps ?? []).filter((s) => Number.isFinite(s.elbo)).map((s) => ({ epoch: s.epoch, elbo: s.elbo, set: labels.steps }));
  const epochs = d.epochs.flatMap((m) => [
    { epoch: m.epoch, set: labels.train, elbo: m.trainElbo },
    { epoch: m.epoch, set: labels.test, elbo: m.testElbo },
  ]).filter((r) => Number.isFinite(r.elbo));
  const domain = [...(steps.length ? [labels.steps] : []), labels.train, labels.test];
  const range = [...(steps.length ? ["rgba(120,128,145,0.7)"] : []), CATEGORY10[0], CATEGORY10[1]];
  let y: Record<string, unknown> = { zero: false };
  if (steps.length) {
    const sorted = steps.map((s) => s.elbo).sort((a, b) => a - b);
    const low = Math.min(sorted[Math.floor(sorted.length * 0.03)], ...epochs.filter((e) => e.set === labels.test).map((e) => e.elbo));
    const high = Math.max(...steps.map((s) => s.elbo), ...epochs.map((e) => e.elbo));
    const pad = Math.max(1, (high - low) * 0.06);
    y = { domain: [low - pad, high + pad], nice: false, zero: false };
  }
  const color = { field: "set", type: "nominal", title: null, scale: { domain, range }, legend: { orient: steps.length ? "top" : "bottom-right", labelLimit: 300 } };
  const layers: Layer[] = [];
  if (steps.length) layers.push({ name: "minibatches", data: { values: steps }, mark: { type: "line", strokeWidth: 1, clip: true, aria: false }, encoding: { color } });
  layers.push({ name: "epochs", data: { values: epochs }, mark: { type: "line", point: true, clip: true }, encoding: { color } });
  return topLevel({
    width: d.width ?? 640,
    height: d.height ?? 300,
    config: CHART_CONFIG,
    encoding: {
      x: { field: "epoch", type: Q, title: "epoch", axis: { tickMinStep: 1, format: "d" }, ...(d.xMax !== undefined && { scale: { domain: [0, d.xMax], nice: false } }) },
      y: { field: "elbo", type: Q, title: "ELBO (nats per image)", scale: y },
    },
    layer: layers,
  });
}

/** IWAE_K against K (log scale) with log p(x), Laplace and the ELBO as dashed rules: means over the same images. */
export function boundsSpec(e: Pick<ExactReport, "images" | "iwae" | "logMarginal" | "laplace" | "elbo">): TopLevelSpec {
  const ks = Object.keys(e.iwae).map(Number).sort((a, b) => a - b);
  const iwae = ks.map((k) => ({ K: k, bound: e.iwae[k], kind: "IWAE_K" }));
  const lines = [
    { value: e.logMarginal, kind: "log p(x), quadrature" },
    { value: e.laplace, kind: "Laplace" },
    { value: e.elbo, kind: "ELBO, quadrature" },
  ];
  const domain = ["IWAE_K", ...lines.map((l) => l.kind)];
  const color = { field: "kind", type: "nominal" as const, title: null, scale: { domain, range: ["#1f77b4", "#d62728", "#2ca02c", "#7f7f7f"] }, legend: { orient: "bottom-right" as const, labelLimit: 300 } };
  return topLevel({
    width: 640,
    height: 300,
    config: CHART_CONFIG,
    layer: [
      {
        name: "iwae",
        data: { values: iwae },
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "K", type: Q, title: "K, importance samples (log scale)", scale: { type: "log" }, axis: { values: ks, format: "d" } },
          y: { field: "bound", type: Q, title: `mean over ${e.images} test images (nats)`, scale: { zero: false } },
          color,
        },
      },
      { name: "exact", data: { values: lines }, mark: { type: "rule", strokeDash: [6, 3] }, encoding: { y: { field: "value", type: Q }, color } },
    ],
  });
}

export interface Series {
  name: string;
  ys: ArrayLike<number>;
  /** A CSS colour. */
  color: string;
}

/** Several series over the same xs as lines (non-finite values leave gaps), with a rule at y = 0 when the range crosses it. */
export function lineChartSpec(xs: ArrayLike<number>, series: readonly Series[], options: { width?: number; height?: number; title?: string; xTitle?: string; yTitle?: string } = {}): TopLevelSpec {
  if (xs.length < 2) throw new Error(`lineChartSpec: needs at least two xs, got ${xs.length}`);
  for (const s of series) if (s.ys.length !== xs.length) throw new Error(`lineChartSpec: series ${s.name} has ${s.ys.length} values for ${xs.length} xs`);
  const values = series.flatMap((s) => Array.from(s.ys, (y, i) => ({ x: xs[i], y: Number.isFinite(y) ? y : null, series: s.name })));
  const finite = values.map((v) => v.y).filter((y): y is number => y !== null);
  if (finite.length === 0) throw new Error("lineChartSpec: no finite value to draw");
  const layers: Layer[] = [
    {
      name: "series",
      data: { values },
      mark: { type: "line", strokeWidth: 2 },
      encoding: {
        x: { field: "x", type: Q, title: options.xTitle ?? "x", scale: { zero: false, nice: false } },
        y: { field: "y", type: Q, title: options.yTitle ?? null },
        color: { field: "series", type: "nominal", title: null, scale: { domain: series.map((s) => s.name), range: series.map((s) => s.color) }, legend: { orient: "bottom", direction: "horizontal" } },
      },
    },
  ];
  if (Math.min(...finite) < 0 && Math.max(...finite) > 0) layers.push({ name: "zero", data: { values: [{ y: 0 }] }, mark: { type: "rule", color: "#999" }, encoding: { y: { field: "y", type: Q } } });
  return topLevel({
    width: options.width ?? 640,
    height: options.height ?? 320,
    config: CHART_CONFIG,
    ...(options.title && { title: options.title }),
    layer: layers,
  });
}
