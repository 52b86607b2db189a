// log p(x) by quadrature, the posterior mode and the Laplace approximation (src/vae/marginal.ts), each against
// an answer found another way: a closed form, a brute-force grid written here with plain loops, the
// autodiff's `hessian` and finite differences, and the bounds that must lie below log p(x).
import { describe, expect, it } from "vitest";
import { hessian, noGrad } from "../src/autograd/index.js";
import { Random } from "../src/tensor/random.js";
import { Tensor } from "../src/tensor/tensor.js";
import { analyticKl, sampleEps } from "../src/vae/elbo.js";
import { binarize } from "../src/vae/idx.js";
import { elboByQuadrature, exactBounds, laplace, laplaceAt, logJointAt, logMarginal, posteriorMode, type MarginalOptions, type Mode } from "../src/vae/marginal.js";
import { VAE } from "../src/vae/model.js";
import { loadMnist } from "../src/node/mnist.js";

/** log p(x, z) for one image, from the model's weights in float64 with plain loops (no tensors). */
function referenceLogJoint(model: VAE, x: ArrayLike<number>) {
  const p = model.namedParameters();
  const [W0, b0, W1, b1] = ["decoder.layers.0.weight", "decoder.layers.0.bias", "decoder.layers.1.weight", "decoder.layers.1.bias"].map((n) => Float64Array.from(p.get(n)!.data));
  const { hidden: H, inputSize: D } = model.config;
  const h = new Float64Array(H);
  return (z1: number, z2: number) => {
    for (let k = 0; k < H; k++) h[k] = Math.tanh(W0[2 * k] * z1 + W0[2 * k + 1] * z2 + b0[k]);
    let ll = 0;
    for (let j = 0; j < D; j++) {
      let l = b1[j];
      for (let k = 0; k < H; k++) l += W1[j * H + k] * h[k];
      ll += x[j] * l - (Math.max(l, 0) + Math.log1p(Math.exp(-Math.abs(l)))); // x·l − softplus(l)
    }
    return ll - 0.5 * (z1 * z1 + z2 * z2) - Math.log(2 * Math.PI);
  };
}

/** log ∫ p(x, z) dz over [−R, R]² by the midpoint rule with n² cells, by brute force in float64. */
function bruteForce(f: (z1: number, z2: number) => number, R: number, n: number): number {
  const h = (2 * R) / n;
  const values = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) values[i * n + j] = f(-R + (j + 0.5) * h, -R + (i + 0.5) * h);
  const m = values.reduce((a, v) => Math.max(a, v), -Infinity);
  return m + Math.log(values.reduce((a, v) => a + Math.exp(v - m), 0)) + 2 * Math.log(h);
}

const setParameter = (model: VAE, name: string, values: number[]) => model.setParameter(name, new Tensor(Float32Array.from(values), model.namedParameters().get(name)!.shape as number[], true));

/**
 * A small decoder (30 pixels, 4 hidden units) whose logits are even in z₁: hidden units in pairs (a, c)
 * and (−a, c) with the same bias and output weights, so p(z|x) is symmetric in z₁ and, for an image drawn
 * at z₁ = ±1.5, has two peaks.
 */
function twoPeaks(): { model: VAE; x: Float32Array } {
  const D = 30;
  const model = new VAE({ inputSize: D, hidden: 4 }, { seed: 1 });
  setParameter(model, "decoder.layers.0.weight", [2, 0.7, -2, 0.7, 1.2, -1.5, -1.2, -1.5]);
  setParameter(model, "decoder.layers.0.bias", [0.3, 0.3, -0.4, -0.4]);
  const rng = new Random(5);
  const V: number[] = [];
  for (let j = 0; j < D; j++) {
    const [u, v] = [3 * rng.normal(), 3 * rng.normal()];
    V.push(u, u, v, v);
  }
  setParameter(model, "decoder.layers.1.weight", V);
  const probabilities = model.decode(new Tensor(Float32Array.from([1.5, 0.2]), [1, 2])).data;
  return { model, x: Float32Array.from(probabilities, (p) => (p > 0.5 ? 1 : 0)) };
}

/**
 * Steps in each coordinate: all 2m pixels on, log p(x|z) = m log σ(s₁ a tanh(w z₁)) + m log σ(s₂ a tanh(w z₂)), so
 * p(z|x) is the prior cut off steeply on one side of each axis (s = 1: z below 0 is unlikely) and Gaussian on
 * the other: the Laplace box (±6 of its spread) ends where the density is still high on one side only.
 */
function stepModel(s1: number, s2: number, a = 6, w = 3, m = 8): { model: VAE; x: Float32Array } {
  const model = new VAE({ inputSize: 2 * m, hidden: 2 }, { seed: 1 });
  setParameter(model, "decoder.layers.0.weight", [w, 0, 0, w]);
  setParameter(model, "decoder.layers.0.bias", [0, 0]);
  setParameter(model, "decoder.layers.1.weight", Array.from({ length: 2 * m }, (_, j) => (j < m ? [s1 * a, 0] : [0, s2 * a])).flat());
  setParameter(model, "decoder.layers.1.bias", new Array(2 * m).fill(0));
  return { model, x: new Float32Array(2 * m).fill(1) };
}

const logSumExpOf = (v: number[]) => {
  const m = v.reduce((a, x) => Math.max(a, x), -Infinity);
  return m + Math.log(v.reduce((a, x) => a + Math.exp(x - m), 0));
};

/**
 * logMarginal's grid, written again from its documentation with plain loops on a float64 log p(x, z), for one
 * image at a given mode: the box ẑ ± 6 Laplace spreads (q's mean ± 6σ where −H is not definite), joined with
 * every cell of the 64×64 scan of [−R, R]² within 30 nats of the peak (one cell of margin); each side whose
 * border is within 30 nats of the peak pushed out by half the box (the grid starting again) while no side passes
 * maxWidth; the grid doubled until two resolutions agree to the tolerance on cells at most half the spread, or
 * maxPoints; the error adds the share of the mass on the border ring. `steps` says
 * what happened, so that a test can show which branch a case takes.
 */
