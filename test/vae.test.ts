// docs/derivation.md, identity by identity: one test per identity, named after it.
import { beforeAll, describe, expect, it } from "vitest";
import {
  Random, Tensor, VAE, analyticKl, binarize64, elboAnalyticKl, elboConstant, elboSamples, estimateElbo, functionalCall, gradcheck,
  grad, iwae, logBernoulli, logDiagNormal, logStandardNormal, noGrad, part1Bracket, part2Bracket, sampleEps, tensor,
} from "../src/index.js";
import { loadMnist } from "../src/node/mnist.js";
import { expectClose, randomTensor } from "./helpers.js";

const LOG_2PI = Math.log(2 * Math.PI);
let images: Float64Array; // the first 4 training images, binarized (p > 127)

beforeAll(() => {
  const mnist = loadMnist("train", { limit: 4 });
  images = binarize64(mnist.images);
});
const batch = (n: number) => tensor(images.slice(0, n * 784), { shape: [n, 784] });
const smallModel = (seed = 0, encoderVariance: number | "learned" = 0.01) => new VAE({ hidden: 6, encoderVariance }, { seed, dtype: "float64" });

/** A scalar function of the named parameters, for gradcheck. */
function ofParams(model: VAE, names: string[], f: () => Tensor) {
  const params = model.namedParameters();
  return { f: (...ts: Tensor[]) => functionalCall(model, new Map(names.map((n, i) => [n, ts[i]])), f), inputs: names.map((n) => params.get(n)!) };
}

describe("derivation: the log-densities", () => {
  it("identity 1: log N(z;0,I) = -½ z·z - (d/2) log 2π, and its gradient is -z", () => {
    const z = randomTensor([5, 2], 1, -3, 3);
    const direct = Array.from({ length: 5 }, (_, i) => {
      const [a, b] = [z.data[2 * i], z.data[2 * i + 1]];
      return Math.log(Math.exp(-0.5 * (a * a + b * b)) / (2 * Math.PI)); // (2π)^(-d/2) exp(-½ z·z), d = 2
    });
    expectClose(logStandardNormal(z).data, direct, 1e-14, 1e-14);
    const g = grad((t) => logStandardNormal(t).sum())(z);
    expectClose(g.data, Array.from(z.data, (v) => -v), 0, 0);
    gradcheck((t) => logStandardNormal(t).sum(), [z]);
  });

  it("identity 2: log p(x|z) from logits equals the naive Bernoulli formula, is finite at ±1e4, and its gradient is x - σ(l)", () => {
    const x = tensor([[1, 0, 1, 0, 1, 1]], { dtype: "float64" });
    const l = randomTensor([3, 6], 2, -10, 10);
    const naive = [0, 1, 2].map((r) => {
      let s = 0;
      for (let j = 0; j < 6; j++) {
        const f = 1 / (1 + Math.exp(-l.data[r * 6 + j]));
        s += x.data[j] * Math.log(f) + (1 - x.data[j]) * Math.log(1 - f);
      }
      return s;
    });
    expectClose(logBernoulli(x, l).data, naive, 1e-10, 1e-12);

    const extreme = tensor([[1e4, 1e4, -1e4, -1e4]], { dtype: "float64" });
    const xe = tensor([[1, 0, 1, 0]], { dtype: "float64" });
    expect(logBernoulli(xe, extreme).item()).toBe(-2e4); // 0 + -1e4 + -1e4 + 0: finite and exact
    const ge = grad((t) => logBernoulli(xe, t).sum())(extreme);
    expect(Array.from(ge.data)).toEqual([0, -1, 1, 0]);
    const xf = tensor([[1, 0, 1, 0]]);
    expect(logBernoulli(xf, tensor([[1e4, 1e4, -1e4, -1e4]])).item()).toBe(-2e4); // float32 too

    const g = grad((t) => logBernoulli(x, t).sum())(l);
    expectClose(g.data, Array.from(l.data, (v, i) => x.data[i % 6] - 1 / (1 + Math.exp(-v))), 1e-14, 1e-15);
    gradcheck((t) => logBernoulli(x, t).sum(), [l]);
  });

  it("identity 3: log N(z; g, σ²I) has gradient -(z-g)/σ² in z and (z-g)/σ² in g", () => {
    const z = randomTensor([4, 2], 3, -1, 1);
    const g = randomTensor([4, 2], 4, -1, 1);
    const diff = Array.from(z.data, (v, i) => v - g.data[i]);
    const closed = [0, 1, 2, 3].map((r) => -50 * (diff[2 * r] ** 2 + diff[2 * r + 1] ** 2) - LOG_2PI - Math.log(0.01));
    expectClose(logDiagNormal(z, g, 0.01).data, closed, 1e-13, 1e-13);
    const [gz, gg] = grad((a, b) => logDiagNormal(a, b, 0.01).sum(), { argnums: [0, 1] })(z, g);
    expectClose(gz.data, diff.map((v) => -v / 0.01), 1e-13);
    expectClose(gg.data, diff.map((v) => v / 0.01), 1e-13);
    gradcheck((a, b) => logDiagNormal(a, b, 0.01).sum(), [z, g]);
    // The learned-variance form: per-dimension log σ², checked against the fixed form and by gradcheck.
    const logVar = tensor(new Float64Array(8).fill(Math.log(0.01)), { shape: [4, 2] });
    expectClose(logDiagNormal(z, g, logVar).data, closed, 1e-12, 1e-12);
    gradcheck((a, b, c) => logDiagNormal(a, b, c).sum(), [z, g, randomTensor([4, 2], 5, -2, 1)]);
  });
});

