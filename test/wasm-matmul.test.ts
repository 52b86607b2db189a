import type { MatmulKernel } from '../src/tensor/matmul.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { randomFloat32 } from './helpers.js';
import { sleb, uleb } from '../src/tensor/wasm/emit.js';
import { DEFAULT_SHAPE, buildGemmModule, type GemmExports } from '../src/tensor/wasm/matmul-module.js';
import {
  createWasmMatmul,
  initWasm,
  matmulWasmInto,
  wasmSimdSupported,
  type WasmMatmul,
} from '../src/tensor/wasm/matmul.js';

type MatmulFn = MatmulKernel<Float32Array>;


/**
 * Checks out against a float64 reference; per element |diff| <= 1e-4 * sum_p |a_ip||b_pj| + 1e-6,
 * i.e. relative to the magnitude float32 accumulation works with.
 */
function checkAgainstReference(
  out: Float32Array,
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
  transA: boolean,
  transB: boolean,
): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      let mag = 0;
      for (let p = 0; p < k; p++) {
        const x = transA ? a[p * m + i]! : a[i * k + p]!;
        const y = transB ? b[j * k + p]! : b[p * n + j]!;
        sum += x * y;
        mag += Math.abs(x * y);
      }
      const got = out[i * n + j]!;
      if (!(Math.abs(got - sum) <= 1e-4 * mag + 1e-6)) {
        throw new Error(
          `mismatch at (${i}, ${j}) for m=${m} k=${k} n=${n} transA=${transA} transB=${transB}: got ${got}, want ${sum}`,
        );
      }
    }
  }
}

function runCase(fn: MatmulFn, m: number, k: number, n: number, transA: boolean, transB: boolean, seed: number): void {
  const a = randomFloat32(m * k, seed);
  const b = randomFloat32(k * n, seed ^ 0x9e3779b9);
  const out = new Float32Array(m * n).fill(Number.NaN); // must be overwritten
  fn(out, a, b, m, k, n, transA, transB);
  checkAgainstReference(out, a, b, m, k, n, transA, transB);
}

const PRIMES = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67];
const dim = fc.oneof(fc.integer({ min: 1, max: 70 }), fc.constantFrom(1, ...PRIMES));
const caseArb = fc.record({
  m: dim,
  k: dim,
  n: dim,
  transA: fc.boolean(),
  transB: fc.boolean(),
  seed: fc.integer(),
});

const FORMS = [
  { transA: false, transB: false, name: 'A.B' },
  { transA: true, transB: false, name: 'At.B' },
  { transA: false, transB: true, name: 'A.Bt' },
  { transA: true, transB: true, name: 'At.Bt' },
] as const;

