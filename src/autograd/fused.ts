// Fused ops for the hot path of a training step: one pass over memory where the composed
// version makes several. Each equals its composition (tests check both ways).
import { allocate, promote } from "../tensor/dtype.js";
import { matmulInto } from "../tensor/matmul.js";
import { fmt } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import { record } from "./engine.js";
import { sigmoidValue } from "./elementwise.js";

export type LinearActivation = "none" | "tanh" | "relu";

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
  matmulInto(y, x.data, weight.data, rows, inF, outF, false, true);
  const b = bias.data;
  for (let r = 0; r < rows; r++) {
    const o = r * outF;
    if (activation === "tanh") for (let j = 0; j < outF; j++) y[o + j] = Math.tanh(y[o + j] + b[j]);
    else if (activation === "relu") for (let j = 0; j < outF; j++) y[o + j] = Math.max(y[o + j] + b[j], 0);
    else for (let j = 0; j < outF; j++) y[o + j] += b[j];
  }
  return record(new Tensor(y, [rows, outF]), "linear", [x, weight, bias], (g) => {
    // The gradient before the activation: tanh' = 1 - y², relu' = [y > 0].
    let gp = g.data;
    if (activation !== "none") {
      gp = allocate(dtype, g.size);
      const gd = g.data;
      if (activation === "tanh") for (let i = 0; i < gp.length; i++) gp[i] = gd[i] * (1 - y[i] * y[i]);
      else for (let i = 0; i < gp.length; i++) gp[i] = y[i] > 0 ? gd[i] : 0;
    }
    let gx = null;
    if (x.requiresGrad) {
      gx = allocate(dtype, x.size);
      matmulInto(gx, gp, weight.data, rows, outF, inF, false, false); // dx = G·W
    }
    let gw = null;
    if (weight.requiresGrad) {
      gw = allocate(dtype, weight.size);
      matmulInto(gw, gp, x.data, outF, rows, inF, true, false); // dW = Gᵀ·x
    }
    let gb = null;
    if (bias.requiresGrad) {
      gb = allocate(dtype, outF);
      for (let r = 0; r < rows; r++) for (let j = 0; j < outF; j++) gb[j] += gp[r * outF + j];
    }
    return [gx && new Tensor(gx, x.shape), gw && new Tensor(gw, weight.shape), gb && new Tensor(gb, bias.shape)];
  });
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
  const xd = x.data;
  const l = logits.data;
  const period = x.size;
  const out = allocate(dtype, rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const o = r * D;
    const ox = o % period;
    for (let j = 0; j < D; j++) {
      const v = l[o + j];
      s += xd[ox + j] * v - (Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))));
    }
    out[r] = s;
  }
  return record(new Tensor(out, ls.slice(0, -1)), "bernoulliLogLikelihood", [x, logits], (g) => {
    const gd = g.data;
    let gl = null;
    if (logits.requiresGrad) {
      gl = allocate(dtype, logits.size);
      for (let r = 0; r < rows; r++) {
        const o = r * D;
        const ox = o % period;
        const gr = gd[r];
        for (let j = 0; j < D; j++) gl[o + j] = gr * (xd[ox + j] - sigmoidValue(l[o + j]));
      }
    }
    let gx = null;
    if (x.requiresGrad) {
      gx = allocate(x.dtype, x.size);
      for (let r = 0; r < rows; r++) for (let j = 0; j < D; j++) gx[(r * D) % period + j] += gd[r] * l[r * D + j];
    }
    return [gx && new Tensor(gx, x.shape), gl && new Tensor(gl, ls)];
  });
}