describe("derivation: the ELBO, parts 1 and 2", () => {
  it("identity 4: C = (d/2) log σ², and part 1's bracket + C equals the sum of the three full log-densities", () => {
    expect(elboConstant(2, 0.01)).toBeCloseTo(-4.605170, 6);
    expect(elboConstant(2, 0.01)).toBe(Math.log(0.01));
    const model = smallModel();
    const x = batch(3);
    const g = model.encode(x).mean;
    const z = g.add(randomTensor([3, 2], 6, -0.3, 0.3));
    const full = logStandardNormal(z).add(logBernoulli(x, model.decodeLogits(z))).sub(logDiagNormal(z, g, 0.01));
    const simplified = part1Bracket(model, x, z, g, 0.01).add(elboConstant(2, 0.01));
    expectClose(simplified.data, full.data, 1e-14, 1e-12);
  });

  it("identity 5: part 2's bracket at z = g + σε equals part 1's; its q-term is ½‖ε‖² and has zero encoder gradient", () => {
    const model = smallModel(1);
    const x = batch(2);
    const eps = randomTensor([2, 2], 7, -2, 2);
    const g = model.encode(x).mean;
    const z = g.add(eps.mul(0.1));
    expectClose(part2Bracket(model, x, g, eps, 0.01).data, part1Bracket(model, x, z, g, 0.01).data, 1e-13, 1e-12);

    // The part-1 q-term 50‖z - g‖², evaluated through the encoder at z = g(x) + 0.1ε.
    const qTerm = () => {
      const gx = model.encode(x).mean;
      return gx.add(eps.mul(0.1)).sub(gx).square().sum().mul(50);
    };
    const halfEps = 0.5 * Array.from(eps.data).reduce((s, v) => s + v * v, 0);
    expect(noGrad(qTerm).item()).toBeCloseTo(halfEps, 12);
    const names = [...model.encoder.namedParameters("encoder.").keys()];
    const { f, inputs } = ofParams(model, names, qTerm);
    const grads = grad(f, { argnums: names.map((_, i) => i) })(...inputs);
    for (const gr of grads) for (const v of gr.data) expect(Math.abs(v)).toBeLessThan(1e-12);
    // ... while the likelihood term does depend on the encoder, so the zero above is not vacuous.
    const lik = ofParams(model, names, () => logBernoulli(x, model.decodeLogits(model.encode(x).mean.add(eps.mul(0.1)))).sum());
    const gl = grad(lik.f, { argnums: names.map((_, i) => i) })(...lik.inputs);
    expect(Math.max(...gl.flatMap((t) => Array.from(t.data, Math.abs)))).toBeGreaterThan(1e-3);
  });

  it("identity 6: the Monte Carlo ELBO agrees with the analytic-KL ELBO within 4 standard errors; E[-log q] → -1.767293", () => {
    const model = smallModel(2);
    const x = batch(1);
    const k = 5000;
    const est = estimateElbo(model, x, k, new Random(3));
    const analytic = noGrad(() => elboAnalyticKl(model, x, sampleEps(new Random(4), k, 1, 2, "float64"))).item();
    expect(Math.abs(est.elbo - analytic)).toBeLessThan(4 * est.stderr);
    // -log q = ½‖ε‖² + log(2πσ²): its mean is 1 + log(2π·0.01) = -1.767293 and its standard deviation is 1.
    expect(1 + Math.log(2 * Math.PI * 0.01)).toBeCloseTo(-1.767293, 6);
    expect(Math.abs(est.negLogQ - -1.767293)).toBeLessThan(4 / Math.sqrt(k));
  });

  it("closed forms: E_q[-½ z·z] = -½ g·g - 0.01, E_q[50‖z-g‖²] = 1, KL(q‖p) = ½ g·g + 3.615170", () => {
    const model = smallModel(4);
    const x = batch(1);
    const k = 5000;
    const s = noGrad(() => elboSamples(model, x, sampleEps(new Random(5), k, 1, 2, "float64")));
    const g = Array.from(s.encoderMean.data);
    const gg = g[0] ** 2 + g[1] ** 2;
    // log p(z) = -½ z·z - log 2π; sample mean and its standard error from the draws themselves.
    const prior = Array.from(s.logPrior.data, (v) => v + LOG_2PI);
    const mean = prior.reduce((a, v) => a + v, 0) / k;
    const se = Math.sqrt(prior.reduce((a, v) => a + (v - mean) ** 2, 0) / (k - 1) / k);
    expect(Math.abs(mean - (-0.5 * gg - 0.01))).toBeLessThan(4 * se);
    const q = Array.from(s.negLogQ.data, (v) => v - LOG_2PI - Math.log(0.01)); // = 50‖z-g‖² = ½‖ε‖²
    expect(Math.abs(q.reduce((a, v) => a + v, 0) / k - 1)).toBeLessThan(4 / Math.sqrt(k));
    expect(analyticKl(s.encoderMean, 0.01).item()).toBeCloseTo(0.5 * gg + 3.615170, 6);
  });

  it("identities 1, 3, 4 and the estimator's q-term at d = 3, where (d/2) is not 1", () => {
    const d = 3;
    const z = randomTensor([4, d], 21, -2, 2);
    const g = randomTensor([4, d], 22, -1, 1);
    const rows = (t: Tensor, r: number) => Array.from(t.data.subarray(r * d, (r + 1) * d));
    // The densities straight from their definitions: (2π)^(-d/2) exp(-½ z·z) and (2πσ²)^(-d/2) exp(-‖z-g‖²/2σ²).
    const normal = [0, 1, 2, 3].map((r) => Math.log((2 * Math.PI) ** (-d / 2) * Math.exp(-0.5 * rows(z, r).reduce((s, v) => s + v * v, 0))));
    expectClose(logStandardNormal(z).data, normal, 1e-13, 1e-13);
    const diag = [0, 1, 2, 3].map((r) => Math.log((2 * Math.PI * 0.01) ** (-d / 2) * Math.exp(-rows(z, r).reduce((s, v, j) => s + (v - rows(g, r)[j]) ** 2, 0) / (2 * 0.01))));
    expectClose(logDiagNormal(z, g, 0.01).data, diag, 1e-12, 1e-12);
    const logVar = tensor(new Float64Array(4 * d).fill(Math.log(0.01)), { shape: [4, d] });
    expectClose(logDiagNormal(z, g, logVar).data, diag, 1e-12, 1e-12);
    expect(elboConstant(d, 0.01)).toBeCloseTo(1.5 * Math.log(0.01), 14);
    // identity 4 on a model with a 3-D latent
    const model = new VAE({ hidden: 6, latent: d }, { seed: 3, dtype: "float64" });
    const x = batch(2);
    const gx = model.encode(x).mean;
    const zx = gx.add(randomTensor([2, d], 23, -0.3, 0.3));
    const full = logStandardNormal(zx).add(logBernoulli(x, model.decodeLogits(zx))).sub(logDiagNormal(zx, gx, 0.01));
    expectClose(part1Bracket(model, x, zx, gx, 0.01).add(elboConstant(d, 0.01)).data, full.data, 1e-13, 1e-12);
    // -log q at z = g + σε is ½‖ε‖² + (d/2) log 2πσ², and KL(q‖p) = ½ (g·g + dσ² − d − d log σ²)
    const eps = sampleEps(new Random(24), 2, 2, d, "float64");
    const s = noGrad(() => elboSamples(model, x, eps));
    const epsSq = [0, 1, 2, 3].map((r) => rows(eps, r).reduce((a, v) => a + v * v, 0));
    expectClose(s.negLogQ.data, epsSq.map((e) => 0.5 * e + (d / 2) * Math.log(2 * Math.PI * 0.01)), 1e-12, 1e-12);
    const gg = [0, 1].map((r) => rows(s.encoderMean, r).reduce((a, v) => a + v * v, 0));
    expectClose(analyticKl(s.encoderMean, 0.01).data, gg.map((v) => 0.5 * (v + d * 0.01 - d - d * Math.log(0.01))), 1e-12, 1e-12);
    const learned = tensor(new Float64Array(2 * d).fill(Math.log(0.01)), { shape: [2, d] });
    expectClose(analyticKl(s.encoderMean, learned).data, analyticKl(s.encoderMean, 0.01).data, 1e-12, 1e-12);
  });

  it("the IWAE bound is above the ELBO at large K and equals the one-draw ELBO at K = 1", () => {
    const model = smallModel(5);
    const x = batch(2);
    const eps1 = sampleEps(new Random(6), 1, 2, 2, "float64");
    expectClose(noGrad(() => iwae(model, x, eps1)).data, noGrad(() => elboSamples(model, x, eps1)).elbo.data, 1e-14, 1e-12);
    const bound = (k: number) => noGrad(() => iwae(model, x, sampleEps(new Random(7), k, 2, 2, "float64"))).data;
    const elbo = estimateElbo(model, batch(1), 5000, new Random(8)).elbo;
    expect(bound(2000)[0]).toBeGreaterThan(elbo);
  });
});

