// The 0/1-sparse product (src/tensor/binary.ts, src/tensor/wasm/binary.ts) against the naive loop in
// float64, through the kernel table and through the ops that pick it (linear, matmul).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Random, Tensor, linear, markBinary, matmul, sum, transpose } from "../src/index.js";
import { binaryPattern } from "../src/tensor/binary.js";
import { buildBinaryModule, type BinaryExports } from "../src/tensor/wasm/binary-module.js";
import { wasmBinaryAvailable } from "../src/tensor/wasm/binary.js";
import { kernelFor } from "../src/tensor/kernels.js";
import type { Backend } from "../src/tensor/backend.js";

const bits = (n: number, rng: Random, p: number) => Float32Array.from({ length: n }, () => (rng.uniform() < p ? 1 : 0));
const normal = (n: number, rng: Random) => Float32Array.from({ length: n }, () => rng.normal());

/** |got − Σ| ≤ k·2⁻²³·Σ|terms| per element: float32 additions of k terms. */
function expectProduct(got: Float32Array, a: Float32Array, b: Float32Array, m: number, k: number, n: number, tA: boolean, tB: boolean): void {
  // The float64 oracle is a plain loop here, not src's matmulNaiveInto: independent of the code under
  // test, and not slowed down by the mutation run's instrumentation of src/tensor/matmul.ts.
  const [want, scale] = [new Float64Array(m * n), new Float64Array(m * n)];
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const x = tA ? a[p * m + i] : a[i * k + p];
      if (x === 0) continue;
      for (let j = 0; j < n; j++) {
        const y = tB ? b[j * k + p] : b[p * n + j];
        want[i * n + j] += x * y;
        scale[i * n + j] += Math.abs(x * y);
      }
    }
  }
  for (let i = 0; i < m * n; i++) {
    if (!(Math.abs(got[i] - want[i]) <= k * 2 ** -23 * scale[i] + 1e-30)) throw new Error(`element ${i}: got ${got[i]}, want ${want[i]} (m ${m}, k ${k}, n ${n}, transA ${tA}, transB ${tB})`);
  }
}

const dim = fc.integer({ min: 1, max: 70 });
const caseArb = fc.record({ m: dim, k: dim, n: dim, tA: fc.boolean(), tB: fc.boolean(), side: fc.constantFrom("a" as const, "b" as const), p: fc.constantFrom(0, 0.13, 0.5, 1), seed: fc.integer() });

describe("matmulBinary", () => {
  for (const backend of ["js", "wasm"] as Backend[]) {
    it(`${backend}: equals the product to float32 rounding, every layout and density`, () => {
      fc.assert(
        fc.property(caseArb, ({ m, k, n, tA, tB, side, p, seed }) => {
          const rng = new Random(seed);
          const [a, b] = side === "a" ? [bits(m * k, rng, p), normal(k * n, rng)] : [normal(m * k, rng), bits(k * n, rng, p)];
          const out = new Float32Array(m * n).fill(NaN);
          kernelFor("matmulBinary", backend, "float32")(out, a, b, m, k, n, tA, tB, side);
          expectProduct(out, a, b, m, k, n, tA, tB);
        }),
        { numRuns: 150 },
      );
    });

    it(`${backend}: the seed shapes (x·W1ᵀ and G1ᵀ·x on binarized-like images)`, () => {
      const rng = new Random(3);
      const [B, D, H] = [100, 784, 500];
      const x = bits(B * D, rng, 0.13);
      const [W, G] = [normal(H * D, rng), normal(B * H, rng)];
      const y = new Float32Array(B * H);
      kernelFor("matmulBinary", backend, "float32")(y, x, W, B, D, H, false, true, "a");
      expectProduct(y, x, W, B, D, H, false, true);
      const gw = new Float32Array(H * D);
      kernelFor("matmulBinary", backend, "float32")(gw, G, x, H, B, D, true, false, "b");
      expectProduct(gw, G, x, H, B, D, true, false);
    });

    it(`${backend}: a value other than 0 or 1 in the 0/1 operand takes the dense path`, () => {
      const rng = new Random(5);
      const [m, k, n] = [20, 30, 40];
      const a = bits(m * k, rng, 0.2);
      a[17] = 0.5;
      const b = normal(k * n, rng);
      const out = new Float32Array(m * n);
      kernelFor("matmulBinary", backend, "float32")(out, a, b, m, k, n, false, false, "a");
      expectProduct(out, a, b, m, k, n, false, false);
    });
  }

  it("binaryPattern lists the 1s by row of op(S), and refuses other values", () => {
    const s = Float32Array.from([1, 0, 1, 0, 0, 1]); // 2×3
    const p = binaryPattern(s, 2, 3, false)!;
    expect([...p.ptr.subarray(0, 3)]).toEqual([0, 2, 3]);
    expect([...p.idx.subarray(0, p.nnz)]).toEqual([0, 2, 2]);
    const q = binaryPattern(s, 3, 2, true)!; // op(S) = Sᵀ, 3×2
    expect([...q.ptr.subarray(0, 4)]).toEqual([0, 1, 1, 3]);
    expect([...q.idx.subarray(0, q.nnz)]).toEqual([0, 0, 1]);
    expect(binaryPattern(Float32Array.from([1, -0, 2]), 1, 3, false)).toBeNull();
  });
});

