import { Tensor, dense } from "../tensor/tensor.js";
import { Random } from "../tensor/random.js";
import { fmt } from "../tensor/shape.js";
import { noGrad } from "./engine.js";
import { add, mul } from "./elementwise.js";
import { grad, valueAndGrad } from "./functional.js";
import { sum } from "./reduce.js";

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /**
   * Pass when |analytic − numeric| ≤ atol + rtol·|numeric| + noise (atol 1e-7, rtol 1e-6), where
   * noise = 4·ε·max(1, |f(x)|)/eps bounds the rounding error of a float64 central difference.
   */
  atol?: number;
  rtol?: number;
  /** "full": every element by central differences; "direction": one random direction, two evaluations. */
  mode?: "full" | "direction";
  seed?: number;
  /** Throw on failure (default true); otherwise return the report. */
  raise?: boolean;
  /**
   * 1 (default): the gradient. 2: the gradient, and then the gradient of ⟨∇f, v⟩ for a random v
   * (the second derivative along v, as torch's gradgradcheck and JAX's check_grads(order=2)).
   */
  order?: 1 | 2;
}

export interface GradcheckReport {
  ok: boolean;
  /** The order that failed (1 or 2), or null when all passed. */
  failedOrder: 1 | 2 | null;
  /** The element (or direction) with the largest error relative to the tolerance. */
  worst: { input: number; index: number[]; analytic: number; numeric: number; relError: number } | null;
  message: string;
}

function unravel(i: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let a = shape.length - 1; a >= 0; a--) {
    index[a] = i % shape[a];
    i = Math.floor(i / shape[a]);
  }
  return index;
}

/**
 * Compares autograd's gradient of a scalar function with central finite differences, in float64,
 * as torch.autograd.gradcheck does (or along one random direction, as JAX's check_grads).
 * @example gradcheck((x, y) => x.mul(y).sum(), [randn([3]), randn([3])])
 */
export function gradcheck(f: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], options: GradcheckOptions = {}): GradcheckReport {
  const { order = 1, raise = true } = options;
  if (order !== 1 && order !== 2) throw new Error(`gradcheck: order must be 1 or 2, got ${order}`);
  const first = check(f, inputs, options, "");
  if (!first.ok || order === 1) return finish({ ...first, failedOrder: first.ok ? null : 1 }, raise);
  // Order 2: h(x) = ⟨∇f(x), v⟩ for a fixed random v is a scalar function whose gradient is H·v.
  const rng = new Random((options.seed ?? 0) + 1);
  const vs = inputs.map((t) => new Tensor(Float64Array.from({ length: t.size }, () => rng.normal()), t.shape));
  const argnums = inputs.map((_, i) => i);
  const h = (...xs: Tensor[]) => {
    const gs = grad(f, { argnums })(...xs);
    return gs.map((g, i) => sum(mul(g, vs[i]))).reduce((a, b) => add(a, b));
  };
  const second = check(h, inputs, options, " of order 2 (the gradient of ⟨∇f, v⟩ for a random v)");
  return finish({ ...second, failedOrder: second.ok ? null : 2 }, raise);
}

function finish(report: GradcheckReport, raise: boolean): GradcheckReport {
  if (!report.ok && raise) throw new Error(report.message);
  return report;
}

/** One order of the check: autograd's gradient of f against central differences. */
function check(f: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], options: GradcheckOptions, what: string): Omit<GradcheckReport, "failedOrder"> {
  const { eps = 1e-6, atol = 1e-7, rtol = 1e-6, mode = "full", seed = 0 } = options;
  const xs = inputs.map((t) => new Tensor(Float64Array.from(dense(t)), t.shape));
  const argnums = xs.map((_, i) => i);
  const [, analytic] = valueAndGrad(f, { argnums })(...xs);
  const evaluate = () => noGrad(() => f(...xs).item());
  const noise = (4 * Number.EPSILON * Math.max(1, Math.abs(evaluate()))) / eps;

  let worst: GradcheckReport["worst"] = null;
  let worstScore = -1;
  const consider = (input: number, index: number[], a: number, n: number) => {
    const score = Math.abs(a - n) / (atol + noise + rtol * Math.abs(n));
    if (score > worstScore || Number.isNaN(score)) {
      worstScore = Number.isNaN(score) ? Infinity : score;
      worst = { input, index, analytic: a, numeric: n, relError: Math.abs(a - n) / Math.max(Math.abs(n), Number.MIN_VALUE) };
    }
  };

  if (mode === "full") {
    xs.forEach((x, k) => {
      for (let i = 0; i < x.size; i++) {
        const v = x.data[i];
        x.data[i] = v + eps;
        const up = evaluate();
        x.data[i] = v - eps;
        const down = evaluate();
        x.data[i] = v;
        consider(k, unravel(i, x.shape), analytic[k].data[i], (up - down) / (2 * eps));
      }
    });
  } else {
    // One direction of unit length over all the inputs together, so the step is eps whatever their size.
    const rng = new Random(seed);
    const dirs = xs.map((x) => Float64Array.from({ length: x.size }, () => rng.normal()));
    const norm = Math.sqrt(dirs.reduce((s, d) => s + d.reduce((t, v) => t + v * v, 0), 0));
    if (norm > 0) dirs.forEach((d) => d.forEach((v, i) => (d[i] = v / norm)));
    const shift = (s: number) => xs.forEach((x, k) => dirs[k].forEach((d, i) => (x.data[i] += s * d)));
    shift(eps);
    const up = evaluate();
    shift(-2 * eps);
    const down = evaluate();
    shift(eps);
    let a = 0;
    dirs.forEach((d, k) => d.forEach((v, i) => (a += v * analytic[k].data[i])));
    consider(-1, [], a, (up - down) / (2 * eps));
  }

  const w = worst as GradcheckReport["worst"];
  const ok = w !== null ? worstScore <= 1 : true;
  const where = w === null ? "" : w.input < 0 ? "along a random direction" : `input ${w.input} (shape ${fmt(xs[w.input].shape)}) at index [${w.index.join(",")}]`;
  const message = w === null
    ? "gradcheck: no inputs with elements"
    : `gradcheck${what} ${ok ? "passed" : "failed"}: worst ${where}: analytic ${w.analytic}, numeric ${w.numeric}, relative error ${w.relError.toExponential(2)} (atol ${atol}, rtol ${rtol})`;
  return { ok, worst: w, message };
}
