// Element-wise ops. Each backward is written with the ops themselves, so that it records a graph
// when asked to (backward({ createGraph: true }), grad of grad) and runs as plain kernels otherwise.
import { allocate } from "../tensor/dtype.js";
import { mapBinary, mapUnary, sumToShape } from "../tensor/elementwise.js";
import { broadcastShapes, fmt, sameShape, type Shape } from "../tensor/shape.js";
import { Tensor, astype, view } from "../tensor/tensor.js";
import { needsGrad, record } from "./engine.js";

export type Operand = Tensor | number;

/** A plain number as a one-element tensor of the other operand's dtype. */
export function lift(x: Operand, like: Operand): Tensor {
  if (x instanceof Tensor) return x;
  const dtype = like instanceof Tensor ? like.dtype : "float32";
  const data = allocate(dtype, 1);
  data[0] = x;
  return new Tensor(data, []);
}

/** g summed down to `shape`, the inverse of broadcasting (g itself when it has that shape). */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  return record(sumToShape(g, shape), "sumTo", [g], (gg) => [broadcastTo(gg, g.shape)], []);
}

/** x repeated along broadcast axes to `shape` (NumPy's broadcast_to): a view with stride 0 there. */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  if (sameShape(x.shape, shape)) return x;
  const target = broadcastShapes(x.shape, shape, "broadcastTo");
  if (!sameShape(target, shape)) throw new Error(`broadcastTo: shape ${fmt(x.shape)} does not broadcast to ${fmt(shape)}`);
  const lead = shape.length - x.ndim;
  const strides = shape.map((d, i) => (i < lead || x.shape[i - lead] !== d ? 0 : x.strides[i - lead]));
  return record(view(x, shape, strides, x.offset), "broadcastTo", [x], (gg) => [sumTo(gg, x.shape)], []);
}

/** x in another dtype, differentiably (the gradient is cast back). */
export function cast(x: Tensor, dtype: Tensor["dtype"]): Tensor {
  if (x.dtype === dtype) return x;
  return record(astype(x, dtype), "cast", [x], (g) => [cast(g, x.dtype)], []);
}