function referenceGrid(f: (z1: number, z2: number) => number, mode: Mode, q: { mean: number[]; sigma: number[] }, options: MarginalOptions = {}) {
  const { tolerance = 0.01, initialPoints = 32, maxPoints = 512, scanRadius: R = 5, maxWidth = 64 } = options;
  const cell = (2 * R) / 64;
  const [h11, h12, , h22] = mode.hessian;
  const det = h11 * h22 - h12 * h12;
  const spread = mode.positiveDefinite ? [Math.sqrt(-h22 / det), Math.sqrt(-h11 / det)] : q.sigma;
  const c = mode.positiveDefinite ? mode.mode : q.mean;
  const box = { z1: [c[0] - 6 * spread[0], c[0] + 6 * spread[0]], z2: [c[1] - 6 * spread[1], c[1] + 6 * spread[1]] };
  const scan: [number, number, number][] = [];
  for (let i = 0; i < 64; i++) for (let j = 0; j < 64; j++) scan.push([-R + (j + 0.5) * cell, -R + (i + 0.5) * cell, f(-R + (j + 0.5) * cell, -R + (i + 0.5) * cell)]);
  const scanPeak = scan.reduce((a, s) => Math.max(a, s[2]), mode.logJoint);
  const steps: string[] = [];
  const laplaceBox = [...box.z1, ...box.z2];
  for (const [z1, z2] of scan.filter((s) => s[2] >= scanPeak - 30)) {
    box.z1 = [Math.min(box.z1[0], z1 - cell), Math.max(box.z1[1], z1 + cell)];
    box.z2 = [Math.min(box.z2[0], z2 - cell), Math.max(box.z2[1], z2 + cell)];
  }
  const sides = ["low1", "high1", "low2", "high2"];
  steps.push(["scan", ...sides.filter((_, k) => [...box.z1, ...box.z2][k] !== laplaceBox[k])].join(" "));
  let [n, previous] = [initialPoints, NaN];
  for (;;) {
    const [w1, w2] = [box.z1[1] - box.z1[0], box.z2[1] - box.z2[0]];
    const [h1, h2] = [w1 / n, w2 / n];
    const v: number[][] = []; // row i at z₂, column j at z₁
    for (let i = 0; i < n; i++) v.push(Array.from({ length: n }, (_, j) => f(box.z1[0] + (j + 0.5) * h1, box.z2[0] + (i + 0.5) * h2)));
    const peak = v.flat().reduce((a, x) => Math.max(a, x), mode.logJoint);
    const border = { low1: v.map((r) => r[0]), high1: v.map((r) => r[n - 1]), low2: v[0], high2: v[n - 1] };
    const open = Object.entries(border).filter(([, side]) => Math.max(...side) > peak - 30).map(([name]) => name);
    if (Math.max(w1, w2) < maxWidth && open.length > 0) {
      steps.push(`grow ${open.join(" ")}`);
      if (open.includes("low1")) box.z1[0] -= w1 / 2;
      if (open.includes("high1")) box.z1[1] += w1 / 2;
      if (open.includes("low2")) box.z2[0] -= w2 / 2;
      if (open.includes("high2")) box.z2[1] += w2 / 2;
      [n, previous] = [initialPoints, NaN];
      continue;
    }
    const total = logSumExpOf(v.flat()) + Math.log(h1 * h2);
    const diff = Math.abs(total - previous);
    const resolved = h1 <= spread[0] / 2 && h2 <= spread[1] / 2;
    if (!(diff <= tolerance && resolved) && 2 * n <= maxPoints) {
      steps.push(diff <= tolerance ? "refine unresolved" : "refine");
      [n, previous] = [2 * n, total];
      continue;
    }
    const ring = logSumExpOf(v.flatMap((r, i) => (i === 0 || i === n - 1 ? r : [r[0], r[n - 1]]))) + Math.log(h1 * h2);
    const error = (Number.isNaN(diff) ? Infinity : diff) + Math.exp(ring - total);
    const converged = error <= tolerance && resolved;
    steps.push(converged ? "converged" : diff <= tolerance && resolved ? "border" : "maxPoints");
    return { logMarginal: total, error, box, points: n, converged, logPosterior: v.flat().map((x) => x - total), steps };
  }
}

