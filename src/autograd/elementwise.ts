import { allocate } from "../tensor/dtype.js";
import { mapBinary, mapUnary, sumToShape } from "../tensor/elementwise.js";
import { Tensor } from "../tensor/tensor.js";
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

/** Which operands a binary op's backward reads: the other operand, both, or what the op says. */
function binary(op: string, forward: (x: number, y: number) => number, backward: (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => [Tensor | null, Tensor | null], saves: (a: Tensor, b: Tensor, out: Tensor) => Tensor[]) {
  return (x: Operand, y: Operand): Tensor => {
    const a = lift(x, y);
    const b = lift(y, x);
    const out = mapBinary(a, b, forward, op);
    return record(out, op, [a, b], (g) => {
      const [ga, gb] = backward(g, a, b, out);
      return [ga && needsGrad(a) ? sumToShape(ga, a.shape) : null, gb && needsGrad(b) ? sumToShape(gb, b.shape) : null];
    }, saves(a, b, out));
  };
}

/** A unary op whose backward reads its input x ("input") or its result ("output"). */
function unary(op: string, forward: (x: number) => number, backward: (g: Tensor, x: Tensor, out: Tensor) => Tensor, reads: "input" | "output" | "none") {
  return (x: Tensor): Tensor => {
    const out = mapUnary(x, forward);
    return record(out, op, [x], (g) => [backward(g, x, out)], reads === "input" ? [x] : reads === "output" ? [out] : []);
  };
}

const times = (g: Tensor, t: Tensor) => mapBinary(g, t, (u, v) => u * v, "mul");

export const add = binary("add", (x, y) => x + y, (g) => [g, g], () => []);
export const sub = binary("sub", (x, y) => x - y, (g) => [g, neg(g)], () => []);
export const mul = binary("mul", (x, y) => x * y, (g, a, b) => [needsGrad(a) ? times(g, b) : null, needsGrad(b) ? times(g, a) : null], (a, b) => [a, b]);
export const div = binary("div", (x, y) => x / y, (g, a, b, out) => [
  needsGrad(a) ? mapBinary(g, b, (u, v) => u / v, "div") : null,
  needsGrad(b) ? mapBinary(times(g, out), b, (u, v) => -u / v, "div") : null, // d(a/b)/db = -(a/b)/b
], (_, b, out) => [b, out]);

export const neg = unary("neg", (x) => -x, (g) => mapUnary(g, (u) => -u), "none");
export const exp = unary("exp", Math.exp, (g, _, y) => times(g, y), "output");
export const log = unary("log", Math.log, (g, x) => mapBinary(g, x, (u, v) => u / v, "log"), "input");
export const log1p = unary("log1p", Math.log1p, (g, x) => mapBinary(g, x, (u, v) => u / (1 + v), "log1p"), "input");
export const square = unary("square", (x) => x * x, (g, x) => mapBinary(g, x, (u, v) => 2 * u * v, "square"), "input");
export const sqrt = unary("sqrt", Math.sqrt, (g, _, y) => mapBinary(g, y, (u, v) => u / (2 * v), "sqrt"), "output");
export const relu = unary("relu", (x) => (x > 0 ? x : 0), (g, x) => mapBinary(g, x, (u, v) => (v > 0 ? u : 0), "relu"), "input");

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

// The derivatives are computed from the input x in float64, not from the stored result: 1 − y² or
// y(1 − y) from a float32 y is 0 once y rounds to 1 (from x ≈ 9 for tanh and x ≈ 17 for σ).
export const tanh = unary("tanh", Math.tanh, (g, x) => mapBinary(g, x, (u, v) => u * tanhDerivative(v), "tanh"), "input");
export const sigmoid = unary("sigmoid", sigmoidValue, (g, x) => mapBinary(g, x, (u, v) => u * sigmoidDerivative(v), "sigmoid"), "input");
export const softplus = unary("softplus", softplusValue, (g, x) => mapBinary(g, x, (u, v) => u * sigmoidValue(v), "softplus"), "input");
/** log σ(x) = -softplus(-x); its derivative is σ(-x). */
export const logSigmoid = unary("logSigmoid", (x) => -softplusValue(-x), (g, x) => mapBinary(g, x, (u, v) => u * sigmoidValue(-v), "logSigmoid"), "input");

/** x^p for a plain number p; d/dx = p·x^(p−1), and exactly 0 for p = 0 (also at x = 0, where 0·0⁻¹ would be NaN). */
export function pow(x: Tensor, p: number): Tensor {
  if (typeof p !== "number") throw new Error("pow: the exponent must be a plain number");
  const out = mapUnary(x, (v) => Math.pow(v, p));
  return record(out, "pow", [x], (g) => [p === 0 ? mapUnary(g, () => 0) : mapBinary(g, x, (u, v) => u * p * Math.pow(v, p - 1), "pow")], p === 0 ? [] : [x]);
}
