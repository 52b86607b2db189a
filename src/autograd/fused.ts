// Fused ops for the hot path of a training step: one pass over memory where the composed
// version makes several. Each equals its composition (tests check both ways).
import { allocate, promote, type Data, type DType } from "../tensor/dtype.js";
import { addScaledRowsRepeated } from "../tensor/fused.js";
import { kernel, type BiasActivation } from "../tensor/kernels.js";
import { fmt } from "../tensor/shape.js";
import { takeStepArray } from "../tensor/step-memory.js";
import { Tensor, astype, dense } from "../tensor/tensor.js";
import { mapUnary } from "../tensor/elementwise.js";
import { gradDestination, isGradEnabled, needsGrad, record } from "./engine.js";
import { mul, sigmoid, square, sub, sumTo } from "./elementwise.js";
import { matmul } from "./matmul.js";
import { sum } from "./reduce.js";
import { reshape } from "./shape.js";

export type LinearActivation = BiasActivation;

// A grow-only buffer per dtype for values that die within one op's backward (linear's gradient
// before the activation): a step then allocates fewer large arrays. Backward functions do not nest.
let scratch32 = new Float32Array(0);
let scratch64 = new Float64Array(0);
function scratch(dtype: DType, n: number): Data {
  if (dtype === "float64") {
    if (scratch64.length < n) scratch64 = new Float64Array(n);
    return scratch64.subarray(0, n);
  }
  if (scratch32.length < n) scratch32 = new Float32Array(n);
  return scratch32.subarray(0, n);
}

/** act(x·Wᵀ + b) for x [B, in], W [out, in], b [out]: a Linear layer and its activation as one op. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor, activation: LinearActivation = "none"): Tensor {
  if (x.ndim !== 2 || weight.ndim !== 2 || bias.ndim !== 1 || x.shape[1] !== weight.shape[1] || bias.shape[0] !== weight.shape[0]) {
    throw new Error(`linear: x ${fmt(x.shape)}, weight ${fmt(weight.shape)} and bias ${fmt(bias.shape)} do not fit x [B,in], weight [out,in], bias [out]`);
  }
  const dtype = promote(promote(x.dtype, weight.dtype), bias.dtype);
  if (x.dtype !== dtype || weight.dtype !== dtype || bias.dtype !== dtype) {
    throw new Error(`linear: x, weight and bias must share a dtype, got ${x.dtype}, ${weight.dtype}, ${bias.dtype}`);
  }
  const [rows, inF] = x.shape;
  const outF = weight.shape[0];
  const y = allocate(dtype, rows * outF);
  const xd = dense(x);
  const wd = dense(weight);
  // x of 0s and 1s (markBinary, e.g. binarized images): sums of W's columns instead of the product.
  const binary = x.storage.binary;
  if (binary) kernel("matmulBinary", dtype)(y, xd, wd, rows, inF, outF, false, true, "a");
  else kernel("matmul", dtype)(y, xd, wd, rows, inF, outF, false, true);
  kernel("biasActivation", dtype)(y, dense(bias), rows, outF, activation);
  const out = new Tensor(y, [rows, outF]);
  return record(out, "linear", [x, weight, bias], (g) => {
    if (isGradEnabled()) return linearBackwardGraph(g, x, weight, out, activation);
    const gd = dense(astype(g, dtype)); // the kernels take operands of one dtype
    const gb = needsGrad(bias) ? gradDestination(bias) ?? allocate(dtype, outF) : null;
    if (gb !== null) gb.fill(0);
    // The gradient before the activation and its column sums (the bias gradient), in one pass.
    let gp = gd;
    if (activation !== "none") {
      // In a training step, one of its arrays: the kernels then use it in place (see stepScope).
      // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: speed only: the scratch array gives the same values (the kernel writes all of gp); a float64 step array is never made
      gp = (dtype === "float32" ? takeStepArray(g.size) : null) ?? scratch(dtype, g.size);
      kernel("activationBackward", dtype)(gp, gd, y, gb, rows, outF, activation);
    } else if (gb !== null) kernel("columnSums", dtype)(gb, gd, rows, outF);
    let gx = null;
    if (needsGrad(x)) {
      gx = gradDestination(x) ?? allocate(dtype, x.size);
      kernel("matmul", dtype)(gx, gp, wd, rows, outF, inF, false, false); // dx = G·W
    }
    let gw = null;
    if (needsGrad(weight)) {
      gw = gradDestination(weight) ?? allocate(dtype, weight.size);
      if (binary) kernel("matmulBinary", dtype)(gw, gp, xd, outF, rows, inF, true, false, "b"); // dW = Gᵀ·x
      else kernel("matmul", dtype)(gw, gp, xd, outF, rows, inF, true, false);
    }
    return [gx && new Tensor(gx, x.shape), gw && new Tensor(gw, weight.shape), gb && new Tensor(gb, bias.shape)];
  }, [x, weight, out]);
}

/**
 * linear's gradient written with differentiable ops, for when its backward records a graph (a
 * gradient of a gradient); the fast path above is for first order.
 */
