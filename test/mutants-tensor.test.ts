// Behaviour of src/tensor that the mutation run (npm run mutate) found unguarded. Every expected value
// is written out by hand or computed here independently (float64 loops in this file, closed forms, the
// js backend against wasm), never taken from the code under test's own output.
import { afterEach, describe, expect, it, vi } from "vitest";
import { Random, Storage, allocate, type DType, Tensor, arange, backendInfo, rand, randn, broadcastShapes, full, getBackend, logsumexp, mapBinary, matmulJsInto, matmulNaiveInto, max, promote, registerKernel, setBackend, sumToShape, tensor, type Backend } from "../src/index.js";
import { activationBackwardJs, adamJs, adamStateJs, addScaledRowsRepeated, bernoulliRowsJs, biasActivationJs, columnSumsJs, scaleRowsJs } from "../src/tensor/fused.js";
import { dtypeOfAll } from "../src/tensor/kernels.js";
import { randomStateProblem, shownValue } from "../src/tensor/random.js";
import { normalizeAxis } from "../src/tensor/shape.js";
import { reduceLogSumExp, reduceMax, reduction } from "../src/tensor/reduce.js";
import { ModuleBuilder, Op, ValType, i32Const, localGet, localTee, mem, sleb, uleb } from "../src/tensor/wasm/emit.js";
import { blockPlan, compileSync, createWasmMatmul, growMemory, wasmFmaSupported, wasmMatmulModuleBytes } from "../src/tensor/wasm/matmul.js";
import { buildGemmModule } from "../src/tensor/wasm/matmul-module.js";

const initial = getBackend();

/** One Adam step (β1 0.8, β2 0.95, lr 0.01, ε 1e-3, at t = 3), written out here in float64 from its definition. */
const ADAM_STEP = { lr: 0.01, beta1: 0.8, beta2: 0.95, eps: 1e-3, c1: 1 / (1 - 0.8 ** 3), c2: 1 / (1 - 0.95 ** 3) };
function adamByHand(w: number, g: number, m: number, v: number): { w: number; m: number; v: number } {
  const mi = 0.8 * m + (1 - 0.8) * g;
  const vi = 0.95 * v + (1 - 0.95) * g * g;
  return { m: mi, v: vi, w: w - (0.01 * mi * ADAM_STEP.c1) / (Math.sqrt(vi * ADAM_STEP.c2) + 1e-3) };
}
afterEach(() => setBackend(initial));

/** op(A)·op(B) in float64 by the triple loop, from the stored operands (A m×k or k×m, B k×n or n×k). */
function matmulByLoop(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number, tA: boolean, tB: boolean): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) out[i * n + j] += (tA ? a[p * m + i] : a[i * k + p]) * (tB ? b[j * k + p] : b[p * n + j]);
  return out;
}

/** This engine's WebAssembly, and it with some members replaced (for vi.stubGlobal). */
const realWasm = WebAssembly;
const engineWith = (members: Record<string, unknown>): typeof WebAssembly => Object.create(realWasm, Object.fromEntries(Object.entries(members).map(([k, value]) => [k, { value }])));
/** A constructor that always throws "<what> refused" (a Module or Instance an engine refuses to make). */
const refused = (what: string) =>
  function () {
    throw new Error(`${what} refused`);
  };
/** A dense kernel that must not be called. */
const noDense = (): never => {
  throw new Error("the dense kernel was called");
};

describe("shapes: the messages name the shape, the axis and the rank", () => {
  it("a negative or fractional dimension is refused with the shape written out", () => {
    expect(() => full([2, -1], 0)).toThrow("full: shape [2,-1] must hold non-negative integers");
    expect(() => full([1.5], 0)).toThrow("full: shape [1.5] must hold non-negative integers");
    expect(() => new Tensor(new Float32Array(0), [0, 3])).not.toThrow();
  });

  it("an axis out of range names the rank, singular for one dimension", () => {
    expect(() => normalizeAxis(1, 1, "op")).toThrow(/^op: axis 1 is out of range for a tensor with 1 dimension$/);
    expect(() => normalizeAxis(-3, 2, "op")).toThrow(/^op: axis -3 is out of range for a tensor with 2 dimensions$/);
    expect(() => normalizeAxis(2, 2, "op")).toThrow(/out of range/);
    expect(() => normalizeAxis(0.5, 2, "op")).toThrow(/axis 0.5 is out of range/);
    expect(normalizeAxis(-1, 3, "op")).toBe(2);
    expect(normalizeAxis(-3, 3, "op")).toBe(0);
    expect(normalizeAxis(0, 3, "op")).toBe(0);
  });


  it("shapes that cannot broadcast are refused naming the axis counted from the end", () => {
    expect(() => broadcastShapes([2, 3], [4, 3], "add")).toThrow("add: shapes [2,3] and [4,3] cannot be broadcast (axis -2: 2 vs 4)");
    expect(() => broadcastShapes([5, 2], [3], "mul")).toThrow("mul: shapes [5,2] and [3] cannot be broadcast (axis -1: 2 vs 3)");
  });
});

describe("dtypes: float64 wins a mix", () => {
  it("promote and the ops that mix dtypes give float64 when either side is float64", () => {
    expect(promote("float64", "float32")).toBe("float64");
    expect(promote("float32", "float64")).toBe("float64");
    expect(promote("float64", "float64")).toBe("float64");
    expect(promote("float32", "float32")).toBe("float32");
    const mixed = mapBinary(tensor([1.25], { dtype: "float32" }), tensor([1e-10], { dtype: "float64" }), (a, b) => a + b, "add");
    expect(mixed.dtype).toBe("float64");
    expect(mixed.data[0]).toBe(1.25 + 1e-10);
  });
});

describe("reductions: empty axes and non-finite values", () => {
  it("max over an empty axis is refused naming the op", () => {
    expect(() => max(full([2, 0], 0), 1)).toThrow("max: cannot reduce an empty axis");
  });

  it("max takes NaN wherever it is, and logsumexp keeps ±Infinity and NaN maxima", () => {
    const x = tensor([[1, Number.NaN, 3], [-Infinity, -Infinity, -Infinity]], { dtype: "float64" });
    expect(Array.from(max(x, 1).data)).toEqual([Number.NaN, -Infinity]);
    const l = logsumexp(tensor([[Infinity, 0], [-Infinity, -Infinity], [Number.NaN, 1]], { dtype: "float64" }), 1);
    expect(Array.from(l.data)).toEqual([Infinity, -Infinity, Number.NaN]);
  });
});

describe("the kernel table's refusals", () => {
  it("an unknown dtype is refused with the ones it takes", () => {
    expect(() => registerKernel("scaleRows", "js", "float16" as "float32", scaleRowsJs)).toThrow('registerKernel: unknown dtype "float16"; use "float32" or "float64"');
  });
});

describe("Random: messages and draws", () => {
  it("a value in a message is its JSON cut at 60 characters with an ellipsis", () => {
    expect(shownValue([1, 2])).toBe("[1,2]");
    expect(shownValue(undefined)).toBe("undefined");
    const long = "x".repeat(70);
    expect(shownValue(long)).toBe(`"${"x".repeat(59)}…`);
    expect(shownValue("y".repeat(58))).toBe(`"${"y".repeat(58)}"`);
  });
});

// xoshiro128** seeded by the murmur3 finalizer over a Weyl sequence, written again with BigInt words.
const M32 = 0xffffffffn;
const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & M32;
function reference(seed: number) {
  let x = BigInt(seed >>> 0);
  const word = () => {
    x = (x + 0x9e3779b9n) & M32;
    let z = x;
    z = ((z ^ (z >> 16n)) * 0x85ebca6bn) & M32;
    z = ((z ^ (z >> 13n)) * 0xc2b2ae35n) & M32;
    return z ^ (z >> 16n);
  };
  const s = [word(), word(), word(), word()];
  const next = () => {
    const result = (rotl((s[1] * 5n) & M32, 7n) * 9n) & M32;
    const t = (s[1] << 9n) & M32;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11n);
    return Number(result);
  };
  return { next, state: () => s.map(Number) };
}

describe("Random against a BigInt xoshiro128**", () => {
  it("the seeding, the 32-bit words, the uniforms and the integers follow the reference", () => {
    for (const seed of [0, 1, 12345, -7, 2 ** 32 + 5]) {
      const ref = reference(seed);
      const r = new Random(seed);
      expect(r.getState().s.map((v) => v >>> 0)).toEqual(ref.state());
      for (let i = 0; i < 50; i++) expect(r.nextUint32()).toBe(ref.next());
      for (let i = 0; i < 50; i++) expect(r.uniform()).toBe(Math.floor(ref.next() / 256) / 2 ** 24);
      for (let i = 0; i < 50; i++) expect(r.int(10)).toBe(Math.floor((Math.floor(ref.next() / 256) / 2 ** 24) * 10));
    }
  });

  it("normal is Box–Muller over (1 − u1, u2): the cosine, then the sine from the same pair", () => {
    const ref = reference(99);
    const r = new Random(99);
    for (let i = 0; i < 20; i++) {
      const u1 = 1 - Math.floor(ref.next() / 256) / 2 ** 24;
      const u2 = Math.floor(ref.next() / 256) / 2 ** 24;
      const rad = Math.sqrt(-2 * Math.log(u1));
      expect(r.normal()).toBeCloseTo(rad * Math.cos(2 * Math.PI * u2), 14);
      expect(r.normal()).toBeCloseTo(rad * Math.sin(2 * Math.PI * u2), 14);
    }
    expect(r.getState().spare).toBeNull();
    r.normal();
    expect(r.getState().spare).not.toBeNull();
  });

  it("shuffle is Fisher–Yates from the end, j = ⌊w/2³² · (i + 1)⌋", () => {
    const ref = reference(5);
    const want = Array.from({ length: 30 }, (_, i) => i);
    for (let i = want.length - 1; i > 0; i--) {
      const j = Math.floor((ref.next() / 2 ** 32) * (i + 1));
      [want[i], want[j]] = [want[j], want[i]];
    }
    const got = new Random(5).shuffle(Array.from({ length: 30 }, (_, i) => i));
    expect(got).toEqual(want);
    expect(new Random(5).shuffle([7])).toEqual([7]);
    const afterShuffle = new Random(5);
    afterShuffle.shuffle([1]);
    expect(afterShuffle.nextUint32()).toBe(reference(5).next()); // a one-element shuffle draws nothing
  });

  it("a state's words may be signed or unsigned 32-bit integers, at both ends of the range", () => {
    expect(randomStateProblem({ s: [-(2 ** 31), 2 ** 32 - 1, 0, 0], spare: null })).toBeUndefined();
    expect(randomStateProblem({ s: [0, 0, 0, 1], spare: -2.5 })).toBeUndefined();
    for (const s of [[-(2 ** 31) - 1, 1, 1, 1], [2 ** 32, 1, 1, 1], [1, 1, 1, 0.5], [0, 0, 0, 2 ** 32 - 2 ** 32], [1, 1, 1, 1, 1], "1111"]) {
      expect(randomStateProblem({ s, spare: null }, "rng"), JSON.stringify(s)).toBe(`rng.s must be 4 32-bit integers, not all zero, got ${JSON.stringify(s)}`);
    }
    expect(randomStateProblem({ s: [1, 1, 1, 1], spare: Infinity }, "rng")).toBe("rng.spare must be null or a finite number, got null");
    expect(randomStateProblem({ s: [1, 1, 1, 1], spare: "0" }, "rng")).toBe('rng.spare must be null or a finite number, got "0"');
    expect(randomStateProblem([1, 2, 3, 4], "rng")).toBe("rng must be an object { s, spare }, got [1,2,3,4]");
    expect(randomStateProblem(7)).toBe("state must be an object { s, spare }, got 7");
  });
});