describe("logMarginal: known answers", () => {
  it("a decoder that ignores z (first-layer weights 0): log p(x) = log p(x|z) exactly, and Laplace and the quadrature ELBO are exact too", () => {
    const model = new VAE({ hidden: 16 }, { seed: 2 });
    setParameter(model, "decoder.layers.0.weight", new Array(32).fill(0));
    const x = binarize(loadMnist("test", { limit: 3 }).images);
    const exact = Array.from({ length: 3 }, (_, b) => referenceLogJoint(model, x.subarray(b * 784, (b + 1) * 784))(0, 0) + Math.log(2 * Math.PI)); // log p(x|z), any z
    const r = logMarginal(model, x);
    r.forEach((m, b) => {
      expect(Math.abs(m.logMarginal - exact[b])).toBeLessThan(1e-3);
      expect(m.error).toBeLessThan(0.01);
      expect(m.converged).toBe(true);
    });
    laplace(model, x).forEach((l, b) => {
      expect(Math.hypot(...l.mode)).toBeLessThan(1e-4); // the prior's mode
      expect(Math.abs(l.logMarginal - exact[b])).toBeLessThan(1e-3);
    });
    // ELBO = log p(x|z) − KL(q ‖ p), KL in closed form.
    const q = noGrad(() => model.encode(new Tensor(x, [3, 784])));
    const kl = analyticKl(q.mean, q.variance).data;
    elboByQuadrature(model, x).forEach((e, b) => expect(Math.abs(e - (exact[b] - kl[b]))).toBeLessThan(1e-3));
  });

  it("equals a brute-force 800×800 grid over [−8, 8]² written with plain loops in float64, on a fresh model and on a posterior with two peaks", () => {
    const fresh = new VAE({ inputSize: 30, hidden: 6 }, { seed: 4 });
    const rng = new Random(3);
    const xFresh = Float32Array.from({ length: 30 }, () => (rng.uniform() < 0.5 ? 1 : 0));
    const { model, x } = twoPeaks();
    for (const [m, image] of [[fresh, xFresh], [model, x]] as const) {
      const reference = bruteForce(referenceLogJoint(m, image), 8, 800);
      const [r] = logMarginal(m, image);
      expect(Math.abs(r.logMarginal - reference)).toBeLessThan(Math.max(r.error, 2e-4));
      expect(r.error).toBeLessThan(0.01);
    }
  });

  it("finds both peaks of a two-peaked posterior: a grid around the Newton mode alone would miss log 2", () => {
    const { model, x } = twoPeaks();
    const [r] = logMarginal(model, x);
    const [m] = posteriorMode(model, x);
    expect(Math.abs(Math.abs(m.mode[0]) - 1.5)).toBeLessThan(0.5);
    // The posterior's mass on each side of z₁ = 0 (the grid's columns) is one half.
    const n = r.points;
    const h1 = (r.box.z1[1] - r.box.z1[0]) / n;
    const h2 = (r.box.z2[1] - r.box.z2[0]) / n;
    let left = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const p = Math.exp(r.logPosterior![i * n + j]) * h1 * h2;
        total += p;
        if (r.box.z1[0] + (j + 0.5) * h1 < 0) left += p;
      }
    }
    expect(total).toBeCloseTo(1, 6);
    expect(left).toBeGreaterThan(0.4);
    expect(left).toBeLessThan(0.6);
    // Laplace sees one peak: about log 2 below.
    const [l] = laplace(model, x);
    expect(r.logMarginal - l.logMarginal).toBeGreaterThan(0.4);
  });

  it("centres on the highest mode when q sits on a lower one: Newton again from the scan's highest cell, and Laplace there", () => {
    const { model, x } = twoPeaks();
    setParameter(model, "decoder.layers.0.bias", [0.3, 0.55, -0.4, -0.4]); // the two peaks no longer equal
    // The highest point of a fine brute-force grid (plain loops, float64), and the other peak's mode.
    const f = referenceLogJoint(model, x);
    let best = { v: -Infinity, z: [0, 0] };
    for (let i = 0; i < 400; i++) for (let j = 0; j < 400; j++) {
      const z = [-4 + (j + 0.5) / 50, -4 + (i + 0.5) / 50];
      const v = f(z[0], z[1]);
      if (v > best.v) best = { v, z };
    }
    const [lower] = posteriorMode(model, x, { start: Float64Array.from([-best.z[0], best.z[1]]) });
    expect(Math.abs(lower.mode[0] + best.z[0])).toBeLessThan(0.5); // the mirror image's basin: another peak
    expect(best.v - lower.logJoint).toBeGreaterThan(0.1);
    // The encoder: g(x) = that lower mode, whatever x (zero weights, the mode as the bias).
    setParameter(model, "encoder.layers.1.weight", new Array(2 * model.config.hidden).fill(0));
    setParameter(model, "encoder.layers.1.bias", lower.mode);
    expect(posteriorMode(model, x)[0].mode[0]).toBeCloseTo(lower.mode[0], 4); // from g(x), Newton stays there

    const [r] = logMarginal(model, x);
    expect(Math.hypot(r.mode.mode[0] - best.z[0], r.mode.mode[1] - best.z[1])).toBeLessThan(0.02);
    expect(r.mode.logJoint).toBeGreaterThanOrEqual(best.v);
    const [e] = exactBounds(model, x, { ks: [1] });
    const [l] = laplace(model, x, { start: Float64Array.from(best.z) });
    expect(e.laplace).toBeCloseTo(l.logMarginal, 5); // both Newton runs stop within 1e-5 of the mode
  });

  it("two resolutions that agree by chance on cells wider than the peak do not count: the grid refines until it resolves the mode", () => {
    // An image whose posterior has a narrow mode (spread 0.06 along z₂) and mass far from it (a box 15 wide):
    // at 64 and 128 points the rule gave values 0.002 apart, 0.011 from the truth.
    const { model } = twoPeaks();
    const rng = new Random(17); // the first random image of the exactBounds tests below
    const x = Float32Array.from({ length: 30 }, () => (rng.uniform() < 0.4 ? 1 : 0));
    const [r] = logMarginal(model, x);
    const reference = bruteForce(referenceLogJoint(model, x), 8, 500);
    expect(r.converged).toBe(true);
    expect(Math.abs(r.logMarginal - reference)).toBeLessThanOrEqual(r.error + 2e-4);
    expect(r.points).toBeGreaterThanOrEqual(256);
    // Not converged where maxPoints cannot resolve it.
    const [coarse] = logMarginal(model, x, { maxPoints: 128 });
    expect(coarse.converged).toBe(false);
  });

  it("converges as the grid is refined, and the error estimate covers the error", () => {
    const { model, x } = twoPeaks();
    const reference = bruteForce(referenceLogJoint(model, x), 8, 800);
    const errors = [8, 16, 32, 64].map((n) => Math.abs(logMarginal(model, x, { initialPoints: n, maxPoints: n })[0].logMarginal - reference));
    for (let i = 1; i < errors.length; i++) expect(errors[i]).toBeLessThan(errors[i - 1]);
    expect(errors[3]).toBeLessThan(1e-3);
    for (const tolerance of [0.1, 0.01, 0.001]) {
      const [r] = logMarginal(model, x, { tolerance, initialPoints: 8 });
      expect(r.converged).toBe(true);
      expect(Math.abs(r.logMarginal - reference)).toBeLessThanOrEqual(r.error + 2e-4);
      expect(r.error).toBeLessThan(tolerance + 1e-6);
    }
  });

  it("logJointAt equals the plain-loop log p(x, z) at scattered points, for several images at once", () => {
    const model = new VAE({ inputSize: 30, hidden: 6 }, { seed: 4 });
    const rng = new Random(9);
    const x = Float32Array.from({ length: 60 }, () => (rng.uniform() < 0.5 ? 1 : 0));
    const points = Float64Array.from({ length: 2 * 2 * 5 }, () => 3 * rng.normal());
    const v = logJointAt(model, x, points);
    for (let b = 0; b < 2; b++) {
      const f = referenceLogJoint(model, x.subarray(30 * b, 30 * (b + 1)));
      for (let g = 0; g < 5; g++) expect(v[b * 5 + g]).toBeCloseTo(f(points[2 * (b * 5 + g)], points[2 * (b * 5 + g) + 1]), 4);
    }
  });

  it("names the function and the shapes when images or points do not fit", () => {
    const model = new VAE({ inputSize: 10, hidden: 3 });
    expect(() => logJointAt(model, new Float32Array(20), new Float64Array(6))).toThrow("logJointAt: 6 coordinates are not [2, G, 2] for 2 images");
    expect(() => logJointAt(model, new Float32Array(15), new Float64Array(4))).toThrow("logJointAt: 15 pixels are not a positive number of 10-pixel images");
    expect(() => posteriorMode(model, new Float32Array(0))).toThrow("posteriorMode: 0 pixels are not a positive number of 10-pixel images");
    expect(() => laplace(model, new Float32Array(5))).toThrow(/^laplace|^posteriorMode/);
  });

  it("logMarginal refuses options out of range, naming the option and the value", () => {
    const model = new VAE({ inputSize: 30, hidden: 4 }, { seed: 1 });
    const x = new Float32Array(30);
    const cases: [Parameters<typeof logMarginal>[2], string][] = [
      [{ batchSize: 0 }, "logMarginal: batchSize must be a positive integer, got 0"],
      [{ batchSize: 1.5 }, "logMarginal: batchSize must be a positive integer, got 1.5"],
      [{ tolerance: 0 }, "logMarginal: tolerance must be a positive number, got 0"],
      [{ tolerance: Number.NaN }, "logMarginal: tolerance must be a positive number, got NaN"],
      [{ initialPoints: 1 }, "logMarginal: initialPoints must be an integer ≥ 2 and maxPoints ≥ initialPoints, got 1 and 512"],
      [{ initialPoints: 2.5 }, "logMarginal: initialPoints must be an integer ≥ 2 and maxPoints ≥ initialPoints, got 2.5 and 512"],
      [{ maxPoints: 16 }, "logMarginal: initialPoints must be an integer ≥ 2 and maxPoints ≥ initialPoints, got 32 and 16"],
      [{ maxPoints: 40.5 }, "logMarginal: initialPoints must be an integer ≥ 2 and maxPoints ≥ initialPoints, got 32 and 40.5"],
      [{ scanRadius: 0 }, "logMarginal: scanRadius must be a positive number, got 0"],
      [{ scanRadius: -1 }, "logMarginal: scanRadius must be a positive number, got -1"],
      [{ maxWidth: 0 }, "logMarginal: maxWidth must be a positive number, got 0"],
      [{ maxWidth: Number.NaN }, "logMarginal: maxWidth must be a positive number, got NaN"],
    ];
    for (const [options, message] of cases) expect(() => logMarginal(model, x, options), JSON.stringify(options)).toThrow(message);
    // At the edges of the ranges: accepted.
    expect(logMarginal(model, x, { batchSize: 1, initialPoints: 2, maxPoints: 2, tolerance: 1e9 })).toHaveLength(1);
  });

  it("refuses a latent space that is not 2-D and pixels that are not whole images", () => {
    expect(() => logMarginal(new VAE({ inputSize: 10, hidden: 3, latent: 3 }), new Float32Array(10))).toThrow(/2-D latent/);
    expect(() => logMarginal(new VAE({ inputSize: 10, hidden: 3 }), new Float32Array(15))).toThrow(/not a positive number of 10-pixel images/);
    expect(() => logMarginal(new VAE({ inputSize: 10, hidden: 3 }), new Float32Array(10), { tolerance: 0 })).toThrow(/tolerance/);
  });
});

