import { resolveObjectURL } from 'node:buffer';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker as NodeWorker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { randomFloat32 } from './helpers.js';
import { spawnNodeWorker, stopWorkerThreads, useWorkerThreads } from '../src/node/threads.js';
import { backendInfo, getBackend } from '../src/tensor/backend.js';
import { matmulInto } from '../src/tensor/matmul.js';
import { createWasmMatmul, getFma, matmulWasmInto, setFma, wasmFmaSupported } from '../src/tensor/wasm/matmul.js';
import { Random } from '../src/tensor/random.js';
import { Trainer } from '../src/vae/train.js';
import { VAE } from '../src/vae/model.js';
import { matmulBinaryWasmInto } from '../src/tensor/wasm/binary.js';
import { AdamMemory, adamWasm, bernoulliWasm, biasTanhWasm } from '../src/tensor/wasm/elementwise.js';
import {
  PARALLEL_MIN_WORK,
  TaskArena,
  WORKER_SOURCE,
  canBlock,
  type SpawnWorker,
  type WorkerHandle,
  getTasks,
  getThreadStats,
  getThreads,
  matmulParallelInto,
  chunkRange,
  planChunks,
  setThreadOptions,
  startThreads,
  useWebWorkers,
} from '../src/tensor/wasm/parallel.js';

const single = createWasmMatmul(); // the single-threaded kernel, own memory
// This file also runs with TSGRAD_BACKEND=js: matmulInto then uses the TypeScript kernel, never the pool.
const wasm = getBackend() === 'wasm';


/** Max over elements of |out - exact| / (sum_p |a_ip b_pj| + 1e-30), exact in float64. */
function naiveError(out: Float32Array, a: Float32Array, b: Float32Array, m: number, k: number, n: number, tA: boolean, tB: boolean): number {
  let worst = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      let mag = 0;
      for (let p = 0; p < k; p++) {
        const x = (tA ? a[p * m + i] : a[i * k + p])!;
        const y = (tB ? b[j * k + p] : b[p * n + j])!;
        sum += x * y;
        mag += Math.abs(x * y);
      }
      worst = Math.max(worst, Math.abs(out[i * n + j]! - sum) / (mag + 1e-30));
    }
  }
  return worst;
}

type Run = (out: Float32Array, a: Float32Array, b: Float32Array, m: number, k: number, n: number, tA: boolean, tB: boolean) => void;
const parallel: Run = (...args) => expect(matmulParallelInto(...args)).toBe(true);

/** The first index where x and y differ (Object.is, so NaN = NaN), or -1. (toEqual is slow on big arrays.) */
function firstDifference(x: Float32Array, y: Float32Array): number {
  if (x.length !== y.length) return 0;
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return i;
  return -1;
}

/**
 * Runs `run` and checks it against a float64 loop and, bit for bit, against the single-thread
 * wasm kernel (`bitwise` false: products small enough for matmulInto's plain TypeScript kernel).
 */
function check(run: Run, m: number, k: number, n: number, tA: boolean, tB: boolean, seed: number, naive = true, bitwise = true): void {
  const a = randomFloat32(m * k, seed);
  const b = randomFloat32(k * n, seed ^ 0x9e3779b9);
  const out = new Float32Array(m * n).fill(Number.NaN);
  run(out, a, b, m, k, n, tA, tB);
  if (bitwise) {
    const want = new Float32Array(m * n);
    single.matmulInto(want, a, b, m, k, n, tA, tB);
    expect(firstDifference(out, want)).toBe(-1);
  }
  if (naive) expect(naiveError(out, a, b, m, k, n, tA, tB)).toBeLessThan(1e-5);
}

const FORMS = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

/** Records the workers it spawns, so tests can kill them behind the pool's back. */
function recordingSpawn(handles: WorkerHandle[], exits: string[] = []): SpawnWorker {
  return (source, events) => {
    const h = spawnNodeWorker(source, { message: events.message, error: (r) => (exits.push(r), events.error(r)) });
    handles.push(h);
    return h;
  };
}

afterAll(() => stopWorkerThreads());

/**
 * `run` (deterministic) with tasks on, then off; its results and the thread stats around the first. With
 * tasks on it runs again (up to 20 times) until a helper has made a call: on a loaded machine this thread
 * may make all of them before the helper wakes.
 */
/**
 * The largest |got[i, j] − Σ_p term(i, j, p)| / Σ_p |term(i, j, p)| in float64, over got (rows × cols)
 * at every steps[0]-th row and steps[1]-th column, p < len.
 */
function worstSumError(got: Float32Array, [rows, cols, len]: [number, number, number], steps: [number, number], term: (i: number, j: number, p: number) => number): number {
  let worst = 0;
  for (let i = 0; i < rows; i += steps[0]) {
    for (let j = 0; j < cols; j += steps[1]) {
      let [sum, mag] = [0, 0];
      for (let p = 0; p < len; p++) {
        const v = term(i, j, p);
        [sum, mag] = [sum + v, mag + Math.abs(v)];
      }
      worst = Math.max(worst, Math.abs(got[i * cols + j]! - sum) / (mag + 1e-30));
    }
  }
  return worst;
}

function withAndWithoutTasks<T>(run: () => T): { two: T; one: T; before: ReturnType<typeof getThreadStats>; after: ReturnType<typeof getThreadStats> } {
  let before = getThreadStats();
  let two = run();
  let after = getThreadStats();
  for (let i = 0; i < 20 && wasm && after.taskCallsByHelpers === before.taskCallsByHelpers; i++) {
    before = after;
    two = run();
    after = getThreadStats();
  }
  setThreadOptions({ tasks: false });
  try {
    return { two, one: run(), before, after };
  } finally {
    setThreadOptions({ tasks: true });
  }
}

/** Spawns the real worker, but each of its product chunks first sleeps `ms` (a helper descheduled on a busy machine). */
function slowSpawn(ms: number): SpawnWorker {
  const slow = `const RealInstance = WebAssembly.Instance;
    WebAssembly.Instance = function (module, imports) {
      const real = new RealInstance(module, imports).exports;
      if (!real.gemm) return { exports: real };
      return { exports: { gemm: (...args) => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${ms}); real.gemm(...args); } } };
    };\n`;
  return (source, events) => recordingSpawn([])(slow + source, events);
}

/**
 * A helper's source that takes each post (POSTED -> TAKEN) and claims one chunk or part, then runs
 * `after` (e.g. reporting FAILED) instead of computing it.
 */
function misbehavingWorker(after: string): string {
  return `const { parentPort } = require('node:worker_threads');
    parentPort.once('message', ({ control }) => {
      const job = new Int32Array(control, 0, 32);
      const ctl = new Int32Array(control, 128, 32);
      Atomics.store(ctl, 1, 1);
      parentPort.postMessage({ ready: true });
      for (;;) {
        if (Atomics.compareExchange(ctl, 0, 1, 2) === 1) { Atomics.add(job, 0, 1); ${after} }
        Atomics.wait(ctl, 0, Atomics.load(ctl, 0));
      }
    });`;
}

