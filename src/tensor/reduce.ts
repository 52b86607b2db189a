import { allocate } from "./dtype.js";
import { normalizeAxis } from "./shape.js";
import { Tensor, dense } from "./tensor.js";

/** A reduction over one axis seen as [outer, len, inner]; axis undefined reduces everything. */
export interface Reduction {
  outer: number;
  len: number;
  inner: number;
  shape: number[];
}

export function reduction(x: Tensor, axis: number | undefined, keepdims: boolean, op: string): Reduction {
  if (axis === undefined) {
    return { outer: 1, len: x.size, inner: 1, shape: keepdims ? x.shape.map(() => 1) : [] };
  }
  const a = normalizeAxis(axis, x.ndim, op);
  const shape = x.shape.slice();
  if (keepdims) shape[a] = 1;
  else shape.splice(a, 1);
  let outer = 1;
  for (let i = 0; i < a; i++) outer *= x.shape[i];
  let inner = 1;
  for (let i = a + 1; i < x.ndim; i++) inner *= x.shape[i];
  return { outer, len: x.shape[a], inner, shape };
}

export function reduceSum(x: Tensor, r: Reduction): Tensor {
  const { outer, len, inner } = r;
  const out = allocate(x.dtype, outer * inner);
  const src = dense(x);
  // Stryker disable next-line EqualityOperator: one more pass adds into indices past out's end, which are ignored
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < len; k++) {
      const base = (o * len + k) * inner;
      for (let i = 0; i < inner; i++) out[o * inner + i] += src[base + i];
    }
  }
  return new Tensor(out, r.shape);
}

/** The maximum and, per output, the flat input index of its first occurrence. */
export function reduceMax(x: Tensor, r: Reduction, op: string): { value: Tensor; argmax: Int32Array } {
  const { outer, len, inner } = r;
  if (len === 0) throw new Error(`${op}: cannot reduce an empty axis`);
  const out = allocate(x.dtype, outer * inner);
  const argmax = new Int32Array(outer * inner);
  const src = dense(x);
  // Stryker disable next-line EqualityOperator: one more pass writes past out's and argmax's ends, which is ignored
  for (let o = 0; o < outer; o++) {
    // Stryker disable next-line EqualityOperator: one more pass writes past out's end (ignored) or into the next output, which its own pass then overwrites
    for (let i = 0; i < inner; i++) {
      let best = -Infinity;
      let at = o * len * inner + i;
      for (let k = 0; k < len; k++) {
        const p = (o * len + k) * inner + i;
        const v = src[p];
        if (v > best || Number.isNaN(v)) {
          best = v;
          at = p;
          if (Number.isNaN(v)) break;
        }
      }
      out[o * inner + i] = best;
      argmax[o * inner + i] = at;
    }
  }
  return { value: new Tensor(out, r.shape), argmax };
}

/** log Σ exp, computed as m + log Σ exp(x - m) with m the maximum, so it never overflows. */
export function reduceLogSumExp(x: Tensor, r: Reduction): Tensor {
  const { outer, len, inner } = r;
  const out = allocate(x.dtype, outer * inner);
  const src = dense(x);
  // Stryker disable next-line EqualityOperator: one more pass writes past out's end, which is ignored
  for (let o = 0; o < outer; o++) {
    // Stryker disable next-line EqualityOperator: one more pass writes past out's end (ignored) or into the next output, which its own pass then overwrites
    for (let i = 0; i < inner; i++) {
      let m = -Infinity;
      for (let k = 0; k < len; k++) m = Math.max(m, src[(o * len + k) * inner + i]);
      if (!Number.isFinite(m)) {
        out[o * inner + i] = m;
        continue;
      }
      let s = 0;
      for (let k = 0; k < len; k++) s += Math.exp(src[(o * len + k) * inner + i] - m);
      out[o * inner + i] = m + Math.log(s);
    }
  }
  return new Tensor(out, r.shape);
}
