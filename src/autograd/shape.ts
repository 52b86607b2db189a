import { allocate } from "../tensor/dtype.js";
import { fmt, normalizeAxis, sizeOf } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import { record } from "./engine.js";

/** The same values in a new shape (one axis may be -1); shares the data. */
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
  return record(new Tensor(x.data, target), "reshape", [x], (g) => [new Tensor(g.data, x.shape)]);
}

/** The transpose of a 2-D tensor (a copy). */
export function transpose(x: Tensor): Tensor {
  if (x.ndim !== 2) throw new Error(`transpose: expects a 2-D tensor, got shape ${fmt(x.shape)}`);
  const [r, c] = x.shape;
  const out = allocate(x.dtype, x.size);
  const src = x.data;
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j];
  return record(new Tensor(out, [c, r]), "transpose", [x], (g) => [transpose(g)]);
}

function split(shape: readonly number[], axis: number): [number, number, number] {
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  let inner = 1;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i];
  return [outer, shape[axis], inner];
}

/** Entries start..end-1 along an axis (default the first: rows). */
export function slice(x: Tensor, start: number, end: number, axis = 0): Tensor {
  const a = normalizeAxis(axis, x.ndim, "slice");
  const len = x.shape[a];
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > len || start > end) {
    throw new Error(`slice: range [${start}, ${end}) is not within 0..${len} along axis ${axis} of shape ${fmt(x.shape)}`);
  }
  const [outer, , inner] = split(x.shape, a);
  const shape = x.shape.slice();
  shape[a] = end - start;
  const out = allocate(x.dtype, outer * (end - start) * inner);
  const width = (end - start) * inner;
  for (let o = 0; o < outer; o++) out.set(x.data.subarray((o * len + start) * inner, (o * len + start) * inner + width), o * width);
  return record(new Tensor(out, shape), "slice", [x], (g) => {
    const gx = allocate(g.dtype, x.size);
    for (let o = 0; o < outer; o++) gx.set(g.data.subarray(o * width, (o + 1) * width), (o * len + start) * inner);
    return [new Tensor(gx, x.shape)];
  });
}

/** Rows (entries along the first axis) picked by index, e.g. a minibatch. */
export function gather(x: Tensor, indices: ArrayLike<number>): Tensor {
  if (x.ndim === 0) throw new Error("gather: cannot gather rows of a 0-D tensor");
  const rows = x.shape[0];
  const inner = x.size / Math.max(rows, 1);
  const out = allocate(x.dtype, indices.length * inner);
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r];
    if (!Number.isInteger(i) || i < 0 || i >= rows) throw new Error(`gather: index ${i} is out of range for ${rows} rows`);
    out.set(x.data.subarray(i * inner, (i + 1) * inner), r * inner);
  }
  const shape = [indices.length, ...x.shape.slice(1)];
  return record(new Tensor(out, shape), "gather", [x], (g) => {
    const gx = allocate(g.dtype, x.size);
    for (let r = 0; r < indices.length; r++) {
      const base = indices[r] * inner;
      for (let j = 0; j < inner; j++) gx[base + j] += g.data[r * inner + j];
    }
    return [new Tensor(gx, x.shape)];
  });
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
    for (let o = 0; o < outer; o++) out.set(t.data.subarray(o * width, (o + 1) * width), o * total * inner + offset);
    offset += width;
  }
  return record(new Tensor(out, shape), "concat", tensors, (g) => {
    let start = 0;
    return tensors.map((t) => {
      const part = slice(g, start, start + t.shape[a], a);
      start += t.shape[a];
      return part;
    });
  });
}