describe("the backend choice", () => {
  it("setBackend refuses an unknown name, naming both it takes", () => {
    expect(() => setBackend("gpu" as Backend)).toThrow('setBackend: unknown backend "gpu"; use "js" or "wasm"');
    expect(getBackend()).toBe(initial);
  });

  it("an empty name returns to the default: TSGRAD_BACKEND if set, else wasm where SIMD runs", () => {
    setBackend("js");
    setBackend("" as Backend);
    expect(getBackend()).toBe(process.env.TSGRAD_BACKEND || "wasm");
  });

  it("backendInfo: the js backend runs one thread without FMA", () => {
    setBackend("js");
    expect(backendInfo()).toEqual({ backend: "js", threads: 1, fma: false });
    setBackend("wasm");
    expect(backendInfo().backend).toBe("wasm");
  });
});

describe("dtypeOfAll", () => {
  it("skips nulls, defaults to float32, and names a float64 set float64", () => {
    expect(dtypeOfAll("op")).toBe("float32");
    expect(dtypeOfAll("op", null)).toBe("float32");
    expect(dtypeOfAll("op", null, new Float64Array(1), null, new Float64Array(2))).toBe("float64");
    expect(dtypeOfAll("op", new Float32Array(1), null)).toBe("float32");
    expect(() => dtypeOfAll("op", new Float64Array(1), null, new Float32Array(1))).toThrow("op: operands mix float32 and float64 arrays; convert them to one dtype first (astype)");
  });
});

describe("the backend choice on a fresh start (new module instances, an engine with or without SIMD)", () => {
  const fresh = async (env: string | undefined, simd = true) => {
    vi.resetModules();
    vi.doMock("../src/tensor/wasm/matmul.js", async (load) => ({ ...(await load<typeof import("../src/tensor/wasm/matmul.js")>()), wasmSimdSupported: () => simd }));
    vi.stubEnv("TSGRAD_BACKEND", env);
    try {
      return await import("../src/tensor/backend.js");
    } finally {
      vi.doUnmock("../src/tensor/wasm/matmul.js");
    }
  };
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it("without TSGRAD_BACKEND: wasm where SIMD runs, else js; an empty value counts as unset", async () => {
    expect((await fresh(undefined)).getBackend()).toBe("wasm");
    expect((await fresh("")).getBackend()).toBe("wasm");
    expect((await fresh(undefined, false)).getBackend()).toBe("js");
    expect((await fresh("js")).getBackend()).toBe("js");
  });

  it("TSGRAD_BACKEND: an unknown name, or wasm on an engine without SIMD, is refused when first read", async () => {
    const bad = await fresh("gpu");
    expect(() => bad.getBackend()).toThrow('TSGRAD_BACKEND: unknown backend "gpu"; use "js" or "wasm"');
    const noSimd = await fresh("wasm", false);
    expect(() => noSimd.getBackend()).toThrow('TSGRAD_BACKEND: this engine cannot run WebAssembly SIMD128; use "js"');
  });

  it("backendInfo: wasm reports the pool's threads and the FMA choice; js one thread and no FMA", async () => {
    vi.resetModules();
    vi.doMock("../src/tensor/wasm/parallel.js", async (load) => ({ ...(await load<typeof import("../src/tensor/wasm/parallel.js")>()), getThreads: () => 3 }));
    vi.doMock("../src/tensor/wasm/matmul.js", async (load) => ({ ...(await load<typeof import("../src/tensor/wasm/matmul.js")>()), getFma: () => true, wasmSimdSupported: () => true }));
    try {
      const b = await import("../src/tensor/backend.js");
      b.setBackend("wasm");
      expect(b.backendInfo()).toEqual({ backend: "wasm", threads: 3, fma: true });
      b.setBackend("js");
      expect(b.backendInfo()).toEqual({ backend: "js", threads: 1, fma: false });
    } finally {
      vi.doUnmock("../src/tensor/wasm/parallel.js");
      vi.doUnmock("../src/tensor/wasm/matmul.js");
    }
  });

  it("setBackend('wasm') without SIMD is refused and keeps the backend; js is accepted", async () => {
    const b = await fresh(undefined, false);
    expect(() => b.setBackend("wasm")).toThrow('setBackend: this engine cannot run WebAssembly SIMD128; use "js"');
    expect(b.getBackend()).toBe("js");
    b.setBackend("js");
    expect(b.backendInfo()).toEqual({ backend: "js", threads: 1, fma: false });
  });
});

describe("the kernel table in a fresh module instance", () => {
  afterEach(() => vi.resetModules());
  const fresh = async () => {
    vi.resetModules();
    return await import("../src/tensor/kernels.js");
  };
  const mine = (() => undefined) as never;

  it("the first call may be any of the lookups: the backends register then", async () => {
    expect((await fresh()).hasOwnKernel("matmul", "js", "float32")).toBe(true);
    expect((await fresh()).registeredKernels()).toContainEqual({ op: "matmul", backend: "js", dtype: "float64" });
    expect(typeof (await fresh()).kernelFor("adam", "js", "float64")).toBe("function");
  });

  it("a kernel registered first, or after others, stays registered beside the backends' own", async () => {
    const k = await fresh();
    k.registerKernel("scaleRows", "wasm", "float64", mine);
    expect(k.hasOwnKernel("matmul", "js", "float64")).toBe(true);
    k.registerKernel("columnSums", "wasm", "float64", mine);
    expect(k.kernelFor("scaleRows", "wasm", "float64")).toBe(mine);
    expect(k.hasOwnKernel("scaleRows", "wasm", "float64")).toBe(true);
    expect(k.registeredKernels()).toContainEqual({ op: "columnSums", backend: "wasm", dtype: "float64" });
    expect(k.registeredKernels()).toContainEqual({ op: "scaleRows", backend: "wasm", dtype: "float64" });
  });

  it("the backends register exactly: js every op in both dtypes, wasm every op in float32", async () => {
    const k = await fresh();
    const ops = ["matmul", "matmulBinary", "biasActivation", "activationBackward", "columnSums", "scaleRows", "bernoulliRows", "adamState", "adam"];
    const want = ops.flatMap((op) => [{ op, backend: "js", dtype: "float32" }, { op, backend: "js", dtype: "float64" }, { op, backend: "wasm", dtype: "float32" }]);
    const key = (e: { op: string; backend: string; dtype: string }) => `${e.op} ${e.backend} ${e.dtype}`;
    expect(k.registeredKernels().map(key).sort()).toEqual(want.map(key).sort());
    expect(k.hasOwnKernel("matmul", "wasm", "float64")).toBe(false);
    expect(k.kernelFor("matmul", "wasm", "float64")).toBe(k.kernelFor("matmul", "js", "float64"));
    expect(k.kernelFor("matmul", "wasm", "float32")).not.toBe(k.kernelFor("matmul", "js", "float32"));
    expect(k.kernelFor("matmul", "js", "float32")).not.toBe(k.kernelFor("scaleRows", "js", "float32"));
  });

  it("hasOwnKernel of an op nobody registered is false, not an error", async () => {
    expect((await fresh()).hasOwnKernel("nope" as never, "js", "float32")).toBe(false);
  });
});

describe("reduceMax and reduceLogSumExp over [outer, len, inner] against loops written here", () => {
  const x = new Tensor(Float64Array.from([3, 1, 3, -2, 5, 5, 0, -Infinity, 2, 7, -1, 7, 4, 4, 4, -Infinity, -Infinity, -Infinity]), [3, 3, 2]);
  it("the maximum and the flat index of its first occurrence, along each axis and over everything", () => {
    for (const [axis, outer, len, inner] of [[0, 1, 3, 6], [1, 3, 3, 2], [2, 9, 2, 1], [undefined, 1, 18, 1]] as const) {
      const r = reduction(x, axis, false, "max");
      expect([r.outer, r.len, r.inner]).toEqual([outer, len, inner]);
      const { value, argmax } = reduceMax(x, r, "max");
      const [want, at] = [[] as number[], [] as number[]];
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          let [best, first] = [-Infinity, o * len * inner + i];
          for (let k = 0; k < len; k++) {
            const p = (o * len + k) * inner + i;
            if (x.data[p] > best) [best, first] = [x.data[p], p];
          }
          want.push(best);
          at.push(first);
        }
      }
      expect(Array.from(value.data), `axis ${axis}`).toEqual(want);
      expect(Array.from(argmax), `axis ${axis}`).toEqual(at);
    }
  });

  it("an axis of −∞ only has its maximum −∞ at its first index; logsumexp keeps non-finite maxima in place across an inner axis", () => {
    const y = new Tensor(Float64Array.from([1, 2, 3, -Infinity, 5, 6, 7, 8, -Infinity, 10, 11, -Infinity]), [2, 2, 3]);
    const { value, argmax } = reduceMax(y, reduction(y, 1, false, "max"), "max");
    expect(Array.from(value.data)).toEqual([1, 5, 6, 10, 11, -Infinity]);
    expect(Array.from(argmax)).toEqual([0, 4, 5, 9, 10, 8]);
    const z = new Tensor(Float64Array.from([0, -Infinity, Infinity, 1, -Infinity, Number.NaN]), [2, 3]);
    const l = reduceLogSumExp(z, reduction(z, 0, false, "logsumexp"));
    expect(l.data[0]).toBeCloseTo(Math.log(1 + Math.E), 14);
    expect(Array.from(l.data.subarray(1))).toEqual([-Infinity, Number.NaN]);
    // Non-finite maxima in a later outer block too: [2, 2, 2] over axis 1.
    const w = new Tensor(Float64Array.from([0, 1, 0, 1, Infinity, -Infinity, 0, -Infinity]), [2, 2, 2]);
    const lw = reduceLogSumExp(w, reduction(w, 1, false, "logsumexp"));
    expect(Array.from(lw.data)).toEqual([Math.log(2), 1 + Math.log(2), Infinity, -Infinity]);
  });

  it("a NaN is the maximum at its first occurrence, before and after larger values", () => {
    const y = new Tensor(Float64Array.from([1, Number.NaN, 9, Number.NaN, 9, 2, Number.NaN, 1]), [2, 4]);
    const { value, argmax } = reduceMax(y, reduction(y, 1, false, "max"), "max");
    expect(Array.from(value.data)).toEqual([Number.NaN, Number.NaN]);
    expect(Array.from(argmax)).toEqual([1, 6]);
  });

  it("logsumexp along each axis is log Σ exp in float64, and ±∞ and NaN pass through", () => {
    for (const axis of [0, 1, 2]) {
      const y = new Tensor(Float64Array.from([3, 1, 3, -2, 5, 5, 0, -4, 2, 7, -1, 7, 4, 4, 4, 600, 601, -600]), [3, 3, 2]);
      const r = reduction(y, axis, true, "logsumexp");
      const got = reduceLogSumExp(y, r);
      expect(got.shape).toEqual([3, 3, 2].map((d, i) => (i === axis ? 1 : d)));
      for (let o = 0; o < r.outer; o++) {
        for (let i = 0; i < r.inner; i++) {
          const vals = Array.from({ length: r.len }, (_, k) => y.data[(o * r.len + k) * r.inner + i]);
          const m = Math.max(...vals);
          expect(got.data[o * r.inner + i]).toBeCloseTo(m + Math.log(vals.reduce((s, v) => s + Math.exp(v - m), 0)), 12);
        }
      }
    }
    const z = new Tensor(Float64Array.from([-Infinity, -Infinity, Infinity, 1, Number.NaN, 1]), [3, 2]);
    expect(Array.from(reduceLogSumExp(z, reduction(z, 1, false, "logsumexp")).data)).toEqual([-Infinity, Infinity, Number.NaN]);
  });
});

