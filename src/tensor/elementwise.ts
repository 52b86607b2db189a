import { allocate, promote, type Data } from "./dtype.js";
import { broadcastShapes, broadcastStrides, sameShape, sizeOf, type Shape } from "./shape.js";
import { Tensor, dense } from "./tensor.js";

export type Unary = (x: number) => number;
export type Binary = (x: number, y: number) => number;

export function mapUnary(x: Tensor, f: Unary): Tensor {
  const src = dense(x);
  const out = allocate(x.dtype, src.length);
  // Stryker disable next-line EqualityOperator: a write past the typed array's end is ignored
  for (let i = 0; i < src.length; i++) out[i] = f(src[i]);
  return new Tensor(out, x.shape);
}

/** out[i] = f(a[i], b[i]) with NumPy broadcasting; the result takes the wider dtype. */
export function mapBinary(a: Tensor, b: Tensor, f: Binary, op: string): Tensor {
  // Stryker disable next-line ConditionalExpression: broadcastShapes of equal shapes is that shape (the test saves the call)
  const shape = sameShape(a.shape, b.shape) ? a.shape : broadcastShapes(a.shape, b.shape, op);
  const out = allocate(promote(a.dtype, b.dtype), sizeOf(shape));
  broadcastInto(out, shape, dense(a), a.shape, dense(b), b.shape, f);
  return new Tensor(out, shape);
}

export function broadcastInto(out: Data, shape: Shape, x: Data, xs: Shape, y: Data, ys: Shape, f: Binary): void {
  const n = out.length;
  // The fast paths below compute what the general case does; only their conditions' `false` mutants are equivalent.
  // Stryker disable next-line ConditionalExpression,BlockStatement: the general case gives the same values for equal sizes
  if (x.length === n && y.length === n) {
    // Stryker disable next-line EqualityOperator: a write past the typed array's end is ignored
    for (let i = 0; i < n; i++) out[i] = f(x[i], y[i]);
    return;
  }
  // Stryker disable next-line ConditionalExpression,BlockStatement: the general case gives the same values for a scalar y
  if (y.length === 1) {
    const v = y[0];
    // Stryker disable next-line EqualityOperator: a write past the typed array's end is ignored
    for (let i = 0; i < n; i++) out[i] = f(x[i % x.length], v);
    return;
  }
  // Stryker disable next-line ConditionalExpression,BlockStatement: the general case gives the same values for a scalar x
  if (x.length === 1) {
    const v = x[0];
    // Stryker disable next-line EqualityOperator: a write past the typed array's end is ignored
    for (let i = 0; i < n; i++) out[i] = f(v, y[i % y.length]);
    return;
  }
  // General case: the innermost axis in a tight loop, the outer axes by an odometer.
  const r = shape.length;
  const sx = broadcastStrides(xs, shape);
  const sy = broadcastStrides(ys, shape);
  const inner = shape[r - 1];
  const ix = sx[r - 1];
  const iy = sy[r - 1];
  const index = new Array<number>(r).fill(0);
  let ox = 0;
  let oy = 0;
  // Stryker disable next-line EqualityOperator: one more pass writes past the end, where writes are ignored
  for (let o = 0; o < n; o += inner) {
    // Stryker disable next-line EqualityOperator: one more value is the next row's first, which that row writes again (or past the end)
    for (let j = 0, px = ox, py = oy; j < inner; j++, px += ix, py += iy) out[o + j] = f(x[px], y[py]);
    for (let axis = r - 2; axis >= 0; axis--) {
      index[axis]++;
      ox += sx[axis];
      oy += sy[axis];
      if (index[axis] < shape[axis]) break;
      ox -= sx[axis] * shape[axis];
      oy -= sy[axis] * shape[axis];
      index[axis] = 0;
    }
  }
}

/** Sum `g` (of a broadcast result's shape) down to `shape`, the inverse of broadcasting. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  // Stryker disable next-line ConditionalExpression: summing to the same shape copies g's values; the test saves the copy
  if (sameShape(g.shape, shape)) return g;
  const out = allocate(g.dtype, sizeOf(shape));
  const strides = broadcastStrides(shape, g.shape);
  const r = g.shape.length;
  const index = new Array<number>(r).fill(0);
  const src = dense(g);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    out[o] += src[i];
    for (let axis = r - 1; axis >= 0; axis--) {
      index[axis]++;
      o += strides[axis];
      if (index[axis] < g.shape[axis]) break;
      o -= strides[axis] * g.shape[axis];
      index[axis] = 0;
    }
  }
  return new Tensor(out, shape);
}
