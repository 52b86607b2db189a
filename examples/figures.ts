// Figures for the notebooks, drawn pixel by pixel into an RGBA array and encoded with the library's
// own PNG helper (src/node/png.ts): no plotting library, no browser, nothing fetched.
import { encodePng } from "../src/node/png.ts";

/** Matplotlib's "tab10" palette: the colour of digit k is TAB10[k]. */
export const TAB10: readonly (readonly [number, number, number])[] = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];

// A 3×5 bitmap font: enough glyphs for tick labels, the legend and the axis names z1, z2.
const FONT: Record<string, string> = {
  "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
  "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001010010010",
  "8": "111101111101111", "9": "111101111001111", "-": "000000111000000", ".": "000000000000010",
  "z": "000111001010111", " ": "000000000000000",
};

/** An RGBA canvas with the few drawing primitives the figures need. */
class Canvas {
  readonly rgba: Uint8Array;
  constructor(readonly width: number, readonly height: number, background = 255) {
    this.rgba = new Uint8Array(width * height * 4).fill(background);
  }

  /** Blends colour c with opacity `alpha` into pixel (x, y); outside the canvas does nothing. */
  blend(x: number, y: number, c: readonly number[], alpha = 1): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (y * this.width + x) * 4;
    for (let k = 0; k < 3; k++) this.rgba[o + k] = Math.round(this.rgba[o + k] * (1 - alpha) + c[k] * alpha);
    this.rgba[o + 3] = 255;
  }

  rect(x: number, y: number, w: number, h: number, c: readonly number[], alpha = 1): void {
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.blend(x + i, y + j, c, alpha);
  }

  /** An axis-parallel line from (x0, y0) to (x1, y1), dashed with period `dash` if given. */
  line(x0: number, y0: number, x1: number, y1: number, c: readonly number[], dash = 0): void {
    const n = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0));
    for (let s = 0; s <= n; s++) {
      if (dash > 0 && Math.floor(s / dash) % 2 === 1) continue;
      this.blend(Math.round(x0 + ((x1 - x0) * s) / Math.max(n, 1)), Math.round(y0 + ((y1 - y0) * s) / Math.max(n, 1)), c);
    }
  }

  /** Text in the 3×5 font magnified `scale` times, its top-left corner at (x, y). */
  text(s: string, x: number, y: number, c: readonly number[], scale = 2): void {
    for (const [k, ch] of [...s].entries()) {
      const glyph = FONT[ch];
      if (glyph === undefined) throw new Error(`figures: no glyph for ${JSON.stringify(ch)}`);
      for (let i = 0; i < 15; i++) if (glyph[i] === "1") this.rect(x + k * 4 * scale + (i % 3) * scale, y + Math.floor(i / 3) * scale, scale, scale, c);
    }
  }

  static textWidth(s: string, scale = 2): number {
    return s.length * 4 * scale - scale;
  }

  png(): Uint8Array {
    return encodePng(this.width, this.height, this.rgba);
  }
}

export interface ScatterOptions {
  /** Side of the square plot area in pixels (default 420). */
  size?: number;
  /** The axes span [-range, range] in both coordinates (default: the smallest integer holding 99.5% of |coordinates|). */
  range?: number;
  /** Draw a dashed square at ±box (e.g. the extent of the manifold grid). */
  box?: number;
  /** Opacity of each point (default 0.55). */
  alpha?: number;
}

/**
 * A PNG scatter plot of 2-D points [n × 2] (row-major) coloured by their digit labels, with
 * integer ticks, the axes z1 (right) and z2 (up), and a legend row of the ten colours underneath.
 */