describe("the WebAssembly emitter's and matmul module's refusals", () => {
  it("LEB128 refuses what it cannot encode, naming the value; sleb takes the 32-bit range of either sign", () => {
    expect(() => uleb(-1)).toThrow(new RangeError("uleb: bad value -1"));
    expect(() => uleb(1.5)).toThrow("uleb: bad value 1.5");
    expect(() => sleb(-(2 ** 31) - 1)).toThrow(new RangeError(`sleb: bad value ${-(2 ** 31) - 1}`));
    expect(() => sleb(2 ** 32)).toThrow(`sleb: bad value ${2 ** 32}`);
    expect(() => sleb(0.5)).toThrow("sleb: bad value 0.5");
    expect(sleb(-(2 ** 31))).toEqual([0x80, 0x80, 0x80, 0x80, 0x78]);
    expect(sleb(2 ** 32 - 1)).toEqual([0x7f]); // the same 32 bits as −1
    expect(uleb(2 ** 32)).toEqual([0x80, 0x80, 0x80, 0x80, 0x10]);
  });

  it("a module's bytes are the spec's: sections in order, one type per function, locals run-length encoded", () => {
    const mod = new ModuleBuilder();
    const f = mod.func([], []);
    for (const t of [ValType.i32, ValType.i32, ValType.f32, ValType.i32]) f.local(t);
    f.setBody([]);
    const bytes = [0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 7, 1, 0, 10, 10, 1, 8, 3, 2, 0x7f, 1, 0x7d, 1, 0x7f, 0x0b];
    expect(Array.from(mod.toBytes())).toEqual(bytes);
    expect(WebAssembly.validate(mod.toBytes())).toBe(true);
    // Locals get indices after the params; an exported function and a memory import with a maximum.
    const two = new ModuleBuilder();
    two.importMemory({ module: "m", name: "x", initialPages: 2, maximumPages: 3 });
    const g = two.func([ValType.i32], [ValType.i32], "id");
    expect(g.local(ValType.i64)).toBe(1);
    expect(g.local(ValType.i64)).toBe(2);
    g.setBody([localGet(0)]);
    const imports = [2, 9, 1, 1, 0x6d, 1, 0x78, 0x02, 1, 2, 3]; // 9 bytes: 1 import, "m", "x", memory, limits (max flag, 2, 3)
    const exportsSection = [7, 6, 1, 2, 0x69, 0x64, 0x00, 0];
    const code = [10, 8, 1, 6, 1, 2, 0x7e, 0x20, 0, 0x0b];
    expect(Array.from(two.toBytes())).toEqual([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 6, 1, 0x60, 1, 0x7f, 1, 0x7f, ...imports, 3, 2, 1, 0, ...exportsSection, ...code]);
    expect(WebAssembly.validate(two.toBytes())).toBe(true);
  });

  it("a module refuses a shared memory without a maximum and a function without a body", () => {
    expect(() => new ModuleBuilder().importMemory({ module: "env", name: "memory", initialPages: 1, shared: true })).toThrow("shared memory needs a maximum");
    const mod = new ModuleBuilder();
    mod.func([], []);
    mod.func([], []).setBody([]);
    expect(() => mod.toBytes()).toThrow("function 0 has no body");
  });

  it("buildGemmModule refuses a tile whose width is not a multiple of 4, or a k-unroll that is not a power of two", () => {
    for (const shape of [{ mr: 4, nr: 6, ku: 1 }, { mr: 0, nr: 8, ku: 1 }, { mr: 4, nr: 8, ku: 0 }, { mr: 4, nr: 8, ku: 3 }]) {
      expect(() => buildGemmModule(shape), JSON.stringify(shape)).toThrow("bad kernel shape");
    }
    for (const shape of [{ mr: 1, nr: 4, ku: 1 }, { mr: 4, nr: 8, ku: 2 }]) expect(WebAssembly.validate(buildGemmModule(shape)), JSON.stringify(shape)).toBe(true);
  });

  it("the gemm module exports gemm, prepackA, prepackB and copyRows, plus kernel, packA and packB when asked; it imports env.memory, shared with a maximum when asked", () => {
    const names = (bytes: Uint8Array<ArrayBuffer>) => WebAssembly.Module.exports(new WebAssembly.Module(bytes)).map((e) => `${e.kind} ${e.name}`);
    expect(names(buildGemmModule())).toEqual(["function gemm", "function prepackA", "function prepackB", "function copyRows"]);
    expect(names(buildGemmModule(undefined, { exportInternals: true }))).toEqual(["function kernel", "function packA", "function packB", "function gemm", "function prepackA", "function prepackB", "function copyRows"]);
    const shared = new WebAssembly.Module(buildGemmModule(undefined, { sharedMaxPages: 3 }));
    expect(WebAssembly.Module.imports(shared)).toEqual([{ module: "env", name: "memory", kind: "memory" }]);
    expect(() => new WebAssembly.Instance(shared, { env: { memory: new WebAssembly.Memory({ initial: 1, maximum: 3, shared: true }) } })).not.toThrow();
    expect(() => new WebAssembly.Instance(shared, { env: { memory: new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true }) } })).toThrow(); // over its maximum
    expect(() => new WebAssembly.Instance(new WebAssembly.Module(buildGemmModule()), { env: { memory: new WebAssembly.Memory({ initial: 1 }) } })).not.toThrow();
  });

  it("growMemory refuses past the maximum, naming the bytes and the limit, and never shrinks", () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    growMemory(memory, 10, 2, "matmulWasmInto");
    expect(memory.buffer.byteLength).toBe(65536);
    growMemory(memory, 65537, 2, "matmulWasmInto");
    expect(memory.buffer.byteLength).toBe(2 * 65536);
    expect(() => growMemory(memory, 2 * 65536 + 1, 2, "matmulWasmInto")).toThrow(new RangeError(`matmulWasmInto: needs ${2 * 65536 + 1} bytes, over the ${2 * 65536} byte memory limit`));
    const big = new WebAssembly.Memory({ initial: 8 });
    growMemory(big, 9 * 65536, 100, "matmulWasmInto"); // at least 1.25× the pages it has: 10
    expect(big.buffer.byteLength).toBe(10 * 65536);
    growMemory(big, 30 * 65536, 100, "matmulWasmInto"); // what it needs when that is more
    expect(big.buffer.byteLength).toBe(30 * 65536);
    const capped = new WebAssembly.Memory({ initial: 8 });
    growMemory(capped, 9 * 65536, 9, "matmulWasmInto"); // 1.25× capped at the maximum
    expect(capped.buffer.byteLength).toBe(9 * 65536);
  });

  it("growMemory's refusal names the caller it is given", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    expect(() => growMemory(memory, 3 * 65536, 2, "matmulInto on the threads")).toThrow(new RangeError(`matmulInto on the threads: needs ${3 * 65536} bytes, over the ${2 * 65536} byte memory limit`));
    expect(memory.buffer.byteLength).toBe(65536);
  });

  it("allocate makes the dtype's zeros, and refuses a dtype it does not have", () => {
    const f64 = allocate("float64", 3);
    expect(f64).toBeInstanceOf(Float64Array);
    expect(Array.from(f64)).toEqual([0, 0, 0]);
    expect(allocate("float32", 2)).toBeInstanceOf(Float32Array);
    expect(() => allocate("int32" as DType, 2)).toThrow(new TypeError('allocate: unknown dtype "int32"; use "float32" or "float64"'));
    expect(() => allocate(undefined as unknown as DType, 2)).toThrow(/allocate: unknown dtype undefined/);
  });
});

describe("the FMA choice on a fresh start (TSGRAD_FMA)", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });
  const fresh = async (env: string | undefined) => {
    vi.resetModules();
    vi.stubEnv("TSGRAD_FMA", env);
    return await import("../src/tensor/wasm/matmul.js");
  };

  it("0 turns it off, 1 or unset or empty leave it to the engine, anything else is refused", async () => {
    const m = await fresh("0");
    expect(m.getFma()).toBe(false);
    for (const env of ["1", "", undefined]) {
      const w = await fresh(env);
      expect(w.getFma(), String(env)).toBe(w.wasmFmaSupported());
    }
    const bad = await fresh("yes");
    expect(() => bad.getFma()).toThrow('TSGRAD_FMA: "yes"; use 1 (fused multiply-adds where available) or 0 (the plain kernel)');
  });

  it("setFma(true) is refused where the engine has no relaxed SIMD; setFma(false) always works", async () => {
    const w = await fresh(undefined);
    w.setFma(false);
    expect(w.getFma()).toBe(false);
    if (w.wasmFmaSupported()) {
      w.setFma(true);
      expect(w.getFma()).toBe(true);
    } else {
      expect(() => w.setFma(true)).toThrow(/^setFma: this engine has no relaxed SIMD \(f32x4\.relaxed_madd\); on Node 20 import tsgrad-vae\/node/);
      expect(w.getFma()).toBe(false);
    }
  });
});

describe("broadcasting against index arithmetic written here", () => {
  // The flat index in a tensor of shape `s` (aligned to the right of `out`) of the element that
  // out's multi-index `idx` reads: size-1 axes read index 0.
  const source = (idx: number[], s: readonly number[]) => {
    let flat = 0;
    for (let i = 0; i < s.length; i++) flat = flat * s[i] + (s[i] === 1 ? 0 : idx[idx.length - s.length + i]);
    return flat;
  };
  const unravel = (flat: number, shape: readonly number[]) => {
    const idx = new Array<number>(shape.length).fill(0);
    for (let i = shape.length - 1; i >= 0; i--) [idx[i], flat] = [flat % shape[i], Math.floor(flat / shape[i])];
    return idx;
  };
  const pairs: [number[], number[]][] = [
    [[2, 3], [2, 3]], [[2, 3], [1]], [[1], [2, 3]], [[2, 3], []], [[], [4]], [[2, 3, 4], [4]], [[2, 3, 4], [3, 1]], [[2, 1, 4], [3, 1]],
    [[3, 1, 2, 2], [1, 4, 1, 2]], [[1, 3, 1], [2, 1, 5]], [[5, 1], [1, 1, 3]], [[2, 2, 2, 3], [2, 1, 2, 1]], [[4, 1, 3], [4, 2, 1]],
  ];

  it("mapBinary reads, for every output element, the elements its multi-index selects", () => {
    const rng = new Random(11);
    for (const [sa, sb] of pairs) {
      const shape = broadcastShapes(sa, sb, "test");
      const a = new Tensor(Float64Array.from({ length: sa.reduce((p, d) => p * d, 1) }, () => rng.normal()), sa);
      const b = new Tensor(Float64Array.from({ length: sb.reduce((p, d) => p * d, 1) }, () => rng.normal()), sb);
      const out = mapBinary(a, b, (x, y) => x - 2 * y, "test");
      expect(out.shape, `${sa} ${sb}`).toEqual(shape);
      for (let f = 0; f < out.size; f++) {
        const idx = unravel(f, shape);
        expect(out.data[f], `${sa} ${sb} at ${idx}`).toBe(a.data[source(idx, sa)] - 2 * b.data[source(idx, sb)]);
      }
    }
  });

  it("sumToShape adds every element of the broadcast shape into the one it came from", () => {
    const rng = new Random(12);
    for (const [sa, sb] of pairs) {
      const shape = broadcastShapes(sa, sb, "test");
      const g = new Tensor(Float64Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => rng.normal()), shape);
      for (const target of [sa, sb]) {
        const want = new Float64Array(target.reduce((p, d) => p * d, 1));
        for (let f = 0; f < g.size; f++) want[source(unravel(f, shape), target)] += g.data[f];
        const got = sumToShape(g, target);
        expect(got.shape).toEqual(target);
        Array.from(want).forEach((w, i) => expect(got.data[i], `${shape} to ${target} at ${i}`).toBeCloseTo(w, 12));
      }
    }
  });
});

