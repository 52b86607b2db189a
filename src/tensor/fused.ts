// The TypeScript kernels of the fused ops (src/autograd/fused.ts) and of Adam: the reference, the
// "js" backend's entries in the kernel table (./js-kernels.ts) and what the other backends fall back
// to. They read and write any typed array, computing in float64 and rounding each stored value to
// the array's type.
//
// The backward passes' loops are top-level functions rather than inside the ops' backward closures:
// closures are created anew by every forward pass, and after a major GC V8 may run a fresh closure's
// loop in the interpreter for a while (measured: a forced GC before each step made the seed step's
// backward 3-5× slower with the loops in closures); a top-level function keeps its optimized code.
import { allocate, type Data, type DType } from "./dtype.js";
import type { AdamState, AdamStep, BiasActivation } from "./kernels.js";

/** y[r, j] ← act(y[r, j] + bias[j]) in place, for y of rows × cols (row-major). */
export function biasActivationJs(y: Data, bias: Data, rows: number, cols: number, activation: BiasActivation): void {
  // Stryker disable next-line EqualityOperator: one more row writes past y's end, where writes are ignored
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    if (activation === "tanh") for (let j = 0; j < cols; j++) y[o + j] = Math.tanh(y[o + j] + bias[j]);
    else if (activation === "relu") {
      for (let j = 0; j < cols; j++) {
        const v = y[o + j] + bias[j];
        // Stryker disable next-line EqualityOperator: v = 0 gives 0 either way (−0 is 0)
        y[o + j] = v > 0 ? v : 0;
      }
    } else for (let j = 0; j < cols; j++) y[o + j] += bias[j];
  }
}

/**
 * The Bernoulli log-likelihood of logits l (rows × D, rows = out.length) against pixels x repeated
 * over rows (row r reads x from (r·D) mod x.length): out[r] = Σ_j x·l − softplus(l), summed in
 * float64; and, if d is given, d = x − σ(l) element-wise (the gradient in l). With a = |l|,
 * e = exp(−a), s = σ(−a) = e/(1+e), k = [l > 0], these are computed as
 *   x·l − softplus(l) = (x − k)·l − log1p(e),   x − σ(l) = (x − k) + (k ? s : −s),
 * whose parts have one sign for x in [0, 1]: no cancellation (1 − σ(30) is not 1 − 1).
 */
export function bernoulliRowsJs(x: Data, l: Data, D: number, out: Data, d: Data | null): void {
  const period = x.length;
  // Stryker disable next-line EqualityOperator: one more row writes past out's and d's ends, where writes are ignored
  for (let r = 0, o = 0, n = out.length; r < n; r++, o += D) {
    const ox = o % period;
    let s = 0;
    if (d === null) {
      for (let j = 0; j < D; j++) {
        const v = l[o + j];
        // Stryker disable next-line EqualityOperator: at v = 0 both branches give −log 2
        const pos = v > 0;
        s += (x[ox + j] - (pos ? 1 : 0)) * v - Math.log1p(Math.exp(pos ? -v : v));
      }
    } else {
      for (let j = 0; j < D; j++) {
        const v = l[o + j];
        // Stryker disable next-line EqualityOperator: at v = 0 both branches give −log 2 and x − 1/2
        const pos = v > 0;
        const e = Math.exp(pos ? -v : v);
        const xk = x[ox + j] - (pos ? 1 : 0);
        s += xk * v - Math.log1p(e);
        const sg = e / (1 + e);
        d[o + j] = pos ? xk + sg : xk - sg;
      }
    }
    out[r] = s;
  }
}

/**
 * gp = g·act'(y) (tanh' = 1 − y², relu' = [y > 0]) for rows × cols, and, if gb is given, gb += the
 * column sums of gp (a bias gradient), in one pass.
 */
export function activationBackwardJs(gp: Data, g: Data, y: Data, gb: Data | null, rows: number, cols: number, activation: "tanh" | "relu"): void {
  const tanh = activation === "tanh";
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    // Stryker disable next-line EqualityOperator: one more value is the next row's first, which that row writes again (gp is scratch, not g), or past the ends
    for (let j = 0; j < cols; j++) {
      const yv = y[o + j];
      const v = tanh ? g[o + j] * (1 - yv * yv) : yv > 0 ? g[o + j] : 0;
      gp[o + j] = v;
      if (gb !== null) gb[j] += v;
    }
  }
}

/** out[j] += Σ_r g[r, j] for g of rows × cols. */
export function columnSumsJs(out: Data, g: Data, rows: number, cols: number): void {
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    // Stryker disable next-line EqualityOperator: out[cols] is past out's end, where writes are ignored
    for (let j = 0; j < cols; j++) out[j] += g[o + j];
  }
}

/** out[r, j] = s[r]·d[r, j] for d of s.length rows × cols (out may be d). */
export function scaleRowsJs(out: Data, s: Data, d: Data, cols: number): void {
  // Stryker disable next-line EqualityOperator: one more row writes past out's end, where writes are ignored
  for (let r = 0, o = 0, n = s.length; r < n; r++, o += cols) {
    const sr = s[r];
    for (let j = 0; j < cols; j++) out[o + j] = sr * d[o + j];
  }
}

/** out[(r·cols) mod out.length + j] += s[r]·l[r, j]: a gradient into an operand repeated over rows. */
export function addScaledRowsRepeated(out: Data, s: Data, l: Data, cols: number): void {
  const period = out.length;
  for (let r = 0, o = 0, n = s.length; r < n; r++, o += cols) {
    const ox = o % period;
    const sr = s[r];
    for (let j = 0; j < cols; j++) out[ox + j] += sr * l[o + j];
  }
}

/** Adam's update, the classic loop, in float64 arithmetic with each stored value rounded to the arrays' type. */
export function adamJs(w: Data, g: Data, m: Data, v: Data, s: AdamStep): void {
  const { lr, beta1: b1, beta2: b2, eps, c1, c2 } = s;
  const ob1 = 1 - b1;
  const ob2 = 1 - b2;
  // Stryker disable next-line EqualityOperator: writes past the typed arrays' ends are ignored
  for (let i = 0, n = w.length; i < n; i++) {
    const gi = g[i];
    const mi = (m[i] = b1 * m[i] + ob1 * gi);
    const vi = (v[i] = b2 * v[i] + ob2 * gi * gi);
    w[i] -= (lr * mi * c1) / (Math.sqrt(vi * c2) + eps);
  }
}

/** Adam's state in plain typed arrays of `dtype`. */
export function adamStateJs<D extends Data>(dtype: DType, sizes: readonly number[]): AdamState<D> {
  return { slots: sizes.map((n) => ({ m: allocate(dtype, n) as D, v: allocate(dtype, n) as D })), grads: sizes.map((n) => allocate(dtype, n) as D) };
}