describe('planChunks', () => {
  it('cuts C into aligned chunks of equal tiles (within one), a multiple of the threads, about 4 each, none tiny', () => {
    const shapes = [[100, 500, 784], [784, 500, 100], [500, 784, 100], [100, 784, 500], [7, 1, 3], [1, 1000, 9], [1000, 1, 9], [37, 45, 8], [1024, 1024, 1024], [255, 300, 200], [256, 300, 200], [300, 40, 500], [200, 8, 5000], [200, 200, 300]];
    for (const [m, n, k] of shapes as [number, number, number][]) {
      for (const threads of [2, 3]) {
        const plan = planChunks(m, n, k, threads);
        const { byCols, chunks, width } = plan;
        // Rows when C is taller than wide or from 256 of them (each chunk's rows of C contiguous), else columns.
        expect(byCols, `${m}×${n}×${k}`).toBe((n >= m && m < 256) || m <= 4);
        const [unit, len] = byCols ? [8, n] : [4, m];
        const ranges = Array.from({ length: chunks }, (_, i) => chunkRange(plan, i, len));
        // Contiguous, aligned, non-empty, covering [0, len).
        expect(ranges[0]![0]).toBe(0);
        expect(ranges.at(-1)![1]).toBe(len);
        ranges.forEach(([lo, hi], i) => {
          expect(lo % unit).toBe(0);
          expect(hi).toBeGreaterThan(lo);
          if (i > 0) expect(lo).toBe(ranges[i - 1]![1]);
        });
        // Whole tiles, as equal as they can be: the chunks' tile counts differ by one at most.
        const tiles = ranges.map(([lo, hi]) => Math.ceil(hi / unit) - lo / unit);
        expect(Math.max(...tiles) - Math.min(...tiles)).toBeLessThanOrEqual(1);
        expect(width).toBe(Math.max(...ranges.map(([lo, hi]) => hi - lo)));
        expect(chunks).toBeLessThanOrEqual(4 * threads);
        const work = (c: number) => (m * n * k) / c;
        if (chunks > threads) {
          expect(chunks % threads, `${m}×${n}×${k} on ${threads} threads: ${chunks} chunks`).toBe(0);
          expect(work(chunks)).toBeGreaterThanOrEqual(1 << 21);
          expect(Math.min(...tiles) * unit).toBeGreaterThanOrEqual(64);
        } else expect(chunks).toBe(Math.min(threads, Math.ceil(len / unit)));
        // As many as those rules allow: `threads` more chunks would break one of them.
        const more = chunks + threads;
        const breaks = more > 4 * threads || work(more) < 1 << 21 || Math.floor(Math.ceil(len / unit) / more) * unit < 64;
        expect(breaks, `${m}×${n}×${k} on ${threads} threads: ${chunks} chunks, but ${more} would do`).toBe(true);
      }
    }
  });
});

