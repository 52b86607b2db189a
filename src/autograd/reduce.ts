import { allocate } from "../tensor/dtype.js";
import { broadcastInto } from "../tensor/elementwise.js";
import { reduceLogSumExp, reduceMax, reduceSum, reduction, type Reduction } from "../tensor/reduce.js";
import { Tensor, dense } from "../tensor/tensor.js";
import { record } from "./engine.js";

/** g (the reduced shape) spread back over x's shape. */
function expand(g: Tensor, x: Tensor, r: Reduction): Tensor {
  const kept = [r.outer, 1, r.inner];
  const out = allocate(g.dtype, x.size);
  const gd = dense(g);
  broadcastInto(out, [r.outer, r.len, r.inner], gd, kept, gd, kept, (u) => u);
  return new Tensor(out, x.shape);
}

/** Σ over all elements, or over one axis. */
export function sum(x: Tensor, axis?: number, keepdims = false): Tensor {
  const r = reduction(x, axis, keepdims, "sum");
  return record(reduceSum(x, r), "sum", [x], (g) => [expand(g, x, r)], []);
}

export function mean(x: Tensor, axis?: number, keepdims = false): Tensor {
  const r = reduction(x, axis, keepdims, "mean");
  const out = reduceSum(x, r);
  const scale = 1 / r.len;
  for (let i = 0; i < out.size; i++) out.data[i] *= scale;
  return record(out, "mean", [x], (g) => {
    const gx = expand(g, x, r);
    for (let i = 0; i < gx.size; i++) gx.data[i] *= scale;
    return [gx];
  }, []);
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
    const { outer, len, inner } = r;
    const src = dense(x);
    const best = value.data;
    const gd = dense(g);
    const gx = allocate(g.dtype, x.size);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const at = o * inner + i;
        const m = best[at];
        if (Number.isNaN(m)) {
          gx[argmax[at]] += gd[at];
          continue;
        }
        let ties = 0;
        for (let k = 0; k < len; k++) if (src[(o * len + k) * inner + i] === m) ties++;
        const share = gd[at] / ties;
        for (let k = 0; k < len; k++) if (src[(o * len + k) * inner + i] === m) gx[(o * len + k) * inner + i] += share;
      }
    }
    return [new Tensor(gx, x.shape)];
  }, [x, value]);
}

/** log Σ exp(x), stable; its gradient is softmax(x). */
export function logsumexp(x: Tensor, axis?: number, keepdims = false): Tensor {
  const r = reduction(x, axis, keepdims, "logsumexp");
  const out = reduceLogSumExp(x, r);
  return record(out, "logsumexp", [x], (g) => {
    const gx = expand(g, x, r);
    const lse = expand(out, x, r);
    const src = dense(x);
    for (let i = 0; i < gx.size; i++) gx.data[i] *= Math.exp(src[i] - lse.data[i]);
    return [gx];
  }, [x, out]);
}
