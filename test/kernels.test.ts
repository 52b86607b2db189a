// The kernel table (src/tensor/kernels.ts): which kernel (op, backend, dtype) resolves to, the
// fallback to "js", and every registered wasm kernel against its js kernel over random sizes.
import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { Random, getBackend, matmulInto, matmulJsInto, setBackend, wasmSimdSupported, type Backend } from "../src/index.js";
import { adamJs, scaleRowsJs } from "../src/tensor/fused.js";
import { hasOwnKernel, kernel, kernelFor, registerKernel, registeredKernels, type AdamStep, type KernelName } from "../src/tensor/kernels.js";
import { wasmElementwiseAvailable } from "../src/tensor/wasm/elementwise.js";

const simd = wasmSimdSupported() && wasmElementwiseAvailable();
const initial = getBackend();
afterEach(() => setBackend(initial));

describe("the kernel table resolves (op, backend, dtype)", () => {
  it("js has every op for both dtypes; kernel() follows setBackend; float64 on wasm falls back to js", () => {
    const ops: KernelName[] = ["matmul", "biasActivation", "activationBackward", "columnSums", "scaleRows", "bernoulliRows", "adamState", "adam"];
    for (const op of ops) for (const dtype of ["float32", "float64"] as const) expect(hasOwnKernel(op, "js", dtype), `${op} ${dtype}`).toBe(true);
    expect(kernelFor("matmul", "js", "float32")).toBe(matmulJsInto);
    expect(kernelFor("scaleRows", "js", "float64")).toBe(scaleRowsJs);
    for (const op of ops) {
      expect(hasOwnKernel(op, "wasm", "float64")).toBe(false);
      expect(kernelFor(op, "wasm", "float64")).toBe(kernelFor(op, "js", "float64"));
    }
    setBackend("js");
    for (const op of ops) expect(kernel(op, "float32")).toBe(kernelFor(op, "js", "float32"));
    if (!simd) return;
    setBackend("wasm");
    for (const op of ops) {
      expect(hasOwnKernel(op, "wasm", "float32"), op).toBe(true);
      expect(kernel(op, "float32")).toBe(kernelFor(op, "wasm", "float32"));
      expect(kernel(op, "float32")).not.toBe(kernelFor(op, "js", "float32"));
      expect(kernel(op, "float64")).toBe(kernelFor(op, "js", "float64"));
    }
  });

  it("a registered kernel is what the ops call, per backend; an empty wasm slot falls back to js", () => {
    const original = kernelFor("matmul", "js", "float64");
    const calls: Backend[] = [];
    try {
      registerKernel("matmul", "js", "float64", (out, a, b, m, k, n, tA, tB) => {
        calls.push(getBackend());
        original(out, a, b, m, k, n, tA, tB);
      });
      const out = new Float64Array(4);
      for (const backend of simd ? (["js", "wasm"] as const) : (["js"] as const)) {
        setBackend(backend);
        matmulInto(out, new Float64Array([1, 2, 3, 4]), new Float64Array([1, 0, 0, 1]), 2, 2, 2, false, false);
        expect(Array.from(out)).toEqual([1, 2, 3, 4]);
      }
      expect(calls).toEqual(simd ? ["js", "wasm"] : ["js"]);
    } finally {
      registerKernel("matmul", "js", "float64", original);
    }
  });

  it("only src/tensor, src/node (threads) and src/browser import the WebAssembly modules; ops test no backend themselves", () => {
    const files = (dir: string) => readdirSync(new URL(`../src/${dir}/`, import.meta.url)).filter((f) => f.endsWith(".ts")).map((f) => `src/${dir}/${f}`);
    const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), "utf8");
    for (const file of [...files("nn"), ...files("autograd"), ...files("vae"), ...files("cli")]) {
      expect(read(file), file).not.toMatch(/from\s+["'][^"']*\/wasm\//);
    }
    for (const file of ["src/nn/optim.ts", "src/autograd/fused.ts", "src/tensor/matmul.ts", "src/tensor/elementwise.ts"]) {
      expect(read(file), file).not.toMatch(/getBackend\(\)|instanceof Float32Array/);
    }
  });

  it("errors name the op and what to do", () => {
    expect(() => matmulInto(new Float32Array(1), new Float64Array(1), new Float32Array(1), 1, 1, 1, false, false)).toThrow(/matmulInto: operands mix float32 and float64 arrays; convert them/);
    expect(() => kernelFor("nope" as KernelName, "js", "float32")).toThrow(/no kernel "nope" for float32 .*registerKernel\("nope"/);
    expect(() => registerKernel("scaleRows", "gpu" as Backend, "float32", scaleRowsJs)).toThrow(/unknown backend "gpu"/);
  });
});

// ---- every wasm kernel against its js kernel --------------------------------------------------------

function ulp32(x: number): number {
  const a = Math.abs(Math.fround(x));
  if (!(a >= 2 ** -126)) return 2 ** -149;
  if (a === Infinity) return Infinity;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

/** Largest |got − want| / (ulp(want) + floor), NaN matching NaN. */
function worstUlps(got: Float32Array, want: Float32Array, floor = 0): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    if (Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i]))) continue;
    worst = Math.max(worst, Math.abs(got[i] - want[i]) / (ulp32(want[i]) + floor));
  }
  return worst;
}
const same = (got: Float32Array, want: Float32Array) => expect(worstUlps(got, want), "bits").toBe(0);