function linearBackwardGraph(g: Tensor, x: Tensor, weight: Tensor, y: Tensor, activation: LinearActivation): (Tensor | null)[] {
  const gp = activation === "tanh" ? mul(g, sub(1, square(y))) : activation === "relu" ? mul(g, mapUnary(y, (v) => (v > 0 ? 1 : 0))) : g;
  return [needsGrad(x) ? matmul(gp, weight) : null, needsGrad(weight) ? matmul(gp, x, { transA: true }) : null, sum(gp, 0)];
}

/**
 * Σ_j x_j l_j - softplus(l_j) over the last axis: the Bernoulli log-likelihood from logits in one pass,
 * with gradient x - σ(l) in l and l in x. x has the shape of the logits' trailing axes and repeats
 * over their leading ones (K draws of a batch).
 */
export function bernoulliLogLikelihood(x: Tensor, logits: Tensor): Tensor {
  let lead = 0;
  while (lead < x.ndim - 1 && x.shape[lead] === 1) lead++;
  const xs = x.shape.slice(lead); // leading 1s broadcast like any other leading axis
  const ls = logits.shape;
  if (xs.length === 0 || xs.length > ls.length || xs.some((d, i) => d !== ls[ls.length - xs.length + i])) {
    throw new Error(`bernoulliLogLikelihood: pixels of shape ${fmt(x.shape)} do not match the trailing axes of logits ${fmt(ls)}`);
  }
  const dtype = logits.dtype;
  const D = ls[ls.length - 1];
  const rows = logits.size / D;
  const out = allocate(dtype, rows);
  // d = x − σ(l), the gradient in l before scaling by the upstream gradient, computed with the
  // forward pass (it shares exp(−|l|)) when a backward pass may come.
  const d = logits.requiresGrad && isGradEnabled() ? allocate(dtype, logits.size) : null;
  const ld = dense(logits);
  kernel("bernoulliRows", dtype)(dense(astype(x, dtype)), ld, D, out, d); // pixels in the logits' dtype
  return record(new Tensor(out, ls.slice(0, -1)), "bernoulliLogLikelihood", [x, logits], (g) => {
    if (isGradEnabled()) {
      // Recording a graph (a higher order): the same gradient written with differentiable ops.
      const ge = reshape(g, [...g.shape, 1]);
      return [needsGrad(x) ? sumTo(mul(ge, logits), x.shape) : null, needsGrad(logits) ? mul(ge, sub(x, sigmoid(logits))) : null];
    }
    const gd = dense(astype(g, dtype));
    let gl = null;
    if (needsGrad(logits) && d !== null) {
      // d is this node's alone and the node runs once (the engine frees it): scale it in place
      // unless the logits' own gradient buffer is handed out.
      gl = gradDestination(logits) ?? d;
      kernel("scaleRows", dtype)(gl, gd, d, D);
    }
    let gx = null;
    if (needsGrad(x)) {
      gx = gradDestination(x) ?? allocate(x.dtype, x.size);
      gx.fill(0);
      addScaledRowsRepeated(gx, gd, ld, D);
    }
    return [gx && new Tensor(gx, x.shape), gl && new Tensor(gl, ls)];
  }, [logits]);
}