describe('with two threads', () => {
  const handles: WorkerHandle[] = [];
  beforeAll(async () => {
    // minWork 0: every product takes the parallel path, down to 1x1x1.
    expect(await startThreads(recordingSpawn(handles), 2, { minWork: 0 })).toBe(2);
  });

  it('reports its threads', () => {
    expect(getThreads()).toBe(2);
    const fma = process.env.TSGRAD_FMA !== '0' && wasmFmaSupported();
    expect(backendInfo()).toEqual(wasm ? { backend: 'wasm', threads: 2, fma } : { backend: 'js', threads: 1, fma: false });
  });

  it('matches one thread bit for bit with FMA on and off', () => {
    const rng = new Random(21);
    const [m, k, n] = [37, 301, 130];
    const a = Float32Array.from({ length: m * k }, () => rng.normal());
    const b = Float32Array.from({ length: k * n }, () => rng.normal());
    const before = getFma();
    try {
      for (const fma of wasmFmaSupported() ? [false, true] : [false]) {
        setFma(fma);
        const [two, one] = [new Float32Array(m * n), new Float32Array(m * n)];
        expect(matmulParallelInto(two, a, b, m, k, n, false, true)).toBe(true);
        matmulWasmInto(one, a, b, m, k, n, false, true);
        expect(two).toEqual(one);
      }
    } finally {
      setFma(before);
    }
  });

  it('matches the single-thread kernel bit for bit and a float64 loop, random shapes', () => {
    const dim = fc.oneof(fc.integer({ min: 1, max: 90 }), fc.constantFrom(1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33));
    fc.assert(
      fc.property(fc.record({ m: dim, k: dim, n: dim, tA: fc.boolean(), tB: fc.boolean(), seed: fc.integer() }), (c) =>
        check(parallel, c.m, c.k, c.n, c.tA, c.tB, c.seed),
      ),
      { numRuns: 300 },
    );
  });

  it('handles the VAE shapes, uneven splits and k > kc in all transpose forms', () => {
    for (const [tA, tB] of FORMS) {
      for (const [m, k, n] of [[100, 784, 500], [784, 100, 500], [500, 100, 784], [100, 500, 784], [13, 600, 1001], [1001, 300, 6], [129, 257, 131]]) {
        check(parallel, m!, k!, n!, tA, tB, m! * 7 + n!, m! * n! * k! < 2e7);
      }
    }
  });

  it('grows the shared memory and the worker sees it', () => {
    check(parallel, 8, 8, 8, false, false, 1);
    check(parallel, 1200, 700, 900, false, true, 2, false); // ~12 MB of operands
    check(parallel, 8, 8, 8, true, false, 3);
  });

  it('survives many calls in a row (no deadlock) and the worker does its share', () => {
    const a = randomFloat32(100 * 784, 5);
    const b = randomFloat32(784 * 500, 6);
    const out = new Float32Array(100 * 500);
    const want = new Float32Array(100 * 500);
    single.matmulInto(want, a, b, 100, 784, 500, false, false);
    const before = getThreadStats();
    for (let i = 0; i < 300; i++) {
      const s = i % 3 === 0 ? 8 : 40; // small products in between
      if (i % 2) parallel(new Float32Array(s * s), a, b, s, s, s, i % 4 === 1, false);
      else parallel(out, a, b, 100, 784, 500, false, false);
    }
    expect(firstDifference(out, want)).toBe(-1);
    expect(getThreadStats().byHelpers).toBeGreaterThan(before.byHelpers); // the worker did its share
  });

  it('runs the 0/1 product, the Bernoulli kernel and tanh on both threads (tasks), bit for bit as one thread', () => {
    const rng = new Random(31);
    const [B, D, H] = [100, 784, 500];
    const x = Float32Array.from({ length: B * D }, () => (rng.uniform() < 0.13 ? 1 : 0));
    const w = Float32Array.from({ length: H * D }, () => rng.normal());
    const g = Float32Array.from({ length: B * H }, () => rng.normal());
    const logits = Float32Array.from({ length: B * D }, () => 4 * rng.normal());
    const bias = Float32Array.from({ length: H }, () => rng.normal());
    const run = () => {
      const xw = new Float32Array(B * H); // x·Wᵀ: binary A, W transposed in
      matmulBinaryWasmInto(matmulWasmInto, xw, x, w, B, D, H, false, true, 'a');
      const gx = new Float32Array(H * D); // gᵀ·x: binary B, the result transposed out
      matmulBinaryWasmInto(matmulWasmInto, gx, g, x, H, B, D, true, false, 'b');
      const [term, d] = [new Float32Array(B), new Float32Array(B * D)];
      bernoulliWasm(x, logits, D, term, d);
      const y = Float32Array.from(g);
      biasTanhWasm(y, bias, B, H);
      return { xw, gx, term, d, y };
    };
    const { two, one, before, after } = withAndWithoutTasks(run);
    expect(getThreadStats().taskCalls).toBe(after.taskCalls); // tasks off: none
    if (!wasm) return;
    expect(after.taskCalls - before.taskCalls).toBeGreaterThanOrEqual(4 * 4); // the two fused row sums (transposes inside), bernoulli, tanh
    expect(after.taskCallsByHelpers).toBeGreaterThan(before.taskCallsByHelpers);
    for (const key of ['xw', 'gx', 'term', 'd', 'y'] as const) expect(firstDifference(two[key], one[key]), key).toBe(-1);
    // And against the float64 product: x·Wᵀ sums W's columns at x's 1s.
    expect(worstSumError(two.xw, [B, H, D], [1, 1], (i, j, p) => (x[i * D + p] ? w[j * D + p]! : 0))).toBeLessThan(1e-5);
  });

  it('runs the 0/1 product with W as stored (D×H) and with A not transposed on both threads, bit for bit as one thread', () => {
    // The layouts whose sums need no transpose in (x·W) and whose A is transposed whole first (A·x).
    const rng = new Random(37);
    // B = 600 images: A (H×B) is large enough for its transpose to run on the threads too.
    const [B, D, H] = [600, 784, 500];
    const x = Float32Array.from({ length: B * D }, () => (rng.uniform() < 0.13 ? 1 : 0));
    const w = Float32Array.from({ length: D * H }, () => rng.normal()); // D×H
    const g = Float32Array.from({ length: H * B }, () => rng.normal()); // H×B
    const run = () => {
      const xw = new Float32Array(B * H);
      matmulBinaryWasmInto(matmulWasmInto, xw, x, w, B, D, H, false, false, 'a');
      const gx = new Float32Array(H * D);
      matmulBinaryWasmInto(matmulWasmInto, gx, g, x, H, B, D, false, false, 'b');
      return { xw, gx };
    };
    const { two, one, before, after } = withAndWithoutTasks(run);
    if (wasm) expect(after.taskCallsByHelpers).toBeGreaterThan(before.taskCallsByHelpers);
    for (const key of ['xw', 'gx'] as const) expect(firstDifference(two[key], one[key]), key).toBe(-1);
    // And against float64 sums: xw[i, j] = Σ_p x[i, p] w[p, j]; gx[j, p] = Σ_i g[j, i] x[i, p].
    const worst = Math.max(
      worstSumError(two.xw, [B, H, D], [29, 3], (i, j, p) => (x[i * D + p] ? w[p * H + j]! : 0)),
      worstSumError(two.gx, [H, D, B], [3, 5], (j, p, i) => (x[i * D + p] ? g[j * B + i]! : 0)),
    );
    expect(worst).toBeLessThan(1e-5);
  });

  it("runs Adam's update of large parameters on both threads, bit for bit as one thread", () => {
    const rng = new Random(41);
    const sizes = [300_001, 7, 65_536]; // uneven, tiny (one thread), a multiple of 4
    const start = sizes.map((n) => Float32Array.from({ length: n }, () => rng.normal()));
    const grads = [0, 1, 2].map(() => sizes.map((n) => Float32Array.from({ length: n }, () => rng.normal())));
    const s = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, precision: 'f32' as const };
    const run = () => {
      const mem = new AdamMemory(sizes);
      const params = start.map((p) => Float32Array.from(p));
      grads.forEach((g, t) => sizes.forEach((_, k) => adamWasm(params[k]!, g[k]!, mem.slots[k]!, { ...s, c1: 1 / (1 - 0.9 ** (t + 1)), c2: 1 / (1 - 0.999 ** (t + 1)) })));
      return [...params, ...mem.m, ...mem.v];
    };
    const { two, one, before, after } = withAndWithoutTasks(run);
    two.forEach((x, i) => expect(firstDifference(x, one[i]!), `array ${i}`).toBe(-1));
    if (!wasm) return;
    expect(after.taskCalls - before.taskCalls).toBe(3 * 2 * getTasks()!.parts); // 3 steps of the 2 large slots
    expect(after.taskCallsByHelpers).toBeGreaterThan(before.taskCallsByHelpers);
  });

  it("keeps arrays in the threads' memory: zeros, 64-aligned, apart, above any scratch, and no more than fit", () => {
    const arena = getTasks()!.arena;
    const lengths = [5, 1, 0, 64, 3];
    const views = arena.keep(lengths);
    views.forEach((v, i) => {
      expect(v.buffer).toBe(arena.buffer);
      expect(v.length).toBe(lengths[i]);
      expect(v.byteOffset % 64).toBe(0);
      expect(arena.address(v)).toBe(v.byteOffset);
      expect(v.every((x) => x === 0)).toBe(true);
      // Room for the length rounded up to 4 values (the kernels step 4 at a time) before the next one.
      if (i > 0) expect(v.byteOffset).toBeGreaterThanOrEqual(views[i - 1]!.byteOffset + Math.ceil(lengths[i - 1]! / 4) * 16);
    });
    views[0]!.fill(7);
    expect(views[1]![0]).toBe(0);
    expect(arena.address(new Float32Array(4))).toBe(-1);
    expect(arena.address(new Float32Array(new SharedArrayBuffer(64)))).toBe(-1);
    // Scratch stops below the lowest kept array; keeping stops above the highest scratch used.
    const lowest = Math.min(...views.map((v) => v.byteOffset));
    expect(() => arena.f32(lowest + 1, 'a test')).toThrow(/^a test: needs \d+ bytes of scratch in the threads' memory/);
    expect(arena.f32(4 * 1024, 'a test').buffer).toBe(arena.buffer);
    expect(() => arena.keep([arena.buffer.byteLength / 4])).toThrow(/no room to keep \d+ more bytes/);
    // A product's scratch never reaches a kept array: the kept values survive one of ~12 MB.
    check(parallel, 1200, 700, 900, false, true, 2, false);
    expect(views[0]!.every((x) => x === 7)).toBe(true);
    expect(views[3]!.every((x) => x === 0)).toBe(true);
  });

  it("gives a kept block back once all its views are collected: the next block that fits takes its place, zeroed", async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const arena = new TaskArena(); // its own memory: no other test's blocks come and go in it
    const size = 1 << 16;
    // Two views of one block, then a block below it; only weak references to the first stay here.
    const { address, weak } = (() => {
      const [a, b] = arena.keep([size, size]) as [Float32Array, Float32Array];
      a.fill(1);
      b.fill(2);
      return { address: a.byteOffset, weak: [new WeakRef(a), new WeakRef(b)] };
    })();
    const [below] = arena.keep([size]) as [Float32Array];
    below.fill(3);
    const kept = arena.keptBytes;
    expect(kept).toBe(3 * size * 4);
    // Finalizers run after a collection, in a later task; deref keeps its target alive to the end of
    // the task that called it, so each collection runs in a task of its own.
    const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
    for (let i = 0; i < 50 && weak.some((w) => w.deref() !== undefined); i++) {
      await tick();
      gc();
      await tick();
    }
    // A hole above `below`: the memory's extent is unchanged; the next block of that size goes there.
    expect(arena.keptBytes).toBe(kept);
    const [again] = arena.keep([2 * size]) as [Float32Array];
    expect(again.byteOffset).toBe(address);
    expect(again.every((x) => x === 0)).toBe(true);
    expect(below.every((x) => x === 3)).toBe(true);
  });

  it("reuses given-back blocks first fit by address, splitting a larger hole, never a smaller one; merges neighbours; gives the bottom back; keeps a block while any view lives", async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const arena = new TaskArena();
    const top = arena.buffer.byteLength;
    const KB = 1024;
    const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
    /** Collects until every view in `weak` (from drop) is gone and its block given back. */
    const release = async (weak: WeakRef<Float32Array>[]) => {
      for (let i = 0; i < 50 && weak.some((w) => w.deref() !== undefined); i++) {
        await tick();
        gc();
        await tick();
      }
      expect(weak.every((w) => w.deref() === undefined)).toBe(true);
    };
    // Views by name; a name's array is let go of by deleting it. Blocks from the top down:
    // a 64 KB, b (two views of 8 KB) 16 KB, c 32 KB, d 16 KB.
    const v: Record<string, Float32Array> = {};
    const keep = (name: string, ...kb: number[]) => arena.keep(kb.map((n) => (n * KB) / 4)).forEach((x, i) => (v[name + (kb.length > 1 ? i : '')] = x));
    const drop = (...names: string[]) => {
      const weak = names.map((n) => new WeakRef(v[n]!));
      for (const n of names) delete v[n];
      return weak;
    };
    keep('a', 64);
    keep('b', 8, 8);
    keep('c', 32);
    keep('d', 16);
    expect(['a', 'b0', 'b1', 'c', 'd'].map((n) => top - v[n]!.byteOffset)).toEqual([64 * KB, 80 * KB, 72 * KB, 112 * KB, 128 * KB]);
    expect(arena.keptBytes).toBe(128 * KB);
    // One view of b collected, the other alive: b's block stays; a new block goes below d.
    await release(drop('b0'));
    keep('e', 16);
    expect(top - v.e!.byteOffset).toBe(144 * KB);
    // Both gone: b's 16 KB is a hole; an 8 KB block takes its start, the next 8 KB its rest.
    await release(drop('b1'));
    keep('f', 8);
    keep('g', 8);
    expect([top - v.f!.byteOffset, top - v.g!.byteOffset]).toEqual([80 * KB, 72 * KB]);
    // a then c given back: c's hole is the lower; 32 KB takes it, 48 KB passes it for a's.
    await release(drop('a'));
    await release(drop('c'));
    keep('h', 32);
    keep('i', 48);
    expect([top - v.h!.byteOffset, top - v.i!.byteOffset]).toEqual([112 * KB, 64 * KB]);
    // f and g (neighbours) merge back into 16 KB; a 16 KB block fits there.
    await release(drop('f', 'g'));
    keep('j', 16);
    expect(top - v.j!.byteOffset).toBe(80 * KB);
    // The lowest block given back: the kept extent shrinks; then d's too, with the hole above it.
    expect(arena.keptBytes).toBe(144 * KB);
    await release(drop('e'));
    expect(arena.keptBytes).toBe(128 * KB);
    await release(drop('d', 'h'));
    expect(arena.keptBytes).toBe(80 * KB);
    // Scratch and kept arrays never meet: past the scratch used so far, keep refuses.
    arena.f32(KB * KB, 'a test');
    expect(() => arena.keep([(top - 80 * KB - KB * KB + 64) / 4])).toThrow(`the threads' memory: no room to keep ${top - 80 * KB - KB * KB + 64} more bytes (${80 * KB} kept, ${KB * KB} used as scratch, of ${top})`);
    expect(() => arena.f32(top - 80 * KB + 4, 'a test')).toThrow(`a test: needs ${top - 80 * KB + 4} bytes of scratch in the threads' memory, ${top - 80 * KB} are free beside the arrays kept there (${80 * KB} bytes)`);
    expect(() => arena.f32(top, undefined)).toThrow(/^the threads' task memory: needs/);
    expect(arena.f32(top - 80 * KB, 'a test').buffer).toBe(arena.buffer); // up to the lowest kept array
    expect(Object.keys(v).sort()).toEqual(['i', 'j']);
  });

  it("reads operands kept in the threads' memory where they are, writes into a kept result, and leaves the operands as they were", () => {
    const arena = getTasks()!.arena;
    for (const [tA, tB, minWork] of [...FORMS.map(([tA, tB]) => [tA, tB, 0] as const), ...FORMS.map(([tA, tB]) => [tA, tB, PARALLEL_MIN_WORK] as const)]) {
      // With the default minWork, the last four are below it: on this thread alone, in the threads' memory.
      setThreadOptions({ minWork });
      for (const [m, k, n] of [[100, 500, 784], [100, 784, 500], [784, 100, 500], [37, 61, 70], [100, 500, 2], [500, 100, 2], [2, 100, 500], [100, 2, 500]] as const) {
        const [a, b] = [randomFloat32(m * k, m + k), randomFloat32(k * n, n)];
        const want = new Float32Array(m * n);
        single.matmulInto(want, a, b, m, k, n, tA, tB);
        // A kept result is copied into by the module, row by row: the guard after it stays as it was.
        const [ka, kb, kout, guard] = arena.keep([m * k, k * n, m * n, 64]) as [Float32Array, Float32Array, Float32Array, Float32Array];
        ka.set(a);
        kb.set(b);
        guard.fill(7);
        for (const [x, y, out] of [[ka, b, new Float32Array(m * n)], [a, kb, new Float32Array(m * n)], [ka, kb, kout], [a, b, kout]] as const) {
          out.fill(Number.NaN);
          parallel(out, x, y, m, k, n, tA, tB);
          expect(firstDifference(out, want), `${m}×${k}×${n} ${tA} ${tB}`).toBe(-1);
          expect(guard.every((v) => v === 7)).toBe(true);
        }
        expect(firstDifference(ka, a)).toBe(-1);
        expect(firstDifference(kb, b)).toBe(-1);
      }
    }
    setThreadOptions({ minWork: 0 });
    // Plain operands and result below minWork are the single-thread kernel's.
    setThreadOptions({ minWork: PARALLEL_MIN_WORK });
    expect(matmulParallelInto(new Float32Array(200), randomFloat32(50_000, 1), randomFloat32(1000, 2), 100, 500, 2, false, false)).toBe(false);
    setThreadOptions({ minWork: 0 });
  });

  it("runs the 0/1 product on a W kept in the threads' memory and into a kept gradient, bit for bit as on copies", () => {
    const arena = getTasks()!.arena;
    const rng = new Random(43);
    const [B, D, H] = [100, 784, 500];
    const x = Float32Array.from({ length: B * D }, () => (rng.uniform() < 0.13 ? 1 : 0));
    const w = Float32Array.from({ length: H * D }, () => rng.normal());
    const g = Float32Array.from({ length: B * H }, () => rng.normal());
    const gHB = Float32Array.from({ length: H * B }, () => rng.normal()); // A·x: A (H×B) transposed whole first
    const [kw, kg, kgx, kgHB] = arena.keep([H * D, B * H, H * D, H * B]) as [Float32Array, Float32Array, Float32Array, Float32Array];
    kw.set(w);
    kg.set(g);
    kgHB.set(gHB);
    const plainArray = (n: number): Float32Array => new Float32Array(n);
    const run = (wIn: Float32Array, gIn: Float32Array, gxOut: Float32Array, aIn: Float32Array = wIn === w ? gHB : kgHB, xIn: Float32Array = x, make: (n: number) => Float32Array = plainArray) => {
      const xw = make(B * H); // x·Wᵀ: W read where it is when kept
      matmulBinaryWasmInto(matmulWasmInto, xw, xIn, wIn, B, D, H, false, true, 'a');
      const xwStored = make(B * D); // x·W with W as stored (H×D read as D'×H'): copied in whole
      matmulBinaryWasmInto(matmulWasmInto, xwStored, xIn.subarray(0, B * H), wIn, B, H, D, false, false, 'a');
      gxOut.fill(Number.NaN); // gᵀ·x: written where the kept result is
      matmulBinaryWasmInto(matmulWasmInto, gxOut, gIn, xIn, H, B, D, true, false, 'b');
      const gx = Float32Array.from(gxOut);
      const ax = make(H * D); // A·x, A kept: transposed from where it is
      matmulBinaryWasmInto(matmulWasmInto, ax, aIn, xIn, H, B, D, false, false, 'b');
      return { xw, xwStored, gx, ax };
    };
    const plain = run(w, g, new Float32Array(H * D));
    const kept = run(kw, kg, kgx);
    // A training step's case: x, the results and G (read as M where it is) in the memory too; each
    // result followed by a guard that stays as it was.
    const [kx] = arena.keep([B * D]) as [Float32Array];
    kx.set(x);
    const guards: Float32Array[] = [];
    const keptArray = (n: number) => {
      const [v, guard] = arena.keep([n, 16]) as [Float32Array, Float32Array];
      guards.push(guard.fill(5));
      return v;
    };
    arena.f32(1 << 23).fill(Number.NaN, 0, 1 << 21); // the scratch: nothing may be read from an earlier call's copies
    const inMemory = run(kw, kg, arena.keep([H * D])[0]!, kgHB, kx, keptArray);
    for (const key of ['xw', 'xwStored', 'gx', 'ax'] as const) expect(firstDifference(inMemory[key], plain[key]), key).toBe(-1);
    for (const guard of guards) expect(guard.every((v) => v === 5)).toBe(true);
    expect(firstDifference(kx, x)).toBe(-1);
    setThreadOptions({ tasks: false });
    const one = run(w, g, new Float32Array(H * D));
    setThreadOptions({ tasks: true });
    for (const key of ['xw', 'xwStored', 'gx', 'ax'] as const) {
      expect(firstDifference(kept[key], plain[key]), key).toBe(-1);
      expect(firstDifference(kept[key], one[key]), key).toBe(-1);
    }
    expect(firstDifference(kw, w)).toBe(-1);
    expect(firstDifference(kg, g)).toBe(-1);
    expect(worstSumError(kept.gx, [H, D, B], [7, 3], (j, p, i) => (x[i * D + p] ? g[i * H + j]! : 0))).toBeLessThan(1e-5);
    expect(worstSumError(kept.ax, [H, D, B], [7, 3], (j, p, i) => (x[i * D + p] ? gHB[j * B + i]! : 0))).toBeLessThan(1e-5);
    expect(firstDifference(kgHB, gHB)).toBe(-1);
  });

  it("steps a parameter kept in the threads' memory where it is: the same bits as a copy of it, the slot's copy unused", () => {
    const arena = getTasks()!.arena;
    const rng = new Random(47);
    const n = 200_001;
    const start = Float32Array.from({ length: n }, () => rng.normal());
    const grads = [0, 1, 2].map(() => Float32Array.from({ length: n }, () => rng.normal()));
    const s = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
    for (const precision of ['f32', 'f64'] as const) {
      const [inPlace, copied] = [new AdamMemory([n]), new AdamMemory([n])];
      expect(inPlace.memory).toBe(arena.memory);
      const [kept] = arena.keep([n]) as [Float32Array];
      kept.set(start);
      const plain = Float32Array.from(start);
      grads.forEach((g, t) => {
        const step = { ...s, precision, c1: 1 / (1 - 0.9 ** (t + 1)), c2: 1 / (1 - 0.999 ** (t + 1)) };
        adamWasm(kept, g, inPlace.slots[0]!, step);
        adamWasm(plain, g, copied.slots[0]!, step);
      });
      expect(firstDifference(kept, plain), precision).toBe(-1);
      expect(firstDifference(inPlace.m[0]!, copied.m[0]!)).toBe(-1);
      expect(firstDifference(inPlace.v[0]!, copied.v[0]!)).toBe(-1);
      expect(inPlace.p[0]!.every((x) => x === 0)).toBe(true); // stepped in place: never copied into the slot
      expect(firstDifference(copied.p[0]!, plain)).toBe(-1);
    }
  });

  it('counts what it did: the planned chunks, the helpers\' share within them, the task calls and the wait', () => {
    if (!wasm) return;
    const [m, k, n] = [100, 784, 500];
    const [a, b, out] = [randomFloat32(m * k, 11), randomFloat32(k * n, 12), new Float32Array(m * n)];
    const before = getThreadStats();
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) {
      expect(matmulParallelInto(out, a, b, m, k, n, false, false)).toBe(true);
      biasTanhWasm(Float32Array.from(out), b.subarray(0, n), m, n); // a task
    }
    const wall = performance.now() - t0;
    const after = getThreadStats();
    const d = Object.fromEntries(Object.keys(after).map((key) => [key, after[key as keyof typeof after] - before[key as keyof typeof before]]));
    // Each product on the pool counts its planned chunks; one that a late helper kept off the pool (a busy machine) counts none.
    const per = planChunks(m, n, k, 2).chunks;
    expect(d.chunks % per).toBe(0);
    expect(d.chunks).toBeGreaterThan(0);
    expect(d.chunks).toBeLessThanOrEqual(20 * per);
    expect(d.byHelpers).toBeGreaterThanOrEqual(0);
    expect(d.byHelpers + d.retaken).toBeLessThanOrEqual(d.chunks); // a retaken chunk is counted as this thread's
    expect(d.taskCalls).toBeGreaterThanOrEqual(0); // (a task that a late helper keeps on this thread counts none)
    expect(d.taskCallsByHelpers).toBeGreaterThanOrEqual(0);
    expect(d.taskCallsByHelpers).toBeLessThanOrEqual(d.taskCalls);
    expect(d.waitMs).toBeGreaterThanOrEqual(0);
    expect(d.waitMs).toBeLessThanOrEqual(wall);
  });

  it('refuses (returns false, writes nothing) what it does not run: empty, non-integer, short operands, below minWork', () => {
    if (!wasm) return;
    const [a, b] = [randomFloat32(64, 13), randomFloat32(64, 14)];
    const untouched = (f: (out: Float32Array) => boolean, what: string) => {
      const out = new Float32Array(64).fill(7);
      expect(f(out), what).toBe(false);
      expect(out.every((v) => v === 7), what).toBe(true);
    };
    untouched((o) => matmulParallelInto(o, a, b, 0, 4, 4, false, false), 'no rows');
    untouched((o) => matmulParallelInto(o, a, b, 4, 0, 4, false, false), 'k = 0');
    untouched((o) => matmulParallelInto(o, a, b, 4, 4, 0, false, false), 'no columns');
    untouched((o) => matmulParallelInto(o, a, b, 2.5, 4, 4, false, false), 'm = 2.5');
    untouched((o) => matmulParallelInto(o, a, b, 4, 2.5, 4, false, false), 'k = 2.5');
    untouched((o) => matmulParallelInto(o, a, b, 4, 4, 2.5, false, false), 'n = 2.5');
    untouched((o) => matmulParallelInto(o, a.subarray(0, 15), b, 4, 4, 4, false, false), 'A short');
    untouched((o) => matmulParallelInto(o, a, b.subarray(0, 15), 4, 4, 4, false, false), 'B short');
    untouched((o) => matmulParallelInto(o.subarray(0, 15), a, b, 4, 4, 4, false, false), 'out short');
    setThreadOptions({ minWork: 65 });
    try {
      untouched((o) => matmulParallelInto(o, a, b, 4, 4, 4, false, false), '64 multiply-adds, below 65');
      setThreadOptions({ minWork: 64 });
      const out = new Float32Array(16);
      expect(matmulParallelInto(out, a, b, 4, 4, 4, false, false)).toBe(true); // at minWork: runs
      const want = new Float32Array(16);
      single.matmulInto(want, a, b, 4, 4, 4, false, false);
      expect(firstDifference(out, want)).toBe(-1);
    } finally {
      setThreadOptions({ minWork: 0 });
    }
  });

  it('refuses a task of more calls, or calls of more arguments, than the control block holds', () => {
    if (!wasm) return;
    const tasks = getTasks()!;
    expect(() => tasks.run('elementwise.biasTanh', Array.from({ length: 65 }, () => [0, 0, 0, 4]))).toThrow('runTask: at most 64 calls of at most 16 arguments, got 65 calls of up to 4 arguments');
    expect(() => tasks.run('elementwise.biasTanh', [[0, 0, 0, 4], Array(17).fill(0)])).toThrow('runTask: at most 64 calls of at most 16 arguments, got 2 calls of up to 17 arguments');
  });

  it('dispatches through matmulInto by size', () => {
    const before = getThreadStats().chunks;
    check(matmulInto as Run, 100, 784, 500, false, true, 7, true, wasm);
    expect(getThreadStats().chunks > before).toBe(wasm);
    check(matmulInto as Run, 3, 5, 2, true, true, 8, true, false);
  });
});

