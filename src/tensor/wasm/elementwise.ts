// Runtime of the element-wise WebAssembly SIMD128 kernels of ./elementwise-module.ts.
//
// Two kinds of instances of the one compiled module:
// - a scratch instance (own growable memory) for the fused ops' kernels: operands are copied in, the
//   kernel runs, results are copied out, in chunks of at most CHUNK values so that the memory stays
//   small whatever the batch. Views of the scratch memory are made per call and never kept, so
//   growing it is safe.
// - one AdamMemory per optimizer: the gradient buffers and both moments of all its float32 parameters
//   live there for the optimizer's lifetime, and a slot per parameter that a step copies it into and
//   back out of (parameters' own arrays stay where they are). On one thread it is a memory of its
//   own whose size is fixed at creation (maximum = initial): a non-shared memory that grows detaches
//   every view of it, and the gradient buffers and moments are such views. With a thread pool it is a
//   block of the threads' memory, where a parameter kept there too is stepped in place.
//
// The module is compiled synchronously on first use. Should that fail (no SIMD128; or a browser's main
// thread refusing a synchronous compile of a module over 4 KB), `wasmElementwiseAvailable()` is false
// and callers use their TypeScript loops; `await initWasmElementwise()` compiles asynchronously.

import { buildElementwiseModule, type ElementwiseExports } from './elementwise-module.js';
import type { AdamSlot, AdamState, AdamStep } from '../kernels.js';
import { wasmSimdSupported } from './matmul.js';
import { getTasks, runParts, type TaskArena, type Tasks } from './parallel.js';

const PAGE = 65536;
/** Values per chunk of a scratch kernel call (512 KiB per operand). */
const CHUNK = 1 << 17;
// Stryker disable next-line ArithmeticOperator: a larger round-up (x·to) only pads more
const roundUp = (x: number, to: number): number => Math.ceil(x / to) * to;
/** Kernels over fewer elements than this stay on one thread (a task costs a few tens of µs). */
const PARALLEL_MIN_ELEMENTS = 1 << 14;

/** The compiled module; null once compiling failed (no SIMD, or a synchronous compile refused). */
let compiled: WebAssembly.Module | null | undefined;