describe("markBinary", () => {
  it("accepts exactly the values the 0/1 kernels take: +0 and 1, not −0, in float32 and float64", () => {
    // The oracle: the definition, value by value.
    const cases: [number, boolean][] = [[0, true], [1, true], [-0, false], [-1, false], [0.5, false], [1 + 2 ** -23, false], [2 ** -149, false], [NaN, false], [Infinity, false]];
    const wasm = wasmBinaryAvailable() ? (() => {
      const memory = new WebAssembly.Memory({ initial: 1 });
      const k = new WebAssembly.Instance(new WebAssembly.Module(buildBinaryModule()), { env: { memory } }).exports as unknown as BinaryExports;
      // pattern() over 1 row of 6 values: four in the SIMD loop, two in the scalar tail.
      return (values: Float32Array) => (new Float32Array(memory.buffer).set(values), k.pattern(0, 1, values.length, 1024, 2048) >= 0);
    })() : null;
    for (const [v, want] of cases) {
      for (const at of [1, 5]) {
        const f32 = Float32Array.from([1, 0, 0, 1, 0, 1]);
        f32[at] = v;
        const f64 = Float64Array.from(f32);
        expect(markBinary(new Tensor(f32, [6])), `float32 ${Object.is(v, -0) ? "-0" : v} at ${at}`).toBe(want);
        expect(markBinary(new Tensor(f64, [6])), `float64 ${Object.is(v, -0) ? "-0" : v}`).toBe(want);
        expect(binaryPattern(f32, 1, 6, false) !== null, `binaryPattern float32 ${v}`).toBe(want);
        expect(binaryPattern(f64, 1, 6, false) !== null, `binaryPattern float64 ${v}`).toBe(want);
        if (wasm) expect(wasm(f32), `wasm pattern ${v} at ${at}`).toBe(want);
      }
    }
  });

  it("records 0/1 storage, and an in-place write clears it", () => {
    const t = new Tensor(Float32Array.from([0, 1, 1, 0]), [2, 2]);
    expect(markBinary(t)).toBe(true);
    expect(t.storage.binary).toBe(true);
    expect(transpose(t).storage.binary).toBe(true);
    t.assign([0, 1, 1, 1]);
    expect(t.storage.binary).toBe(false);
    expect(markBinary(new Tensor(Float32Array.from([0, 0.5]), [2]))).toBe(false);
  });

  it("assumeBinary records without reading; a wrong record still gives the dense product", () => {
    const t = new Tensor(Float32Array.from([0, 1, 1, 0]), [2, 2]);
    t.storage.assumeBinary();
    expect(t.storage.binary).toBe(true);
    t.assign([0, 1, 1, 1]);
    expect(t.storage.binary).toBe(false);
    // A record that is wrong (0.5 and 3 are not 0/1): the kernel sees it and runs the dense product.
    const x = new Tensor(Float32Array.from([0.5, 1, 0, 3, 1, 0]), [2, 3]);
    x.storage.assumeBinary();
    const w = new Tensor(Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), [3, 4]);
    const want = [0.5 * 1 + 5, 0.5 * 2 + 6, 0.5 * 3 + 7, 0.5 * 4 + 8, 3 * 1 + 5, 3 * 2 + 6, 3 * 3 + 7, 3 * 4 + 8];
    expect([...matmul(x, w).data]).toEqual(want);
  });

  it("linear and matmul on a marked input give the dense results and gradients", () => {
    const rng = new Random(11);
    const [B, D, H] = [13, 37, 9];
    const xs = bits(B * D, rng, 0.2);
    const W = new Tensor(normal(H * D, rng), [H, D], true);
    const bias = new Tensor(normal(H, rng), [H], true);
    const run = (mark: boolean) => {
      const x = new Tensor(Float32Array.from(xs), [B, D]);
      if (mark) expect(markBinary(x)).toBe(true);
      W.grad = bias.grad = null;
      const y1 = linear(x, W, bias, "tanh");
      const y2 = matmul(x, W.T);
      const y3 = matmul(W, transpose(x), {});
      sum(y1.mul(y1)).add(sum(y2.mul(y2))).add(sum(y3)).backward();
      return [y1.data, y2.data, y3.data, W.grad!.data, bias.grad!.data].map((d) => Float32Array.from(d));
    };
    const [dense, sparse] = [run(false), run(true)];
    for (let i = 0; i < dense.length; i++) {
      for (let j = 0; j < dense[i].length; j++) expect(sparse[i][j]).toBeCloseTo(dense[i][j], 3);
    }
  });
});