describe('wasm emitter', () => {
  it('encodes LEB128', () => {
    expect(uleb(0)).toEqual([0]);
    expect(uleb(127)).toEqual([0x7f]);
    expect(uleb(128)).toEqual([0x80, 0x01]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(sleb(0)).toEqual([0]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-64)).toEqual([0x40]);
    expect(sleb(-65)).toEqual([0xbf, 0x7f]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
  });
});

describe('matmulWasmInto', () => {
  it('reports SIMD support in Node 20+', () => {
    expect(wasmSimdSupported()).toBe(true);
  });

  it('matches a float64 reference for random shapes in all transpose forms', () => {
    fc.assert(
      fc.property(caseArb, ({ m, k, n, transA, transB, seed }) => {
        runCase(matmulWasmInto, m, k, n, transA, transB, seed);
      }),
      { numRuns: 300 },
    );
  });

  for (const { transA, transB, name } of FORMS) {
    it(`handles larger odd shapes: ${name}`, () => {
      runCase(matmulWasmInto, 129, 257, 131, transA, transB, 1);
      runCase(matmulWasmInto, 100, 784, 37, transA, transB, 2);
    });
  }

  it('handles 1x1x1', () => {
    const out = new Float32Array(1);
    for (const { transA, transB } of FORMS) {
      matmulWasmInto(out, new Float32Array([3]), new Float32Array([-2.5]), 1, 1, 1, transA, transB);
      expect(out[0]).toBe(-7.5);
    }
  });

  it('gives zeros for k = 0 and does nothing for m = 0 or n = 0', () => {
    const out = new Float32Array(6).fill(Number.NaN);
    matmulWasmInto(out, new Float32Array(0), new Float32Array(0), 2, 0, 3, false, false);
    expect(Array.from(out)).toEqual([0, 0, 0, 0, 0, 0]);
    const untouched = new Float32Array(3).fill(7);
    matmulWasmInto(untouched, new Float32Array(0), new Float32Array(12), 0, 4, 3, false, false);
    matmulWasmInto(untouched, new Float32Array(12), new Float32Array(0), 3, 4, 0, false, true);
    expect(Array.from(untouched)).toEqual([7, 7, 7]);
  });

  it('accepts subarray views and longer buffers, leaving out beyond m*n alone', () => {
    const [m, k, n] = [5, 9, 7];
    const aBig = randomFloat32(m * k + 10, 3);
    const bBig = randomFloat32(k * n + 10, 4);
    const a = aBig.subarray(3, 3 + m * k + 2); // offset view, longer than needed
    const b = bBig.subarray(5);
    const out = new Float32Array(m * n + 4).fill(42);
    matmulWasmInto(out, a, b, m, k, n, false, true);
    checkAgainstReference(out, a, b, m, k, n, false, true);
    expect(Array.from(out.subarray(m * n))).toEqual([42, 42, 42, 42]);
  });

  it('rejects bad sizes with clear errors', () => {
    const x = new Float32Array(4);
    expect(() => matmulWasmInto(x, x, x, 2, 3, 2, false, false)).toThrow(/A has 4 elements, needs 6/);
    expect(() => matmulWasmInto(x, new Float32Array(6), x, 2, 3, 2, false, false)).toThrow(/B has 4 elements, needs 6/);
    expect(() => matmulWasmInto(new Float32Array(3), x, x, 2, 2, 2, false, false)).toThrow(/out has 3/);
    expect(() => matmulWasmInto(x, x, x, 1.5, 2, 2, false, false)).toThrow(/m must be a non-negative integer/);
    expect(() => matmulWasmInto(x, x, x, 2, -1, 2, false, false)).toThrow(/k must be a non-negative integer/);
  });

  it('reuses and only grows its memory across calls of different sizes', () => {
    const kernel: WasmMatmul = createWasmMatmul();
    const sizes: [number, number, number][] = [
      [3, 5, 2],
      [200, 300, 250],
      [7, 1, 13],
      [64, 64, 64],
      [200, 300, 250],
      [1, 1, 1],
      [250, 300, 200],
    ];
    let bytes = kernel.memory.buffer.byteLength;
    const afterBig: number[] = [];
    sizes.forEach(([m, k, n], i) => {
      const form = FORMS[i % FORMS.length]!;
      runCase(kernel.matmulInto.bind(kernel), m, k, n, form.transA, form.transB, 100 + i);
      const now = kernel.memory.buffer.byteLength;
      expect(now).toBeGreaterThanOrEqual(bytes);
      bytes = now;
      if (m === 200) afterBig.push(now);
    });
    expect(afterBig[1]).toBe(afterBig[0]); // the same size again does not grow
  });

  it('is correct with tiny cache blocks (many mc/nc/kc blocks) and other tile shapes', () => {
    const kernels = [
      createWasmMatmul({ blocks: { mc: 8, nc: 16, kc: 5 } }),
      createWasmMatmul({ shape: { mr: 3, nr: 4, ku: 2 }, blocks: { mc: 6, nc: 8, kc: 7 } }),
      createWasmMatmul({ shape: { mr: 6, nr: 12, ku: 4 } }),
      createWasmMatmul({ shape: { mr: 7, nr: 8, ku: 1 }, blocks: { mc: 14, nc: 24, kc: 9 } }),
    ];
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 0, max: kernels.length - 1 }), (c, which) => {
        const kernel = kernels[which]!;
        runCase(kernel.matmulInto.bind(kernel), c.m, c.k, c.n, c.transA, c.transB, c.seed);
      }),
      { numRuns: 200 },
    );
  });

  it('gemm on a pre-packed A (column chunks) or B (row chunks) gives the bits of packing per block', () => {
    const shapes = [DEFAULT_SHAPE, { mr: 3, nr: 4, ku: 2 }, { mr: 6, nr: 12, ku: 4 }, { mr: 5, nr: 8, ku: 1 }];
    const kernels = shapes.map((shape) => {
      const memory = new WebAssembly.Memory({ initial: 64 });
      const e = new WebAssembly.Instance(new WebAssembly.Module(buildGemmModule(shape)), { env: { memory } }).exports as unknown as GemmExports;
      return { shape, memory, e };
    });
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 0, max: shapes.length - 1 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.nat(), (c, which, kc, mcTiles, ncTiles, cut) => {
        const { shape, memory, e } = kernels[which]!;
        const { m, k, n } = c;
        const [mc, nc] = [mcTiles * shape.mr, ncTiles * shape.nr];
        const ldc = Math.ceil(n / shape.nr) * shape.nr;
        const [aAt, bAt, packA, packB, pre, c0, c1] = [0, 1, 2, 3, 4, 5, 6].map((i) => i * 65536);
        const heap = new Float32Array(memory.buffer);
        heap.set(randomFloat32(m * k, c.seed), aAt / 4);
        heap.set(randomFloat32(k * n, c.seed ^ 0x5bd1e995), bAt / 4);
        const [tA, tB] = [c.transA ? 1 : 0, c.transB ? 1 : 0];
        const cOf = (at: number) => Array.from(heap.subarray(at / 4, at / 4 + Math.ceil(m / shape.mr) * shape.mr * ldc)).filter((_, i) => i % ldc < n && i < m * ldc);
        e.gemm(aAt, bAt, c0, m, n, k, tA, tB, 0, m, 0, n, packA, packB, mc, nc, kc, ldc, 0, 0);
        const want = cOf(c0);
        // Columns in two chunks (cut at a multiple of NR), both reading A packed once.
        const j = Math.min(n, (cut % (Math.ceil(n / shape.nr) + 1)) * shape.nr);
        heap.fill(Number.NaN, c1 / 4, c1 / 4 + 16384);
        e.prepackA(aAt, m, k, tA, 0, m, kc, pre);
        e.gemm(aAt, bAt, c1, m, n, k, tA, tB, 0, m, 0, j, pre, packB, mc, nc, kc, ldc, 1, 0);
        e.gemm(aAt, bAt, c1, m, n, k, tA, tB, 0, m, j, n, pre, packB, mc, nc, kc, ldc, 1, 0);
        expect(cOf(c1)).toEqual(want);
        // Rows in two chunks (cut at a multiple of MR), both reading B packed once.
        const i = Math.min(m, (cut % (Math.ceil(m / shape.mr) + 1)) * shape.mr);
        heap.fill(Number.NaN, c1 / 4, c1 / 4 + 16384);
        e.prepackB(bAt, k, n, tB, 0, n, kc, nc, pre);
        e.gemm(aAt, bAt, c1, m, n, k, tA, tB, 0, i, 0, n, packA, pre, mc, nc, kc, ldc, 0, 1);
        e.gemm(aAt, bAt, c1, m, n, k, tA, tB, i, m, 0, n, packA, pre, mc, nc, kc, ldc, 0, 1);
        expect(cOf(c1)).toEqual(want);
        checkAgainstReference(Float32Array.from(want), heap.subarray(aAt / 4, aAt / 4 + m * k), heap.subarray(bAt / 4, bAt / 4 + k * n), m, k, n, c.transA, c.transB);
      }),
      { numRuns: 150 },
    );
  });

  it('works on a shared memory', () => {
    const kernel = createWasmMatmul({ shared: true });
    expect(kernel.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    runCase(kernel.matmulInto.bind(kernel), 33, 65, 17, true, false, 9);
    runCase(kernel.matmulInto.bind(kernel), 300, 70, 90, false, true, 10); // grows
  });

  it('initWasm compiles asynchronously and the default kernel then works', async () => {
    await initWasm();
    runCase(matmulWasmInto, 10, 20, 30, false, false, 11);
  });
});
