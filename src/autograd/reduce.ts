import { allocate } from "../tensor/dtype.js";
import { broadcastInto } from "../tensor/elementwise.js";
import { reduceLogSumExp, reduceMax, reduceSum, reduction, type Reduction } from "../tensor/reduce.js";
import { Tensor } from "../tensor/tensor.js";
import { record } from "./engine.js";

/** g (the reduced shape) spread back over x's shape. */
function expand(g: Tensor, x: Tensor, r: Reduction): Tensor {
  const kept = [r.outer, 1, r.inner];
  const out = allocate(g.dtype, x.size);
  broadcastInto(out, [r.outer, r.len, r.inner], g.data, kept, g.data, kept, (u) => u);
  return new Tensor(out, x.shape);
}

/** Σ over all elements, or over one axis. */
export function sum(x: Tensor, axis?: number, keepdims = false): Tensor {
  const r = reduction(x, axis, keepdims, "sum");
  return record(reduceSum(x, r), "sum", [x], (g) => [expand(g, x, r)]);
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
  });
}

/** The maximum; its gradient goes to the first position that attains it. */
export function max(x: Tensor, axis?: number, keepdims = false): Tensor {
  const r = reduction(x, axis, keepdims, "max");
  const { value, argmax } = reduceMax(x, r, "max");
  return record(value, "max", [x], (g) => {
    const gx = allocate(g.dtype, x.size);
    for (let i = 0; i < argmax.length; i++) gx[argmax[i]] += g.data[i];
    return [new Tensor(gx, x.shape)];
  });
}

/** log Σ exp(x), stable; its gradient is softmax(x). */
export function logsumexp(x: Tensor, axis?: number, keepdims = false): Tensor {
  const r = reduction(x, axis, keepdims, "logsumexp");
  const out = reduceLogSumExp(x, r);
  return record(out, "logsumexp", [x], (g) => {
    const gx = expand(g, x, r);
    const lse = expand(out, x, r);
    for (let i = 0; i < gx.size; i++) gx.data[i] *= Math.exp(x.data[i] - lse.data[i]);
    return [gx];
  });
}
