// log p(x) by quadrature, Laplace and the IWAE bounds on a small trained model (src/vae/marginal.ts's
// exactBounds): the orderings the bounds must obey, IWAE_5000 and Laplace against the quadrature where
// they should agree, and progress reporting that changes no result. (Apart from test/marginal.test.ts
// because it trains first: the mutation run, vitest.mutate.config.ts, leaves it out.)
import { beforeAll, describe, expect, it } from "vitest";
import { noGrad } from "../src/autograd/index.js";
import { Random } from "../src/tensor/random.js";
import { Tensor } from "../src/tensor/tensor.js";
import { elboSamples, sampleEps } from "../src/vae/elbo.js";
import { binarize } from "../src/vae/idx.js";
import { exactBounds } from "../src/vae/marginal.js";
import { VAE } from "../src/vae/model.js";
import { Trainer } from "../src/vae/train.js";
import { loadMnist } from "../src/node/mnist.js";

describe("on a small trained model (hidden 20, learned variance, 1000 Adam steps on 500 images)", () => {
  const N = 20;
  let model: VAE;
  let x: Float32Array;
  let r: ReturnType<typeof exactBounds>;
  beforeAll(() => {
    model = new VAE({ hidden: 20, encoderVariance: "learned" }, { seed: 0 });
    const trainer = new Trainer(model, binarize(loadMnist("train", { limit: 500 }).images), { batchSize: 50, lr: 3e-3, seed: 0 });
    for (let i = 0; i < 1000; i++) trainer.step();
    x = binarize(loadMnist("test", { limit: N }).images);
    r = exactBounds(model, x);
  }, 60_000);

  /** The 5000 importance weights' effective sample size (Σw)²/Σw² for image b. */
  const ess = (b: number) => {
    const s = noGrad(() => elboSamples(model, new Tensor(x.subarray(784 * b, 784 * (b + 1)), [1, 784]), sampleEps(new Random(77 + b), 5000, 1, 2)));
    const w = Array.from(s.elbo.data);
    const m = Math.max(...w);
    const e = w.map((v) => Math.exp(v - m));
    return e.reduce((a, v) => a + v, 0) ** 2 / e.reduce((a, v) => a + v * v, 0);
  };

  it("onProgress changes no result; its fraction rises to 1 over the quadrature, then each K", () => {
    const seen: [number, string][] = [];
    const reported = exactBounds(model, x, { onProgress: (f, what) => seen.push([f, what]) });
    reported.forEach((c, b) => {
      for (const key of ["logMarginal", "logMarginalError", "laplace", "elbo", "gap"] as const) expect(c[key]).toBe(r[b][key]);
      for (const k of [1, 10, 100, 1000, 5000]) expect(c.iwae[k]).toBe(r[b].iwae[k]);
    });
    const fractions = seen.map(([f]) => f);
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThan(fractions[i - 1]);
    expect(fractions.at(-1)).toBeCloseTo(1, 12);
    expect(seen[0][1]).toBe(`log p(x) by quadrature: ${N}/${N} images`);
    expect(seen.at(-1)?.[1]).toBe(`IWAE K = 5000: ${N}/${N} images`);
  });

  it("in batches of 7 images the quadrature reports each batch, and log p(x) and Laplace agree with one batch within their accuracy; the rest is the same", () => {
    const seen: string[] = [];
    const chunked = exactBounds(model, x, { marginal: { batchSize: 7 }, onProgress: (_, what) => seen.push(what) });
    expect(seen.slice(0, 3)).toEqual([`log p(x) by quadrature: 7/${N} images`, `log p(x) by quadrature: 14/${N} images`, `log p(x) by quadrature: ${N}/${N} images`]);
    chunked.forEach((c, b) => {
      expect(Math.abs(c.logMarginal - r[b].logMarginal)).toBeLessThan(1e-3);
      expect(Math.abs(c.laplace - r[b].laplace)).toBeLessThan(1e-3);
      expect(c.elbo).toBe(r[b].elbo);
      for (const k of [1, 10, 100, 1000, 5000]) expect(c.iwae[k]).toBe(r[b].iwae[k]); // the same Random(seed) stream, K by K
    });
  }, 60_000);

  it("the quadrature converged on every image, and the ELBO (by quadrature) is below log p(x) on every image: the gap KL(q ‖ p(z|x)) ≥ 0", () => {
    for (const e of r) {
      expect(e.marginal.converged).toBe(true);
      expect(e.logMarginalError).toBeLessThan(0.01);
      expect(e.gap).toBeGreaterThan(-e.logMarginalError);
    }
  });

  it("means over the same images: ELBO ≤ IWAE_10 ≤ IWAE_1000 and every IWAE_K ≤ log p(x)", () => {
    const mean = (f: (e: (typeof r)[number]) => number) => r.reduce((a, e) => a + f(e), 0) / r.length;
    const logp = mean((e) => e.logMarginal);
    expect(mean((e) => e.elbo)).toBeLessThan(mean((e) => e.iwae[10]));
    expect(mean((e) => e.iwae[10])).toBeLessThan(mean((e) => e.iwae[1000]));
    for (const k of [1, 10, 100, 1000, 5000]) expect(mean((e) => e.iwae[k])).toBeLessThan(logp + 0.05);
    // IWAE_1 is a one-draw ELBO: within its Monte Carlo noise of the quadrature's.
    expect(Math.abs(mean((e) => e.iwae[1] - e.elbo))).toBeLessThan(1);
  });

  it("IWAE_5000 is within 0.1 nats of the quadrature on every image where its weights have an effective sample size ≥ 500", () => {
    const good = r.map((_, b) => b).filter((b) => ess(b) >= 500);
    expect(good.length).toBeGreaterThanOrEqual(5);
    for (const b of good) expect(Math.abs(r[b].iwae[5000] - r[b].logMarginal)).toBeLessThan(0.1);
  });

  it("Laplace is within 0.05 nats of the quadrature where the posterior on the grid has the Laplace covariance (within 10%)", () => {
    let checked = 0;
    r.forEach((e) => {
      const { box, points: n, logPosterior } = e.marginal;
      const h1 = (box.z1[1] - box.z1[0]) / n;
      const h2 = (box.z2[1] - box.z2[0]) / n;
      const m = [0, 0, 0, 0, 0]; // E z1, E z2, E z1², E z1z2, E z2²
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const [z1, z2] = [box.z1[0] + (j + 0.5) * h1, box.z2[0] + (i + 0.5) * h2];
          const p = Math.exp(logPosterior![i * n + j]) * h1 * h2;
          [z1, z2, z1 * z1, z1 * z2, z2 * z2].forEach((v, k) => (m[k] += p * v));
        }
      }
      const cov = [m[2] - m[0] ** 2, m[3] - m[0] * m[1], m[4] - m[1] ** 2];
      const lc = e.laplaceResult.covariance;
      const close = Math.abs(cov[0] / lc[0] - 1) < 0.1 && Math.abs(cov[2] / lc[3] - 1) < 0.1 && Math.abs(cov[1] - lc[1]) < 0.1 * Math.sqrt(lc[0] * lc[3]);
      if (!close) return;
      checked++;
      expect(Math.abs(e.laplace - e.logMarginal)).toBeLessThan(0.05);
    });
    expect(checked).toBeGreaterThanOrEqual(5);
  });
});