describe('the default crossover', () => {
  beforeAll(async () => {
    expect(await useWorkerThreads(2)).toBe(2);
  });

  it('keeps small products on one thread', () => {
    expect(matmulParallelInto(new Float32Array(64 * 64), new Float32Array(64 * 64), new Float32Array(64 * 64), 64, 64, 64, false, false)).toBe(false);
    const s = Math.ceil(Math.cbrt(PARALLEL_MIN_WORK));
    check(parallel, s, s, s, false, false, 9);
    for (const [tA, tB] of FORMS) check(matmulInto as Run, 37, 41, 29, tA, tB, 10, true, wasm); // single-thread path
  });

  it('is usable before the workers are up (the caller does all chunks)', () => {
    void useWorkerThreads(2);
    check(parallel, 100, 784, 500, false, false, 11, false);
  });

  it('stops cleanly: the workers exit', async () => {
    const handles: WorkerHandle[] = [];
    const exits: string[] = [];
    await startThreads(recordingSpawn(handles, exits), 3);
    expect(getThreads()).toBe(3);
    check(parallel, 200, 300, 400, true, false, 12);
    stopWorkerThreads();
    expect(getThreads()).toBe(1);
    expect(matmulParallelInto(new Float32Array(1e6), new Float32Array(1e6), new Float32Array(1e6), 1000, 1000, 1000, false, false)).toBe(false);
    await vi.waitFor(() => expect(exits).toHaveLength(2), { timeout: 5000 });
  });
});

