// The WebAssembly SIMD kernels of the fused ops (bias + tanh, the Bernoulli log-likelihood and its
// gradient) against the TypeScript kernels, which compute in float64 and round once: within 1-3 ulp.
// (Their speed is measured in bench/step.ts, not here.)
import { describe, expect, it } from "vitest";
import { Random } from "../src/index.js";
import { activationBackwardJs, columnSumsJs as addColumnSumsJs, bernoulliRowsJs, biasActivationJs, scaleRowsJs } from "../src/tensor/fused.js";
import { kernelFor } from "../src/tensor/kernels.js";
import {
  activationBackwardWasm, bernoulliWasm, biasAddWasm, biasTanhWasm, columnSumsWasm, scaleRowsWasm, wasmElementwiseAvailable,
} from "../src/tensor/wasm/elementwise.js";

const simd = wasmElementwiseAvailable();

function ulp32(x: number): number {
  const a = Math.abs(Math.fround(x));
  if (!(a >= 2 ** -126)) return 2 ** -149;
  if (a === Infinity) return Infinity;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

/** Largest |a − b| / ulp(b) (b the reference); NaN must meet NaN and infinities must be equal. */
function worstUlps(a: Float32Array, b: Float32Array, scale: (i: number) => number = (i) => ulp32(b[i])): { ulps: number; at: number } {
  let worst = { ulps: 0, at: -1 };
  for (let i = 0; i < b.length; i++) {
    if (Number.isNaN(b[i])) {
      expect(a[i], `element ${i}`).toBeNaN();
      continue;
    }
    if (a[i] === b[i]) continue;
    const u = Math.abs(a[i] - b[i]) / scale(i);
    if (!(u <= worst.ulps)) worst = { ulps: u, at: i };
  }
  return worst;
}

/** The first index where a and b differ (Object.is, so −0 ≠ 0; NaNs are all alike), or −1. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i]) && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return i;
  return -1;
}

/** Values spread over [-span, span] on a log scale (and uniformly near 0), with zeros. */
function spread(n: number, span: number, seed: number): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length: n }, () => {
    const u = rng.uniform();
    if (u < 0.02) return 0;
    const sign = rng.uniform() < 0.5 ? -1 : 1;
    return u < 0.5 ? sign * span * rng.uniform() : sign * Math.exp(Math.log(span) - 20 * rng.uniform());
  });
}