function binary(op: string, forward: (x: number, y: number) => number, backward: (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => [Tensor | null, Tensor | null], saves: (a: Tensor, b: Tensor, out: Tensor) => Tensor[]) {
  return (x: Operand, y: Operand): Tensor => {
    const a = lift(x, y);
    const b = lift(y, x);
    const out = mapBinary(a, b, forward, op);
    return record(out, op, [a, b], (g) => {
      const [ga, gb] = backward(g, a, b, out);
      return [ga && needsGrad(a) ? sumTo(ga, a.shape) : null, gb && needsGrad(b) ? sumTo(gb, b.shape) : null];
    }, saves(a, b, out));
  };
}

/** A unary op whose backward reads its input x ("input"), its result ("output") or neither. */
function unary(op: string, forward: (x: number) => number, backward: (g: Tensor, x: Tensor, out: Tensor) => Tensor, reads: "input" | "output" | "none") {
  return (x: Tensor): Tensor => {
    const out = mapUnary(x, forward);
    return record(out, op, [x], (g) => [backward(g, x, out)], reads === "input" ? [x] : reads === "output" ? [out] : []);
  };
}

export const add = binary("add", (x, y) => x + y, (g) => [g, g], () => []);
export const sub = binary("sub", (x, y) => x - y, (g) => [g, neg(g)], () => []);
export const mul = binary("mul", (x, y) => x * y, (g, a, b) => [needsGrad(a) ? mul(g, b) : null, needsGrad(b) ? mul(g, a) : null], (a, b) => [a, b]);
export const div = binary("div", (x, y) => x / y, (g, a, b, out) => [
  needsGrad(a) ? div(g, b) : null,
  needsGrad(b) ? neg(div(mul(g, out), b)) : null, // d(a/b)/db = -(a/b)/b
], (_, b, out) => [b, out]);

export const neg = unary("neg", (x) => -x, (g) => neg(g), "none");
export const exp = unary("exp", Math.exp, (g, _, y) => mul(g, y), "output");
export const log = unary("log", Math.log, (g, x) => div(g, x), "input");
export const log1p = unary("log1p", Math.log1p, (g, x) => div(g, add(x, 1)), "input");
export const square = unary("square", (x) => x * x, (g, x) => mul(g, mul(x, 2)), "input");
export const sqrt = unary("sqrt", Math.sqrt, (g, _, y) => div(g, mul(y, 2)), "output");
/** relu'(x) = [x > 0], a constant: relu'' = 0 wherever it exists. */
export const relu = unary("relu", (x) => (x > 0 ? x : 0), (g, x) => mul(g, mapUnary(x, (v) => (v > 0 ? 1 : 0))), "input");

/** σ(x) = 1/(1+e⁻ˣ), evaluated so that exp never overflows. */
export function sigmoidValue(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** σ'(x) = σ(x)·σ(−x) = e^−|x| / (1 + e^−|x|)², from x: exact where σ(x) rounds to 1 (σ'(20) = 2.06e-9). */
export function sigmoidDerivative(x: number): number {
  const e = Math.exp(-Math.abs(x));
  return e / ((1 + e) * (1 + e));
}

/** tanh'(x) = 1 − tanh²(x) = 4e^−2|x| / (1 + e^−2|x|)², from x: exact where tanh(x) rounds to ±1. */
export function tanhDerivative(x: number): number {
  const e = Math.exp(-2 * Math.abs(x));
  return (4 * e) / ((1 + e) * (1 + e));
}

/** softplus(x) = log(1+eˣ) = max(x,0) + log1p(e^-|x|): exact for large |x| and never overflows. */
export function softplusValue(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

// The derivatives are ops of their own, computed from the input x in float64, not from the stored
// result: 1 − y² or y(1 − y) from a float32 y is 0 once y rounds to 1 (from x ≈ 9 for tanh, 17 for σ).
/** σ'(x) as an op; its derivative is σ''(x) = σ'(x)·(1 − 2σ(x)). */
export const sigmoidPrime: (x: Tensor) => Tensor = unary("sigmoidPrime", sigmoidDerivative, (g, x) => mul(g, mul(sigmoidPrime(x), sub(1, mul(sigmoid(x), 2)))), "input");
/** tanh'(x) as an op; its derivative is tanh''(x) = −2·tanh(x)·tanh'(x). */
export const tanhPrime: (x: Tensor) => Tensor = unary("tanhPrime", tanhDerivative, (g, x) => mul(g, mul(mul(tanh(x), tanhPrime(x)), -2)), "input");

export const tanh = unary("tanh", Math.tanh, (g, x) => mul(g, tanhPrime(x)), "input");
export const sigmoid = unary("sigmoid", sigmoidValue, (g, x) => mul(g, sigmoidPrime(x)), "input");
export const softplus = unary("softplus", softplusValue, (g, x) => mul(g, sigmoid(x)), "input");
/** log σ(x) = -softplus(-x); its derivative is σ(-x). */
export const logSigmoid = unary("logSigmoid", (x) => -softplusValue(-x), (g, x) => mul(g, sigmoid(neg(x))), "input");

/** x^p for a plain number p; d/dx = p·x^(p−1), and exactly 0 for p = 0 (also at x = 0, where 0·0⁻¹ would be NaN). */
export function pow(x: Tensor, p: number): Tensor {
  if (typeof p !== "number") throw new Error("pow: the exponent must be a plain number");
  const out = mapUnary(x, (v) => Math.pow(v, p));
  return record(out, "pow", [x], (g) => [p === 0 ? mapUnary(g, () => 0) : mul(g, mul(pow(x, p - 1), p))], p === 0 ? [] : [x]);
}
