import { allocate } from "../tensor/dtype.js";
import { fmt, normalizeAxis, sizeOf } from "../tensor/shape.js";
import { Tensor, contiguousStrides, dense, view } from "../tensor/tensor.js";
import { record } from "./engine.js";

/**
 * The same values in a new shape (one axis may be -1): a view of the same storage when x is
 * contiguous, else a row-major copy (as PyTorch's reshape).
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const unknown = shape.indexOf(-1);
  let target = [...shape];
  if (unknown >= 0) {
    const known = sizeOf(shape.filter((_, i) => i !== unknown));
    target[unknown] = known === 0 ? 0 : x.size / known;
  }
  if (sizeOf(target) !== x.size || target.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`reshape: cannot reshape a tensor of shape ${fmt(x.shape)} (${x.size} values) to ${fmt(shape)}`);
  }
  const out = x.isContiguous ? view(x, target, contiguousStrides(target), x.offset) : new Tensor(dense(x), target);
  return record(out, "reshape", [x], (g) => [reshape(g, x.shape)], []);
}

/** The transpose of a 2-D tensor: a view with the strides swapped (no copy). */
export function transpose(x: Tensor): Tensor {
  if (x.ndim !== 2) throw new Error(`transpose: expects a 2-D tensor, got shape ${fmt(x.shape)}; use permute(axes) for other ranks`);
  return permute(x, [1, 0]);
}

/** The axes reordered, as a view: result axis i is x's axis axes[i] (NumPy's transpose(axes)). */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  const r = x.ndim;
  const seen = new Array<boolean>(r).fill(false);
  const ok = axes.length === r && axes.every((a) => Number.isInteger(a) && a >= -r && a < r && !seen[(a + r) % r] && (seen[(a + r) % r] = true));
  if (!ok) throw new Error(`permute: [${axes.join(",")}] is not a permutation of the ${r} axes of a tensor of shape ${fmt(x.shape)}`);
  const order = axes.map((a) => (a + r) % r);
  const inverse = new Array<number>(r);
  order.forEach((a, i) => (inverse[a] = i));
  const out = view(x, order.map((a) => x.shape[a]), order.map((a) => x.strides[a]), x.offset);
  return record(out, r === 2 ? "transpose" : "permute", [x], (g) => [permute(g, inverse)], []);
}

/** x itself when it is contiguous, else its values copied row-major into a new storage. */
export function contiguous(x: Tensor): Tensor {
  return x.isContiguous ? x : clone(x);
}

/** A row-major copy of x in its own storage; gradients pass through unchanged. */
export function clone(x: Tensor): Tensor {
  const out = allocate(x.dtype, x.size);
  out.set(dense(x));
  return record(new Tensor(out, x.shape), "clone", [x], (g) => [g], []);
}

function split(shape: readonly number[], axis: number): [number, number, number] {
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  let inner = 1;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i];
  return [outer, shape[axis], inner];
}

/** Entries start..end-1 along an axis (default the first: rows), as a view of the same storage. */
export function slice(x: Tensor, start: number, end: number, axis = 0): Tensor {
  const a = normalizeAxis(axis, x.ndim, "slice");
  const len = x.shape[a];
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > len || start > end) {
    throw new Error(`slice: range [${start}, ${end}) is not within 0..${len} along axis ${axis} of shape ${fmt(x.shape)}`);
  }
  const shape = x.shape.slice();
  shape[a] = end - start;
  const out = view(x, shape, x.strides, x.offset + (end > start ? start * x.strides[a] : 0));
  return record(out, "slice", [x], (g) => [unslice(g, x.shape, start, a)], []);
}

/** The inverse of slice: g placed at entries start… along `axis` of a zero tensor of `shape`. */
function unslice(g: Tensor, shape: readonly number[], start: number, axis: number): Tensor {
  const [outer, len, inner] = split(shape, axis);
  const width = g.shape[axis] * inner;
  const gd = dense(g);
  const gx = allocate(g.dtype, sizeOf(shape));
  for (let o = 0; o < outer; o++) gx.set(gd.subarray(o * width, (o + 1) * width), (o * len + start) * inner);
  return record(new Tensor(gx, shape), "unslice", [g], (gg) => [slice(gg, start, start + g.shape[axis], axis)], []);
}

/** Rows (entries along the first axis) picked by index, e.g. a minibatch. */
export function gather(x: Tensor, indices: ArrayLike<number>): Tensor {
  if (x.ndim === 0) throw new Error("gather: cannot gather rows of a 0-D tensor");
  const rows = x.shape[0];
  const inner = x.size / Math.max(rows, 1);
  const picked = Int32Array.from({ length: indices.length }, (_, r) => {
    const i = indices[r];
    if (!Number.isInteger(i) || i < 0 || i >= rows) throw new Error(`gather: index ${i} is out of range for ${rows} rows`);
    return i;
  });
  const src = dense(x);
  const out = allocate(x.dtype, picked.length * inner);
  for (let r = 0; r < picked.length; r++) out.set(src.subarray(picked[r] * inner, (picked[r] + 1) * inner), r * inner);
  const shape = [picked.length, ...x.shape.slice(1)];
  return record(new Tensor(out, shape), "gather", [x], (g) => [scatterRows(g, picked, x.shape)], []);
}

/** The inverse of gather: row r of g added into row picked[r] of a zero tensor of `shape`. */
function scatterRows(g: Tensor, picked: Int32Array, shape: readonly number[]): Tensor {
  const inner = sizeOf(shape.slice(1));
  const gd = dense(g);
  const gx = allocate(g.dtype, sizeOf(shape));
  for (let r = 0; r < picked.length; r++) {
    const base = picked[r] * inner;
    for (let j = 0; j < inner; j++) gx[base + j] += gd[r * inner + j];
  }
  return record(new Tensor(gx, shape), "scatterRows", [g], (gg) => [gather(gg, picked)], []);
}

/** Tensors joined along an axis; all other axes must agree. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new Error("concat: needs at least one tensor");
  const first = tensors[0];
  const a = normalizeAxis(axis, first.ndim, "concat");
  for (const t of tensors) {
    if (t.ndim !== first.ndim || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new Error(`concat: shapes ${fmt(first.shape)} and ${fmt(t.shape)} differ outside axis ${axis}`);
    }
  }
  const dtype = tensors.some((t) => t.dtype === "float64") ? "float64" : "float32";
  const [outer, , inner] = split(first.shape, a);
  const total = tensors.reduce((s, t) => s + t.shape[a], 0);
  const shape = first.shape.slice();
  shape[a] = total;
  const out = allocate(dtype, outer * total * inner);
  let offset = 0;
  for (const t of tensors) {
    const width = t.shape[a] * inner;
    const src = dense(t);
    for (let o = 0; o < outer; o++) out.set(src.subarray(o * width, (o + 1) * width), o * total * inner + offset);
    offset += width;
  }
  return record(new Tensor(out, shape), "concat", tensors, (g) => {
    let start = 0;
    return tensors.map((t) => {
      const part = slice(g, start, start + t.shape[a], a);
      start += t.shape[a];
      return part;
    });
  }, []);
}
