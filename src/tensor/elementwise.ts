import { allocate, promote, type Data } from "./dtype.js";
import { broadcastShapes, broadcastStrides, sameShape, sizeOf, type Shape } from "./shape.js";
import { Tensor, dense } from "./tensor.js";
import { getBackend } from "./backend.js";
import { activationBackwardWasm, bernoulliWasm, biasAddWasm, biasTanhWasm, columnSumsWasm, scaleRowsWasm, wasmElementwiseAvailable } from "./wasm/elementwise.js";

export type Unary = (x: number) => number;
export type Binary = (x: number, y: number) => number;

export function mapUnary(x: Tensor, f: Unary): Tensor {
  const src = dense(x);
  const out = allocate(x.dtype, src.length);
  for (let i = 0; i < src.length; i++) out[i] = f(src[i]);
  return new Tensor(out, x.shape);
}

/** out[i] = f(a[i], b[i]) with NumPy broadcasting; the result takes the wider dtype. */
export function mapBinary(a: Tensor, b: Tensor, f: Binary, op: string): Tensor {
  const shape = sameShape(a.shape, b.shape) ? a.shape : broadcastShapes(a.shape, b.shape, op);
  const out = allocate(promote(a.dtype, b.dtype), sizeOf(shape));
  broadcastInto(out, shape, dense(a), a.shape, dense(b), b.shape, f);
  return new Tensor(out, shape);
}