describe("logMarginal: the grid, step by step against a second implementation", () => {
  // Each case names the branches its image takes in the reference (asserted, so that a case cannot drift off them).
  const cases: [string, () => { model: VAE; x: Float32Array }, MarginalOptions, string[]][] = [
    ["a step up in z₁ and down in z₂: the box grows on the high-z₁ and low-z₂ sides only", () => stepModel(1, -1), {}, ["scan high1 low2", "grow high1 low2", "refine", "converged"]],
    ["the mirror image: it grows on the low-z₁ and high-z₂ sides only", () => stepModel(-1, 1), {}, ["scan low1 high2", "grow low1 high2", "refine", "converged"]],
    ["a gentle step: every side grows, and two resolutions that agree on cells wider than half the spread refine again", () => stepModel(1, 1, 3, 1, 4), {}, ["scan low1 high1 low2 high2", "grow low1 high1 low2 high2", "refine", "refine unresolved", "converged"]],
    ["a steep step: resolved cells that do not yet agree refine", () => stepModel(1, -1, 10, 2, 8), {}, ["scan high1 low2", "grow high1 low2", "refine", "refine", "converged"]],
    ["two peaks: the scan joins the second", twoPeaks, {}, ["scan low1 high1 low2 high2", "grow low1 high1 low2 high2", "refine", "refine", "refine unresolved", "converged"]],
    ["two peaks on a coarse start, a loose tolerance and a small scan", twoPeaks, { initialPoints: 8, tolerance: 0.1, scanRadius: 2 }, ["scan high1", "grow low1 high1 low2 high2", "grow low1 high1 high2", "refine", "refine", "refine", "refine unresolved", "refine unresolved", "converged"]],
    ["a box capped at width 4 (a small scan): the mass on its border ring counts in the error, so resolutions that agree to the tolerance 0.0005 have not converged", () => stepModel(1, -1), { maxWidth: 4, scanRadius: 1, tolerance: 0.0005 }, ["scan", "refine", "refine", "border"]],
    ["its mirror image, the mass on the other two sides of the ring", () => stepModel(-1, 1), { maxWidth: 4, scanRadius: 1, tolerance: 0.0005 }, ["scan", "refine", "refine", "border"]],
    ["a box 5.3 × 5.5 capped at 5.4: the wider side stops the growth", () => stepModel(1, -0.4), { maxWidth: 5.4, scanRadius: 1 }, ["scan", "refine", "converged"]],
    ["a narrow mode with mass far away, stopped at maxPoints unconverged", () => {
      const rng = new Random(17);
      return { model: twoPeaks().model, x: Float32Array.from({ length: 30 }, () => (rng.uniform() < 0.4 ? 1 : 0)) };
    }, { maxPoints: 128 }, ["scan low1 high1 low2 high2", "grow low1 high1 low2 high2", "refine", "refine", "maxPoints"]],
  ];
  for (const [name, make, options, steps] of cases) {
    it(name, () => {
      const { model, x } = make();
      const f = referenceLogJoint(model, x);
      const [r] = logMarginal(model, x, options);
      // The mode: Newton's from g(x), or from the scan's highest cell where that is higher, whichever is higher.
      const R = options.scanRadius ?? 5;
      let best = { v: -Infinity, z: [0, 0] };
      for (let i = 0; i < 64; i++) for (let j = 0; j < 64; j++) {
        const z = [-R + ((j + 0.5) * R) / 32, -R + ((i + 0.5) * R) / 32];
        if (f(z[0], z[1]) > best.v) best = { v: f(z[0], z[1]), z };
      }
      const [fromQ] = posteriorMode(model, x);
      const [fromScan] = best.v > fromQ.logJoint ? posteriorMode(model, x, { start: Float64Array.from(best.z) }) : [fromQ];
      const mode = fromScan.logJoint > fromQ.logJoint ? fromScan : fromQ;
      expect(r.mode.mode[0]).toBeCloseTo(mode.mode[0], 6);
      expect(r.mode.mode[1]).toBeCloseTo(mode.mode[1], 6);
      const ref = referenceGrid(f, mode, referenceEncoder(model, x), options);
      expect(ref.steps).toEqual(steps);
      for (const side of ["z1", "z2"] as const) for (const k of [0, 1]) expect(r.box[side][k], `box.${side}[${k}]`).toBeCloseTo(ref.box[side][k], 9);
      expect(r.points).toBe(ref.points);
      expect(r.converged).toBe(ref.converged);
      // The decoder's float32 logits against float64: ~1e-7 nats seen.
      expect(Math.abs(r.logMarginal - ref.logMarginal)).toBeLessThan(2e-6);
      expect(Math.abs(r.error - ref.error)).toBeLessThan(2e-6 + 1e-3 * ref.error);
      expect(r.logPosterior).toHaveLength(ref.points ** 2);
      let worst = 0;
      ref.logPosterior.forEach((v, k) => (worst = Math.max(worst, Math.abs(r.logPosterior![k] - v))));
      expect(worst).toBeLessThan(1e-4);
    });
  }

  it("images of one call that need different boxes and resolutions each get their own grid", () => {
    // The boxes grow twice, twice and four times, so that the images are at different resolutions in a round.
    const { model, x: x0 } = twoPeaks();
    const rng = new Random(17);
    const x = Float32Array.from([...x0, ...Array.from({ length: 60 }, () => (rng.uniform() < 0.4 ? 1 : 0))]);
    const options = { initialPoints: 8, tolerance: 0.1, scanRadius: 2 };
    const r = logMarginal(model, x, options);
    const refs = r.map((m, b) => referenceGrid(referenceLogJoint(model, x.subarray(30 * b, 30 * (b + 1))), m.mode, referenceEncoder(model, x.subarray(30 * b, 30 * (b + 1))), options));
    expect(refs.map((ref) => ref.steps.filter((s) => s.startsWith("grow")).length)).toEqual([2, 2, 4]);
    r.forEach((m, b) => {
      const ref = refs[b];
      expect(m.points, `image ${b}`).toBe(ref.points);
      for (const side of ["z1", "z2"] as const) for (const k of [0, 1]) expect(m.box[side][k], `image ${b}: box.${side}[${k}]`).toBeCloseTo(ref.box[side][k], 9);
      expect(Math.abs(m.logMarginal - ref.logMarginal), `image ${b}`).toBeLessThan(2e-6);
      // The mode found with the others is the one found alone, within Newton's tolerance.
      const [alone] = logMarginal(model, x.subarray(30 * b, 30 * (b + 1)), options);
      expect(Math.hypot(m.mode.mode[0] - alone.mode.mode[0], m.mode.mode[1] - alone.mode.mode[1])).toBeLessThan(1e-4);
    });
  });
});

