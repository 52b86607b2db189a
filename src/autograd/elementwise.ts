import { allocate } from "../tensor/dtype.js";
import { mapBinary, mapUnary, sumToShape } from "../tensor/elementwise.js";
import { Tensor } from "../tensor/tensor.js";
import { record } from "./engine.js";

export type Operand = Tensor | number;

/** A plain number as a one-element tensor of the other operand's dtype. */
export function lift(x: Operand, like: Operand): Tensor {
  if (x instanceof Tensor) return x;
  const dtype = like instanceof Tensor ? like.dtype : "float32";
  const data = allocate(dtype, 1);
  data[0] = x;
  return new Tensor(data, []);
}

function binary(op: string, forward: (x: number, y: number) => number, backward: (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => [Tensor | null, Tensor | null]) {
  return (x: Operand, y: Operand): Tensor => {
    const a = lift(x, y);
    const b = lift(y, x);
    const out = mapBinary(a, b, forward, op);
    return record(out, op, [a, b], (g) => {
      const [ga, gb] = backward(g, a, b, out);
      return [ga && a.requiresGrad ? sumToShape(ga, a.shape) : null, gb && b.requiresGrad ? sumToShape(gb, b.shape) : null];
    });
  };
}

function unary(op: string, forward: (x: number) => number, backward: (g: Tensor, x: Tensor, out: Tensor) => Tensor) {
  return (x: Tensor): Tensor => {
    const out = mapUnary(x, forward);
    return record(out, op, [x], (g) => [backward(g, x, out)]);
  };
}

const times = (g: Tensor, t: Tensor) => mapBinary(g, t, (u, v) => u * v, "mul");

export const add = binary("add", (x, y) => x + y, (g) => [g, g]);
export const sub = binary("sub", (x, y) => x - y, (g) => [g, neg(g)]);
export const mul = binary("mul", (x, y) => x * y, (g, a, b) => [times(g, b), times(g, a)]);
export const div = binary("div", (x, y) => x / y, (g, a, b, out) => [
  mapBinary(g, b, (u, v) => u / v, "div"),
  b.requiresGrad ? mapBinary(times(g, out), b, (u, v) => -u / v, "div") : null, // d(a/b)/db = -(a/b)/b
]);

export const neg = unary("neg", (x) => -x, (g) => mapUnary(g, (u) => -u));
export const exp = unary("exp", Math.exp, (g, _, y) => times(g, y));
export const log = unary("log", Math.log, (g, x) => mapBinary(g, x, (u, v) => u / v, "log"));
export const log1p = unary("log1p", Math.log1p, (g, x) => mapBinary(g, x, (u, v) => u / (1 + v), "log1p"));
export const square = unary("square", (x) => x * x, (g, x) => mapBinary(g, x, (u, v) => 2 * u * v, "square"));
export const sqrt = unary("sqrt", Math.sqrt, (g, _, y) => mapBinary(g, y, (u, v) => u / (2 * v), "sqrt"));
export const tanh = unary("tanh", Math.tanh, (g, _, y) => mapBinary(g, y, (u, v) => u * (1 - v * v), "tanh"));
export const relu = unary("relu", (x) => (x > 0 ? x : 0), (g, x) => mapBinary(g, x, (u, v) => (v > 0 ? u : 0), "relu"));

/** σ(x) = 1/(1+e⁻ˣ), evaluated so that exp never overflows. */
export function sigmoidValue(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** softplus(x) = log(1+eˣ) = max(x,0) + log1p(e^-|x|): exact for large |x| and never overflows. */
export function softplusValue(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

export const sigmoid = unary("sigmoid", sigmoidValue, (g, _, y) => mapBinary(g, y, (u, v) => u * v * (1 - v), "sigmoid"));
export const softplus = unary("softplus", softplusValue, (g, x) => mapBinary(g, x, (u, v) => u * sigmoidValue(v), "softplus"));
/** log σ(x) = -softplus(-x); its derivative is σ(-x). */
export const logSigmoid = unary("logSigmoid", (x) => -softplusValue(-x), (g, x) => mapBinary(g, x, (u, v) => u * sigmoidValue(-v), "logSigmoid"));

export function pow(x: Tensor, p: number): Tensor {
  if (typeof p !== "number") throw new Error("pow: the exponent must be a plain number");
  const out = mapUnary(x, (v) => Math.pow(v, p));
  return record(out, "pow", [x], (g) => [mapBinary(g, x, (u, v) => u * p * Math.pow(v, p - 1), "pow")]);
}