describe("the TypeScript matmul kernels against a float64 loop written here", () => {
  const rng = new Random(21);
  const draw = (len: number) => Float64Array.from({ length: len }, () => rng.normal());

  it("matmulNaiveInto and matmulJsInto in every transpose form overwrite out[0, m·n) with op(A)·op(B) and leave the rest", () => {
    for (const [m, k, n] of [[5, 7, 3], [1, 1, 1], [6, 9, 5], [70, 3, 9], [3, 260, 5], [2, 5, 259]]) {
      for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]]) {
        const [a, b] = [draw(m * k), draw(k * n)];
        const want = matmulByLoop(a, b, m, k, n, tA, tB);
        for (const kernel of [matmulNaiveInto, matmulJsInto]) {
          // Past m·n: a finite sentinel, which a stray write of a NaN (from reads past A's end) would change.
          const out = new Float64Array(m * n + 3).fill(7);
          kernel(out, a, b, m, k, n, tA, tB);
          want.forEach((w, i) => expect(out[i], `${kernel.name} ${m}×${k}×${n} ${tA} ${tB} at ${i}`).toBeCloseTo(w, 11));
          expect(Array.from(out.subarray(m * n))).toEqual([7, 7, 7]);
        }
      }
    }
  });

  it("an infinity in A or B reaches only its own rows and columns (the zero padding of edge tiles never adds 0·∞)", () => {
    for (const [m, k, n] of [[7, 5, 6], [6, 3, 7], [3, 2, 3]]) {
      for (const [tA, tB] of [[false, false], [true, true]]) {
        const [a, b] = [draw(m * k), draw(k * n)];
        // In a full-height tile (row 0) and in an edge one (the last row), beside a narrow edge column panel.
        a[0] = Infinity;
        a[a.length - 1] = Infinity;
        b[0] = -Infinity;
        const want = matmulByLoop(a, b, m, k, n, tA, tB);
        const out = new Float64Array(m * n + 5).fill(7);
        matmulJsInto(out, a, b, m, k, n, tA, tB);
        expect(Array.from(out.subarray(0, m * n)), `${m}×${k}×${n}`).toEqual(Array.from(want, (w) => (Number.isFinite(w) ? expect.closeTo(w, 11) : w)));
        expect(Array.from(out.subarray(m * n))).toEqual([7, 7, 7, 7, 7]);
      }
    }
  });

  it("matmulNaiveInto's transposes default to false", () => {
    const [a, b] = [draw(6), draw(6)];
    const out = new Float64Array(4);
    matmulNaiveInto(out, a, b, 2, 3, 2);
    matmulByLoop(a, b, 2, 3, 2, false, false).forEach((w, i) => expect(out[i]).toBeCloseTo(w, 14));
  });
});

describe("the TypeScript fused kernels (src/tensor/fused.ts) against formulas evaluated here in float64", () => {
  const rng = new Random(31);
  const draw = (len: number, scale = 1) => Float64Array.from({ length: len }, () => scale * rng.normal());
  const [rows, cols] = [3, 5];

  it("biasActivationJs adds the bias per column, then tanh, relu or nothing", () => {
    const [y0, bias] = [draw(rows * cols), draw(cols)];
    for (const [act, f] of [["none", (v: number) => v], ["tanh", Math.tanh], ["relu", (v: number) => Math.max(v, 0)]] as const) {
      const y = y0.slice();
      biasActivationJs(y, bias, rows, cols, act);
      y0.forEach((v, i) => expect(y[i], `${act} ${i}`).toBe(f(v + bias[i % cols])));
    }
  });

  it("activationBackwardJs: g·(1 − y²) or g·[y > 0], and the column sums into gb when given", () => {
    const [g, y] = [draw(rows * cols), draw(rows * cols)];
    y[2] = 0; // relu' at 0 is 0
    for (const [act, d] of [["tanh", (v: number) => 1 - v * v], ["relu", (v: number) => (v > 0 ? 1 : 0)]] as const) {
      const gp = new Float64Array(rows * cols);
      activationBackwardJs(gp, g, y, null, rows, cols, act);
      g.forEach((v, i) => expect(gp[i], `${act} ${i}`).toBeCloseTo(v * d(y[i]), 14));
      const gb = Float64Array.from({ length: cols }, (_, j) => j); // added to, not overwritten
      const gp2 = new Float64Array(rows * cols);
      activationBackwardJs(gp2, g, y, gb, rows, cols, act);
      expect(Array.from(gp2)).toEqual(Array.from(gp));
      for (let j = 0; j < cols; j++) {
        let s = j;
        for (let r = 0; r < rows; r++) s += g[r * cols + j] * d(y[r * cols + j]);
        expect(gb[j], `${act} gb ${j}`).toBeCloseTo(s, 13);
      }
    }
  });

  it("columnSumsJs adds into out; scaleRowsJs scales row r by s[r]; addScaledRowsRepeated wraps rows onto out", () => {
    const g = draw(rows * cols);
    const out = Float64Array.from({ length: cols }, () => 1);
    columnSumsJs(out, g, rows, cols);
    for (let j = 0; j < cols; j++) expect(out[j]).toBeCloseTo(1 + g[j] + g[cols + j] + g[2 * cols + j], 14);
    const s = draw(rows);
    const scaled = new Float64Array(rows * cols);
    scaleRowsJs(scaled, s, g, cols);
    g.forEach((v, i) => expect(scaled[i]).toBe(s[Math.floor(i / cols)] * v));
    // 4 rows of l onto an out of 2 rows: rows 0 and 2 into out row 0, rows 1 and 3 into out row 1.
    const [s4, l4] = [draw(4), draw(4 * cols)];
    const acc = Float64Array.from({ length: 2 * cols }, () => 0.5);
    addScaledRowsRepeated(acc, s4, l4, cols);
    for (let r = 0; r < 2; r++) for (let j = 0; j < cols; j++) expect(acc[r * cols + j]).toBeCloseTo(0.5 + s4[r] * l4[r * cols + j] + s4[r + 2] * l4[(r + 2) * cols + j], 14);
  });

  it("bernoulliRowsJs: Σ x·l − log(1 + eˡ) per row with x repeated over rows, and x − σ(l) when asked", () => {
    const D = 4;
    const x = Float64Array.from([1, 0, 1, 0, 0, 0, 1, 1]); // two images, repeated over 6 rows
    const l = draw(6 * D, 3);
    l[5] = 0;
    l[6] = 40; // σ close to 1: x − σ must not cancel to 0 for x = 1
    const out = new Float64Array(6);
    const d = new Float64Array(6 * D);
    bernoulliRowsJs(x, l, D, out, d);
    const out2 = new Float64Array(6);
    bernoulliRowsJs(x, l, D, out2, null);
    for (let r = 0; r < 6; r++) {
      let s = 0;
      for (let j = 0; j < D; j++) {
        const [xv, lv] = [x[((r * D) % 8) + j], l[r * D + j]];
        s += xv * lv - Math.log(1 + Math.exp(lv));
        const sigma = 1 / (1 + Math.exp(-lv));
        expect(d[r * D + j], `d ${r} ${j}`).toBeCloseTo(xv - sigma, 15);
        if (xv === 1 && lv === 40) expect(d[r * D + j]).toBeCloseTo(Math.exp(-40), 30);
      }
      expect(out[r], `row ${r}`).toBeCloseTo(s, 12);
      expect(out2[r], `row ${r} without d`).toBe(out[r]);
    }
  });

  it("adamJs: m ← β1m + (1−β1)g, v ← β2v + (1−β2)g², w ← w − lr·m·c1 / (√(v·c2) + ε)", () => {
    const n = 6;
    const [w0, g, m0, v0] = [draw(n), draw(n), draw(n), draw(n).map(Math.abs)];
    const [w, m, v] = [w0.slice(), m0.slice(), v0.slice()];
    adamJs(w, g, m, v, { ...ADAM_STEP, precision: "f64" });
    for (let i = 0; i < n; i++) {
      const want = adamByHand(w0[i], g[i], m0[i], v0[i]);
      expect(m[i]).toBeCloseTo(want.m, 15);
      expect(v[i]).toBeCloseTo(want.v, 15);
      expect(w[i]).toBeCloseTo(want.w, 14);
    }
    const state = adamStateJs("float64", [2, 3]);
    expect(state.slots.map((x) => [x.m.length, x.v.length, x.m.constructor.name])).toEqual([[2, 2, "Float64Array"], [3, 3, "Float64Array"]]);
    expect(state.grads.map((x) => x.length)).toEqual([2, 3]);
  });
});

describe("the wasm entries on an engine where the WebAssembly kernels cannot run", () => {
  afterEach(() => {
    vi.doUnmock("../src/tensor/wasm/matmul.js");
    vi.doUnmock("../src/tensor/wasm/elementwise.js");
    vi.doUnmock("../src/tensor/wasm/binary.js");
    vi.resetModules();
  });

  it("every float32 wasm entry hands large inputs to the TypeScript kernel and gives its bits", async () => {
    vi.resetModules();
    const cannot = () => {
      throw new Error("no WebAssembly here");
    };
    vi.doMock("../src/tensor/wasm/matmul.js", async (load) => ({ ...(await load<typeof import("../src/tensor/wasm/matmul.js")>()), wasmSimdSupported: () => false, matmulWasmInto: cannot }));
    vi.doMock("../src/tensor/wasm/binary.js", async (load) => ({ ...(await load<typeof import("../src/tensor/wasm/binary.js")>()), wasmBinaryAvailable: () => false, matmulBinaryWasmInto: cannot }));
    vi.doMock("../src/tensor/wasm/elementwise.js", async (load) => ({
      ...(await load<typeof import("../src/tensor/wasm/elementwise.js")>()),
      wasmElementwiseAvailable: () => false,
      adamStateWasm: () => null,
      ...Object.fromEntries(["biasTanhWasm", "biasAddWasm", "activationBackwardWasm", "columnSumsWasm", "scaleRowsWasm", "bernoulliWasm", "adamWasm"].map((name) => [name, cannot])),
    }));
    const { kernelFor } = await import("../src/tensor/kernels.js");
    const k = <K extends Parameters<typeof kernelFor>[0]>(op: K) => [kernelFor(op, "wasm", "float32"), kernelFor(op, "js", "float32")] as const;
    const rng = new Random(41);
    const f32 = (len: number, bits = false) => Float32Array.from({ length: len }, () => (bits ? (rng.uniform() < 0.3 ? 1 : 0) : rng.normal()));
    const [m, kk, n] = [40, 50, 64];
    const [a, b, sa] = [f32(m * kk), f32(kk * n), f32(m * kk, true)];
    const both = (run: (i: 0 | 1) => Float32Array) => expect(Array.from(run(0))).toEqual(Array.from(run(1)));
    const [mm, mb] = [k("matmul"), k("matmulBinary")];
    both((i) => { const out = new Float32Array(m * n); mm[i](out, a, b, m, kk, n, false, false); return out; });
    both((i) => { const out = new Float32Array(m * n); mb[i](out, sa, b, m, kk, n, false, false, "a"); return out; });
    const [y0, bias, g] = [f32(m * n), f32(n), f32(m * n)];
    for (const act of ["none", "tanh", "relu"] as const) both((i) => { const y = y0.slice(); k("biasActivation")[i](y, bias, m, n, act); return y; });
    for (const act of ["tanh", "relu"] as const) both((i) => { const gp = new Float32Array(m * n); const gb = new Float32Array(n); k("activationBackward")[i](gp, g, y0, gb, m, n, act); return Float32Array.of(...gp, ...gb); });
    both((i) => { const out = new Float32Array(n); k("columnSums")[i](out, g, m, n); return out; });
    both((i) => { const out = new Float32Array(m * n); k("scaleRows")[i](out, y0.subarray(0, m), g, n); return out; });
    const pixels = f32(n, true);
    both((i) => { const out = new Float32Array(m); const d = new Float32Array(m * n); k("bernoulliRows")[i](pixels, y0, n, out, d); return Float32Array.of(...out, ...d); });
    both((i) => {
      const state = k("adamState")[i]([m * n]);
      const p = y0.slice();
      k("adam")[i](p, g, state.slots[0], { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, c1: 10, c2: 1000, precision: "f32" });
      return p;
    });
  });
});

describe("the emitter's helpers that no kernel uses yet, run in a module", () => {
  it("memory.copy copies bytes and local.tee stores and keeps its value", () => {
    const mod = new ModuleBuilder();
    mod.importMemory({ module: "env", name: "memory", initialPages: 1 });
    // copy(dst, src, len) -> len + 1, with len + 1 kept in a local by local.tee
    const f = mod.func([ValType.i32, ValType.i32, ValType.i32], [ValType.i32], "copy");
    const t = f.local(ValType.i32);
    f.setBody([localGet(0), localGet(1), localGet(2), mem.copy(), localGet(2), i32Const(1), Op.i32_add, localTee(t), localGet(t), Op.i32_add]);
    const memory = new WebAssembly.Memory({ initial: 1 });
    const { copy } = new WebAssembly.Instance(new WebAssembly.Module(mod.toBytes()), { env: { memory } }).exports as { copy: (d: number, s: number, n: number) => number };
    const bytes = new Uint8Array(memory.buffer);
    bytes.set([1, 2, 3, 4, 5], 100);
    expect(copy(200, 100, 4)).toBe(10);
    expect(Array.from(bytes.subarray(200, 206))).toEqual([1, 2, 3, 4, 0, 0]);
  });
});

