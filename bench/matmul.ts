import type { MatmulKernel } from "../src/tensor/matmul.js";
import { matmulInto, matmulNaiveInto } from "../src/index.js";
import { medians } from "./lib.js";

export { operands, vaeShapes, type MatmulShape } from "./shapes.js";
import { operands, type MatmulShape } from "./shapes.js";

const square = (s: number): MatmulShape => ({ label: `${s}×${s}·${s}×${s}`, m: s, k: s, n: s, transA: false, transB: false });

export const squareShapes = [64, 128, 256, 512, 1024].map(square);

export type Kernel = MatmulKernel<Float32Array>;

/** GFLOP/s (2mnk per product, median time) of each kernel on one shape, measured side by side. */
export async function measureMatmul(s: MatmulShape, kernels: Record<string, Kernel>, time: number): Promise<Record<string, number>> {
  const { a, b, out } = operands(s);
  const tasks: Record<string, () => void> = {};
  for (const [name, kernel] of Object.entries(kernels)) tasks[name] = () => kernel(out, a, b, s.m, s.k, s.n, s.transA, s.transB);
  const ms = await medians(tasks, time);
  const gflops: Record<string, number> = {};
  for (const [name, t] of Object.entries(ms)) gflops[name] = (2 * s.m * s.n * s.k) / (t * 1e6);
  return gflops;
}

export const jsKernels: Record<string, Kernel> = { blocked: matmulInto, naive: matmulNaiveInto };