describe("posteriorMode and laplace", () => {
  it("the batched Hessian blocks equal `hessian` of one image's log p(x, z) and central differences; the gradient vanishes at the mode", () => {
    const model = new VAE({ inputSize: 30, hidden: 6 }, { seed: 4 });
    const rng = new Random(3);
    const x = Float32Array.from({ length: 90 }, () => (rng.uniform() < 0.5 ? 1 : 0));
    const modes = posteriorMode(model, x);
    modes.forEach((m, b) => {
      const image = x.subarray(30 * b, 30 * (b + 1));
      expect(m.gradientNorm).toBeLessThan(1e-3);
      const xt = new Tensor(image, [1, 30]);
      const H = hessian((z) => model.decodeLogits(z.reshape([1, 2])).mul(xt).sum().sub(model.decodeLogits(z.reshape([1, 2])).softplus().sum()).sub(z.square().sum().mul(0.5)))(new Tensor(Float32Array.from(m.mode), [2])).data;
      m.hessian.forEach((h, i) => expect(h).toBeCloseTo(H[i], 2));
      const f = referenceLogJoint(model, image);
      const e = 1e-3;
      const [z1, z2] = m.mode;
      const fd = [(f(z1 + e, z2) - 2 * f(z1, z2) + f(z1 - e, z2)) / e ** 2, (f(z1 + e, z2 + e) - f(z1 + e, z2 - e) - f(z1 - e, z2 + e) + f(z1 - e, z2 - e)) / (4 * e * e), (f(z1, z2 + e) - 2 * f(z1, z2) + f(z1, z2 - e)) / e ** 2];
      expect(m.hessian[0]).toBeCloseTo(fd[0], 1);
      expect(m.hessian[1]).toBeCloseTo(fd[1], 1);
      expect(m.hessian[3]).toBeCloseTo(fd[2], 1);
      // A maximum: no neighbour is higher.
      for (const [d1, d2] of [[1e-2, 0], [-1e-2, 0], [0, 1e-2], [0, -1e-2]]) expect(f(z1 + d1, z2 + d2)).toBeLessThan(f(z1, z2) + 1e-6);
    });
    // Away from the mode, each image at its own point (maxIterations 0: the derivatives at the start).
    const start = Float32Array.from([0.3, -1.2, -2, 0.5, 1.1, 1.7]);
    posteriorMode(model, x, { start, maxIterations: 0 }).forEach((m, b) => {
      const xt = new Tensor(x.subarray(30 * b, 30 * (b + 1)), [1, 30]);
      const H = hessian((z) => model.decodeLogits(z.reshape([1, 2])).mul(xt).sum().sub(model.decodeLogits(z.reshape([1, 2])).softplus().sum()).sub(z.square().sum().mul(0.5)))(new Tensor(start.subarray(2 * b, 2 * b + 2), [2])).data;
      m.hessian.forEach((h, i) => expect(h, `image ${b}, H[${i}]`).toBeCloseTo(H[i], 3));
    });
  });

  it("never diverges and leaves a saddle: from (25, −30) the first Newton step lands on the symmetry axis z₁ = 0, a saddle, and it still ends at a maximum", () => {
    const { model, x } = twoPeaks();
    const [m] = posteriorMode(model, x, { start: Float32Array.from([25, -30]) });
    expect(m.positiveDefinite).toBe(true);
    expect(m.gradientNorm).toBeLessThan(1e-3);
    expect(Math.hypot(...m.mode)).toBeLessThan(5);
  });

  it("laplaceAt: the covariance is (−H)⁻¹ and log p(x) ≈ log p(x, ẑ) + log 2π − ½ log det(−H), on a Hessian written here", () => {
    // H = [[−2, 0.5], [0.5, −1]]: −H = [[2, −0.5], [−0.5, 1]], det 1.75, (−H)⁻¹ = [[1, 0.5], [0.5, 2]] / 1.75.
    const mode = { mode: [0.25, -1] as [number, number], logJoint: -12.5, hessian: [-2, 0.5, 0.5, -1] as [number, number, number, number], gradientNorm: 0, iterations: 3, positiveDefinite: true };
    const l = laplaceAt(mode);
    const want = [1 / 1.75, 0.5 / 1.75, 0.5 / 1.75, 2 / 1.75];
    l.covariance.forEach((c, i) => expect(c, `covariance[${i}]`).toBeCloseTo(want[i], 14));
    expect(l.logMarginal).toBeCloseTo(-12.5 + Math.log(2 * Math.PI) - 0.5 * Math.log(1.75), 14);
    expect(l.mode).toEqual([0.25, -1]);
    expect(l.iterations).toBe(3);
    // Not positive definite: −H = [[1, −2], [−2, 1]] has eigenvalues −1 and 3.
    const saddle = { ...mode, hessian: [-1, 2, 2, -1] as [number, number, number, number], positiveDefinite: false };
    expect(() => laplaceAt(saddle, 4)).toThrow("laplace: image 4: −H at the mode (0.2500, -1.0000) is not positive definite (eigenvalues -1.000e+0, 3.000e+0), so the Laplace approximation does not exist");
  });

  it("posteriorMode: a start of the wrong length and a start where log p is not finite are refused, naming the value", () => {
    const model = new VAE({ inputSize: 30, hidden: 4 }, { seed: 2 });
    const x = new Float32Array(90).fill(1);
    expect(() => posteriorMode(model, x, { start: Float32Array.of(0, 0, 1) })).toThrow("posteriorMode: start has 3 values, expected 6 (2 per image)");
    expect(() => posteriorMode(model, x, { start: Float64Array.of(0, 0, 1, 1, Number.NaN, 0.5) })).toThrow(
      "posteriorMode: log p(x, z) of image 2 is NaN at the start (NaN, 0.5); the model's parameters or the start are not finite",
    );
  });

  it("posteriorMode converges like Newton's method: from the encoder means and from points up to 5 away, at most 6 steps to a gradient under 1e-5", () => {
    const model = new VAE({ inputSize: 30, hidden: 6 }, { seed: 4 });
    const rng = new Random(3);
    const x = Float32Array.from({ length: 90 }, () => (rng.uniform() < 0.5 ? 1 : 0));
    for (const start of [undefined, Float32Array.from([0.3, -1.2, -2, 0.5, 1.1, 1.7]), Float32Array.from([4, -4, -3, 3, 5, 5])]) {
      posteriorMode(model, x, { start }).forEach((m, b) => {
        expect(m.iterations, `image ${b} from ${start ? "a start given" : "the encoder mean"}`).toBeLessThanOrEqual(6);
        expect(m.gradientNorm, `image ${b}`).toBeLessThan(1e-5);
      });
    }
  });

  it("posteriorMode honours maxIterations: 0 steps leave the start, one step counts one iteration and is not yet the mode", () => {
    const { model, x } = twoPeaks();
    const start = Float32Array.from([2.5, -0.5]);
    const [m0] = posteriorMode(model, x, { start, maxIterations: 0 });
    expect(m0.iterations).toBe(0);
    expect(m0.mode).toEqual([2.5, -0.5]);
    const [m1] = posteriorMode(model, x, { start, maxIterations: 1 });
    expect(m1.iterations).toBe(1);
    const [mode] = posteriorMode(model, x, { start });
    expect(mode.iterations).toBeGreaterThan(1);
    expect(mode.gradientNorm).toBeLessThan(1e-3);
    expect(m1.gradientNorm).toBeGreaterThan(1e-3);
  });

  it("leaves a saddle on the symmetry axis z₁ = 0 (where ∇ has no z₁ part) for one of the two equal peaks", () => {
    const { model, x } = twoPeaks();
    const f = referenceLogJoint(model, x);
    const [right] = posteriorMode(model, x, { start: Float32Array.from([1.5, 0.2]) });
    for (const start of [[0, 0.2], [0, 0], [0, -1]]) {
      const [m] = posteriorMode(model, x, { start: Float32Array.from(start) });
      const label = `from (${start})`;
      expect(m.positiveDefinite, label).toBe(true);
      expect(m.gradientNorm, label).toBeLessThan(1e-4);
      expect(Math.abs(m.mode[0]), label).toBeCloseTo(Math.abs(right.mode[0]), 3); // a peak, off the axis
      expect(m.mode[1], label).toBeCloseTo(right.mode[1], 3);
      expect(m.logJoint, label).toBeCloseTo(right.logJoint, 5);
      const [z1, z2] = m.mode;
      for (const [d1, d2] of [[1e-2, 0], [-1e-2, 0], [0, 1e-2], [0, -1e-2]]) expect(f(z1 + d1, z2 + d2), label).toBeLessThan(f(z1, z2) + 1e-6);
    }
  });

  it("one step equals the documented damped Newton step, computed here with central differences in float64: Newton where −H is definite, else Levenberg–Marquardt plus a step up the curvature, halved until log p does not decrease", () => {
    // From the documentation: (−H + λI) s = ∇, λ = 0 if −H's smallest eigenvalue is above 1e-6·max(1, |largest|), else
    // λ = −smallest + 1e-3·max(1, |largest|) and s gains min(1, 1/√|smallest|) along that eigenvector, on ∇'s side;
    // then s is halved until log p(x, z + s) ≥ log p(x, z) − 1e-9·|log p(x, z)|.
    const referenceStep = (f: (z1: number, z2: number) => number, [z1, z2]: number[]) => {
      const e = 1e-4;
      const g = [(f(z1 + e, z2) - f(z1 - e, z2)) / (2 * e), (f(z1, z2 + e) - f(z1, z2 - e)) / (2 * e)];
      const a = -(f(z1 + e, z2) - 2 * f(z1, z2) + f(z1 - e, z2)) / (e * e);
      const c = -(f(z1, z2 + e) - 2 * f(z1, z2) + f(z1, z2 - e)) / (e * e);
      const o = -(f(z1 + e, z2 + e) - f(z1 + e, z2 - e) - f(z1 - e, z2 + e) + f(z1 - e, z2 - e)) / (4 * e * e);
      const r = Math.sqrt(((a - c) / 2) ** 2 + o * o);
      const [lo, hi] = [(a + c) / 2 - r, (a + c) / 2 + r];
      const scale = Math.max(1, Math.abs(hi));
      const lambda = lo > 1e-6 * scale ? 0 : -lo + 1e-3 * scale;
      const det = (a + lambda) * (c + lambda) - o * o;
      const s = [((c + lambda) * g[0] - o * g[1]) / det, ((a + lambda) * g[1] - o * g[0]) / det];
      if (lambda > 0) {
        const v = Math.abs(o) > 1e-9 ? [lo - c, o] : a <= c ? [1, 0] : [0, 1]; // (−H − lo·I) v = 0
        const side = Math.sign(v[0] * g[0] + v[1] * g[1]) * Math.min(1, 1 / Math.sqrt(Math.abs(lo))) / Math.hypot(v[0], v[1]);
        s[0] += side * v[0];
        s[1] += side * v[1];
      }
      let t = 1;
      while (f(z1 + t * s[0], z2 + t * s[1]) < f(z1, z2) - 1e-9 * Math.abs(f(z1, z2))) t /= 2;
      return { z: [z1 + t * s[0], z2 + t * s[1]], branch: `${lambda > 0 ? "damped" : "Newton"}${t < 1 ? `, halved ${Math.log2(1 / t)}×` : ""}` };
    };
    const branches: string[] = [];
    for (const [{ model, x }, starts] of [
      [stepModel(1, -1), [[0.45, -0.3], [0.6, -0.6], [3, -2.5], [-0.3, -0.5], [-1, 1.5], [0.1, 0.4]]],
      [twoPeaks(), [[1.4, 0.25], [0.5, 1], [2.5, -0.5], [-1, -2], [0.2, 0.3], [4, 4]]],
    ] as const) {
      const f = referenceLogJoint(model, x);
      const images = Float32Array.from({ length: starts.length * x.length }, (_, i) => x[i % x.length]);
      const one = posteriorMode(model, images, { start: Float64Array.from(starts.flat()), maxIterations: 1 });
      starts.forEach((start, b) => {
        const want = referenceStep(f, [...start]);
        branches.push(want.branch);
        expect(one[b].iterations).toBe(1);
        expect(Math.hypot(one[b].mode[0] - want.z[0], one[b].mode[1] - want.z[1]), `from (${start}): ${want.branch}`).toBeLessThan(1e-3);
      });
    }
    // The branches these starts take in the reference (so that the cases cannot drift off them).
    expect(branches).toEqual(["Newton", "Newton, halved 1×", "Newton, halved 1×", "damped, halved 12×", "damped, halved 8×", "damped, halved 4×", "damped, halved 10×", "damped, halved 4×", "damped, halved 6×", "damped, halved 7×", "damped, halved 9×", "damped, halved 11×"]);
  });

  it("in a batch, each image stops when its own step is small: its iterations and mode are those it has alone", () => {
    const { model, x } = twoPeaks();
    const starts = [[1.5, 0.2], [1.4, 0.25], [-1, -2], [0, 3]];
    const alone = starts.map((start) => posteriorMode(model, x, { start: Float64Array.from(start) })[0]);
    expect(alone.map((m) => m.iterations)).toEqual([4, 9, 10, 12]);
    const together = posteriorMode(model, Float32Array.from([...x, ...x, ...x, ...x]), { start: Float64Array.from(starts.flat()) });
    together.forEach((m, b) => {
      expect(m.iterations, `start (${starts[b]})`).toBe(alone[b].iterations);
      expect(Math.hypot(m.mode[0] - alone[b].mode[0], m.mode[1] - alone[b].mode[1])).toBeLessThan(1e-6);
    });
  });

  it("refuses, naming the image, when −H is not positive definite at the end", () => {
    const { model, x } = twoPeaks();
    // Newton started exactly on the symmetry axis z₁ = 0 stays on it; there the posterior has a saddle.
    expect(() => laplace(model, x, { start: Float32Array.from([0, 0.2]), maxIterations: 0 })).toThrow(/image 0: −H at the mode .* is not positive definite/);
  });
});

