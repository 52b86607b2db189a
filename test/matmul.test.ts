import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { getBackend, matmulInto, matmulNaiveInto, wasmSimdSupported } from "../src/index.js";
import { randomTensor } from "./helpers.js";

// Sizes around the kernel's tile (4) and blocks (64, 256): 1, primes, and non-multiples.
const sizes = fc.oneof(fc.integer({ min: 1, max: 13 }), fc.constantFrom(1, 2, 3, 5, 7, 17, 31, 61, 63, 64, 65, 127, 257, 263));

function naive(a: Float64Array, b: Float64Array, m: number, k: number, n: number, transA: boolean, transB: boolean): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
      out[i * n + j] = s;
    }
  }
  return out;
}

describe(`matmulInto on the ${getBackend()} backend against a naive triple loop`, () => {
  it("runs on the backend this project asked for", () => {
    // TSGRAD_BACKEND when set (the vitest projects set it), else the documented default.
    expect(getBackend()).toBe(process.env.TSGRAD_BACKEND || (wasmSimdSupported() ? "wasm" : "js"));
  });

  for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
    it(`A${transA ? "ᵀ" : ""}·B${transB ? "ᵀ" : ""} for random shapes, float64 and float32`, () => {
      fc.assert(
        fc.property(sizes, sizes, sizes, fc.integer(), fc.boolean(), (m, k, n, seed, f32) => {
          fc.pre(m * k * n <= 2_000_000);
          const a = randomTensor(transA ? [k, m] : [m, k], seed).data as Float64Array;
          const b = randomTensor(transB ? [n, k] : [k, n], seed + 1).data as Float64Array;
          const expected = naive(a, b, m, k, n, transA, transB);
          if (f32) {
            const out = new Float32Array(m * n);
            matmulInto(out, Float32Array.from(a), Float32Array.from(b), m, k, n, transA, transB);
            // float32 inputs are rounded (relative 6e-8 each) before the exact-ish float64 accumulation.
            for (let i = 0; i < out.length; i++) expect(Math.abs(out[i] - expected[i])).toBeLessThan(1e-6 * 4 * k + 1e-6);
          } else {
            const out = new Float64Array(m * n);
            matmulInto(out, a, b, m, k, n, transA, transB);
            for (let i = 0; i < out.length; i++) expect(Math.abs(out[i] - expected[i])).toBeLessThan(1e-13 * 4 * k);
          }
        }),
        { numRuns: 40 },
      );
    });
  }

  it("the naive i-k-j baseline agrees too", () => {
    const a = randomTensor([5, 7], 1).data as Float64Array;
    const b = randomTensor([7, 3], 2).data as Float64Array;
    const out = new Float64Array(15);
    matmulNaiveInto(out, a, b, 5, 7, 3);
    naive(a, b, 5, 7, 3, false, false).forEach((v, i) => expect(out[i]).toBeCloseTo(v, 12));
  });

  it("overwrites the output and handles k = 0", () => {
    const out = new Float64Array([1, 2, 3, 4]);
    matmulInto(out, new Float64Array(0), new Float64Array(0), 2, 0, 2, false, false);
    expect(Array.from(out)).toEqual([0, 0, 0, 0]);
  });
});
