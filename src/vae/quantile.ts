// Φ⁻¹, the standard normal quantile, to place the report's manifold grid at the prior's quantiles.
// Wichura's algorithm AS 241 (PPND16, Applied Statistics 37(3), 1988): rational minimax
// approximations in three ranges, accurate to about 1e-16 relative.

const poly = (c: readonly number[], x: number) => c.reduceRight((acc, ci) => ci + x * acc, 0);

// Numerators and denominators in increasing powers, for |p - ½| ≤ 0.425 in r = 0.180625 - q² …
const A = [3.387132872796366608, 133.14166789178437745, 1971.5909503065514427, 13731.693765509461125, 45921.953931549871457, 67265.770927008700853, 33430.575583588128105, 2509.0809287301226727];
const B = [1, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077, 21213.794301586595867, 39307.89580009271061, 28729.085735721942674, 5226.495278852854561];
// … then in r = √(-log min(p, 1-p)) - 1.6 for r ≤ 5 …
const C = [1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055, 3.64784832476320460504, 1.27045825245236838258, 0.24178072517745061177, 0.0227238449892691845833, 7.7454501427834140764e-4];
const D = [1, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455, 0.14810397642748007459, 0.0151986665636164571966, 5.475938084995344946e-4, 1.05075007164441684324e-9];
// … and in r - 5 beyond (p < e⁻²⁵).
const E = [6.6579046435011037772, 5.4637849111641143699, 1.7848265399172913358, 0.29656057182850489123, 0.026532189526576123093, 0.0012426609473880784386, 2.71155556874348757815e-5, 2.01033439929228813265e-7];
const F = [1, 0.59983220655588793769, 0.13692988092273580531, 0.0148753612908506148525, 7.868691311456132591e-4, 1.8463183175100546818e-5, 1.4215117583164458887e-7, 2.04426310338993978564e-15];

/** Φ⁻¹(p): the z with P(Z ≤ z) = p for Z ~ N(0, 1); ±Infinity at 0 and 1. Example: normalQuantile(0.975) ≈ 1.959964. */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new Error(`normalQuantile: p must be a probability in [0, 1], got ${p}`);
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (q * poly(A, r)) / poly(B, r);
  }
  const r = Math.sqrt(-Math.log(Math.min(p, 1 - p)));
  const z = r === Infinity ? Infinity : r <= 5 ? poly(C, r - 1.6) / poly(D, r - 1.6) : poly(E, r - 5) / poly(F, r - 5);
  return Math.sign(q) * z;
}

/**
 * The latent points of the report's manifold: Φ⁻¹ of n evenly spaced probabilities from `low` to `high`
 * per axis, as n×n rows of (z₁, z₂); z₁ increases along columns, z₂ decreases down the rows (top = high).
 */
export function quantileGrid(n: number, low = 0.05, high = 0.95): Float32Array {
  const z = Array.from({ length: n }, (_, i) => normalQuantile(n === 1 ? 0.5 : ((n - 1 - i) * low + i * high) / (n - 1)));
  const out = new Float32Array(2 * n * n);
  let i = 0;
  for (const z2 of [...z].reverse()) {
    for (const z1 of z) {
      out[i++] = z1;
      out[i++] = z2;
    }
  }
  return out;
}
