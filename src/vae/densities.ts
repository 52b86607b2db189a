// The three log-densities of docs/derivation.md ("The log-densities", seed part 1), batched over rows.
import { bernoulliLogLikelihood, sum } from "../autograd/index.js";
import type { Tensor } from "../tensor/tensor.js";

export const LOG_2PI = Math.log(2 * Math.PI);

/**
 * docs/derivation.md (1): log N(z; 0, I) = -½ z·z - (d/2) log 2π, one value per row of z [B, d].
 * Its gradient in z is -z.
 */
export function logStandardNormal(z: Tensor): Tensor {
  const d = z.shape[z.ndim - 1];
  return sum(z.square(), -1).mul(-0.5).sub((d / 2) * LOG_2PI);
}

/**
 * docs/derivation.md (2): log p(x|z) = Σ_j x_j log f_j + (1 - x_j) log(1 - f_j) with f = σ(l), written stably as
 * Σ_j x_j l_j - softplus(l_j): since log σ(l) = l - softplus(l) and log(1 - σ(l)) = -softplus(l),
 * x log σ(l) + (1-x) log(1-σ(l)) = x l - softplus(l). Never log(sigmoid(·)). Its gradient in l is x - σ(l).
 * Logits [..., B, D], pixels x [B, D] (repeated over the leading axes); sums over the last axis.
 * Computed in one fused pass (bernoulliLogLikelihood), equal to sum(x·l - softplus(l), -1).
 */
export function logBernoulli(x: Tensor, logits: Tensor): Tensor {
  return bernoulliLogLikelihood(x, logits);
}

/**
 * docs/derivation.md (3): log N(z; g, σ²I) = -(1/(2σ²)) ‖z - g‖² - (d/2) log 2π - (d/2) log σ², per row.
 * `variance` is the seed's fixed σ² (a number) or, for a learned encoder, a tensor of per-dimension
 * log-variances: then log N = Σ_i -(z_i - g_i)²/(2σ_i²) - ½ log 2π - ½ log σ_i².
 * Gradients: in z, -(z - g)/σ²; in g, (z - g)/σ².
 */
export function logDiagNormal(z: Tensor, mean: Tensor, variance: number | Tensor): Tensor {
  const d = z.shape[z.ndim - 1];
  const sq = z.sub(mean).square();
  if (typeof variance === "number") {
    return sum(sq, -1).mul(-1 / (2 * variance)).sub((d / 2) * LOG_2PI + (d / 2) * Math.log(variance));
  }
  const logVar = variance;
  return sum(sq.div(logVar.exp()).add(logVar).add(LOG_2PI), -1).mul(-0.5);
}
