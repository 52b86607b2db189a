// The ELBO of docs/derivation.md and its estimators (seed parts 1 and 2), batched: x is [B, D].
import { logsumexp, mean, noGrad, sum } from "../autograd/index.js";
import { allocate, type DType } from "../tensor/dtype.js";
import { Random } from "../tensor/random.js";
import { Tensor } from "../tensor/tensor.js";
import { LOG_2PI, logBernoulli, logDiagNormal, logStandardNormal } from "./densities.js";
import type { VAE } from "./model.js";

/** docs/derivation.md "The ELBO": C = (d/2) log σ² (for d = 2, σ² = 0.01: log 0.01 ≈ -4.605170). */
export function elboConstant(d: number, variance: number): number {
  return (d / 2) * Math.log(variance);
}

/**
 * docs/derivation.md part 1, the simplified bracket: -½ z·z + log p(x|z) + (1/(2σ²)) ‖z - g‖², per row.
 * The (d/2) log 2π of p(z) and q(z|x) cancel, so ELBO(x) = E_q[bracket] + C.
 */
export function part1Bracket(model: VAE, x: Tensor, z: Tensor, g: Tensor, variance: number): Tensor {
  const prior = sum(z.square(), -1).mul(-0.5);
  const q = sum(z.sub(g).square(), -1).mul(1 / (2 * variance));
  return prior.add(logBernoulli(x, model.decodeLogits(z))).add(q);
}

/**
 * docs/derivation.md part 2, the reparameterized bracket: with z = g + σε, (1/(2σ²))‖z - g‖² = ½‖ε‖², so
 * bracket = -½ ‖g + σε‖² + log p(x | g + σε) + ½ ‖ε‖²; ELBO(x) = E_ε[bracket] + C.
 */
export function part2Bracket(model: VAE, x: Tensor, g: Tensor, eps: Tensor, variance: number): Tensor {
  const z = g.add(eps.mul(Math.sqrt(variance)));
  const prior = sum(z.square(), -1).mul(-0.5);
  return prior.add(logBernoulli(x, model.decodeLogits(z))).add(sum(eps.square(), -1).mul(0.5));
}

/** Standard normal draws ε of shape [K, B, d]. */
export function sampleEps(rng: Random, k: number, b: number, d: number, dtype: DType = "float32"): Tensor {
  const data = allocate(dtype, k * b * d);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return new Tensor(data, [k, b, d]);
}

export interface ElboSamples {
  /** Each [K, B]: one value per draw of ε and image. */
  elbo: Tensor;
  logPrior: Tensor;
  logLikelihood: Tensor;
  negLogQ: Tensor;
  /** g(x), [B, d]. */
  encoderMean: Tensor;
  /** σ² of q: the fixed number, or the log-variances [B, d]. */
  variance: number | Tensor;
}

/**
 * The reparameterized Monte Carlo terms of ELBO(x) = E_q[log p(z) + log p(x|z) - log q(z|x)] for
 * draws eps [K, B, d]: z = g(x) + σ ⊙ ε, and -log q(z|x) = ½‖ε‖² + (d/2) log 2π + ½ Σ_i log σ_i²
 * (docs/derivation.md part 2: the q-term is exactly ½‖ε‖² plus constants). Differentiable in every parameter.
 */
export function elboSamples(model: VAE, x: Tensor, eps: Tensor): ElboSamples {
  const [k, b, d] = eps.shape;
  if (x.ndim !== 2 || x.shape[0] !== b || x.shape[1] !== model.config.inputSize) {
    throw new Error(`elbo: images have shape [${x.shape.join(",")}], expected [${b},${model.config.inputSize}] to match ε of shape [${eps.shape.join(",")}]`);
  }
  const { mean: g, variance } = model.encode(x);
  const sigma = typeof variance === "number" ? Math.sqrt(variance) : variance.mul(0.5).exp();
  const z = g.add(eps.mul(sigma)); // [K, B, d]
  const logits = model.decodeLogits(z.reshape([k * b, d])).reshape([k, b, model.config.inputSize]);
  const logLikelihood = logBernoulli(x, logits);
  const logPrior = logStandardNormal(z);
  const logDet = typeof variance === "number" ? (d / 2) * Math.log(variance) : sum(variance, -1).mul(0.5);
  const negLogQ = sum(eps.square(), -1).mul(0.5).add(logDet).add((d / 2) * LOG_2PI);
  return { elbo: logPrior.add(logLikelihood).add(negLogQ), logPrior, logLikelihood, negLogQ, encoderMean: g, variance };
}

/**
 * KL(q ‖ p) per image, in closed form (docs/derivation.md "Closed forms"): ½ Σ_i (σ_i² + g_i² - 1 - log σ_i²);
 * for the seed's fixed σ², ½ (dσ² + g·g - d - d log σ²) = ½ g·g + 3.615170.
 */
export function analyticKl(g: Tensor, variance: number | Tensor): Tensor {
  const d = g.shape[g.ndim - 1];
  if (typeof variance === "number") return sum(g.square(), -1).mul(0.5).add(0.5 * (d * variance - d - d * Math.log(variance)));
  return sum(variance.exp().add(g.square()).sub(1).sub(variance), -1).mul(0.5);
}

/** ELBO(x) = E_q[log p(x|z)] - KL(q ‖ p): the Monte Carlo likelihood term with the analytic KL, per image [B]. */
export function elboAnalyticKl(model: VAE, x: Tensor, eps: Tensor): Tensor {
  const s = elboSamples(model, x, eps);
  return mean(s.logLikelihood, 0).sub(analyticKl(s.encoderMean, s.variance));
}

/**
 * The importance-weighted bound (Burda et al.): log (1/K) Σ_k p(x, z_k)/q(z_k|x), computed as
 * logsumexp_k(log w_k) - log K. It is ≤ log p(x), tightens as K grows, and equals the ELBO at K = 1. Per image [B].
 */
export function iwae(model: VAE, x: Tensor, eps: Tensor): Tensor {
  const s = elboSamples(model, x, eps);
  return logsumexp(s.elbo, 0).sub(Math.log(eps.shape[0]));
}

/** The training loss: minus the mean over the batch of a one-draw ELBO estimate. */
export function negativeElbo(model: VAE, x: Tensor, eps: Tensor): Tensor {
  return mean(elboSamples(model, x, eps).elbo).neg();
}

export interface ElboEstimate {
  elbo: number;
  stderr: number;
  logPrior: number;
  logLikelihood: number;
  negLogQ: number;
  encoderMean: number[];
  samples: number;
}

/** Part 3 of the seed: the ELBO of one image [1, D] from K draws, with its standard error, terms and g(x). */
export function estimateElbo(model: VAE, x: Tensor, k: number, rng: Random): ElboEstimate {
  if (!Number.isInteger(k) || k < 2) throw new Error(`estimateElbo: needs at least 2 samples for a standard error, got ${k}`);
  return noGrad(() => {
    const s = elboSamples(model, x, sampleEps(rng, k, 1, model.config.latent, x.dtype));
    const values = Array.from(s.elbo.data);
    const m = values.reduce((a, v) => a + v, 0) / k;
    const variance = values.reduce((a, v) => a + (v - m) ** 2, 0) / (k - 1);
    const avg = (t: Tensor) => Array.from(t.data).reduce((a, v) => a + v, 0) / k;
    return {
      elbo: m,
      stderr: Math.sqrt(variance / k),
      logPrior: avg(s.logPrior),
      logLikelihood: avg(s.logLikelihood),
      negLogQ: avg(s.negLogQ),
      encoderMean: Array.from(s.encoderMean.data),
      samples: k,
    };
  });
}