export function broadcastInto(out: Data, shape: Shape, x: Data, xs: Shape, y: Data, ys: Shape, f: Binary): void {
  const n = out.length;
  if (x.length === n && y.length === n) {
    for (let i = 0; i < n; i++) out[i] = f(x[i], y[i]);
    return;
  }
  if (y.length === 1) {
    const v = y[0];
    for (let i = 0; i < n; i++) out[i] = f(x[i % x.length], v);
    return;
  }
  if (x.length === 1) {
    const v = x[0];
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
  for (let o = 0; o < n; o += inner) {
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

// ---- kernels of the fused ops (src/autograd/fused.ts) ---------------------------------------------
// Each has a TypeScript version (the reference, and the path for float64 and the "js" backend) and,
// for float32 on the "wasm" backend, a WebAssembly SIMD128 one (./wasm/elementwise.ts): bit-identical
// for the bias add, relu and the backward loops; within 1 ulp (tanh) or 2-3 ulp (Bernoulli) for the
// transcendental ones (test/fused-speed.test.ts).

/** Below this many values the TypeScript kernels are as fast (measured crossovers: 64-256 values). */
const WASM_MIN_VALUES = 256;

function wasmFor(data: Data, n: number): data is Float32Array {
  return n >= WASM_MIN_VALUES && data instanceof Float32Array && getBackend() === "wasm" && wasmElementwiseAvailable();
}

/** Row kernels pad rows to a multiple of 4 values, copying them one by one when they are not: only for wide rows then. */
function wasmForRows(data: Data, rows: number, cols: number): data is Float32Array {
  return (cols % 4 === 0 || cols >= 32) && wasmFor(data, rows * cols);
}

export type BiasActivation = "none" | "tanh" | "relu";

/** y[r, j] ← act(y[r, j] + bias[j]) in place, for y of rows × cols (row-major). */
export function biasActivationInto(y: Data, bias: Data, rows: number, cols: number, activation: BiasActivation): void {
  if (bias instanceof Float32Array && wasmForRows(y, rows, cols)) {
    if (activation === "tanh") biasTanhWasm(y, bias, rows, cols);
    else biasAddWasm(y, bias, rows, cols, activation === "relu");
  } else biasActivationJs(y, bias, rows, cols, activation);
}

export function biasActivationJs(y: Data, bias: Data, rows: number, cols: number, activation: BiasActivation): void {
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    if (activation === "tanh") for (let j = 0; j < cols; j++) y[o + j] = Math.tanh(y[o + j] + bias[j]);
    else if (activation === "relu") {
      for (let j = 0; j < cols; j++) {
        const v = y[o + j] + bias[j];
        y[o + j] = v > 0 ? v : 0;
      }
    } else for (let j = 0; j < cols; j++) y[o + j] += bias[j];
  }
}

/**
 * The Bernoulli log-likelihood of logits l (rows × D, rows = out.length) against pixels x repeated
 * over rows (row r reads x from (r·D) mod x.length): out[r] = Σ_j x·l − softplus(l), summed in
 * float64; and, if d is given, d = x − σ(l) element-wise (the gradient in l). With a = |l|,
 * e = exp(−a), s = σ(−a) = e/(1+e), k = [l > 0], these are computed as
 *   x·l − softplus(l) = (x − k)·l − log1p(e),   x − σ(l) = (x − k) + (k ? s : −s),
 * whose parts have one sign for x in [0, 1]: no cancellation (1 − σ(30) is not 1 − 1).
 */
export function bernoulliRowsInto(x: Data, l: Data, D: number, out: Data, d: Data | null): void {
  if (wasmFor(l, l.length) && x instanceof Float32Array && out instanceof Float32Array && (d === null || d instanceof Float32Array)) {
    bernoulliWasm(x, l, D, out, d);
  } else bernoulliRowsJs(x, l, D, out, d);
}

export function bernoulliRowsJs(x: Data, l: Data, D: number, out: Data, d: Data | null): void {
  const period = x.length;
  for (let r = 0, o = 0, n = out.length; r < n; r++, o += D) {
    const ox = o % period;
    let s = 0;
    if (d === null) {
      for (let j = 0; j < D; j++) {
        const v = l[o + j];
        const pos = v > 0;
        s += (x[ox + j] - (pos ? 1 : 0)) * v - Math.log1p(Math.exp(pos ? -v : v));
      }
    } else {
      for (let j = 0; j < D; j++) {
        const v = l[o + j];
        const pos = v > 0;
        const e = Math.exp(pos ? -v : v);
        const xk = x[ox + j] - (pos ? 1 : 0);
        s += xk * v - Math.log1p(e);
        const sg = e / (1 + e);
        d[o + j] = pos ? xk + sg : xk - sg;
      }
    }
    out[r] = s;
  }
}

// The backward passes' loops (with WebAssembly versions for float32 that give the same bits), as
// top-level functions rather than inside the ops' backward closures:
// closures are created anew by every forward pass, and after a major GC V8 may run a fresh closure's
// loop in the interpreter for a while (measured: a forced GC before each step made the seed step's
// backward 3-5× slower with the loops in closures); a top-level function keeps its optimized code.

/**
 * gp = g·act'(y) (tanh' = 1 − y², relu' = [y > 0]) for rows × cols, and, if gb is given, gb += the
 * column sums of gp (a bias gradient), in one pass.
 */
export function activationBackwardInto(gp: Data, g: Data, y: Data, gb: Data | null, rows: number, cols: number, activation: "tanh" | "relu"): void {
  if (gp instanceof Float32Array && g instanceof Float32Array && y instanceof Float32Array && (gb === null || gb instanceof Float32Array) && wasmForRows(gp, rows, cols)) {
    activationBackwardWasm(gp, g, y, gb, rows, cols, activation);
  } else activationBackwardJs(gp, g, y, gb, rows, cols, activation);
}

export function activationBackwardJs(gp: Data, g: Data, y: Data, gb: Data | null, rows: number, cols: number, activation: "tanh" | "relu"): void {
  const tanh = activation === "tanh";
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    for (let j = 0; j < cols; j++) {
      const yv = y[o + j];
      const v = tanh ? g[o + j] * (1 - yv * yv) : yv > 0 ? g[o + j] : 0;
      gp[o + j] = v;
      if (gb !== null) gb[j] += v;
    }
  }
}

/** out[j] += Σ_r g[r, j] for g of rows × cols. */
export function addColumnSums(out: Data, g: Data, rows: number, cols: number): void {
  if (out instanceof Float32Array && g instanceof Float32Array && wasmForRows(g, rows, cols)) columnSumsWasm(out, g, rows, cols);
  else addColumnSumsJs(out, g, rows, cols);
}

export function addColumnSumsJs(out: Data, g: Data, rows: number, cols: number): void {
  for (let r = 0, o = 0; r < rows; r++, o += cols) for (let j = 0; j < cols; j++) out[j] += g[o + j];
}

/** out[r, j] = s[r]·d[r, j] for d of s.length rows × cols (out may be d). */
export function scaleRowsInto(out: Data, s: Data, d: Data, cols: number): void {
  if (out instanceof Float32Array && s instanceof Float32Array && d instanceof Float32Array && wasmForRows(d, s.length, cols)) scaleRowsWasm(out, s, d, cols);
  else scaleRowsJs(out, s, d, cols);
}

export function scaleRowsJs(out: Data, s: Data, d: Data, cols: number): void {
  for (let r = 0, o = 0, n = s.length; r < n; r++, o += cols) {
    const sr = s[r];
    for (let j = 0; j < cols; j++) out[o + j] = sr * d[o + j];
  }
}

/** out[(r·cols) mod out.length + j] += s[r]·l[r, j]: a gradient into an operand repeated over rows. */
export function addScaledRowsRepeated(out: Data, s: Data, l: Data, cols: number): void {
  const period = out.length;
  for (let r = 0, o = 0, n = s.length; r < n; r++, o += cols) {
    const ox = o % period;
    const sr = s[r];
    for (let j = 0; j < cols; j++) out[ox + j] += sr * l[o + j];
  }
}
