// The "js" backend's entries in the kernel table (./kernels.ts): every op, for float32 and float64.
// The reference the other backends are tested against, and what they fall back to.
import { binaryRowSumsJs, matmulBinaryWith } from "./binary.js";
import type { DType } from "./dtype.js";
import { activationBackwardJs, adamJs, adamStateJs, bernoulliRowsJs, biasActivationJs, columnSumsJs, scaleRowsJs } from "./fused.js";
import { registerKernel } from "./kernels.js";
import { matmulJsInto } from "./matmul.js";

export function registerJsKernels(): void {
  for (const dtype of ["float32", "float64"] as const satisfies readonly DType[]) {
    registerKernel("matmul", "js", dtype, matmulJsInto);
    registerKernel("matmulBinary", "js", dtype, (out, a, b, m, k, n, transA, transB, binary) => matmulBinaryWith(binaryRowSumsJs, matmulJsInto, out, a, b, m, k, n, transA, transB, binary));
    registerKernel("biasActivation", "js", dtype, biasActivationJs);
    registerKernel("activationBackward", "js", dtype, activationBackwardJs);
    registerKernel("columnSums", "js", dtype, columnSumsJs);
    registerKernel("scaleRows", "js", dtype, scaleRowsJs);
    registerKernel("bernoulliRows", "js", dtype, bernoulliRowsJs);
    registerKernel("adamState", "js", dtype, (sizes) => adamStateJs(dtype, sizes));
    registerKernel("adam", "js", dtype, (p, g, slot, step) => adamJs(p, g, slot.m, slot.v, step));
  }
}
