import { allocate, promote } from "../tensor/dtype.js";
import { kernel } from "../tensor/kernels.js";
import { matmulInto } from "../tensor/matmul.js";
import { fmt } from "../tensor/shape.js";
import { Tensor, astype, dense, view } from "../tensor/tensor.js";
import { needsGrad, record } from "./engine.js";
import { transpose } from "./shape.js";

export interface MatmulOptions {
  /** Use Aᵀ: a is stored k×m. */
  transA?: boolean;
  /** Use Bᵀ: b is stored n×k. */
  transB?: boolean;
}

/**
 * How a 2-D operand is laid out for the kernels: a contiguous tensor `stored` (a view of the
 * operand's own storage where possible) and whether the product uses its transpose. A transposed
 * view (x.T, transpose(x)) is its base read with the flag flipped, so it costs no copy.
 */
function layout(t: Tensor, trans: boolean): { stored: Tensor; trans: boolean; flipped: boolean } {
  if (t.isContiguous) return { stored: t, trans, flipped: false };
  const [r, c] = t.shape;
  if (t.strides[0] === 1 && t.strides[1] === r) return { stored: view(t, [c, r], [r, 1], t.offset), trans: !trans, flipped: true };
  return { stored: new Tensor(dense(t), t.shape), trans, flipped: false };
}

/**
 * The product of 2-D tensors. `{ transA, transB }` use a transposed operand without copying it, and
 * so does a transposed view: `x.matmul(W.T)` runs as `matmul(x, W, { transB: true })`.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  if (a.ndim !== 2 || b.ndim !== 2) {
    throw new Error(`matmul: expects 2-D tensors, got a of shape ${fmt(a.shape)} and b of shape ${fmt(b.shape)}`);
  }
  const userA = options.transA ?? false;
  const userB = options.transB ?? false;
  const [m, k] = userA ? [a.shape[1], a.shape[0]] : a.shape;
  const [k2, n] = userB ? [b.shape[1], b.shape[0]] : b.shape;
  if (k !== k2) {
    const ta = userA ? "ᵀ" : "";
    const tb = userB ? "ᵀ" : "";
    throw new Error(`matmul: a${ta} has shape [${m},${k}] and b${tb} has shape [${k2},${n}]; inner dimensions ${k} and ${k2} differ`);
  }
  const dtype = promote(a.dtype, b.dtype);
  const A = layout(astype(a, dtype), userA);
  const B = layout(astype(b, dtype), userB);
  const out = allocate(dtype, m * n);
  // An operand of 0s and 1s (markBinary): sums of the other's rows instead of the product.
  const binary = A.stored.storage.binary ? "a" : B.stored.storage.binary ? "b" : null;
  if (binary !== null) kernel("matmulBinary", dtype)(out, A.stored.data, B.stored.data, m, k, n, A.trans, B.trans, binary);
  else matmulInto(out, A.stored.data, B.stored.data, m, k, n, A.trans, B.trans);
  return record(new Tensor(out, [m, n]), "matmul", [a, b], (g) => {
    // C = op(SA)·op(SB) over the stored layouts SA, SB: d op(SA) = G·op(SB)ᵀ and d op(SB) = op(SA)ᵀ·G,
    // each computed in its stored layout and seen through the operand's view. Written with ops
    // (transpose is a view) so that it records a graph when a higher order is asked for.
    const sa = A.flipped ? transpose(a) : a;
    const sb = B.flipped ? transpose(b) : b;
    let ga: Tensor | null = null;
    if (needsGrad(a)) {
      const gs = A.trans ? matmul(sb, g, { transA: B.trans, transB: true }) : matmul(g, sb, { transB: !B.trans });
      ga = A.flipped ? transpose(gs) : gs;
    }
    let gb: Tensor | null = null;
    if (needsGrad(b)) {
      const gs = B.trans ? matmul(g, sa, { transA: true, transB: A.trans }) : matmul(sa, g, { transA: !A.trans });
      gb = B.flipped ? transpose(gs) : gs;
    }
    return [ga, gb];
  }, [a, b]);
}