function values(n: number, rng: Random, span = 4): Float32Array {
  return Float32Array.from({ length: n }, () => (rng.uniform() < 0.03 ? 0 : span * (2 * rng.uniform() - 1) * Math.exp(-6 * rng.uniform())));
}

type Case = { rows: number; cols: number; seed: number };
/** Per wasm kernel: run it and the js kernel on the same random operands of `rows × cols` and compare, within the documented ulps. */
const comparisons: Record<KernelName, (c: Case) => void> = {
  matmul: ({ rows: m, cols: n, seed }) => {
    const k = 1 + (seed % 61);
    if (m * n * k > 3e6) return; // the rest of the range is covered, and time is better spent on more cases
    const rng = new Random(seed);
    const [tA, tB] = [seed % 2 === 0, seed % 3 === 0];
    const [a, b] = [values(m * k, rng), values(k * n, rng)];
    const [got, want] = [new Float32Array(m * n), new Float32Array(m * n)];
    kernelFor("matmul", "wasm", "float32")(got, a, b, m, k, n, tA, tB);
    kernelFor("matmul", "js", "float32")(want, a, b, m, k, n, tA, tB);
    // The wasm kernel sums in float32, the js one in float64: within k roundings of Σ|a||b|.
    const scale = new Float32Array(m * n);
    matmulJsInto(scale, a.map(Math.abs), b.map(Math.abs), m, k, n, tA, tB);
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(k * 2 ** -23 * scale[i] + 1e-30);
  },
  matmulBinary: ({ rows: m, cols: n, seed }) => {
    const k = 1 + (seed % 61);
    if (m * n * k > 3e6) return;
    const rng = new Random(seed);
    const [tA, tB] = [seed % 2 === 0, seed % 3 === 0];
    for (const side of ["a", "b"] as const) {
      const bits = (len: number) => Float32Array.from({ length: len }, () => (rng.uniform() < 0.13 ? 1 : 0));
      const [a, b] = side === "a" ? [bits(m * k), values(k * n, rng)] : [values(m * k, rng), bits(k * n)];
      const [got, want] = [new Float32Array(m * n), new Float32Array(m * n)];
      kernelFor("matmulBinary", "wasm", "float32")(got, a, b, m, k, n, tA, tB, side);
      kernelFor("matmulBinary", "js", "float32")(want, a, b, m, k, n, tA, tB, side);
      same(got, want); // both add the same rows in the same order, in float32
    }
  },
  biasActivation: ({ rows, cols, seed }) => {
    for (const act of ["none", "relu", "tanh"] as const) {
      const rng = new Random(seed);
      const y = values(rows * cols, rng, 10);
      const bias = values(cols, rng);
      const [got, want] = [Float32Array.from(y), Float32Array.from(y)];
      kernelFor("biasActivation", "wasm", "float32")(got, bias, rows, cols, act);
      kernelFor("biasActivation", "js", "float32")(want, bias, rows, cols, act);
      // tanh: 1 ulp of tanh, and up to 1 more because wasm rounds y + b to float32 first where js
      // keeps it in float64 (found here: y + b = 0.52438065…, 2 ulp apart).
      expect(worstUlps(got, want), act).toBeLessThanOrEqual(act === "tanh" ? 2 : 0);
    }
  },
  activationBackward: ({ rows, cols, seed }) => {
    for (const act of ["tanh", "relu"] as const) {
      for (const withGb of [true, false]) {
        const rng = new Random(seed);
        const [g, y, gb0] = [values(rows * cols, rng), values(rows * cols, rng).map(Math.tanh), values(cols, rng)];
        const [gp1, gp2] = [new Float32Array(rows * cols), new Float32Array(rows * cols)];
        const [gb1, gb2] = [Float32Array.from(gb0), Float32Array.from(gb0)];
        kernelFor("activationBackward", "wasm", "float32")(gp1, g, y, withGb ? gb1 : null, rows, cols, act);
        kernelFor("activationBackward", "js", "float32")(gp2, g, y, withGb ? gb2 : null, rows, cols, act);
        same(gp1, gp2);
        same(gb1, gb2);
      }
    }
  },
  columnSums: ({ rows, cols, seed }) => {
    const rng = new Random(seed);
    const [g, o] = [values(rows * cols, rng), values(cols, rng)];
    const [got, want] = [Float32Array.from(o), Float32Array.from(o)];
    kernelFor("columnSums", "wasm", "float32")(got, g, rows, cols);
    kernelFor("columnSums", "js", "float32")(want, g, rows, cols);
    same(got, want);
  },
  scaleRows: ({ rows, cols, seed }) => {
    const rng = new Random(seed);
    const [s, d] = [values(rows, rng), values(rows * cols, rng)];
    const [got, want] = [Float32Array.from(d), new Float32Array(rows * cols)];
    kernelFor("scaleRows", "wasm", "float32")(got, s, got, cols); // in place, as the Bernoulli backward does
    kernelFor("scaleRows", "js", "float32")(want, s, d, cols);
    same(got, want);
  },
  bernoulliRows: ({ rows, cols: D, seed }) => {
    const rng = new Random(seed);
    const repeats = 1 + (seed % 3);
    const x = Float32Array.from({ length: rows * D }, () => (rng.uniform() < 0.4 ? 1 : 0));
    const l = values(repeats * rows * D, rng, 40);
    const [o1, o2] = [new Float32Array(repeats * rows), new Float32Array(repeats * rows)];
    const [d1, d2] = [new Float32Array(l.length), new Float32Array(l.length)];
    kernelFor("bernoulliRows", "wasm", "float32")(x, l, D, o1, d1);
    kernelFor("bernoulliRows", "js", "float32")(x, l, D, o2, d2);
    expect(worstUlps(o1, o2)).toBeLessThanOrEqual(2);
    expect(worstUlps(d1, d2)).toBeLessThanOrEqual(3);
  },
  adamState: ({ rows, cols }) => {
    const sizes = [rows, cols, rows * cols];
    const state = kernelFor("adamState", "wasm", "float32")(sizes);
    for (const part of [state.slots.map((s) => s.m), state.slots.map((s) => s.v), state.grads]) {
      expect(part.map((a) => a.length)).toEqual(sizes);
      for (const a of part) expect(a.every((x) => x === 0)).toBe(true);
    }
  },
  adam: ({ rows, cols, seed }) => {
    // f64: bit-identical to the loop (the ulp bounds of "f32" are in test/optim.test.ts).
    const sizes = [rows * cols, cols];
    const rng = new Random(seed);
    const state = kernelFor("adamState", "wasm", "float32")(sizes);
    const plain = kernelFor("adamState", "js", "float32")(sizes);
    const ps = sizes.map((n) => values(n, rng));
    const [pw, pj] = [ps.map((p) => Float32Array.from(p)), ps.map((p) => Float32Array.from(p))];
    for (let t = 1; t <= 3; t++) {
      const s: AdamStep = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, c1: 1 / (1 - 0.9 ** t), c2: 1 / (1 - 0.999 ** t), precision: "f64" };
      sizes.forEach((n, i) => {
        const g = values(n, rng, 100);
        state.grads[i].set(g); // as backward() fills the buffer
        kernelFor("adam", "wasm", "float32")(pw[i], state.grads[i], state.slots[i], s);
        adamJs(pj[i], g, plain.slots[i].m, plain.slots[i].v, s);
        same(pw[i], pj[i]);
        same(state.slots[i].m, plain.slots[i].m);
        same(state.slots[i].v, plain.slots[i].v);
      });
    }
  },
};

describe.skipIf(!simd)("every registered wasm kernel equals its js kernel over random sizes", () => {
  const wasmOps = registeredKernels().filter((e) => e.backend === "wasm");

  it("each registered wasm kernel has a comparison here", () => {
    expect(wasmOps.length).toBeGreaterThan(0);
    for (const { op, dtype } of wasmOps) expect(Object.keys(comparisons), `${op} ${dtype}`).toContain(op);
    expect(wasmOps.every((e) => e.dtype === "float32")).toBe(true);
  });

  for (const op of Object.keys(comparisons) as KernelName[]) {
    it(`${op}: sizes around the wasm thresholds and past the scratch chunk`, () => {
      fc.assert(
        fc.property(
          fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 300 })),
          fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 800 })),
          fc.integer({ min: 0, max: 1e6 }),
          (rows, cols, seed) => comparisons[op]({ rows, cols, seed }),
        ),
        { numRuns: 30 },
      );
      comparisons[op]({ rows: 400, cols: 401, seed: 7 }); // 160,400 values: two scratch chunks
    });
  }
});