describe('failures fall back to one thread', () => {
  let warn: ReturnType<typeof vi.spyOn>;
  beforeAll(() => {
    warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  });
  afterEach(() => {
    stopWorkerThreads();
    warn.mockClear();
  });
  afterAll(() => warn.mockRestore());

  it('a worker terminated behind the pool’s back', async () => {
    const handles: WorkerHandle[] = [];
    const exits: string[] = [];
    await startThreads(recordingSpawn(handles, exits), 2, { minWork: 0 });
    handles[0]!.terminate();
    check(parallel, 100, 784, 500, false, false, 13, false); // before the exit event: the caller does all
    await vi.waitFor(() => expect(exits).toHaveLength(1), { timeout: 5000 });
    expect(getThreads()).toBe(1);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/threads disabled.*exited/);
    check(matmulInto as Run, 100, 784, 500, true, false, 14, !wasm, wasm);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('a dead worker whose exit event never arrives (synchronous caller)', () => {
    // A worker that never starts: no ready, no events. The caller does every chunk; since the
    // worker never became READY it is not declared dead, but nothing hangs.
    const silent: SpawnWorker = () => ({ postMessage() {}, terminate() {} });
    void startThreads(silent, 2, { minWork: 0, timeoutMs: 10 });
    for (let i = 0; i < 5; i++) check(parallel, 64, 64, 64, i % 2 === 1, false, 15 + i);
  });

  it('a slow worker (descheduled on a busy machine): the caller computes its chunks again, same bits', async () => {
    expect(await startThreads(slowSpawn(20), 2, { minWork: 0 })).toBe(2);
    const before = getThreadStats();
    for (let i = 0; i < 6; i++) {
      check(parallel, 100, 784, 500, i % 2 === 1, i % 3 === 0, 40 + i, false); // bit for bit against one thread
      if (i === 2) await new Promise((resolve) => setTimeout(resolve, 50)); // it catches up: threads again
    }
    expect(getThreadStats().retaken).toBeGreaterThan(before.retaken);
    expect(getThreads()).toBe(2);
    expect(warn).not.toHaveBeenCalled();
  });

  it('while a worker is late with a product, tasks run alone in their own memory (the late chunk lands in the shared scratch)', async () => {
    expect(await startThreads(slowSpawn(200), 2, { minWork: 0 })).toBe(2);
    expect(getTasks()).not.toBeNull();
    const [a, b] = [randomFloat32(100 * 784, 61), randomFloat32(784 * 500, 62)];
    const product = new Float32Array(100 * 500);
    single.matmulInto(product, a, b, 100, 784, 500, false, true);
    const rng = new Random(59);
    const [B, D, H] = [100, 784, 500];
    const x = Float32Array.from({ length: B * D }, () => (rng.uniform() < 0.13 ? 1 : 0));
    const g = Float32Array.from({ length: B * H }, () => rng.normal());
    const want = new Float32Array(H * D);
    matmulBinaryWasmInto(matmulWasmInto, want, g, x, H, B, D, true, false, 'b');
    let late = false;
    for (let i = 0; i < 20 && !late; i++) {
      const before = getThreadStats().retaken;
      const out = new Float32Array(100 * 500);
      parallel(out, a, b, 100, 784, 500, false, true);
      late = getThreadStats().retaken > before;
      expect(firstDifference(out, product)).toBe(-1);
      if (!late) await new Promise((resolve) => setTimeout(resolve, 250)); // a chunk it took: let it finish
    }
    expect(late).toBe(true);
    // The helper still sleeps before writing its chunk: no task may use the scratch it writes into.
    expect(getTasks()).toBeNull();
    for (let i = 0; i < 10; i++) {
      const gx = new Float32Array(H * D);
      matmulBinaryWasmInto(matmulWasmInto, gx, g, x, H, B, D, true, false, 'b');
      expect(firstDifference(gx, want)).toBe(-1);
    }
    await vi.waitFor(() => expect(getTasks()).not.toBeNull(), { timeout: 2000 }); // done: tasks again
    expect(warn).not.toHaveBeenCalled();
  });

  // Misbehaving helpers: each takes a post (POSTED -> TAKEN) and claims a chunk, then either
  // never finishes (the deadline) or reports FAILED without computing it.
  for (const [name, after, message] of [
    ['never finishes: the deadline', '', /did not finish/],
    ['reports a failure', 'Atomics.store(ctl, 0, 4); Atomics.notify(ctl, 0);', /worker 1 failed/],
  ] as const) {
    it(`a worker that takes a chunk and ${name}`, async () => {
      const source = misbehavingWorker(after);
      const exits: string[] = [];
      const spawn: SpawnWorker = (_source, events) => recordingSpawn([], exits)(source, events);
      expect(await startThreads(spawn, 2, { minWork: 0, timeoutMs: 200 })).toBe(2);
      // It may be too slow to take the first posts (the caller cancels them): call until it takes one.
      for (let i = 0; i < 50 && getThreads() === 2; i++) {
        const t0 = performance.now();
        check(parallel, 100, 784, 500, false, true, 20 + i, false);
        expect(performance.now() - t0).toBeLessThan(5000);
      }
      expect(getThreads()).toBe(1);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(message);
      await vi.waitFor(() => expect(exits).toHaveLength(1), { timeout: 5000 }); // terminated
    });
  }

  // The same misbehaving helpers, in a task (in-place kernels: nobody else may redo its part).
  for (const [name, after, message] of [
    ['never finishes: the task throws at the deadline', '', /worker thread 1 did not finish within 200 ms of its part/],
    ['reports a failure: the task throws', 'Atomics.store(ctl, 0, 4); Atomics.notify(ctl, 0);', /worker thread 1 failed in its part/],
  ] as const) {
    it(`a worker that takes part of a task and ${name}`, async () => {
      const source = misbehavingWorker(after);
      const spawn: SpawnWorker = (_source, events) => recordingSpawn([])(source, events);
      expect(await startThreads(spawn, 2, { timeoutMs: 200 })).toBe(2);
      // tanh of 64 rows of 4096 zeros (bias 0), a row per call, in the task memory; again until the
      // worker takes a call (it may be too slow to wake for the first ones).
      const ld = 4096;
      let thrown: unknown;
      for (let i = 0; i < 200 && thrown === undefined; i++) {
        const tasks = getTasks()!;
        tasks.arena.f32(4 * ld * 65).fill(0, 0, ld * 65);
        try {
          tasks.run('elementwise.biasTanh', Array.from({ length: 64 }, (_, r) => [4 * ld * (r + 1), 0, 1, ld]));
        } catch (e) {
          thrown = e;
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      expect(String(thrown)).toMatch(/^Error: elementwise\.biasTanh: /);
      expect(String(thrown)).toMatch(message);
      expect(getThreads()).toBe(1);
      expect(getTasks()).toBeNull();
      expect(warn).toHaveBeenCalledTimes(1);
    });
  }

  it('a worker that fails to start', async () => {
    const spawn: SpawnWorker = (_source, events) => spawnNodeWorker('throw new Error("boom")', events);
    expect(await startThreads(spawn, 2)).toBe(1);
    expect(getThreads()).toBe(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/boom/);
  });

  it('a spawn function that throws', async () => {
    const spawn: SpawnWorker = () => {
      throw new Error('no workers here');
    };
    expect(await startThreads(spawn, 2)).toBe(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/no workers here/);
    // No pool: parameters are plain arrays.
    expect(new VAE({ hidden: 3 }).namedParameters().get('encoder.layers.0.weight')!.data.buffer).toBeInstanceOf(ArrayBuffer);
  });
});

/** The browser's Worker as far as useWebWorkers uses it, run by a Node worker that sees only `self`. */
class FakeWebWorker {
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onerror: ((e: { message: string }) => void) | null = null;
  private worker: NodeWorker | undefined;
  private readonly queue: unknown[] = [];
  constructor(url: string) {
    void resolveObjectURL(url)!.text().then((source) => {
      const w = new NodeWorker(
        `const { parentPort } = require('node:worker_threads');
        const self = { postMessage: (d) => parentPort.postMessage(d), close: () => process.exit(0),
          set onmessage(f) { parentPort.on('message', (data) => f({ data })); } };
        ((process, require) => { ${source} })(undefined, undefined); // no Node globals`,
        { eval: true },
      );
      w.on('message', (data) => this.onmessage?.({ data }));
      w.on('error', (e) => this.onerror?.({ message: e.message }));
      w.unref();
      for (const m of this.queue) w.postMessage(m);
      this.worker = w;
    });
  }
  postMessage(m: unknown): void {
    if (this.worker) this.worker.postMessage(m);
    else this.queue.push(m);
  }
  terminate(): void {
    void this.worker?.terminate();
  }
}

describe('useWebWorkers (browser API, simulated)', () => {
  const g = globalThis as { crossOriginIsolated?: boolean; Worker?: unknown };
  afterEach(() => {
    stopWorkerThreads();
    delete g.crossOriginIsolated;
    delete g.Worker;
  });

  it('stays on one thread without cross-origin isolation', async () => {
    g.Worker = FakeWebWorker;
    expect(await useWebWorkers(2)).toBe(1);
    expect(getThreads()).toBe(1);
  });

  it('stays on one thread without a Worker constructor or Blob, even when isolated, without trying (no warning)', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    g.crossOriginIsolated = true;
    try {
      expect(await useWebWorkers(2)).toBe(1);
      g.Worker = FakeWebWorker;
      vi.stubGlobal('Blob', undefined);
      expect(await useWebWorkers(2)).toBe(1);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      vi.unstubAllGlobals();
      warn.mockRestore();
    }
    expect(getThreads()).toBe(1);
  });

  it('a Web Worker that reports an error event without a message retires the pool, with a warning', async () => {
    g.crossOriginIsolated = true;
    g.Worker = class {
      onmessage: unknown = null;
      onerror: ((e: { message: string }) => void) | null = null;
      constructor() {
        setTimeout(() => this.onerror?.({ message: '' }), 0);
      }
      postMessage(): void {}
      terminate(): void {}
    };
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(await useWebWorkers(2)).toBe(1);
      expect(warn).toHaveBeenCalledWith('tsgrad: matmul threads disabled, continuing on one thread (worker 1: worker error)');
    } finally {
      warn.mockRestore();
    }
  });

  it('runs the worker source as a Web Worker', async () => {
    g.crossOriginIsolated = true;
    g.Worker = FakeWebWorker;
    expect(await useWebWorkers(2, { minWork: 0 })).toBe(2);
    for (const [tA, tB] of FORMS) check(parallel, 100, 300, 200, tA, tB, 30, false);
    // The worker takes chunks (on a loaded machine the caller may do all of the first few products).
    const before = getThreadStats().byHelpers;
    for (let i = 0; i < 50 && getThreadStats().byHelpers === before; i++) check(parallel, 100, 300, 200, false, false, 31 + i, false);
    expect(getThreadStats().byHelpers).toBeGreaterThan(before);
  });

  it("keeps Adam's memory in the threads' memory with Web Workers, and steps it alone once the pool is gone", async () => {
    g.crossOriginIsolated = true;
    g.Worker = FakeWebWorker;
    expect(await useWebWorkers(2)).toBe(2);
    const n = 100_003;
    const rng = new Random(51);
    const start = Float32Array.from({ length: n }, () => rng.normal());
    const grads = [0, 1, 2].map(() => Float32Array.from({ length: n }, () => rng.normal()));
    const step = (t: number) => ({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, precision: 'f32' as const, c1: 1 / (1 - 0.9 ** (t + 1)), c2: 1 / (1 - 0.999 ** (t + 1)) });
    // With tasks off at its construction, a memory of its own: the one-thread reference.
    setThreadOptions({ tasks: false });
    const alone = new AdamMemory([n]);
    setThreadOptions({ tasks: true });
    const shared = new AdamMemory([n]);
    expect(shared.memory).toBe(getTasks()!.arena.memory);
    expect(alone.memory).not.toBe(shared.memory);
    const [p1, p2] = [Float32Array.from(start), Float32Array.from(start)];
    const before = getThreadStats().taskCallsByHelpers;
    const both = (t: number) => {
      adamWasm(p1, grads[t % 3]!, alone.slots[0]!, step(t));
      adamWasm(p2, grads[t % 3]!, shared.slots[0]!, step(t));
    };
    // Until the worker has taken a part (on a loaded machine this thread may do all of the first steps).
    let t = 0;
    for (; t < 50 && (t < 2 || getThreadStats().taskCallsByHelpers === before); t++) both(t);
    if (wasm) expect(getThreadStats().taskCallsByHelpers).toBeGreaterThan(before);
    stopWorkerThreads(); // then two steps with the pool gone: the threads' memory steps on this thread
    both(t++);
    both(t++);
    for (const [x, y] of [[p2, p1], [shared.m[0]!, alone.m[0]!], [shared.v[0]!, alone.v[0]!]] as const) expect(firstDifference(x, y)).toBe(-1);
  });
});

describe('where threads cannot run: startThreads stays on one thread and spawns nothing', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    stopWorkerThreads();
  });
  const spawned: string[] = [];
  const spy: SpawnWorker = (source, events) => {
    spawned.push('spawned');
    return spawnNodeWorker(source, events);
  };

  it('setThreadOptions without a pool does nothing', () => {
    stopWorkerThreads();
    expect(() => setThreadOptions({ minWork: 5, spinMs: 1 })).not.toThrow();
    expect(getThreads()).toBe(1);
  });

  it('one thread or fewer, or not a number', async () => {
    for (const threads of [1, 0, -2, 0.5, Number.NaN]) expect(await startThreads(spy, threads), String(threads)).toBe(1);
    expect(spawned).toEqual([]);
    expect(getThreads()).toBe(1);
  });

  it('where this thread may not block (a page\'s main thread), or there is no SharedArrayBuffer or Atomics', async () => {
    expect(canBlock()).toBe(true);
    const cases: [string, () => void][] = [
      ['Atomics.wait refused', () => vi.stubGlobal('Atomics', Object.create(Atomics, { wait: { value: () => { throw new TypeError('Atomics.wait cannot be called in this context'); } } }))],
      ['no SharedArrayBuffer', () => vi.stubGlobal('SharedArrayBuffer', undefined)],
      ['no Atomics', () => vi.stubGlobal('Atomics', undefined)],
    ];
    for (const [name, stub] of cases) {
      stub();
      expect(canBlock(), name).toBe(false);
      expect(await startThreads(spy, 2), name).toBe(1);
      vi.unstubAllGlobals();
    }
    expect(spawned).toEqual([]);
  });
});

