import type { MatmulKernel } from "../src/tensor/matmul.js";
import { matmulInto, matmulNaiveInto, Random } from "../src/index.js";
import { medians } from "./lib.js";

export interface MatmulShape {
  label: string;
  m: number;
  k: number;
  n: number;
  transA: boolean;
  transB: boolean;
}

const square = (s: number): MatmulShape => ({ label: `${s}×${s}·${s}×${s}`, m: s, k: s, n: s, transA: false, transB: false });

/** The six products of a seed training step (batch 100, H = 500, D = 784). */
export const vaeShapes: MatmulShape[] = [
  { label: "(100×784)·(784×500)", m: 100, k: 784, n: 500, transA: false, transB: false },
  { label: "(100×500)·(500×784)", m: 100, k: 500, n: 784, transA: false, transB: false },
  { label: "(100×784)ᵀ·(100×500)", m: 784, k: 100, n: 500, transA: true, transB: false },
  { label: "(100×500)ᵀ·(100×784)", m: 500, k: 100, n: 784, transA: true, transB: false },
  { label: "(100×500)·(784×500)ᵀ", m: 100, k: 500, n: 784, transA: false, transB: true },
  { label: "(100×784)·(500×784)ᵀ", m: 100, k: 784, n: 500, transA: false, transB: true },
];

export const squareShapes = [64, 128, 256, 512, 1024].map(square);

export type Kernel = MatmulKernel<Float32Array>;

export function operands(s: MatmulShape) {
  const rng = new Random(1);
  const a = Float32Array.from({ length: s.m * s.k }, () => rng.normal());
  const b = Float32Array.from({ length: s.k * s.n }, () => rng.normal());
  return { a, b, out: new Float32Array(s.m * s.n) };
}

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