describe("the wasm matmul's block sizes and module cache", () => {
  it("a kernel's blocks are the asked ones rounded up to whole tiles, kc at least 1 and whole", () => {
    expect(createWasmMatmul({ blocks: { mc: 10, nc: 9, kc: 2.7 } }).blocks).toEqual({ mc: 12, nc: 16, kc: 2 });
    expect(createWasmMatmul({ blocks: { mc: 1, nc: 1, kc: 0.5 } }).blocks).toEqual({ mc: 4, nc: 8, kc: 1 });
    expect(createWasmMatmul({ shape: { mr: 3, nr: 4, ku: 2 }, blocks: { mc: 7 } }).blocks).toEqual({ mc: 9, nc: 2048, kc: 256 });
    expect(createWasmMatmul().blocks).toEqual({ mc: 128, nc: 2048, kc: 256 });
  });

  it("blockPlan splits each dimension into equal blocks no larger than the configured ones, kc padded to the unroll", () => {
    const blocks = { mc: 128, nc: 2048, kc: 256 };
    // 300 rows: 3 blocks of 100; 100 columns: one block, 104 in whole 8-wide tiles; k 600: 3 blocks of 200.
    expect(blockPlan(blocks, { mr: 4, nr: 8, ku: 1 }, 300, 100, 600)).toEqual({ mc: 100, nc: 104, kc: 200, kcPad: 200 });
    // k 601: 3 blocks of 201, padded to 204 for a 4-step unroll; 129 rows: 2 blocks of 65, 68 in 4-row tiles.
    expect(blockPlan(blocks, { mr: 4, nr: 8, ku: 4 }, 129, 4100, 601)).toEqual({ mc: 68, nc: 1368, kc: 201, kcPad: 204 });
    expect(blockPlan(blocks, { mr: 4, nr: 8, ku: 1 }, 4, 8, 1)).toEqual({ mc: 4, nc: 8, kc: 1, kcPad: 1 });
  });

  it("compileSync caches one module per shape, FMA choice and memory kind", () => {
    const shape = { mr: 4, nr: 8, ku: 1 };
    const plain = compileSync(shape, false);
    expect(compileSync({ ...shape }, false)).toBe(plain);
    const shared = compileSync(shape, true);
    expect(shared).not.toBe(plain);
    expect(WebAssembly.Module.imports(shared)).toEqual(WebAssembly.Module.imports(plain)); // both import env.memory…
    expect(() => new WebAssembly.Instance(shared, { env: { memory: new WebAssembly.Memory({ initial: 1 }) } })).toThrow(); // …but only one a shared one
    expect(compileSync({ mr: 8, nr: 4, ku: 1 }, false)).not.toBe(plain);
    expect(compileSync({ mr: 4, nr: 8, ku: 2 }, false)).not.toBe(plain);
    if (wasmFmaSupported()) expect(compileSync({ ...shape, fma: true }, false)).not.toBe(plain);
    expect(Array.from(wasmMatmulModuleBytes())).toEqual(Array.from(buildGemmModule(shape)));
  });
});

describe("the wasm matmul module on a fresh start: the engine probes, the default kernels and initWasm", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.unstubAllEnvs();
    vi.resetModules();
  });
  const fresh = async () => {
    vi.resetModules();
    vi.stubEnv("TSGRAD_FMA", undefined);
    return await import("../src/tensor/wasm/matmul.js");
  };
  // Two modules written out byte by byte: () -> v128 returning f32x4.mul of two zero vectors, and
  // f32x4.relaxed_madd of three (opcode 0xfd 0x105, its LEB128 0x85 0x02).
  const zero = [0xfd, 0x0c, ...new Array(16).fill(0)];
  const probe = (body: number[]) =>
    Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7b, 3, 2, 1, 0, 10, body.length + 4, 1, body.length + 2, 0, ...body, 0x0b]);
  const simdBytes = probe([...zero, ...zero, 0xfd, 0xe6, 0x01]);
  const fmaBytes = probe([...zero, ...zero, ...zero, 0xfd, 0x85, 0x02]);
  const hasRelaxedMadd = (b: Uint8Array) => b.some((x, i) => x === 0xfd && b[i + 1] === 0x85 && b[i + 2] === 0x02);
  /** An engine with SIMD but without relaxed SIMD: it refuses any module holding f32x4.relaxed_madd. */
  const noRelaxed = () => engineWith({ validate: (b: BufferSource) => realWasm.validate(b) && !hasRelaxedMadd(new Uint8Array(b as ArrayBuffer)) });
  const product = (m: number, k: number, n: number) => {
    const rng = new Random(5);
    const a = Float32Array.from({ length: m * k }, () => rng.normal());
    const b = Float32Array.from({ length: k * n }, () => rng.normal());
    return { a, b, want: matmulByLoop(a, b, m, k, n, false, false) };
  };
  const close = (got: Float32Array, want: Float64Array) => {
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `element ${i}`).toBeLessThan(1e-4 * (1 + Math.abs(want[i])));
  };

  it("the probes agree with the engine on modules written out here, and say false (not throw) without WebAssembly", async () => {
    expect(realWasm.validate(simdBytes)).toBe(true); // the hand-written probe is itself valid
    const full = await fresh();
    expect(full.wasmSimdSupported()).toBe(true);
    expect(full.wasmFmaSupported()).toBe(realWasm.validate(fmaBytes));
    const cases: [string, unknown, boolean, boolean][] = [
      ["no WebAssembly", undefined, false, false],
      ["WebAssembly without validate", {}, false, false],
      ["an engine that validates nothing", engineWith({ validate: () => false }), false, false],
      ["SIMD without relaxed SIMD", noRelaxed(), true, false],
    ];
    for (const [name, wasm, simd, fma] of cases) {
      const m = await fresh();
      vi.stubGlobal("WebAssembly", wasm);
      expect(m.wasmSimdSupported(), name).toBe(simd);
      expect(m.wasmFmaSupported(), name).toBe(fma);
      vi.unstubAllGlobals();
    }
  });

  it("setFma(true) is refused on an engine with SIMD but without relaxed SIMD, and the choice stays off", async () => {
    const m = await fresh();
    vi.stubGlobal("WebAssembly", noRelaxed());
    expect(() => m.setFma(true)).toThrow(/^setFma: this engine has no relaxed SIMD \(f32x4\.relaxed_madd\); on Node 20 import tsgrad-vae\/node/);
    expect(m.getFma()).toBe(false);
  });

  it("the default kernel computes the product with and without FMA, and currentShape carries the choice", async () => {
    const { a, b, want } = product(7, 33, 13);
    for (const fma of realWasm.validate(fmaBytes) ? [false, true] : [false]) {
      const m = await fresh();
      m.setFma(fma);
      expect(m.currentShape()).toEqual({ mr: 4, nr: 8, ku: 1, ...(fma ? { fma: true } : {}) });
      expect(m.createWasmMatmul().shape.fma ?? false).toBe(fma);
      const out = new Float32Array(7 * 13);
      m.matmulWasmInto(out, a, b, 7, 33, 13, false, false);
      close(out, want);
    }
  });

  it("after initWasm, products run where synchronous compiles are refused (a browser's main thread)", async () => {
    const { a, b, want } = product(9, 20, 11);
    const m = await fresh();
    vi.stubGlobal("WebAssembly", engineWith({ Module: Object.assign(refused("synchronous compile"), { imports: realWasm.Module.imports }) }));
    await m.initWasm();
    const out = new Float32Array(9 * 11);
    m.matmulWasmInto(out, a, b, 9, 20, 11, false, false);
    close(out, want);
  });

  it("operands longer than the product needs (views of bigger buffers) give the same product", () => {
    const { a, b, want } = product(6, 10, 5);
    const long = (x: Float32Array) => {
      const y = new Float32Array(x.length + (1 << 22)).fill(Number.NaN);
      y.set(x);
      return y;
    };
    const out = new Float32Array(30);
    createWasmMatmul().matmulInto(out, long(a), long(b), 6, 10, 5, false, false);
    close(out, want);
  });

  it("a product with no rows or no columns writes nothing, whatever k", () => {
    const w = createWasmMatmul();
    for (const [m, k, n] of [[0, 5, 3], [4, 5, 0], [0, 7, 0], [0, 0, 2]]) {
      const out = new Float32Array(4).fill(7);
      w.matmulInto(out, new Float32Array(m * k).fill(1), new Float32Array(k * n).fill(1), m, k, n, false, false);
      expect(Array.from(out), `${m}x${k}x${n}`).toEqual([7, 7, 7, 7]);
    }
  });
});

describe("the WebAssembly 0/1 product (src/tensor/wasm/binary.ts): when it runs and when the dense kernel does", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.doUnmock("../src/tensor/wasm/matmul.js");
    vi.resetModules();
  });
  const rng = new Random(17);
  const f32 = (len: number, bits = false) => Float32Array.from({ length: len }, () => (bits ? (rng.uniform() < 0.3 ? 1 : 0) : rng.normal()));

  it("the named 0/1 side runs without the dense kernel, for either side and every transpose", async () => {
    const { matmulBinaryWasmInto } = await import("../src/tensor/wasm/binary.js");
    const [m, k, n] = [9, 14, 6];
    for (const side of ["a", "b"] as const) {
      for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        const a = f32(m * k, side === "a");
        const b = f32(k * n, side === "b");
        const out = new Float32Array(m * n);
        matmulBinaryWasmInto(noDense, out, a, b, m, k, n, tA, tB, side);
        const want = matmulByLoop(a, b, m, k, n, tA, tB);
        for (let i = 0; i < m * n; i++) expect(Math.abs(out[i] - want[i]), `${side} ${tA} ${tB} ${i}`).toBeLessThan(1e-5 * (1 + Math.abs(want[i])));
      }
    }
  });

  it("an empty product writes nothing and calls no kernel", async () => {
    const { matmulBinaryWasmInto } = await import("../src/tensor/wasm/binary.js");
    for (const [m, k, n] of [[0, 4, 3], [3, 4, 0], [0, 0, 0]]) {
      for (const side of ["a", "b"] as const) {
        const out = new Float32Array(4).fill(7);
        matmulBinaryWasmInto(noDense, out, new Float32Array(m * k).fill(1), new Float32Array(k * n).fill(1), m, k, n, false, false, side);
        expect(Array.from(out), `${m}x${k}x${n} ${side}`).toEqual([7, 7, 7, 7]);
      }
    }
  });

  it("without SIMD, or where the module cannot be built, it is unavailable and hands every product to the dense kernel", async () => {
    const a = f32(12, true);
    const b = f32(12);
    const load = async (setup: () => void) => {
      vi.resetModules();
      setup();
      return await import("../src/tensor/wasm/binary.js");
    };
    const noSimd = () =>
      vi.doMock("../src/tensor/wasm/matmul.js", async (load) => ({ ...(await load<typeof import("../src/tensor/wasm/matmul.js")>()), wasmSimdSupported: () => false }));
    const noBuild = () => vi.stubGlobal("WebAssembly", engineWith({ Module: refused("compile") }));
    for (const [name, setup] of [["no SIMD", noSimd], ["no build", noBuild]] as const) {
      const w = await load(setup);
      expect(w.wasmBinaryAvailable(), name).toBe(false);
      const calls: unknown[][] = [];
      const out = new Float32Array(9);
      w.matmulBinaryWasmInto((...args) => void calls.push(args), out, a, b, 3, 4, 3, false, true, "a");
      expect(calls, name).toEqual([[out, a, b, 3, 4, 3, false, true]]);
      vi.unstubAllGlobals();
      vi.doUnmock("../src/tensor/wasm/matmul.js");
    }
  });
});