function compileSync(): WebAssembly.Module | null {
  // Stryker disable next-line ConditionalExpression: compiling again gives the same module, or the same failure
  if (compiled === undefined) {
    try {
      compiled = wasmSimdSupported() ? new WebAssembly.Module(buildElementwiseModule()) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/**
 * Compiles the module asynchronously: on a browser's main thread, where a synchronous compile may be
 * refused (the module is ~3.9 KB, under Chrome's 4 KB limit today). Optional elsewhere.
 */
export async function initWasmElementwise(): Promise<void> {
  // Stryker disable next-line ConditionalExpression: compiling again gives the same module
  if (compiled) return;
  try {
    compiled = wasmSimdSupported() ? await WebAssembly.compile(buildElementwiseModule()) : null;
  } catch {
    compiled = null;
  }
}

/** True if the element-wise kernels can run here (WebAssembly SIMD128, module compiled and instantiable). */
export function wasmElementwiseAvailable(): boolean {
  scratch ??= newScratch();
  return scratch !== undefined;
}

/** The scratch instance, or undefined without a module (no SIMD, a refused compile) or where instantiating is refused. */
function newScratch(): Scratch | undefined {
  try {
    return new Scratch();
  } catch {
    // unavailable: undefined
  }
}

function instantiate(memory: WebAssembly.Memory): ElementwiseExports {
  const mod = compileSync();
  if (mod === null) throw new Error('wasm element-wise kernels: the module could not be compiled here (no WebAssembly SIMD128, or a synchronous compile refused: await initWasmElementwise() first)');
  return new WebAssembly.Instance(mod, { env: { memory } }).exports as unknown as ElementwiseExports;
}

// ---- scratch kernels ---------------------------------------------------------

class Scratch {
  readonly memory = new WebAssembly.Memory({ initial: 16 });
  readonly k: ElementwiseExports = instantiate(this.memory);
  /** No operand lives in this memory: every one is copied in. */
  // Stryker disable next-line BlockStatement: undefined, like -1, is no address (>= 0 is false)
  address(): number {
    return -1;
  }

  /** The memory as float32, at least `bytes` long (grows, never shrinks). */
  f32(bytes: number): Float32Array {
    const have = this.memory.buffer.byteLength;
    // Stryker disable next-line EqualityOperator,ArithmeticOperator: growing by more than needed changes the memory's size only
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE));
    return new Float32Array(this.memory.buffer);
  }
}

let scratch: Scratch | undefined;
const getScratch = (): Scratch => (scratch ??= new Scratch());

/** Where a kernel call runs: the scratch memory, or the thread pool's task memory. */
interface Space {
  readonly memory: WebAssembly.Memory;
  readonly k: ElementwiseExports;
  f32(bytes: number): Float32Array;
  /** The byte address of an array that lives in this memory (a training step's, a parameter), else -1. */
  address(x: Float32Array): number;
}

/** The task memory as a Space, made once per arena (the process has one). */
let arenaSpace: { arena: TaskArena; space: Space } | undefined;

/**
 * The thread pool's tasks when there is one and `elements` is worth splitting, with the task memory
 * as the Space to run in; else null (the scratch instance, one thread).
 */
// Stryker disable all: speed only: the scratch memory on one thread and the task memory on the pool's threads give the same bits (test/threads.test.ts)
function parallel(elements: number): { tasks: Tasks; space: Space } | null {
  if (elements < PARALLEL_MIN_ELEMENTS) return null;
  const tasks = getTasks();
  if (tasks === null) return null;
  const { arena } = tasks;
  if (arenaSpace?.arena !== arena) arenaSpace = { arena, space: { memory: arena.memory, k: arena.elementwise, f32: (bytes) => arena.f32(bytes), address: (x) => arena.address(x) } };
  return { tasks, space: arenaSpace.space };
}
// Stryker restore all


/**
 * Copies rows [r0, r1) of cols values between a row-major array (row stride cols) and a block of the
 * memory at `at` (row stride ld ≥ cols, first row r0): into the memory, or out of it with `out`.
 */
function copyRows(heap: Float32Array, at: number, ld: number, m: Float32Array, r0: number, r1: number, cols: number, out: boolean): void {
  // Stryker disable next-line ConditionalExpression: the row-by-row copy gives the same values
  if (ld === cols) {
    if (out) m.set(heap.subarray(at, at + (r1 - r0) * cols), r0 * cols);
    else heap.set(m.subarray(r0 * cols, r1 * cols), at);
    return;
  }
  for (let r = r0; r < r1; r++) {
    const h = at + (r - r0) * ld;
    if (out) m.set(heap.subarray(h, h + cols), r * cols);
    else heap.set(m.subarray(r * cols, (r + 1) * cols), h);
  }
}

/** An operand the kernel only reads (copying it back would leave it as it was). */
// Stryker disable next-line BooleanLiteral: copying back an operand the kernel only read leaves it as it was
const NOT_OUT = false;

/**
 * Runs a row kernel over matrices of rows × cols (row-major) and at most one vector of cols values, in
 * chunks of rows: copies each operand into the space's memory with rows padded to ld = cols rounded up
 * to 4, calls `kernel(k, matPtrs, chunkRows, ld)` (the vector, when there is one, sits at 0), and copies
 * back the first matrix if `matOut` and the vector if `vecOut`. The vector stays in place across
 * chunks (it may accumulate).
 */
function rowwise(
  rows: number,
  cols: number,
  vec: Float32Array | null,
  vecOut: boolean,
  mats: readonly Float32Array[],
  matOut: boolean,
  kernel: (k: ElementwiseExports, matPtrs: number[], rows: number, ld: number) => void,
  space: Space = getScratch(),
): void {
  // Stryker disable next-line ConditionalExpression,LogicalOperator: without it, no rows or no columns make the loops below copy and compute nothing (tested)
  if (rows === 0 || cols === 0) return;
  const s = space;
  const ld = roundUp(cols, 4);
  // Matrices that all live in the space's memory already (a training step's arrays), with rows a
  // multiple of 4 wide, are used where they are, all rows in one pass; else copied in chunk by chunk.
  // Stryker disable next-line ArrowFunction: speed only: no address makes the copies below run, the same values
  const at = mats.map((m) => s.address(m));
  // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator,MethodExpression,ArrowFunction: speed only: the copies below give the same values; no array of the memory is at address 0
  const inPlace = ld === cols && at.every((a) => a >= 0);
  // Stryker disable next-line ArithmeticOperator,MethodExpression: the chunk's size bounds the memory; any size gives the same values
  const chunkRows = inPlace ? rows : Math.max(1, Math.floor(CHUNK / ld));
  // Stryker disable next-line MethodExpression,ConditionalExpression: room for more rows than a chunk has is only unused
  const matBytes = inPlace ? 0 : Math.min(rows, chunkRows) * ld * 4;
  // Stryker disable next-line ConditionalExpression: room for a vector there is none of is only unused
  const vecBytes = vec === null ? 0 : ld * 4;
  const matPtrs = inPlace ? at : mats.map((_, i) => vecBytes + i * matBytes);
  let heap = s.f32(vecBytes + mats.length * matBytes);
  if (vec !== null) {
    heap.fill(0, 0, ld);
    heap.set(vec, 0);
  }
  // Stryker disable next-line EqualityOperator: a pass at r0 = rows has no rows: it copies nothing and the kernel does nothing
  for (let r0 = 0; r0 < rows; r0 += chunkRows) {
    const r1 = Math.min(rows, r0 + chunkRows);
    // Stryker disable next-line ConditionalExpression: a matrix copied onto itself is unchanged
    if (!inPlace) mats.forEach((m, i) => copyRows(heap, matPtrs[i] / 4, ld, m, r0, r1, cols, false));
    kernel(s.k, matPtrs, r1 - r0, ld);
    heap = new Float32Array(s.memory.buffer);
    // Stryker disable next-line ConditionalExpression,LogicalOperator: true copies back a first matrix the kernel only read, leaving it as it was; in place, onto itself
    if (matOut && !inPlace) copyRows(heap, matPtrs[0] / 4, ld, mats[0], r0, r1, cols, true);
  }
  // Stryker disable next-line ConditionalExpression,LogicalOperator: copying back a vector the kernel only read leaves it as it was
  if (vec !== null && vecOut) vec.set(heap.subarray(0, cols));
}

/** y[r, j] ← tanh(y[r, j] + bias[j]) for y of `rows` × `cols` (row-major) in place. */
export function biasTanhWasm(y: Float32Array, bias: Float32Array, rows: number, cols: number): void {
  // By rows, on the threads when there are enough: each element is computed by the same code on any thread (same bits).
  const par = parallel(rows * cols);
  rowwise(rows, cols, bias, NOT_OUT, [y], true, (k, [yp], n, ld) => {
    runParts(par?.tasks ?? null, 'elementwise.biasTanh', k.biasTanh, n, 1, (lo, hi) => [yp + lo * ld * 4, 0, hi - lo, ld]);
  }, par?.space);
}

/** y[r, j] ← y[r, j] + bias[j], or max(·, 0) with relu: bit-identical to TypeScript. */
export function biasAddWasm(y: Float32Array, bias: Float32Array, rows: number, cols: number, relu: boolean): void {
  // On this thread, in the threads' memory when a pool runs (a training step's arrays are used in place).
  // Stryker disable next-line ArithmeticOperator: speed only: the size only decides the memory, the same values in either
  rowwise(rows, cols, bias, NOT_OUT, [y], true, (k, [yp], n, ld) => k.biasAdd(yp, 0, n, ld, relu ? 1 : 0), parallel(rows * cols)?.space);
}

/**
 * gp = g·act'(y) (tanh' = 1 − y², relu' = [y > 0]) and, if gb is given, gb += gp's column sums:
 * bit-identical to TypeScript's activationBackwardJs (../fused.ts).
 */
export function activationBackwardWasm(gp: Float32Array, g: Float32Array, y: Float32Array, gb: Float32Array | null, rows: number, cols: number, activation: 'tanh' | 'relu'): void {
  const relu = activation === 'relu' ? 1 : 0;
  // On this thread, in the threads' memory when a pool runs (operands there are used in place).
  // Stryker disable next-line ArithmeticOperator: speed only: the size only decides the memory, the same values in either
  rowwise(rows, cols, gb, true, [gp, g, y], true, (k, [gpp, gq, yp], n, ld) => k.activationBackward(gpp, gq, yp, 0, n, ld, relu, gb === null ? 0 : 1), parallel(rows * cols)?.space);
}

/** gb[j] += Σ_r g[r, j]: bit-identical to TypeScript's columnSumsJs. */
export function columnSumsWasm(gb: Float32Array, g: Float32Array, rows: number, cols: number): void {
  // Stryker disable next-line ArithmeticOperator: speed only: the size only decides the memory, the same values in either
  rowwise(rows, cols, gb, true, [g], NOT_OUT, (k, [gq], n, ld) => k.columnSums(0, gq, n, ld), parallel(rows * cols)?.space);
}

/** out[r, j] = s[r]·d[r, j] (out may be d): bit-identical to TypeScript's scaleRowsJs. */
export function scaleRowsWasm(out: Float32Array, s: Float32Array, d: Float32Array, cols: number): void {
  const rows = s.length;
  // Stryker disable next-line ConditionalExpression,LogicalOperator: without it, no rows or no columns make the loop below copy and compute nothing (tested)
  if (rows === 0 || cols === 0) return;
  // Stryker disable next-line ArithmeticOperator: speed only: the size only decides the memory, the same values in either
  const par = parallel(rows * cols);
  // Stryker disable next-line ConditionalExpression,ArrayDeclaration,UnaryOperator: speed only: no addresses make the copies below run, the same values
  const [outAt, dAt] = par === null ? [-1, -1] : [par.space.address(out), par.space.address(d)];
  // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator,ArithmeticOperator,BlockStatement: speed only: the copies below give the same values; no array of the memory is at address 0
  if (par !== null && cols % 4 === 0 && outAt >= 0 && dAt >= 0) {
    // Both in the threads' memory (a training step's arrays): scaled where they are; only s is copied.
    // Stryker disable next-line ArithmeticOperator: the size claimed only bounds the scratch against the kept arrays
    const heap = par.space.f32(roundUp(rows, 4) * 4);
    heap.set(s, 0);
    par.space.k.scaleRows(outAt, 0, dAt, rows, cols);
    return;
  }
  const sc = getScratch();
  const ld = roundUp(cols, 4);
  // Stryker disable next-line ArithmeticOperator,MethodExpression: the chunk's size bounds the memory; any size gives the same values
  const chunkRows = Math.max(1, Math.floor(CHUNK / ld));
  const dPtr = roundUp(rows, 4) * 4; // s first, whole, then a chunk of d's rows
  // Stryker disable next-line ArithmeticOperator,MethodExpression: room for more rows than a chunk has is only unused
  let heap = sc.f32(dPtr + Math.min(rows, chunkRows) * ld * 4);
  heap.set(s, 0);
  const at = dPtr / 4;
  // Stryker disable next-line EqualityOperator: a pass at r0 = rows has no rows: it copies nothing and the kernel does nothing
  for (let r0 = 0; r0 < rows; r0 += chunkRows) {
    const r1 = Math.min(rows, r0 + chunkRows);
    copyRows(heap, at, ld, d, r0, r1, cols, false);
    sc.k.scaleRows(dPtr, r0 * 4, dPtr, r1 - r0, ld);
    heap = new Float32Array(sc.memory.buffer);
    copyRows(heap, at, ld, out, r0, r1, cols, true);
  }
}

/**
 * The Bernoulli log-likelihood of logits l (rows × D) against pixels x, repeated over rows (row r uses
 * x[(r·D) mod x.length …]): out[r] = Σ_j x·l − softplus(l), summed in float64, and if d is given,
 * d = x − σ(l) element-wise.
 */
export function bernoulliWasm(x: Float32Array, l: Float32Array, D: number, out: Float32Array, d: Float32Array | null): void {
  const rows = out.length;
  // Stryker disable next-line ConditionalExpression: without it, no images make the loop below run no pass (tested)
  if (rows === 0) return;
  if (D === 0) {
    out.fill(0);
    return;
  }
  const par = parallel(rows * D);
  const s = par?.space ?? getScratch();
  const period = x.length;
  // l, x and d that live in the memory already (a training step's arrays; x not repeated, whole
  // vectors) are read and written where they are, all rows in one pass; else copied chunk by chunk.
  // Stryker disable next-line ArrayDeclaration: speed only: no addresses make the copies below run, the same values
  const [xAt, lAt, dAt] = [s.address(x), s.address(l), d === null ? 0 : s.address(d)];
  // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator,ArithmeticOperator: speed only: the copies below give the same values; no array of the memory is at address 0
  const inPlace = period === rows * D && period % 4 === 0 && xAt >= 0 && lAt >= 0 && dAt >= 0;
  // Stryker disable next-line ArithmeticOperator,MethodExpression,ConditionalExpression: the chunk's size bounds the memory; any size gives the same values
  const chunkRows = inPlace ? rows : Math.max(1, Math.floor(CHUNK / D));
  // Stryker disable next-line MethodExpression: room for more rows than a chunk has is only unused
  const cap = roundUp(Math.min(rows, chunkRows) * D, 4) * 4; // bytes per operand
  const [xPtr, tPtr, dPtr, sumPtr] = [cap, 2 * cap, 3 * cap, 4 * cap]; // l at 0
  s.f32(sumPtr + chunkRows * 8);
  // Stryker disable next-line EqualityOperator: a pass at r0 = rows has no rows: it copies nothing and the kernels do nothing
  for (let r0 = 0; r0 < rows; r0 += chunkRows) {
    const r1 = Math.min(rows, r0 + chunkRows);
    const n = (r1 - r0) * D;
    // In place there is one pass (r0 = 0): the operands' own addresses.
    const [lp, xp, dp] = inPlace ? [lAt, xAt, dAt] : [0, xPtr, dPtr];
    // Stryker disable next-line ConditionalExpression: speed only: copies that the kernel then does not read change nothing
    if (!inPlace) {
      const heap = new Float32Array(s.memory.buffer);
      heap.set(l.subarray(r0 * D, r1 * D), 0);
      // x repeated: copy from (r0·D) mod period, wrapping
      for (let done = 0, at = (r0 * D) % period; done < n; ) {
        // Stryker disable next-line ArithmeticOperator: n + done copies pixels past the chunk's n, into the start of t, which the kernel then overwrites
        const len = Math.min(n - done, period - at);
        heap.set(x.subarray(at, at + len), xPtr / 4 + done);
        done += len;
        at = 0;
      }
    }
    // By ranges of elements (multiples of 4), on the threads when there are enough.
    runParts(par?.tasks ?? null, 'elementwise.bernoulli', s.k.bernoulli, roundUp(n, 4), 4, (lo, hi) => [lp + lo * 4, xp + lo * 4, tPtr + lo * 4, dp + lo * 4, hi - lo, d ? 1 : 0]);
    s.k.rowSums(tPtr, sumPtr, r1 - r0, D);
    const after = s.memory.buffer;
    out.set(new Float64Array(after, sumPtr, r1 - r0), r0);
    // Stryker disable next-line ConditionalExpression,LogicalOperator: in place, d copied onto itself is unchanged
    if (d && !inPlace) d.set(new Float32Array(after, dPtr, n), r0 * D);
  }
}

// ---- Adam's memory -----------------------------------------------------------

/**
 * Gradients, both moments and a copy of the parameters of float32 tensors of the given sizes, in
 * WebAssembly memory, 16-aligned and zero-padded to multiples of 4 values:
 * - with a thread pool running at construction (and enough values), in the threads' memory (see
 *   TaskArena.keep), where the steps run on every thread and a parameter kept there too (made while
 *   the pool ran: see allocateParameter) is stepped where it is, without copies;
 * - else in a fixed-size memory of its own (maximum = initial: a non-shared memory that grows detaches
 *   every view of it, and the gradient buffers and moments handed out are such views).
 * Nothing frees it explicitly: it is given back when the last view of it (the optimizer's moments, the
 * parameters' gradient buffers) is unreachable.
 */
export class AdamMemory {
  readonly memory: WebAssembly.Memory;
  /** The parameters' slots: a step copies a parameter not in this memory in, updates it here and copies it back. */
  readonly p: Float32Array[] = [];
  readonly g: Float32Array[] = [];
  readonly m: Float32Array[] = [];
  readonly v: Float32Array[] = [];
  /** Slot i's moments with where they sit (the `adam` kernel's operand): made once, here. */
  readonly slots: AdamMemorySlot[] = [];
  private readonly k: ElementwiseExports;
  /** The threads' memory, when the slots are there. */
  private readonly arena: TaskArena | null = null;

  constructor(readonly sizes: readonly number[]) {
    const total = sizes.reduce((a, n) => a + roundUp(n, 4), 0) * 4 * 4;
    // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: speed only: the threads' memory stepped on the threads gives the same bits (test/threads.test.ts)
    const tasks = total >= PARALLEL_MIN_ELEMENTS * 16 ? getTasks() : null;
    let views: Float32Array[];
    if (tasks === null) {
      const pages = Math.max(1, Math.ceil(total / PAGE));
      this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
      this.k = instantiate(this.memory);
      // Per slot [p][g][m][v], each padded to a multiple of 4 values.
      views = [];
      let at = 0;
      for (const n of sizes) {
        for (let j = 0; j < 4; j++, at += roundUp(n, 4) * 4) views.push(new Float32Array(this.memory.buffer, at, n));
      }
    } else {
      this.arena = tasks.arena;
      this.memory = tasks.arena.memory;
      this.k = tasks.arena.elementwise;
      views = tasks.arena.keep(sizes.flatMap((n) => [n, n, n, n]));
    }
    sizes.forEach((_, i) => {
      this.p.push(views[4 * i]!);
      this.g.push(views[4 * i + 1]!);
      this.m.push(views[4 * i + 2]!);
      this.v.push(views[4 * i + 3]!);
      this.slots.push(new AdamMemorySlot(this, i));
    });
  }

  /** The byte address of `a` in this memory when it is kept there (the threads' memory: TaskArena.keep), else -1. */
  address(a: Float32Array): number {
    return this.arena === null ? -1 : this.arena.address(a);
  }

  /**
   * One Adam step on slot i, in f32x4 arithmetic ("f32") or bit-identical to the TypeScript loop
   * ("f64"), of the parameter at byte address `p` of this memory (by default the slot's copy).
   */
  step(i: number, s: AdamStep, p = this.p[i]!.byteOffset): void {
    const pad = roundUp(this.sizes[i]!, 4);
    // Stryker disable next-line ConditionalExpression: an empty slot: the kernels step no values
    if (pad === 0) return;
    const [g, m, v] = [this.g[i]!.byteOffset, this.m[i]!.byteOffset, this.v[i]!.byteOffset];
    if (s.precision === 'f64') {
      this.k.adam64(p, g, m, v, pad, s.beta1, 1 - s.beta1, s.beta2, 1 - s.beta2, s.lr, s.c1, s.c2, s.eps);
    } else {
      const c = [s.beta1, 1 - s.beta1, s.beta2, 1 - s.beta2, s.lr * s.c1, Math.sqrt(s.c2), s.eps];
      // By ranges of values (multiples of 4), on the threads when the slot is large and a pool runs.
      // Stryker disable next-line EqualityOperator: speed only: the threads give the same bits
      const runner = pad >= PARALLEL_MIN_ELEMENTS && this.arena !== null ? getTasks() : null;
      runParts(runner, 'elementwise.adam32', this.k.adam32, pad, 4, (lo, hi) => [p + lo * 4, g + lo * 4, m + lo * 4, v + lo * 4, hi - lo, ...c]);
    }
  }
}

/**
 * Slot k of an AdamMemory as an AdamSlot: its moments (views of the memory, which never moves: it
 * cannot grow) and the memory and index the step runs on, fixed at construction.
 */
export class AdamMemorySlot implements AdamSlot<Float32Array> {
  readonly m: Float32Array;
  readonly v: Float32Array;
  constructor(readonly mem: AdamMemory, readonly k: number) {
    this.m = mem.m[k];
    this.v = mem.v[k];
    Object.freeze(this);
  }
}

/** Adam's state in one AdamMemory; null where the module cannot run (the caller then keeps plain arrays). */
export function adamStateWasm(sizes: readonly number[]): AdamState<Float32Array> | null {
  if (!wasmElementwiseAvailable()) return null;
  const mem = new AdamMemory(sizes);
  return { slots: mem.slots, grads: mem.g };
}

/**
 * One Adam step of p in place on a slot of an AdamMemory (see adamStateWasm): p (and g, unless it is
 * the slot's gradient buffer) are copied into the memory, stepped and p copied back.
 */
export function adamWasm(p: Float32Array, g: Float32Array, slot: AdamMemorySlot, s: AdamStep): void {
  const { mem, k } = slot;
  const slotP = mem.p[k];
  if (p.length !== slotP.length || g.length !== slotP.length) {
    throw new Error(`adam: parameter of ${p.length} values and gradient of ${g.length} for moments of ${slotP.length}`);
  }
  // Stryker disable next-line ConditionalExpression: copying the slot's gradient buffer onto itself changes nothing
  if (g !== mem.g[k]) mem.g[k].set(g);
  // A parameter in the same memory (the threads': see allocateParameter) is stepped where it is.
  const at = mem.address(p);
  // Stryker disable next-line EqualityOperator: no kept array is at address 0 (they are kept from the top down)
  if (at >= 0) return mem.step(k, s, at);
  slotP.set(p);
  mem.step(k, s);
  p.set(slotP);
}