describe("derivation, identity 7: gradients of the estimator for fixed ε against float64 finite differences", () => {
  // Element-by-element checks on a model of 30 pixels (the same code as 784, a hundredth of the cost);
  // the seed's size is checked along a random direction below.
  const D = 30;
  const x = () => tensor(images.slice(14 * 28, 14 * 28 + 2 * D), { shape: [2, D] }); // pixels from the middle rows
  const eps = () => sampleEps(new Random(9), 3, 2, 2, "float64");
  const smallModel = (seed: number, encoderVariance: number | "learned") => new VAE({ inputSize: D, hidden: 5, encoderVariance }, { seed, dtype: "float64" });

  for (const variance of [0.01, "learned"] as const) {
    it(`identity 7: every encoder and decoder parameter tensor (σ² ${variance})`, () => {
      const model = smallModel(6, variance);
      const e = eps();
      const xs = x();
      const names = [...model.namedParameters().keys()];
      const { f, inputs } = ofParams(model, names, () => elboSamples(model, xs, e).elbo.sum());
      gradcheck(f, inputs);
    });
  }

  it("identity 7 at the seed's size (H = 500): every parameter tensor along a random direction", () => {
    const model = new VAE({ hidden: 500 }, { seed: 7, dtype: "float64" });
    const e = sampleEps(new Random(10), 1, 2, 2, "float64");
    const xs = batch(2);
    const names = [...model.namedParameters().keys()];
    const { f, inputs } = ofParams(model, names, () => elboSamples(model, xs, e).elbo.sum());
    gradcheck(f, inputs, { mode: "direction" });
  });

  const terms = ["logPrior", "logLikelihood", "negLogQ"] as const;
  for (const term of terms) {
    it(`each ELBO term, ${term}: gradcheck in the encoder's parameters, the decoder's parameters and z`, () => {
      const model = smallModel(8, "learned");
      const e = eps();
      const xs = x();
      for (const part of ["encoder.", "decoder."]) {
        const names = [...model.namedParameters().keys()].filter((n) => n.startsWith(part));
        const { f, inputs } = ofParams(model, names, () => elboSamples(model, xs, e)[term].sum());
        const grads = grad(f, { argnums: names.map((_, i) => i) })(...inputs.map((t) => t.detach()));
        const largest = Math.max(...grads.flatMap((t) => Array.from(t.data, Math.abs)));
        if (part === "decoder." && term !== "logLikelihood") {
          // log p(z) and log q(z|x) at z = g + σε do not involve the decoder: exactly zero, nothing to gradcheck.
          expect(largest, `${term} in the decoder`).toBe(0);
          continue;
        }
        expect(largest, `${term} in the ${part} has a gradient to check`).toBeGreaterThan(1e-3);
        const report = gradcheck(f, inputs, { raise: false });
        expect(report.ok, `${part} ${report.message}`).toBe(true);
      }
      // In z: the terms as functions of a free latent point z (the decoder's input).
      const z = randomTensor([2, 2], 11, -1, 1);
      const g = noGrad(() => model.encode(xs).mean);
      const inZ: Record<(typeof terms)[number], (t: Tensor) => Tensor> = {
        logPrior: (t) => logStandardNormal(t).sum(),
        logLikelihood: (t) => logBernoulli(xs, model.decodeLogits(t)).sum(),
        negLogQ: (t) => logDiagNormal(t, g, 0.01).neg().sum(),
      };
      gradcheck(inZ[term], [z]);
    });
  }
});