describe("the element-wise runtime (src/tensor/wasm/elementwise.ts): aliasing, empty operands, refusals and a fresh start", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.doUnmock("../src/tensor/wasm/matmul.js");
    vi.resetModules();
  });
  const rng = new Random(23);
  const f32 = (len: number) => Float32Array.from({ length: len }, () => rng.normal());

  it("activationBackward in place (gp = g, or gp = y) gives the bits of the TypeScript kernel on separate arrays", async () => {
    const { activationBackwardWasm } = await import("../src/tensor/wasm/elementwise.js");
    const [rows, cols] = [9, 7];
    const g = f32(rows * cols);
    const y = Float32Array.from(f32(rows * cols), Math.tanh);
    for (const activation of ["tanh", "relu"] as const) {
      for (const withGb of [false, true]) {
        const want = new Float32Array(rows * cols);
        const wantGb = new Float32Array(cols).fill(0.5);
        activationBackwardJs(want, g, y, withGb ? wantGb : null, rows, cols, activation);
        for (const alias of ["g", "y"] as const) {
          const [g2, y2] = [g.slice(), y.slice()];
          const gb = new Float32Array(cols).fill(0.5);
          const gp = alias === "g" ? g2 : y2;
          activationBackwardWasm(gp, g2, y2, withGb ? gb : null, rows, cols, activation);
          const label = `${activation}, gp = ${alias}${withGb ? ", with gb" : ""}`;
          expect(Array.from(gp), label).toEqual(Array.from(want));
          expect(Array.from(gb), label).toEqual(Array.from(withGb ? wantGb : new Float32Array(cols).fill(0.5)));
        }
      }
    }
  });

  it("no rows or no columns: nothing is written; the Bernoulli kernel of 0-pixel images gives 0 per image", async () => {
    const e = await import("../src/tensor/wasm/elementwise.js");
    for (const [rows, cols] of [[0, 5], [3, 0], [0, 0]]) {
      const sentinel = () => new Float32Array(6).fill(7);
      const [y, gp, gb, out] = [sentinel(), sentinel(), sentinel(), sentinel()];
      e.biasTanhWasm(y, sentinel(), rows, cols);
      e.biasAddWasm(y, sentinel(), rows, cols, true);
      e.activationBackwardWasm(gp, sentinel(), sentinel(), gb, rows, cols, "tanh");
      e.columnSumsWasm(gb, sentinel(), rows, cols);
      e.scaleRowsWasm(out, new Float32Array(rows).fill(2), sentinel(), cols);
      for (const [name, a] of [["y", y], ["gp", gp], ["gb", gb], ["out", out]] as const) expect(Array.from(a), `${name} ${rows}×${cols}`).toEqual(Array(6).fill(7));
    }
    const out = new Float32Array(3).fill(7);
    e.bernoulliWasm(new Float32Array(0), new Float32Array(0), 0, out, null);
    expect(Array.from(out)).toEqual([0, 0, 0]);
    const none = new Float32Array(0);
    e.bernoulliWasm(new Float32Array(4), new Float32Array(0), 4, none, null); // no images: no call
  });

  it("adam on a slot of another size is refused with the sizes", async () => {
    const { adamStateWasm, adamWasm } = await import("../src/tensor/wasm/elementwise.js");
    const state = adamStateWasm([6])!;
    const slot = state.slots[0] as Parameters<typeof adamWasm>[2];
    const step = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, c1: 10, c2: 1000, precision: "f32" as const };
    expect(() => adamWasm(new Float32Array(5), new Float32Array(6), slot, step)).toThrow("adam: parameter of 5 values and gradient of 6 for moments of 6");
    expect(() => adamWasm(new Float32Array(6), new Float32Array(4), slot, step)).toThrow("adam: parameter of 6 values and gradient of 4 for moments of 6");
  });

  describe("in a fresh module instance", () => {
    const fresh = async (simd = true) => {
      vi.resetModules();
      if (!simd) vi.doMock("../src/tensor/wasm/matmul.js", async (load) => ({ ...(await load<typeof import("../src/tensor/wasm/matmul.js")>()), wasmSimdSupported: () => false }));
      return await import("../src/tensor/wasm/elementwise.js");
    };
    const unavailable = "wasm element-wise kernels: the module could not be compiled here (no WebAssembly SIMD128, or a synchronous compile refused: await initWasmElementwise() first)";
    /** bias + tanh through the module against the TypeScript kernel (within 1 ulp, as fused-wasm.test.ts checks). */
    const computes = (e: typeof import("../src/tensor/wasm/elementwise.js")) => {
      const y = f32(40);
      const bias = f32(8);
      const want = y.slice();
      biasActivationJs(want, bias, 5, 8, "tanh");
      e.biasTanhWasm(y, bias, 5, 8);
      for (let i = 0; i < 40; i++) expect(Math.abs(y[i] - want[i])).toBeLessThanOrEqual(2 ** -23);
    };

    it("without SIMD: unavailable, no Adam state, initWasmElementwise changes nothing, and a direct call says why", async () => {
      const e = await fresh(false);
      expect(e.wasmElementwiseAvailable()).toBe(false);
      expect(e.adamStateWasm([8])).toBe(null);
      await e.initWasmElementwise();
      expect(e.wasmElementwiseAvailable()).toBe(false);
      expect(() => e.biasTanhWasm(new Float32Array(4), new Float32Array(4), 1, 4)).toThrow(unavailable);
    });

    it("where a synchronous compile is refused: unavailable until initWasmElementwise compiles it, then it computes", async () => {
      const e = await fresh();
      vi.stubGlobal("WebAssembly", engineWith({ Module: refused("compile") }));
      expect(e.wasmElementwiseAvailable()).toBe(false);
      expect(() => computes(e)).toThrow(unavailable);
      await e.initWasmElementwise();
      expect(e.wasmElementwiseAvailable()).toBe(true);
      computes(e);
      await e.initWasmElementwise(); // compiled already: nothing to do
      expect(e.wasmElementwiseAvailable()).toBe(true);
    });

    it("where the asynchronous compile fails too, or instantiating is refused: unavailable", async () => {
      const e = await fresh();
      vi.stubGlobal("WebAssembly", engineWith({ Module: refused("compile"), compile: () => Promise.reject(new Error("compile refused")) }));
      await e.initWasmElementwise();
      expect(e.wasmElementwiseAvailable()).toBe(false);
      vi.unstubAllGlobals();
      const i = await fresh();
      vi.stubGlobal("WebAssembly", engineWith({ Instance: refused("instantiate") }));
      expect(i.wasmElementwiseAvailable()).toBe(false);
      expect(i.adamStateWasm([8])).toBe(null);
    });
  });
});

describe("the TypeScript 0/1 product (src/tensor/binary.ts) against loops written here", () => {
  const rng = new Random(29);
  const bits = (len: number) => Array.from({ length: len }, () => (rng.uniform() < 0.3 ? 1 : 0));
  /** The 1s of a rows × cols matrix read through `at(r, c)`, by row: CSR written out here. */
  const csr = (rows: number, cols: number, at: (r: number, c: number) => number) => {
    const ptr = [0];
    const idx: number[] = [];
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) if (at(r, c) === 1) idx.push(c);
      ptr.push(idx.length);
    }
    return { ptr, idx };
  };

  it("binaryPattern finds op(S)'s 1s by row in float32 and float64, and refuses a value other than +0 and 1", async () => {
    const { binaryPattern } = await import("../src/tensor/binary.js");
    for (const [rows, cols] of [[5, 7], [1, 9], [6, 1], [33, 40]]) {
      for (const trans of [false, true]) {
        const values = bits(rows * cols); // S as stored: rows × cols, or cols × rows when trans
        const want = trans ? csr(rows, cols, (r, c) => values[c * rows + r]) : csr(rows, cols, (r, c) => values[r * cols + c]);
        for (const Type of [Float32Array, Float64Array]) {
          const p = binaryPattern(Type.from(values), rows, cols, trans)!;
          const label = `${Type.name} ${rows}×${cols}${trans ? " transposed" : ""}`;
          expect(p.nnz, label).toBe(want.idx.length);
          expect(Array.from(p.ptr.subarray(0, rows + 1)), label).toEqual(want.ptr);
          expect(Array.from(p.idx.subarray(0, p.nnz)), label).toEqual(want.idx);
        }
      }
    }
    for (const bad of [0.5, -0, Number.NaN, 2, -1]) {
      for (const Type of [Float32Array, Float64Array]) expect(binaryPattern(Type.of(1, 0, bad, 1), 2, 2, false), `${bad} in ${Type.name}`).toBe(null);
    }
  });

  it("matmulBinaryWith: either side, every transpose, both dtypes: the sums in the pattern's order, exactly, and nothing written past m·n", async () => {
    const { binaryRowSumsJs, matmulBinaryWith } = await import("../src/tensor/binary.js");
    const [m, k, n] = [6, 45, 37];
    for (const Type of [Float32Array, Float64Array]) {
      const round = Type === Float32Array ? Math.fround : (x: number) => x;
      for (const side of ["a", "b"] as const) {
        for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
          const A = side === "a" ? bits(m * k) : Array.from({ length: m * k }, () => rng.normal());
          const Bv = side === "b" ? bits(k * n) : Array.from({ length: k * n }, () => rng.normal());
          const a = (i: number, p: number) => (tA ? A[p * m + i] : A[i * k + p]);
          const b = (p: number, j: number) => (tB ? Bv[j * k + p] : Bv[p * n + j]);
          const out = new Type(m * n + 5).fill(7);
          matmulBinaryWith(binaryRowSumsJs, noDense, out, Type.from(A), Type.from(Bv), m, k, n, tA, tB, side);
          const label = `${Type.name} binary ${side} ${tA ? "Aᵀ" : "A"}·${tB ? "Bᵀ" : "B"}`;
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              // Sum the dense factor's values at the 0/1 factor's 1s, in ascending p, rounding each addition.
              let s = 0;
              for (let p = 0; p < k; p++) {
                if (side === "a" && a(i, p) === 1) s = round(s + round(b(p, j)));
                if (side === "b" && b(p, j) === 1) s = round(s + round(a(i, p)));
              }
              expect(out[i * n + j], `${label} [${i}, ${j}]`).toBe(s);
            }
          }
          expect(Array.from(out.subarray(m * n)), label).toEqual([7, 7, 7, 7, 7]);
        }
      }
    }
  });

  it("matmulBinaryWith: a named 0/1 operand holding another value goes to the dense kernel, with every argument", async () => {
    const { binaryRowSumsJs, matmulBinaryWith } = await import("../src/tensor/binary.js");
    for (const side of ["a", "b"] as const) {
      const [a, b] = [Float64Array.of(1, 0, 0.5, 1), Float64Array.of(1, 0.25, 0, 1)];
      const calls: unknown[][] = [];
      const out = new Float64Array(4).fill(7);
      matmulBinaryWith(binaryRowSumsJs, (...args) => void calls.push(args), out, a, b, 2, 2, 2, true, false, side);
      expect(calls, side).toEqual([[out, a, b, 2, 2, 2, true, false]]);
      expect(Array.from(out), side).toEqual([7, 7, 7, 7]);
    }
  });

  it("isBinaryData: +0 and 1 only (not −0, NaN or 2), in float32 and float64", async () => {
    const { isBinaryData, isBinaryBits, isBinaryValue, ONE_BITS } = await import("../src/tensor/binary.js");
    for (const Type of [Float32Array, Float64Array]) {
      expect(isBinaryData(Type.of(0, 1, 1, 0)), Type.name).toBe(true);
      expect(isBinaryData(new Type(0)), Type.name).toBe(true);
      for (const bad of [-0, Number.NaN, 2, 0.5, -1]) expect(isBinaryData(Type.of(0, 1, bad)), `${bad} in ${Type.name}`).toBe(false);
    }
    expect([0, ONE_BITS, 0x80000000 | 0, 0x3f800001].map(isBinaryBits)).toEqual([true, true, false, false]);
    expect([0, 1, -0, 1 + 2 ** -52, Number.NaN].map(isBinaryValue)).toEqual([true, true, false, false, false]);
  });
});

