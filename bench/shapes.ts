// The products the benches time, and their operands (browser-safe: bench/browser/training.ts imports it in a page).
import { Random } from "../src/index.js";

export interface MatmulShape {
  label: string;
  m: number;
  k: number;
  n: number;
  transA: boolean;
  transB: boolean;
}

/** The six products of a seed training step (batch 100, H = 500, D = 784). */
export const vaeShapes: MatmulShape[] = [
  { label: "(100×784)·(784×500)", m: 100, k: 784, n: 500, transA: false, transB: false },
  { label: "(100×500)·(500×784)", m: 100, k: 500, n: 784, transA: false, transB: false },
  { label: "(100×784)ᵀ·(100×500)", m: 784, k: 100, n: 500, transA: true, transB: false },
  { label: "(100×500)ᵀ·(100×784)", m: 500, k: 100, n: 784, transA: true, transB: false },
  { label: "(100×500)·(784×500)ᵀ", m: 100, k: 500, n: 784, transA: false, transB: true },
  { label: "(100×784)·(500×784)ᵀ", m: 100, k: 784, n: 500, transA: false, transB: true },
];

/** Seeded normal operands of a shape, and its output. */
export function operands(s: MatmulShape) {
  const rng = new Random(1);
  const a = Float32Array.from({ length: s.m * s.k }, () => rng.normal());
  const b = Float32Array.from({ length: s.k * s.n }, () => rng.normal());
  return { a, b, out: new Float32Array(s.m * s.n) };
}