/** The encoder's q(z|x) for one image in float64 with plain loops: its mean and σ per latent dimension. */
function referenceEncoder(model: VAE, x: ArrayLike<number>): { mean: [number, number]; sigma: [number, number] } {
  const p = model.namedParameters();
  const [W0, b0, W1, b1] = ["encoder.layers.0.weight", "encoder.layers.0.bias", "encoder.layers.1.weight", "encoder.layers.1.bias"].map((n) => Float64Array.from(p.get(n)!.data));
  const { hidden: H, inputSize: D, encoderVariance } = model.config;
  const h = Array.from({ length: H }, (_, k) => {
    let a = b0[k];
    for (let j = 0; j < D; j++) a += W0[k * D + j] * x[j];
    return Math.tanh(a);
  });
  const out = Array.from({ length: b1.length }, (_, i) => h.reduce((a, v, k) => a + W1[i * H + k] * v, b1[i]));
  const sigma = encoderVariance === "learned" ? [Math.exp(out[2] / 2), Math.exp(out[3] / 2)] : [Math.sqrt(encoderVariance), Math.sqrt(encoderVariance)];
  return { mean: [out[0], out[1]], sigma: sigma as [number, number] };
}

describe("exactBounds on small models, against plain loops", () => {
  // The two-peaked model's image and two random ones, under the fixed σ² = 0.01 and a learned variance.
  const { model: peaks, x: x0 } = twoPeaks();
  const rng = new Random(17);
  const x = Float32Array.from([...x0, ...Array.from({ length: 60 }, () => (rng.uniform() < 0.4 ? 1 : 0))]);
  const learned = new VAE({ inputSize: 30, hidden: 5, encoderVariance: "learned" }, { seed: 6 });
  const ks = [1, 7, 40];
  for (const [name, model] of [["σ² = 0.01", peaks], ["learned variance", learned]] as const) {
    it(`${name}: log p(x), the ELBO by quadrature, the gap, Laplace and IWAE_K for each K`, () => {
      const seen: [number, string][] = [];
      const r = exactBounds(model, x, { ks, seed: 3, marginal: { batchSize: 2 }, onProgress: (f, what) => seen.push([f, what]) });
      expect(r).toHaveLength(3);
      const eps = new Random(3); // the IWAE draws: one stream, K by K, [K, B, 2] each
      const draws = ks.map((k) => sampleEps(eps, k, 3, 2).data);
      r.forEach((c, b) => {
        const image = x.subarray(30 * b, 30 * (b + 1));
        const f = referenceLogJoint(model, image);
        const { mean, sigma } = referenceEncoder(model, image);
        // log p(x): a brute-force grid.
        expect(Math.abs(c.logMarginal - bruteForce(f, 8, 400))).toBeLessThan(2e-3);
        expect(c.logMarginalError).toBe(c.marginal.error);
        // The ELBO: E_q[log p(x, z)] on a fine grid of q's ±7σ box, plus q's entropy in closed form.
        const n = 120;
        let [sum, weight] = [0, 0];
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            const [u1, u2] = [-7 + ((j + 0.5) * 14) / n, -7 + ((i + 0.5) * 14) / n];
            const w = Math.exp(-0.5 * (u1 * u1 + u2 * u2));
            sum += w * f(mean[0] + sigma[0] * u1, mean[1] + sigma[1] * u2);
            weight += w;
          }
        }
        const elbo = sum / weight + 1 + Math.log(2 * Math.PI) + Math.log(sigma[0]) + Math.log(sigma[1]);
        expect(Math.abs(c.elbo - elbo)).toBeLessThan(1e-3);
        expect(Math.abs(c.gap - (c.logMarginal - elbo))).toBeLessThan(3e-3);
        // Laplace at the mode logMarginal found: log p(x, ẑ) + log 2π − ½ log det(−H), H by central differences.
        const [z1, z2] = c.laplaceResult.mode;
        const e = 1e-3;
        const h11 = (f(z1 + e, z2) - 2 * f(z1, z2) + f(z1 - e, z2)) / (e * e);
        const h22 = (f(z1, z2 + e) - 2 * f(z1, z2) + f(z1, z2 - e)) / (e * e);
        const h12 = (f(z1 + e, z2 + e) - f(z1 + e, z2 - e) - f(z1 - e, z2 + e) + f(z1 - e, z2 - e)) / (4 * e * e);
        expect(Math.abs(c.laplace - (f(z1, z2) + Math.log(2 * Math.PI) - 0.5 * Math.log(h11 * h22 - h12 * h12)))).toBeLessThan(2e-3);
        // IWAE_K: log mean_k p(x, z_k)/q(z_k|x) over the same draws z_k = g + σ ε_k, in float64.
        ks.forEach((k, i) => {
          const logW = Array.from({ length: k }, (_, t) => {
            const [e1, e2] = [draws[i][(t * 3 + b) * 2], draws[i][(t * 3 + b) * 2 + 1]];
            const logQ = -0.5 * (e1 * e1 + e2 * e2) - Math.log(2 * Math.PI) - Math.log(sigma[0]) - Math.log(sigma[1]);
            return f(mean[0] + sigma[0] * e1, mean[1] + sigma[1] * e2) - logQ;
          });
          const m = Math.max(...logW);
          const want = m + Math.log(logW.reduce((a, v) => a + Math.exp(v - m), 0) / k);
          expect(Math.abs(c.iwae[k] - want), `K = ${k}`).toBeLessThan(2e-3);
        });
        expect(Object.keys(c.iwae).map(Number)).toEqual(ks);
      });
      // Progress: the quadrature by batches of 2 images, then each K, rising to 1.
      expect(seen.map(([, w]) => w)).toEqual(["log p(x) by quadrature: 2/3 images", "log p(x) by quadrature: 3/3 images", ...ks.map((k) => `IWAE K = ${k}: 3/3 images`)]);
      for (let i = 1; i < seen.length; i++) expect(seen[i][0]).toBeGreaterThan(seen[i - 1][0]);
      expect(seen[0][0]).toBeGreaterThan(0);
      expect(seen.at(-1)![0]).toBeCloseTo(1, 12);
    });
  }

  it("the images' count and size are checked, and one image in a batch of its own gives its own bounds", () => {
    expect(() => exactBounds(peaks, new Float32Array(31))).toThrow(/exactBounds: .*30-pixel images/);
    const all = exactBounds(peaks, x, { ks: [5], seed: 1 });
    const second = exactBounds(peaks, x.subarray(30, 60), { ks: [5], seed: 1 });
    expect(Math.abs(second[0].logMarginal - all[1].logMarginal)).toBeLessThan(1e-4);
    expect(second[0].elbo).toBe(all[1].elbo);
    expect(() => elboByQuadrature(peaks, new Float32Array(31))).toThrow("elboByQuadrature: 31 pixels are not a positive number of 30-pixel images");
    // The quadrature one image at a time: each image's own grid, Newton within its tolerance of the batch's.
    const single = exactBounds(peaks, x, { ks: [5], seed: 1, marginal: { batchSize: 1 } });
    single.forEach((c, b) => {
      expect(Math.abs(c.logMarginal - all[b].logMarginal), `image ${b}`).toBeLessThan(1e-4);
      expect(c.elbo).toBe(all[b].elbo);
      expect(c.iwae[5]).toBe(all[b].iwae[5]);
    });
  });

  it("IWAE_K for a K whose logits pass the 4M of a batch: two images per batch, each batch's [K, b, 2] draws from the one stream", () => {
    const K = 50_000; // × 30 pixels: 1.5M logits an image, so a batch holds two
    const r = exactBounds(peaks, x, { ks: [K], seed: 8, marginal: { initialPoints: 16, maxPoints: 16 } });
    const eps = new Random(8);
    const draws = [sampleEps(eps, K, 2, 2).data, sampleEps(eps, K, 1, 2).data];
    r.forEach((c, b) => {
      const [e, width, k] = b < 2 ? [draws[0], 2, b] : [draws[1], 1, 0];
      const image = x.subarray(30 * b, 30 * (b + 1));
      const f = referenceLogJoint(peaks, image);
      const { mean, sigma } = referenceEncoder(peaks, image);
      const logW = Array.from({ length: K }, (_, t) => {
        const [e1, e2] = [e[2 * (t * width + k)], e[2 * (t * width + k) + 1]];
        return f(mean[0] + sigma[0] * e1, mean[1] + sigma[1] * e2) + 0.5 * (e1 * e1 + e2 * e2) + Math.log(2 * Math.PI) + Math.log(sigma[0]) + Math.log(sigma[1]);
      });
      expect(Math.abs(c.iwae[K] - (logSumExpOf(logW) - Math.log(K))), `image ${b}`).toBeLessThan(2e-4);
    });
  });
});

describe("non-finite models", () => {
  it("posteriorMode, laplace and logMarginal refuse a model whose log p(x, z) is not finite, naming the image", () => {
    const model = new VAE({ inputSize: 30, hidden: 4 }, { seed: 1 });
    const bias = Float32Array.from(model.namedParameters().get("decoder.layers.1.bias")!.data);
    bias[3] = Number.NaN;
    model.setParameter("decoder.layers.1.bias", new Tensor(bias, [30], true));
    const x = new Float32Array(60);
    for (const f of [posteriorMode, laplace, logMarginal]) expect(() => f(model, x)).toThrow(/log p\(x, z\) of image 0 is NaN at the start/);
  });
});