describe("src/tensor/tensor.ts: the 0/1 record, strided writes, item, printing and the factories' defaults", () => {
  it("a storage's 0/1 record holds only at the version it was checked at (never before markBinary, not after a failed one)", () => {
    const fresh = new Storage(Float32Array.of(0.5, 2));
    expect(fresh.binary).toBe(false);
    fresh.version++; // a write before any check
    expect(fresh.binary).toBe(false);
    const bad = new Storage(Float32Array.of(0.5, 1));
    expect(bad.markBinary()).toBe(false);
    expect(bad.binary).toBe(false);
    bad.version++;
    expect(bad.binary).toBe(false);
    const good = new Storage(Float32Array.of(0, 1));
    expect(good.markBinary()).toBe(true);
    expect(good.binary).toBe(true);
    good.version++;
    expect(good.binary).toBe(false);
  });

  it("assign through a strided view writes its elements only, from a typed array or a plain one", () => {
    for (const src of [Float32Array.of(1, 2, 3, 4, 5, 6), [1, 2, 3, 4, 5, 6]]) {
      const storage = new Storage(new Float32Array(9).fill(-1)); // 3×3
      new Tensor(storage, [3, 2], false, [3, 1], 0).assign(src); // its first two columns
      expect(Array.from(storage.data)).toEqual([1, 2, -1, 3, 4, -1, 5, 6, -1]);
      const col = new Storage(new Float32Array(9).fill(-1));
      new Tensor(col, [3], false, [3], 1).assign(src.slice(0, 3)); // the middle column
      expect(Array.from(col.data)).toEqual([-1, 1, -1, -1, 2, -1, -1, 3, -1]);
    }
  });

  it("item: one element only, named in the message; the inspect hook prints as toString", () => {
    expect(tensor([[3.5]]).item()).toBe(3.5);
    expect(() => tensor([1, 2]).item()).toThrow("item: tensor has shape [2], not one element");
    expect(() => new Tensor(new Float32Array(0), [-1])).toThrow("tensor: shape [-1] must hold non-negative integers");
    const t = tensor([1, 2]);
    expect((t as unknown as Record<symbol, () => string>)[Symbol.for("nodejs.util.inspect.custom")]()).toBe(t.toString());
  });

  it("printing: integers below 10⁶ as they are, 10⁻³ ≤ |v| < 10⁶ with 5 significant digits, the rest in exponent form", () => {
    const printed = (v: number) => tensor(Float64Array.of(v)).toString().replace(/^.*\[(.*)\]$/, "$1");
    expect(printed(999_999)).toBe("999999");
    expect(printed(1e6)).toBe("1.000e+6");
    expect(printed(-1e6)).toBe("-1.000e+6");
    expect(printed(0.001)).toBe("0.001");
    expect(printed(0.00099)).toBe("9.900e-4");
    expect(printed(999_999.5)).toBe("1.0000e+6"); // five significant digits round it up to 10⁶
    expect(printed(1_000_000.5)).toBe("1.000e+6");
  });

  it("tensor(): a typed array of the asked dtype is shared, of another dtype copied into it; nested arrays default to float32", () => {
    const f32 = Float32Array.of(1.5, 2);
    const shared = tensor(f32);
    expect(shared.data).toBe(f32);
    expect(tensor(f32, { dtype: "float32" }).data).toBe(f32);
    const f64 = Float64Array.of(0.1, 2);
    const copied = tensor(f64, { dtype: "float32" });
    expect(copied.dtype).toBe("float32");
    expect(copied.data).toBeInstanceOf(Float32Array);
    expect(Array.from(copied.data)).toEqual([Math.fround(0.1), 2]);
    expect(tensor([[1, 2]]).dtype).toBe("float32");
    expect(tensor([[1, 2]]).data).toBeInstanceOf(Float32Array);
  });

  it("full, arange, rand and randn: float32 and no gradient unless asked", () => {
    const made = [full([2], 3), arange(3), rand([2]), randn([2])];
    for (const t of made) {
      expect(t.dtype).toBe("float32");
      expect(t.data).toBeInstanceOf(Float32Array);
      expect(t.requiresGrad).toBe(false);
    }
    const asked = [full([2], 3, { requiresGrad: true }), arange(0, 3, 1, { requiresGrad: true }), rand([2], { requiresGrad: true }), randn([2], { requiresGrad: true })];
    for (const t of asked) expect(t.requiresGrad).toBe(true);
    expect(Array.from(arange(1, 2, 0.25).data)).toEqual([1, 1.25, 1.5, 1.75]);
  });
});

describe("Tensor views, construction and printing", () => {
  it("a view must stay inside its storage, with negative strides too, and have one stride per axis", () => {
    const s = new Storage(new Float64Array(6));
    expect(() => new Tensor(s, [2, 3], false, [3, 1, 1])).toThrow("tensor: 3 strides for shape [2,3]");
    expect(() => new Tensor(s, [2, 3], false, [3, 1], 1)).toThrow("tensor: a view of shape [2,3], strides [3,1] and offset 1 reaches outside its storage of 6 values");
    expect(() => new Tensor(s, [3], false, [-2], 3)).toThrow(/reaches outside its storage of 6 values/); // 3, 1, −1
    expect(() => new Tensor(s, [2], false, [1], 0.5)).toThrow(/offset 0.5 reaches outside/);
    expect(new Tensor(s, [3], false, [-2], 4).toArray()).toEqual([0, 0, 0]); // 4, 2, 0
    expect(new Tensor(s, [2, 3], false, [3, 1], 0).isContiguous).toBe(true);
    expect(new Tensor(s, [0, 7], false, [99, 99], 50).size).toBe(0); // an empty view reads nothing
  });

  it("size-1 axes do not break contiguity whatever their strides; any other stride does", () => {
    const s = new Storage(Float64Array.from([0, 1, 2, 3, 4, 5]));
    const v = new Tensor(s, [1, 3, 1], false, [17, 1, 5], 2);
    expect(v.isContiguous).toBe(true);
    expect(Array.from(v.data)).toEqual([2, 3, 4]);
    const t = new Tensor(s, [3, 2], false, [1, 3], 0);
    expect(t.isContiguous).toBe(false);
    expect(t.toArray()).toEqual([[0, 3], [1, 4], [2, 5]]);
    expect(() => t.data).toThrow("data: this tensor is a strided view (shape [3,2], strides [1,3]); call .contiguous() for a row-major copy, or read it with toArray()");
    t.assign([10, 13, 11, 14, 12, 15]);
    expect(Array.from(s.data)).toEqual([10, 11, 12, 13, 14, 15]);
    expect(s.version).toBe(1);
    expect(() => t.assign([1, 2])).toThrow("assign: 2 values for a tensor of shape [3,2] (6 values)");
  });

  it("arange counts ⌈(stop − start)/step⌉ values, down with a negative step, none past the stop", () => {
    expect(Array.from(arange(3, 0, -1).data)).toEqual([3, 2, 1]);
    expect(Array.from(arange(0, 1, 0.4, { dtype: "float64" }).data)).toEqual([0, 0.4, 0.8]);
    expect(arange(5, 2).size).toBe(0);
    expect(() => arange(0, 1, 0)).toThrow("arange: step must not be 0");
    expect(arange(4, undefined, 2, { dtype: "float64" }).dtype).toBe("float64");
    expect(Array.from(arange(4, undefined, 2).data)).toEqual([0, 2]);
  });

  it("rand and randn draw from a generator of the given seed (default 0), low + (high − low)·u", () => {
    const r = new Random(4);
    expect(Array.from(rand([3], { seed: 4, low: -2, high: 6, dtype: "float64" }).data)).toEqual([0, 1, 2].map(() => -2 + 8 * r.uniform()));
    const z = new Random(0);
    expect(Array.from(randn([2], { dtype: "float64" }).data)).toEqual([z.normal(), z.normal()]);
    const u = new Random(0);
    expect(Array.from(rand([2], { dtype: "float64" }).data)).toEqual([u.uniform(), u.uniform()]);
    expect(() => randn([-1])).toThrow("random: shape [-1] must hold non-negative integers");
    expect(Array.from(full([2], -0.5).data)).toEqual([-0.5, -0.5]);
  });

  it("a tensor prints its dtype, shape, the first 8 values to 5 digits and how many more", () => {
    expect(String(tensor([1234567, 0.000123, 3.14159265, -2.5e-7], { dtype: "float64" }))).toBe("Tensor(float64, [4]) [1.235e+6, 1.230e-4, 3.1416, -2.500e-7]");
    expect(String(tensor([0.5, 100.25, 999999], { dtype: "float64" }))).toBe("Tensor(float64, [3]) [0.5, 100.25, 999999]");
    expect(String(tensor(Array.from({ length: 9 }, (_, i) => i)))).toBe("Tensor(float32, [9]) [0, 1, 2, 3, 4, 5, 6, 7, … 1 more]");
    expect(String(tensor(Array.from({ length: 8 }, (_, i) => i)))).toBe("Tensor(float32, [8]) [0, 1, 2, 3, 4, 5, 6, 7]");
  });

  it("nested arrays must be rectangular and hold numbers", () => {
    expect(() => tensor([[1, 2], [3]])).toThrow("tensor: ragged nested array: expected 2 entries at depth 1, got 1");
    expect(() => tensor([[1, 2], 3] as never)).toThrow("tensor: ragged nested array: expected 2 entries at depth 1, got number");
    expect(() => tensor([1, [2]] as never)).toThrow("tensor: expected a number at depth 1, got an array");
    expect(tensor([]).shape).toEqual([0]);
    expect(tensor(7).shape).toEqual([]);
  });
});