it('the worker source is a classic script (Node eval workers and Blob-URL Web Workers)', () => {
  expect(() => new Function(WORKER_SOURCE)).not.toThrow(); // parses without module syntax
});

describe('parameters made while a pool runs', () => {
  afterAll(() => stopWorkerThreads());

  it("live in the threads' memory, and a VAE trains to the same bits on them as on plain arrays", async () => {
    stopWorkerThreads();
    const plain = new VAE({}, { seed: 3 });
    expect(await useWorkerThreads(2)).toBe(2);
    const arena = getTasks()!.arena;
    const kept = new VAE({}, { seed: 3 });
    const pairs = [...plain.namedParameters()].map(([name, p]) => [name, p.data as Float32Array, kept.namedParameters().get(name)!.data as Float32Array] as const);
    for (const [name, p, k] of pairs) {
      expect(arena.address(p), name).toBe(-1);
      expect(arena.address(k), name).toBe(k.byteOffset);
      expect(firstDifference(k, p), name).toBe(-1);
    }
    const rng = new Random(53);
    const images = Float32Array.from({ length: 300 * 784 }, () => (rng.uniform() < 0.13 ? 1 : 0));
    const options = { batchSize: 100, lr: 1e-3, seed: 4 };
    const [a, b] = [new Trainer(plain, images, options), new Trainer(kept, images, options)];
    for (let t = 0; t < 4; t++) expect(b.step().elbo).toBe(a.step().elbo);
    for (const [name, p, k] of pairs) expect(firstDifference(k, p), name).toBe(-1);
    stopWorkerThreads();
    // With the pool gone, parameters are plain arrays again; the kept ones still train (on one thread).
    expect(arena.address(new VAE({}, { seed: 3 }).namedParameters().get('decoder.layers.1.weight')!.data)).toBe(-1);
    expect(b.step().elbo).toBe(a.step().elbo);
    for (const [name, p, k] of pairs) expect(firstDifference(k, p), name).toBe(-1);
  });
});