export function latentScatterPng(points: ArrayLike<number>, labels: ArrayLike<number>, options: ScatterOptions = {}): Uint8Array {
  const n = labels.length;
  if (points.length !== 2 * n) throw new Error(`latentScatterPng: ${points.length} coordinates for ${n} labels; expected ${2 * n}`);
  const { size = 420, alpha = 0.55 } = options;
  const sorted = Float64Array.from(points, Math.abs).sort();
  const range = options.range ?? Math.max(1, Math.ceil(sorted[Math.min(sorted.length - 1, Math.floor(0.995 * sorted.length))] ?? 1));
  const [left, top, right, bottom, legend] = [44, 12, 16, 40, 34];
  const canvas = new Canvas(left + size + right, top + size + bottom + legend);
  const px = (v: number) => left + Math.round(((v + range) / (2 * range)) * (size - 1));
  const py = (v: number) => top + Math.round(((range - v) / (2 * range)) * (size - 1));
  const [grid, axis, ink] = [[232, 232, 232], [150, 150, 150], [40, 40, 40]];

  const step = range <= 4 ? 1 : range <= 10 ? 2 : Math.ceil(range / 5);
  for (let t = -Math.floor(range / step) * step; t <= range; t += step) {
    canvas.line(px(t), top, px(t), top + size - 1, t === 0 ? axis : grid);
    canvas.line(left, py(t), left + size - 1, py(t), t === 0 ? axis : grid);
    const label = String(t);
    canvas.text(label, px(t) - Math.floor(Canvas.textWidth(label) / 2), top + size + 6, ink);
    canvas.text(label, left - 6 - Canvas.textWidth(label), py(t) - 5, ink);
  }
  if (options.box !== undefined) {
    const [a, b] = [px(-options.box), px(options.box)];
    const [c, d] = [py(options.box), py(-options.box)];
    for (const [x0, y0, x1, y1] of [[a, c, b, c], [a, d, b, d], [a, c, a, d], [b, c, b, d]]) canvas.line(x0, y0, x1, y1, ink, 4);
  }
  for (let i = 0; i < n; i++) {
    const [x, y] = [points[2 * i], points[2 * i + 1]];
    if (Math.abs(x) > range || Math.abs(y) > range) continue;
    canvas.rect(px(x) - 1, py(y) - 1, 3, 3, TAB10[labels[i] % 10], alpha);
  }
  // Frame and axis names.
  for (const [x0, y0, x1, y1] of [[left - 1, top - 1, left + size, top - 1], [left - 1, top + size, left + size, top + size], [left - 1, top - 1, left - 1, top + size], [left + size, top - 1, left + size, top + size]]) {
    canvas.line(x0, y0, x1, y1, ink);
  }
  canvas.text("z1", left + size - Canvas.textWidth("z1"), top + size + 20, ink);
  canvas.text("z2", 4, top, ink);
  // Legend: a swatch and the digit, for 0..9, spread over the width.
  const slot = Math.floor(size / 10);
  for (let k = 0; k < 10; k++) {
    const x = left + k * slot + Math.floor((slot - 22) / 2);
    const y = top + size + bottom + 8;
    canvas.rect(x, y, 10, 10, TAB10[k]);
    canvas.text(String(k), x + 14, y, ink);
  }
  return canvas.png();
}

export interface Series {
  name: string;
  ys: ArrayLike<number>;
  /** A CSS colour. */
  color: string;
}

/**
 * An SVG line chart of several series over the same xs, with a zero line, ticks on both axes and a
 * legend: for `Deno.jupyter.svg` or any page.
 */
export function lineChartSvg(xs: ArrayLike<number>, series: readonly Series[], options: { width?: number; height?: number; title?: string } = {}): string {
  const width = options.width ?? 640;
  const height = options.height ?? 360;
  const pad = { left: 48, right: 16, top: options.title ? 32 : 12, bottom: 40 };
  const finite = series.flatMap((s) => Array.from(s.ys)).filter(Number.isFinite);
  if (xs.length < 2 || finite.length === 0) throw new Error("lineChartSvg: needs at least two xs and some finite values");
  const [x0, x1] = [xs[0], xs[xs.length - 1]];
  let [y0, y1] = [Math.min(...finite), Math.max(...finite)];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const X = (x: number) => pad.left + ((x - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const Y = (y: number) => height - pad.bottom - ((y - y0) / (y1 - y0)) * (height - pad.top - pad.bottom);
  const ticks = (lo: number, hi: number) => {
    const step = 10 ** Math.floor(Math.log10((hi - lo) / 2));
    const unit = (hi - lo) / step > 10 ? step * 2 : step;
    const out: number[] = [];
    for (let t = Math.ceil(lo / unit) * unit; t <= hi + 1e-12; t += unit) out.push(Number(t.toPrecision(6)));
    return out;
  };
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`, `<rect width="${width}" height="${height}" fill="white"/>`];
  if (options.title) parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${options.title}</text>`);
  for (const t of ticks(x0, x1)) parts.push(`<line x1="${X(t)}" x2="${X(t)}" y1="${pad.top}" y2="${height - pad.bottom}" stroke="#eee"/><text x="${X(t)}" y="${height - pad.bottom + 16}" text-anchor="middle">${t}</text>`);
  for (const t of ticks(y0, y1)) parts.push(`<line x1="${pad.left}" x2="${width - pad.right}" y1="${Y(t)}" y2="${Y(t)}" stroke="#eee"/><text x="${pad.left - 6}" y="${Y(t) + 4}" text-anchor="end">${t}</text>`);
  if (y0 < 0 && y1 > 0) parts.push(`<line x1="${pad.left}" x2="${width - pad.right}" y1="${Y(0)}" y2="${Y(0)}" stroke="#999"/>`);
  for (const s of series) {
    const points = Array.from(s.ys, (y, i) => (Number.isFinite(y) ? `${X(xs[i]).toFixed(1)},${Y(y).toFixed(1)}` : "")).filter(Boolean).join(" ");
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${points}"/>`);
  }
  series.forEach((s, i) => parts.push(`<rect x="${pad.left + 12 + i * 110}" y="${height - 14}" width="14" height="3" fill="${s.color}"/><text x="${pad.left + 32 + i * 110}" y="${height - 9}">${s.name}</text>`));
  parts.push(`<text x="${width - pad.right}" y="${height - pad.bottom + 30}" text-anchor="end">x</text></svg>`);
  return parts.join("");
}
