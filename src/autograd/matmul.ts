import { allocate, promote } from "../tensor/dtype.js";
import { matmulInto } from "../tensor/matmul.js";
import { fmt } from "../tensor/shape.js";
import { Tensor, astype } from "../tensor/tensor.js";
import { record } from "./engine.js";

export interface MatmulOptions {
  /** Use Aᵀ: a is stored k×m. */
  transA?: boolean;
  /** Use Bᵀ: b is stored n×k. */
  transB?: boolean;
}

/** The product of 2-D tensors; `{ transA, transB }` use a transposed operand without copying it. */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  if (a.ndim !== 2 || b.ndim !== 2) {
    throw new Error(`matmul: expects 2-D tensors, got a of shape ${fmt(a.shape)} and b of shape ${fmt(b.shape)}`);
  }
  const [m, k] = transA ? [a.shape[1], a.shape[0]] : a.shape;
  const [k2, n] = transB ? [b.shape[1], b.shape[0]] : b.shape;
  if (k !== k2) {
    const ta = transA ? "ᵀ" : "";
    const tb = transB ? "ᵀ" : "";
    throw new Error(`matmul: a${ta} has shape [${m},${k}] and b${tb} has shape [${k2},${n}]; inner dimensions ${k} and ${k2} differ`);
  }
  const dtype = promote(a.dtype, b.dtype);
  const out = allocate(dtype, m * n);
  matmulInto(out, astype(a, dtype).data, astype(b, dtype).data, m, k, n, transA, transB);
  return record(new Tensor(out, [m, n]), "matmul", [a, b], (g) => {
    // C = op(A)·op(B): dop(A) = G·op(B)ᵀ and dop(B) = op(A)ᵀ·G, written back in each operand's storage layout.
    const ga = !a.requiresGrad ? null
      : transA ? matmul(b, g, { transA: transB, transB: true })
      : matmul(g, b, { transB: !transB });
    const gb = !b.requiresGrad ? null
      : transB ? matmul(g, a, { transA: true, transB: transA })
      : matmul(a, g, { transA: !transA });
    return [ga, gb];
  });
}
