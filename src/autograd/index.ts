import "./methods.js";

export { backward, enableGrad, gradients, isGradEnabled, needsGrad, noGrad, record, type BackwardOptions, type Gradients, type GradientsOptions } from "./engine.js";
export * from "./elementwise.js";
export { matmul, type MatmulOptions } from "./matmul.js";
export { logsumexp, max, mean, sum } from "./reduce.js";
export { clone, concat, contiguous, gather, permute, reshape, slice, transpose } from "./shape.js";
export { customVjp, grad, hessian, hvp, jacfwd, jacrev, jvp, valueAndGrad, vjp, type GradOptions } from "./functional.js";
export { gradcheck, type GradcheckOptions, type GradcheckReport } from "./gradcheck.js";
export { linear, bernoulliLogLikelihood, type LinearActivation } from "./fused.js";