describe("a freshly loaded emitter (new module instances) builds every kernel module, and they compute", () => {
  afterEach(() => vi.resetModules());

  it("gemm modules of several tile shapes, the elementwise and 0/1 modules, memory.copy and local.tee", async () => {
    vi.resetModules();
    const wm = await import("../src/tensor/wasm/matmul.js");
    const ew = await import("../src/tensor/wasm/elementwise.js");
    const bin = await import("../src/tensor/wasm/binary.js");
    const emit = await import("../src/tensor/wasm/emit.js");
    const rng = new Random(51);
    const [m, k, n] = [13, 11, 17];
    const a = Float32Array.from({ length: m * k }, () => rng.normal());
    const b = Float32Array.from({ length: k * n }, () => rng.normal());
    const want = matmulByLoop(a, b, m, k, n, false, false);
    const shapes = [{ mr: 4, nr: 8, ku: 1 }, { mr: 7, nr: 8, ku: 1 }, { mr: 6, nr: 12, ku: 4 }, { mr: 3, nr: 4, ku: 2 }, ...(wm.wasmFmaSupported() ? [{ mr: 4, nr: 8, ku: 1, fma: true }] : [])];
    for (const shape of shapes) {
      for (const blocks of [{}, { mc: 4, nc: 8, kc: 3 }]) {
        const out = new Float32Array(m * n);
        wm.createWasmMatmul({ shape, blocks }).matmulInto(out, a, b, m, k, n, false, false);
        want.forEach((w, i) => expect(Math.abs(out[i] - w), `${JSON.stringify(shape)} ${JSON.stringify(blocks)} at ${i}`).toBeLessThan(1e-5));
      }
    }
    expect(wm.wasmSimdSupported()).toBe(true);
    expect(ew.wasmElementwiseAvailable()).toBe(true);
    const [rows, cols] = [4, 64];
    const y = Float32Array.from({ length: rows * cols }, () => rng.normal());
    const bias = Float32Array.from({ length: cols }, () => rng.normal());
    const t = y.slice();
    ew.biasTanhWasm(t, bias, rows, cols);
    y.forEach((v, i) => expect(Math.abs(t[i] - Math.tanh(v + bias[i % cols])), `tanh ${i}`).toBeLessThan(1e-6));
    const r = y.slice();
    ew.biasAddWasm(r, bias, rows, cols, true);
    y.forEach((v, i) => expect(r[i], `relu ${i}`).toBe(Math.max(0, Math.fround(v + bias[i % cols]))));
    // activationBackward, tanh and relu, with the bias gradient: g·(1 − y²) and g·[y > 0] and their column sums.
    const g = Float32Array.from({ length: rows * cols }, () => rng.normal());
    const yt = t; // tanh outputs, in (−1, 1)
    for (const act of ["tanh", "relu"] as const) {
      const [gp, gb] = [new Float32Array(rows * cols), new Float32Array(cols)];
      ew.activationBackwardWasm(gp, g, yt, gb, rows, cols, act);
      const sums = new Float64Array(cols);
      yt.forEach((v, i) => {
        const want = act === "tanh" ? g[i] * (1 - v * v) : v > 0 ? g[i] : 0;
        sums[i % cols] += want;
        expect(Math.abs(gp[i] - want), `${act} backward ${i}`).toBeLessThan(1e-6);
      });
      sums.forEach((w, j) => expect(Math.abs(gb[j] - w), `${act} bias gradient ${j}`).toBeLessThan(1e-5));
    }
    // Adam in both precisions, against the update written out here in float64: "f64" to the bit, "f32" to 1e-6.
    const size = 37;
    const state = ew.adamStateWasm([size])!;
    const [slot, grad] = [state.slots[0] as InstanceType<typeof ew.AdamMemorySlot>, state.grads[0]];
    const w = Float32Array.from({ length: size }, () => rng.normal());
    grad.set(Float32Array.from({ length: size }, () => rng.normal()));
    const [m0, v0] = [Float32Array.from({ length: size }, () => rng.normal()), Float32Array.from({ length: size }, () => rng.uniform())];
    for (const precision of ["f64", "f32"] as const) {
      slot.m.set(m0);
      slot.v.set(v0);
      const p = w.slice();
      ew.adamWasm(p, grad, slot, { ...ADAM_STEP, precision });
      const tol = precision === "f64" ? 0 : 1e-6;
      for (let i = 0; i < size; i++) {
        // As the TypeScript loop: float64 throughout, each value rounded only where stored.
        const want = adamByHand(w[i], grad[i], m0[i], v0[i]);
        expect(Math.abs(slot.m[i] - Math.fround(want.m)), `adam ${precision} m ${i}`).toBeLessThanOrEqual(tol);
        expect(Math.abs(slot.v[i] - Math.fround(want.v)), `adam ${precision} v ${i}`).toBeLessThanOrEqual(tol);
        expect(Math.abs(p[i] - Math.fround(want.w)), `adam ${precision} w ${i}`).toBeLessThanOrEqual(tol);
      }
    }
    expect(bin.wasmBinaryAvailable()).toBe(true);
    const s = Float32Array.from({ length: m * k }, () => (rng.uniform() < 0.4 ? 1 : 0));
    const prod = new Float32Array(m * n);
    bin.matmulBinaryWasmInto(wm.matmulWasmInto, prod, s, b, m, k, n, false, false, "a");
    matmulByLoop(s, b, m, k, n, false, false).forEach((w, i) => expect(Math.abs(prod[i] - w), `0/1 at ${i}`).toBeLessThan(1e-5));
    // The helpers no kernel uses yet.
    const mod = new emit.ModuleBuilder();
    mod.importMemory({ module: "env", name: "memory", initialPages: 1 });
    const f = mod.func([emit.ValType.i32, emit.ValType.i32, emit.ValType.i32], [emit.ValType.i32], "copy");
    const tee = f.local(emit.ValType.i32);
    f.setBody([emit.localGet(0), emit.localGet(1), emit.localGet(2), emit.mem.copy(), emit.localGet(2), emit.i32Const(1), emit.Op.i32_add, emit.localTee(tee), emit.localGet(tee), emit.Op.i32_add]);
    const memory = new WebAssembly.Memory({ initial: 1 });
    const { copy } = new WebAssembly.Instance(new WebAssembly.Module(mod.toBytes()), { env: { memory } }).exports as { copy: (d: number, s: number, n: number) => number };
    new Uint8Array(memory.buffer).set([9, 8, 7], 10);
    expect(copy(20, 10, 3)).toBe(8);
    expect(Array.from(new Uint8Array(memory.buffer, 20, 4))).toEqual([9, 8, 7, 0]);
  });
});

// The kernel table registers the wasm entries once, inside whichever test first asks for a kernel, so
// per-test coverage credits their code to that test alone. Each test here registers them again itself.
describe("the wasm entries pick the WebAssembly kernel above their thresholds and the TypeScript one below (registered again here)", () => {
  const rng = new Random(77);
  const f32 = (len: number, ones = false) => Float32Array.from({ length: len }, () => (ones ? (rng.uniform() < 0.3 ? 1 : 0) : rng.normal()));
  const bits = (x: Float32Array) => Array.from(x);
  /** Registers the wasm entries again, inside the calling test, and returns the table's lookup. */
  const registered = async () => {
    (await import("../src/tensor/wasm/kernels.js")).registerWasmKernels();
    return (await import("../src/tensor/kernels.js")).kernelFor;
  };
  /** Runs `run` with the wasm entry, the wasm kernel called directly and the TypeScript one; the entry must give `want`'s bits and the other's must differ. */
  const pick = (run: (which: "entry" | "wasm" | "js") => Float32Array, want: "wasm" | "js") => {
    const [entry, wasm, js] = [run("entry"), run("wasm"), run("js")];
    expect(bits(wasm)).not.toEqual(bits(js)); // the case tells them apart
    expect(bits(entry)).toEqual(bits(want === "wasm" ? wasm : js));
  };

  it("biasActivation (tanh): WebAssembly for wide rows of at least 256 values, TypeScript for narrow rows or few values", async () => {
    const { biasTanhWasm } = await import("../src/tensor/wasm/elementwise.js");
    const kernelFor = await registered();
    const entry = kernelFor("biasActivation", "wasm", "float32");
    for (const [rows, cols, want] of [[100, 500, "wasm"], [20, 36, "wasm"], [300, 3, "js"], [6, 40, "js"]] as const) {
      const [y0, bias] = [f32(rows * cols), f32(cols)];
      pick((which) => {
        const y = y0.slice();
        if (which === "entry") entry(y, bias, rows, cols, "tanh");
        else if (which === "wasm") biasTanhWasm(y, bias, rows, cols);
        else biasActivationJs(y, bias, rows, cols, "tanh");
        return y;
      }, want);
    }
  });

  it("matmul: the TypeScript kernel below 4096 multiply-adds", async () => {
    const kernelFor = await registered();
    const { matmulWasmInto } = await import("../src/tensor/wasm/matmul.js");
    const [m, k, n] = [12, 25, 13];
    const [a, b] = [f32(m * k), f32(k * n)];
    pick((which) => {
      const out = new Float32Array(m * n);
      (which === "entry" ? kernelFor("matmul", "wasm", "float32") : which === "wasm" ? matmulWasmInto : matmulJsInto)(out, a, b, m, k, n, false, false);
      return out;
    }, "js");
  });

  it("matmulBinary: the WebAssembly and TypeScript 0/1 kernels give the same bits; an operand that is not 0/1 goes to the WebAssembly matmul", async () => {
    const kernelFor = await registered();
    const { matmulBinaryWasmInto } = await import("../src/tensor/wasm/binary.js");
    const { matmulWasmInto } = await import("../src/tensor/wasm/matmul.js");
    const { binaryRowSumsJs, matmulBinaryWith } = await import("../src/tensor/binary.js");
    const entry = kernelFor("matmulBinary", "wasm", "float32");
    // (Which of the two runs is speed only: src/tensor/wasm/kernels.ts marks its threshold so.)
    for (const [m, k, n] of [[40, 40, 40], [10, 12, 11]] as const) {
      const [x, w] = [f32(m * k, true), f32(k * n)];
      const run = (f: (out: Float32Array) => void) => {
        const out = new Float32Array(m * n);
        f(out);
        return bits(out);
      };
      const want = run((out) => matmulBinaryWith(binaryRowSumsJs, matmulJsInto, out, x, w, m, k, n, false, false, "a"));
      expect(run((out) => matmulBinaryWasmInto(matmulWasmInto, out, x, w, m, k, n, false, false, "a"))).toEqual(want);
      expect(run((out) => entry(out, x, w, m, k, n, false, false, "a"))).toEqual(want);
    }
    // A "0/1" side with a 0.5 in it: the dense product, on the WebAssembly kernel.
    const [m, k, n] = [40, 40, 40];
    const [x, w] = [f32(m * k, true), f32(k * n)];
    x[7] = 0.5;
    pick((which) => {
      const out = new Float32Array(m * n);
      if (which === "entry") entry(out, x, w, m, k, n, false, false, "a");
      else (which === "wasm" ? matmulWasmInto : matmulJsInto)(out, x, w, m, k, n, false, false);
      return out;
    }, "wasm");
  });

  it("bernoulliRows: the WebAssembly kernel from 256 logits", async () => {
    const { bernoulliWasm } = await import("../src/tensor/wasm/elementwise.js");
    const kernelFor = await registered();
    const [rows, D] = [30, 100];
    const [x, l] = [f32(D, true), f32(rows * D)];
    pick((which) => {
      const [out, d] = [new Float32Array(rows), new Float32Array(rows * D)];
      (which === "entry" ? kernelFor("bernoulliRows", "wasm", "float32") : which === "wasm" ? bernoulliWasm : bernoulliRowsJs)(x, l, D, out, d);
      return Float32Array.of(...out, ...d);
    }, "wasm");
  });

  it("activationBackward, columnSums and scaleRows: the WebAssembly kernels give the TypeScript ones' bits (which runs is speed only)", async () => {
    const { activationBackwardWasm, columnSumsWasm, scaleRowsWasm } = await import("../src/tensor/wasm/elementwise.js");
    const kernelFor = await registered();
    const [rows, cols] = [100, 500];
    const [g, y, s] = [f32(rows * cols), Float32Array.from(f32(rows * cols), Math.tanh), f32(rows)];
    const same = (run: (which: 0 | 1 | 2) => Float32Array) => {
      const want = bits(run(2));
      expect(bits(run(0))).toEqual(want);
      expect(bits(run(1))).toEqual(want);
    };
    for (const act of ["tanh", "relu"] as const) {
      same((which) => {
        const [gp, gb] = [new Float32Array(rows * cols), new Float32Array(cols)];
        [kernelFor("activationBackward", "wasm", "float32"), activationBackwardWasm, activationBackwardJs][which](gp, g, y, gb, rows, cols, act);
        return Float32Array.of(...gp, ...gb);
      });
    }
    const sums0 = f32(cols); // added into
    same((which) => {
      const out = sums0.slice();
      [kernelFor("columnSums", "wasm", "float32"), columnSumsWasm, columnSumsJs][which](out, g, rows, cols);
      return out;
    });
    same((which) => {
      const out = new Float32Array(rows * cols);
      [kernelFor("scaleRows", "wasm", "float32"), scaleRowsWasm, scaleRowsJs][which](out, s, g, cols);
      return out;
    });
  });

  it("adamState hands out slots of a WebAssembly memory, and adam steps them there", async () => {
    const { AdamMemorySlot, adamStateWasm, adamWasm } = await import("../src/tensor/wasm/elementwise.js");
    const kernelFor = await registered();
    const n = 1000;
    const [p0, g] = [f32(n), f32(n)];
    const step = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, c1: 10, c2: 1000, precision: "f32" } as const;
    const state = kernelFor("adamState", "wasm", "float32")([n]);
    expect(state.slots[0]).toBeInstanceOf(AdamMemorySlot);
    pick((which) => {
      const p = p0.slice();
      if (which === "entry") kernelFor("adam", "wasm", "float32")(p, g, state.slots[0]!, step);
      else if (which === "wasm") adamWasm(p, g, adamStateWasm([n])!.slots[0] as InstanceType<typeof AdamMemorySlot>, step);
      else adamJs(p, g, new Float32Array(n), new Float32Array(n), step);
      return p;
    }, "wasm");
  });
});