describe.skipIf(!simd)("fused-op kernels in WebAssembly SIMD agree with TypeScript", () => {
  it("bias + tanh: within 1 ulp of Math.tanh rounded to float32, any width (padded rows), special values", () => {
    for (const [rows, cols] of [[100, 500], [3, 7], [1, 1], [300, 513]]) {
      const y = spread(rows * cols, 12, rows + cols);
      const bias = spread(cols, 3, cols);
      if (rows * cols > 8) y.set([NaN, Infinity, -Infinity, 0, -0, 1e-30, -1e-42, 9.5]);
      const ref = Float32Array.from(y);
      biasActivationJs(ref, bias, rows, cols, "tanh");
      const got = Float32Array.from(y);
      biasTanhWasm(got, bias, rows, cols);
      expect(worstUlps(got, ref).ulps, `${rows}×${cols}`).toBeLessThanOrEqual(1);
    }
  });

  it("bias + tanh: in chunks when larger than the scratch chunk, and through the kernel table", () => {
    const rows = 700;
    const cols = 390; // 273,000 values: three chunks
    const y = spread(rows * cols, 5, 1);
    const bias = spread(cols, 1, 2);
    const ref = Float32Array.from(y);
    biasActivationJs(ref, bias, rows, cols, "tanh");
    const got = Float32Array.from(y);
    kernelFor("biasActivation", "wasm", "float32")(got, bias, rows, cols, "tanh");
    expect(worstUlps(got, ref).ulps).toBeLessThanOrEqual(1);
  });

  it("bias add, relu, the activations' backward (with the bias gradient), column sums and row scaling are bit-identical", () => {
    // Shapes: the seed step's, narrow and odd widths (rows padded to 4), and one over the scratch chunk.
    for (const [rows, cols] of [[100, 500], [100, 784], [7, 3], [5, 1], [300, 513]]) {
      const seed = rows * 1000 + cols;
      const y = spread(rows * cols, 4, seed);
      y.set([NaN, -0, 0, 1e-40].slice(0, y.length));
      const g = spread(rows * cols, 2, seed + 1);
      const bias = spread(cols, 2, seed + 2);
      const gb0 = spread(cols, 1, seed + 3);
      const s = spread(rows, 3, seed + 4);
      for (const relu of [false, true]) {
        const [a, b] = [Float32Array.from(y), Float32Array.from(y)];
        biasActivationJs(a, bias, rows, cols, relu ? "relu" : "none");
        biasAddWasm(b, bias, rows, cols, relu);
        expect(firstDifference(b, a), `bias add ${rows}×${cols}${relu ? " relu" : ""}`).toBe(-1);
      }
      const act = Float32Array.from(y, Math.tanh);
      for (const activation of ["tanh", "relu"] as const) {
        for (const withGb of [true, false]) {
          const [gpA, gpB] = [new Float32Array(y.length), new Float32Array(y.length)];
          const [gbA, gbB] = [Float32Array.from(gb0), Float32Array.from(gb0)];
          activationBackwardJs(gpA, g, act, withGb ? gbA : null, rows, cols, activation);
          activationBackwardWasm(gpB, g, act, withGb ? gbB : null, rows, cols, activation);
          expect(firstDifference(gpB, gpA), `${activation}' ${rows}×${cols}`).toBe(-1);
          expect(firstDifference(gbB, gbA), `bias gradient through ${activation}`).toBe(-1);
        }
      }
      const [csA, csB] = [Float32Array.from(gb0), Float32Array.from(gb0)];
      addColumnSumsJs(csA, g, rows, cols);
      columnSumsWasm(csB, g, rows, cols);
      expect(firstDifference(csB, csA)).toBe(-1);
      const [scA, scB] = [new Float32Array(g.length), Float32Array.from(g)];
      scaleRowsJs(scA, s, g, cols);
      scaleRowsWasm(scB, s, scB, cols); // in place, as the Bernoulli backward does
      expect(firstDifference(scB, scA)).toBe(-1);
    }
  });

  it("Bernoulli log-likelihood: row sums within 2 ulp, gradient x − σ(l) within 3 ulp, binary pixels, logits up to ±1e4", () => {
    for (const [k, rows, D, span] of [[1, 100, 784, 30], [3, 20, 784, 1e4], [2, 50, 5, 100], [1, 400, 333, 1e-3]]) {
      const rng = new Random(D + rows);
      const x = Float32Array.from({ length: rows * D }, () => (rng.uniform() < 0.3 ? 1 : 0));
      const l = spread(k * rows * D, span, k * 7 + D);
      const [out, refOut] = [new Float32Array(k * rows), new Float32Array(k * rows)];
      const [d, refD] = [new Float32Array(l.length), new Float32Array(l.length)];
      bernoulliRowsJs(x, l, D, refOut, refD);
      bernoulliWasm(x, l, D, out, d);
      expect(worstUlps(out, refOut).ulps, `sums, ${k}×${rows}×${D}`).toBeLessThanOrEqual(2);
      expect(worstUlps(d, refD).ulps, `gradient, ${k}×${rows}×${D}`).toBeLessThanOrEqual(3);
      // Without the gradient, the same sums.
      const alone = new Float32Array(k * rows);
      bernoulliWasm(x, l, D, alone, null);
      expect(firstDifference(alone, out)).toBe(-1);
    }
  });

  it("Bernoulli: exact at the extremes, NaN propagates, pixels in (0, 1) within 3 ulp of the operands' scale, and in chunks", () => {
    const x = new Float32Array([1, 0, 1, 0, 1, 0, 1, 0]);
    const l = new Float32Array([1e4, 1e4, -1e4, -1e4, 200, -200, 0, NaN]);
    const out = new Float32Array(2);
    const d = new Float32Array(8);
    bernoulliWasm(x, l, 4, out, d);
    expect(out[0]).toBe(-2e4);
    expect(Array.from(d.subarray(0, 6))).toEqual([0, -1, 1, 0, 0, 0]);
    expect(d[6]).toBe(0.5);
    expect(out[1]).toBeNaN();
    expect(d[7]).toBeNaN();

    // Real-valued pixels: x − σ(l) cancels where σ(l) ≈ x, so the error is relative to σ's size.
    const rows = 180;
    const D = 784; // 141,120 values: two chunks
    const rng = new Random(9);
    const xs = Float32Array.from({ length: rows * D }, () => rng.uniform());
    const ls = spread(rows * D, 20, 10);
    const [o1, o2] = [new Float32Array(rows), new Float32Array(rows)];
    const [d1, d2] = [new Float32Array(ls.length), new Float32Array(ls.length)];
    bernoulliRowsJs(xs, ls, D, o1, d1);
    kernelFor("bernoulliRows", "wasm", "float32")(xs, ls, D, o2, d2);
    expect(worstUlps(o2, o1).ulps).toBeLessThanOrEqual(2);
    const sigma = (v: number) => 1 / (1 + Math.exp(-v));
    expect(worstUlps(d2, d1, (i) => ulp32(d1[i]) + 2 * ulp32(Math.min(sigma(ls[i]), 1 - sigma(ls[i])))).ulps).toBeLessThanOrEqual(1);
  });
});
