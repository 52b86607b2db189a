import { allocate } from "../tensor/dtype.js";
import { reduceLogSumExp, reduceMax, reduceSum, reduction } from "../tensor/reduce.js";
import { normalizeAxis } from "../tensor/shape.js";
import { Tensor, dense } from "../tensor/tensor.js";
import { record } from "./engine.js";
import { broadcastTo, exp, mul, sub } from "./elementwise.js";
import { reshape } from "./shape.js";

/** g (the reduced shape) spread back over x's shape, as a view; differentiable. */
function expand(g: Tensor, x: Tensor, axis: number | undefined): Tensor {
  const kept = axis === undefined ? x.shape.map(() => 1) : x.shape.map((d, i) => (i === normalizeAxis(axis, x.ndim, "expand") ? 1 : d));
  return broadcastTo(reshape(g, kept), x.shape);
}

/** Σ over all elements, or over one axis. */
export function sum(x: Tensor, axis?: number, keepdims = false): Tensor {
  const r = reduction(x, axis, keepdims, "sum");
  return record(reduceSum(x, r), "sum", [x], (g) => [expand(g, x, axis)], []);
}

export function mean(x: Tensor, axis?: number, keepdims = false): Tensor {
  const r = reduction(x, axis, keepdims, "mean");
  const out = reduceSum(x, r);
  const scale = 1 / r.len;
  const values = out.data;
  for (let i = 0; i < values.length; i++) values[i] *= scale;
  return record(out, "mean", [x], (g) => [mul(expand(g, x, axis), scale)], []);
}

/**
 * The maximum. Where several entries attain it (ties), they share its gradient equally, as in JAX
 * and PyTorch's full reductions: with two tied entries each gets ½, which is also what central
 * differences give (one of them moves the maximum up, none moves it down). A NaN is the maximum,
 * and its first occurrence takes the gradient.
 */
export function max(x: Tensor, axis?: number, keepdims = false): Tensor {
  const r = reduction(x, axis, keepdims, "max");
  const { value, argmax } = reduceMax(x, r, "max");
  return record(value, "max", [x], (g) => {
    // Each entry's share of the gradient: 1/ties where the maximum is attained, else 0 (a constant).
    const { outer, len, inner } = r;
    const src = dense(x);
    const best = value.data;
    const share = allocate(x.dtype, x.size);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const at = o * inner + i;
        const m = best[at];
        if (Number.isNaN(m)) {
          share[argmax[at]] = 1;
          continue;
        }
        let ties = 0;
        for (let k = 0; k < len; k++) if (src[(o * len + k) * inner + i] === m) ties++;
        for (let k = 0; k < len; k++) if (src[(o * len + k) * inner + i] === m) share[(o * len + k) * inner + i] = 1 / ties;
      }
    }
    return [mul(expand(g, x, axis), new Tensor(share, x.shape))];
  }, [x, value]);
}

/** log Σ exp(x), stable; its gradient is softmax(x). */
export function logsumexp(x: Tensor, axis?: number, keepdims = false): Tensor {
  const r = reduction(x, axis, keepdims, "logsumexp");
  const out = reduceLogSumExp(x, r);
  return record(out, "logsumexp", [x], (g) => [mul(expand(g, x, axis), exp(sub(x, expand(out, x, axis))))], [x, out]);
}
