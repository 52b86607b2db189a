// Multi-threaded float32 matmul: the calling thread and N-1 helper workers share one
// WebAssembly.Memory and each instantiate the same SIMD gemm module (./matmul-module.ts).
// Environment-neutral (no Node imports): workers are created by an injected SpawnWorker
// (../../node/threads.ts for Node's worker_threads, useWebWorkers below for browsers).
//
// Per product (matmulParallelInto), on the calling thread:
//   1. cut C into chunks (planChunks): row blocks (multiples of MR) when C is taller than wide or
//      from 256 rows, so that each chunk's rows of C are one contiguous copy out, else column
//      blocks (multiples of NR). A
//      multiple of the thread count, of equal tiles within one, about 4 per thread, so a thread that
//      starts late or runs slower (a busy machine) just takes fewer: threads claim chunks from a
//      shared counter;
//   2. lay out the shared memory's scratch (byte offsets, 64-aligned):
//        [packA 0][packB 0] ... [packA N-1][packB N-1][A: m*k][B: k*n][C: roundUp(m,MR) x ldc][C again]
//      and copy A and B in once; an operand kept in the memory (a parameter: TaskArena.keep) is
//      read where it is instead, and has no place in the scratch;
//   3. post the job to the helpers, claim and compute chunks, copying each out as it is done;
//   4. per helper: if it never started, cancel its post (CAS POSTED -> IDLE; all chunks are
//      taken anyway); else wait for DONE about as long as one of our chunks took. A helper still
//      at work after that is late (descheduled, on a busy machine): this thread computes the chunks
//      it has not flagged done again, into a second C (the helper may still write into the first),
//      and the products that follow run on this thread's own kernel and memory until the helper is
//      done (or retire the pool after timeoutMs). Copy out the chunks the helpers computed.
// Every element is computed by one gemm call with the same kc blocking (blockPlan), so the
// results are bit-identical to the single-threaded kernel's.
//
// Control block: an Int32Array over its own SharedArrayBuffer, slots of SLOT_INTS (128 bytes,
// so threads do not share cache lines). Slot 0, the job: [NEXT] the chunk counter (Atomics.add),
// [SPIN] spinMs in µs, [JOB..JOB+15] a, b, c, m, n, k, transA, transB, mc, nc, kc, ldc, byCols,
// tiles, chunks, fma (which of the two kernels, plain or relaxed-SIMD FMA, every thread runs),
// [JOB+16] the sequence number and [JOB+17] where the operand every chunk reads whole was packed
// once (prepackA for column chunks, prepackB for row chunks; 0: each chunk packs its own).
// [KIND] 0 for a product; 1 for a task, with [TASK_FN] the kernel (TASK_FNS), [TASK_CHUNKS] the
// number of calls and [TASK_NARGS] their argument count.
// After the slots, one int per chunk: the job's sequence number (JOB+16) once a helper finished it;
// then a task's arguments, MAX_TASK_ARGS float64s per call.
// Slot 1 + h, helper h: [STATE] IDLE | POSTED | TAKEN | DONE | FAILED | STOP | WAKE,
// [READY] 1 once instantiated, [WAKES] counts its wake-ups (a heartbeat), [PACKA] [PACKB].
// Caller: store STATE=WAKE, notify (the wake-up overlaps the copy of A and B, those of them not
//   kept in the memory already); write the job;
//   store STATE=POSTED, notify; claim chunks; then per helper CAS POSTED->IDLE, or wait while
//   STATE=TAKEN: spin spinMs, then Atomics.wait up to about one chunk's time (then it is late).
// Helper: loop { if STATE=POSTED and CAS POSTED->TAKEN: claim and compute chunks; store DONE
//   (FAILED if gemm threw); notify. STOP: return. Otherwise spin spinMs while STATE is
//   unchanged, then Atomics.wait(STATE, seen); WAKES++ }.
// Failure handling, never hanging: a helper's error or exit event, a FAILED state, a helper
// that misses every post for timeoutMs without waking, or one that holds chunks of an earlier
// product for more than timeoutMs retires the pool with a one-time
// warning; that call and all later ones run single-threaded. (The call is redone on the
// single-threaded kernel's own memory: a stuck helper may still write into the shared one's scratch.)
// Atomics.wait is not allowed on a browser page's main thread: there threads are unavailable.
//
// One shared memory (TaskArena) holds the products' scratch, the tasks' scratch and the arrays kept
// there for their lifetime (parameters, Adam's moments and gradient buffers: see TaskArena.keep),
// which the kernels read and write where they are.
// Tasks (runTask): the same helpers also run the element-wise and 0/1-product kernels, on instances
// of those modules that every thread has on the same memory. A task is a list of
// calls of one kernel, each on its own part of the data (rows of a matrix, a range of elements), that
// the threads claim from the same counter. Tasks write in place (a late helper's part cannot be done
// again elsewhere), so the caller waits for every helper that took part; one that holds its part for
// timeoutMs retires the pool and the task throws. While a helper is late with a product, tasks run on
// this thread alone (the helper still claims from the counter).

import { setParameterAllocator, type Data } from '../dtype.js';
import { setStepMemory, type StepMemory } from '../step-memory.js';
import { buildBinaryModule, type BinaryExports } from './binary-module.js';
import { buildElementwiseModule, type ElementwiseExports } from './elementwise-module.js';
import { DEFAULT_SHAPE, type GemmExports } from './matmul-module.js';
import { DEFAULT_BLOCKS, SHARED_MAX_PAGES, blockPlan, compileSync, getFma, matmulWasmInto, wasmFmaSupported, wasmSimdSupported } from './matmul.js';

/** Callbacks a spawned worker reports to. */
export interface WorkerEvents {
  message(data: unknown): void;
  /** The worker failed or exited. */
  error(reason: string): void;
}

/** The little the pool needs of a worker. */
export interface WorkerHandle {
  postMessage(message: unknown): void;
  terminate(): void;
}

/**
 * Starts a worker running `source` (classic script; it detects Node's `parentPort` or a Web
 * Worker's `self`). Node workers should be unref()ed so they never keep the process alive.
 */
export type SpawnWorker = (source: string, events: WorkerEvents) => WorkerHandle;

export interface ThreadOptions {
  /** How long a waiting thread spins before sleeping in Atomics.wait (ms). Default 0.2. */
  readonly spinMs?: number;
  /** Liveness timeout (ms): see the failure handling above. Default 2000. */
  readonly timeoutMs?: number;
  /** Products with fewer multiply-adds (m*k*n) stay single-threaded. Default PARALLEL_MIN_WORK. */
  readonly minWork?: number;
  /** C is cut into about this many chunks per thread (1: one part each, no balancing), and a task into this many parts. Default 4. */
  readonly chunksPerThread?: number;
  /** Whether the element-wise and 0/1-product kernels also run on the threads (getTasks). Default true. */
  readonly tasks?: boolean;
}

/** Below this many multiply-adds (m*k*n) one thread is faster (measured crossover; bench/threads.ts). */
export const PARALLEL_MIN_WORK = 1 << 22;

const [IDLE, POSTED, TAKEN, DONE, FAILED, STOP, WAKE] = [0, 1, 2, 3, 4, 5, 6];
const [NEXT, SPIN, JOB] = [0, 1, 2]; // job slot
// After the product's 18 fields: the kind of job (0 a product, 1 a task) and a task's fields.
const [KIND, TASK_FN, TASK_CHUNKS, TASK_NARGS] = [JOB + 18, JOB + 19, JOB + 20, JOB + 21];
/** The end of a product's 18 fields. */
const JOB_END = JOB + 18;
const [STATE, READY, WAKES, PACKA, PACKB] = [0, 1, 2, 3, 4]; // helper slots
const SLOT_INTS = 32;
/** Chunks of one product at most (chunksPerThread is capped to fit): a done flag each in the control block. */
const MAX_CHUNKS = 1024;
/** Calls of one task at most, and arguments per call: a float64 each in the control block. */
const MAX_TASK_CHUNKS = 64;
const MAX_TASK_ARGS = 16;
const { mr: MR, nr: NR } = DEFAULT_SHAPE;

/**
 * The kernels a task may run (Pool.runTask), by index: each thread has its own instance of the 0/1
 * product's and the element-wise module on the one shared task memory (TaskArena).
 */
const TASK_FNS = [['binary', 'rowSums'], ['binary', 'transpose'], ['binary', 'sumsOfTransposed'], ['binary', 'transposedSums'], ['elementwise', 'bernoulli'], ['elementwise', 'biasTanh'], ['elementwise', 'adam32']] as const;
const TASK_MODULES = ['binary', 'elementwise'] as const;
export type TaskFn = `${(typeof TASK_FNS)[number][0]}.${(typeof TASK_FNS)[number][1]}`;
const TASK_NAMES: readonly TaskFn[] = TASK_FNS.map(([m, f]) => `${m}.${f}` as TaskFn);
const TASK_INDEX = new Map(TASK_NAMES.map((name, i) => [name, i]));

/**
 * The helper's source: a plain script for a Blob-URL Web Worker, and for Node's `eval: true` workers,
 * whose spawner (src/node/threads.ts) first sets `globalThis.__tsgradParentPort` to worker_threads'
 * parentPort: this file stays free of Node imports.
 */
export const WORKER_SOURCE = `"use strict";
(() => {
  const node = typeof globalThis.__tsgradParentPort === "object";
  const port = node ? globalThis.__tsgradParentPort : self;
  let job, done, ctl, args, gemms, tasks;
  // TASK_FNS as [module index, export name].
  const taskFns = ${JSON.stringify(TASK_FNS.map(([m, f]) => [TASK_MODULES.indexOf(m), f]))};
  const start = ({ modules, memory, control, slot, doneOffset, taskModules, argsOffset }) => {
    job = new Int32Array(control, 0, ${SLOT_INTS});
    done = new Int32Array(control, doneOffset, ${MAX_CHUNKS});
    ctl = new Int32Array(control, (slot + 1) * ${SLOT_INTS * 4}, ${SLOT_INTS});
    args = new Float64Array(control, argsOffset, ${MAX_TASK_CHUNKS * MAX_TASK_ARGS});
    try {
      gemms = modules.map((module) => module && new WebAssembly.Instance(module, { env: { memory } }).exports.gemm);
      const own = taskModules.map((module) => new WebAssembly.Instance(module, { env: { memory } }).exports);
      tasks = taskFns.map(([m, name]) => own[m][name]);
    } catch (e) {
      port.postMessage({ error: String(e) });
      return;
    }
    Atomics.store(ctl, ${READY}, 1);
    port.postMessage({ ready: true });
    run();
  };
  const run = () => {
    for (;;) {
      const s = Atomics.load(ctl, ${STATE});
      if (s === ${STOP}) {
        if (node) port.off("message", onMessage);
        else self.close();
        return;
      }
      if (s === ${POSTED}) {
        if (Atomics.compareExchange(ctl, ${STATE}, ${POSTED}, ${TAKEN}) !== ${POSTED}) continue; // cancelled
        let r = ${DONE};
        try {
          if (job[${KIND}] === 1) {
            // A task: calls of one kernel, each with its own arguments (float64s in the control block).
            const f = tasks[job[${TASK_FN}]], calls = job[${TASK_CHUNKS}], nargs = job[${TASK_NARGS}];
            for (let i = Atomics.add(job, ${NEXT}, 1); i < calls; i = Atomics.add(job, ${NEXT}, 1)) {
              f(...args.subarray(i * ${MAX_TASK_ARGS}, i * ${MAX_TASK_ARGS} + nargs));
            }
          } else {
            // pp: the operand every chunk shares (A for column chunks, B for row chunks), packed once; or 0.
            const [a, b, c, m, n, k, tA, tB, mc, nc, kc, ldc, byCols, tiles, chunks, fma, seq, pp] = job.subarray(${JOB}, ${JOB_END});
            // chunkRange: chunk i has tiles floor(i·tiles/chunks) up to floor((i+1)·tiles/chunks).
            const len = byCols ? n : m, unit = byCols ? ${NR} : ${MR};
            const at = (j) => Math.min(len, Math.floor((j * tiles) / chunks) * unit);
            const gemm = gemms[fma];
            const pa = ctl[${PACKA}], pb = ctl[${PACKB}], packed = pp === 0 ? 0 : 1;
            for (let i = Atomics.add(job, ${NEXT}, 1); i < chunks; i = Atomics.add(job, ${NEXT}, 1)) {
              const lo = at(i), hi = at(i + 1);
              if (byCols) gemm(a, b, c, m, n, k, tA, tB, 0, m, lo, hi, packed ? pp : pa, pb, mc, nc, kc, ldc, packed, 0);
              else gemm(a, b, c, m, n, k, tA, tB, lo, hi, 0, n, pa, packed ? pp : pb, mc, nc, kc, ldc, 0, packed);
              Atomics.store(done, i, seq);
            }
          }
        } catch (e) {
          r = ${FAILED};
          port.postMessage({ error: String(e) });
        }
        Atomics.store(ctl, ${STATE}, r);
        Atomics.notify(ctl, ${STATE});
        continue;
      }
      const t0 = performance.now();
      const spin = Atomics.load(job, ${SPIN}) / 1000;
      while (Atomics.load(ctl, ${STATE}) === s && performance.now() - t0 < spin);
      Atomics.wait(ctl, ${STATE}, s);
      Atomics.add(ctl, ${WAKES}, 1);
    }
  };
  const onMessage = (d) => start(d);
  if (node) port.on("message", onMessage);
  else self.onmessage = (e) => onMessage(e.data);
})();
`;

interface Helper {
  handle: WorkerHandle;
  /** Since when it has held chunks of an earlier product (late; else -1). */
  lateSince: number;
  /** Its control slot. */
  ctl: Int32Array;
  /** Since when the helper has missed our posts without waking (else -1), and its WAKES then. */
  missedSince: number;
  wakes: number;
}

const roundUp = (x: number, to: number): number => Math.ceil(x / to) * to;
const align = (bytes: number): number => roundUp(bytes, 64);
const now = (): number => performance.now();
// Smaller chunks cost more than they balance: each takes >= ~0.1 ms, and is >= 64 wide (a chunk
// w wide repacks an operand for every w columns or rows of C: a 1/w overhead).
const MIN_CHUNK_WORK = 1 << 21; // multiply-adds
const MIN_CHUNK_SIDE = 64;
const ROWS_CUT_MIN = 256;
/** From this many chunks, the operand every chunk reads whole is packed once before they start (see matmul). */
export const PREPACK_MIN_CHUNKS = 4;

/** How C is cut into chunks (planChunks); chunkRange gives chunk i's columns (or rows) [lo, hi). */
export interface ChunkPlan {
  /** Column blocks (multiples of NR), else row blocks (multiples of MR). */
  readonly byCols: boolean;
  readonly chunks: number;
  /** NR or MR tiles along the cut side: chunk i has tiles floor(i·tiles/chunks) up to floor((i+1)·tiles/chunks). */
  readonly tiles: number;
  /** The widest chunk's columns (or rows). */
  readonly width: number;
}

/**
 * How C (m x n) is cut: into row blocks when it has more rows than columns or at least ROWS_CUT_MIN
 * rows (each chunk's rows of C are then contiguous, one copy out), else column blocks; into a multiple of `threads` chunks (at most
 * `chunksPerThread` each) whose tile counts differ by one at most, so that threads taking them in turn
 * get the same work: 500 columns on 2 threads make 6 chunks of 80-88, not 7 of 72 (4 against 3).
 * Every chunk is at least MIN_CHUNK_SIDE wide and MIN_CHUNK_WORK big, except that each thread gets one.
 */
export function planChunks(m: number, n: number, k: number, threads: number, chunksPerThread = 4): ChunkPlan {
  // Stryker disable next-line ConditionalExpression,EqualityOperator: speed only: any cut of C gives the same bits
  const byCols = (n >= m && m < ROWS_CUT_MIN) || m <= MR;
  const [unit, len] = byCols ? [NR, n] : [MR, m];
  const tiles = Math.ceil(len / unit);
  const most = Math.min(Math.floor(tiles / Math.ceil(MIN_CHUNK_SIDE / unit)), Math.floor((m * n * k) / MIN_CHUNK_WORK));
  const want = Math.min(threads * Math.max(1, chunksPerThread), most);
  // Stryker disable next-line EqualityOperator: at want = threads both give threads chunks
  const chunks = want >= threads ? want - (want % threads) : Math.min(threads, tiles);
  return { byCols, chunks, tiles, width: Math.min(len, Math.ceil(tiles / chunks) * unit) };
}

/** Chunk i's columns (or rows) [lo, hi) of C, of `len` = n (or m). */
export function chunkRange(plan: ChunkPlan, i: number, len: number): [number, number] {
  const unit = plan.byCols ? NR : MR;
  const at = (j: number): number => Math.min(len, Math.floor((j * plan.tiles) / plan.chunks) * unit);
  return [at(i), at(i + 1)];
}

/**
 * The threads' shared memory, and this thread's instances of the task modules on it. One for the
 * process, made with the first pool and kept after it stops: a caller may hold views of it. The pool's
 * products, its tasks and the arrays kept here for their lifetime share it, so that a kernel reads an
 * operand kept here where it is, without a copy:
 *   [scratch: from 0, laid out anew by each call] ... [kept arrays: from the top down]
 * It is made at its full size (SHARED_MAX_PAGES, only reserved: pages are committed as they are
 * touched), so its buffer never changes and views of it stay valid.
 */
export class TaskArena {
  readonly memory = new WebAssembly.Memory({ initial: SHARED_MAX_PAGES, maximum: SHARED_MAX_PAGES, shared: true });
  /** memory.buffer, the same object for the memory's lifetime (it never grows). */
  readonly buffer = this.memory.buffer;
  /** The whole memory as float32 (one view: the buffer never changes). */
  private readonly heap = new Float32Array(this.buffer);
  readonly modules: readonly WebAssembly.Module[];
  readonly binary: BinaryExports;
  readonly elementwise: ElementwiseExports;
  /** TASK_FNS on this thread's instances. */
  readonly fns: readonly ((...args: number[]) => unknown)[];
  /** Kept arrays live in [bottom, the memory's end); scratch may use [0, bottom). */
  private bottom = this.buffer.byteLength;
  /** The end of the largest scratch any call has used: kept arrays go above it (a late helper may still write there). */
  private scratchEnd = 0;
  /** Blocks given back below the top, by address: [address, bytes]. */
  private readonly holes: [number, number][] = [];
  /** Gives a block back once every view made of it is collected (the held value counts the live views). */
  private readonly registry = new FinalizationRegistry<{ at: number; bytes: number; live: number }>((block) => {
    if (--block.live === 0) this.release(block.at, block.bytes);
  });
  constructor() {
    const build = { binary: buildBinaryModule, elementwise: buildElementwiseModule };
    this.modules = TASK_MODULES.map((m) => new WebAssembly.Module(build[m](SHARED_MAX_PAGES)));
    const own = this.modules.map((m) => new WebAssembly.Instance(m, { env: { memory: this.memory } }).exports);
    this.binary = own[TASK_MODULES.indexOf('binary')] as unknown as BinaryExports;
    this.elementwise = own[TASK_MODULES.indexOf('elementwise')] as unknown as ElementwiseExports;
    // Stryker disable next-line ArrowFunction: the pool's arena is made before any test runs (static); one a test makes runs no task
    this.fns = TASK_FNS.map(([m, f]) => own[TASK_MODULES.indexOf(m)][f] as (...args: number[]) => unknown);
  }
  /** The memory as float32, for a call's scratch of `bytes` from address 0; a call that needs more than is free names `who`. */
  f32(bytes: number, who = "the threads' task memory"): Float32Array {
    if (bytes > this.bottom) {
      throw new RangeError(`${who}: needs ${bytes} bytes of scratch in the threads' memory, ${this.bottom} are free beside the arrays kept there (${this.buffer.byteLength - this.bottom} bytes)`);
    }
    this.scratchEnd = Math.max(this.scratchEnd, bytes);
    return this.heap;
  }
  /**
   * Float32 views of `lengths.length` arrays (zeros) in one block of this memory, each starting
   * 64-aligned and followed by room for its length rounded up to 4 values; the block is given back
   * when every view is collected. Kernels on the threads read and write such arrays where they are.
   */
  keep(lengths: readonly number[]): Float32Array[] {
    if (lengths.length === 0) return [];
    const starts: number[] = [];
    let bytes = 0;
    for (const n of lengths) {
      starts.push(bytes);
      bytes += align(roundUp(n, 4) * 4);
    }
    bytes = Math.max(64, bytes); // arrays of no values still get a block of their own
    const at = this.place(bytes);
    new Uint8Array(this.buffer, at, bytes).fill(0);
    const block = { at, bytes, live: lengths.length };
    const views = lengths.map((n, i) => new Float32Array(this.buffer, at + starts[i]!, n));
    for (const v of views) this.registry.register(v, block);
    return views;
  }
  /** The byte address of `a` in this memory, or -1 when it is not a view of it. */
  address(a: ArrayBufferView): number {
    return a.buffer === this.buffer ? a.byteOffset : -1;
  }
  /** Bytes of the memory that kept arrays use (holes included). */
  get keptBytes(): number {
    return this.buffer.byteLength - this.bottom;
  }
  private place(bytes: number): number {
    // First fit among the holes, else below the lowest block (above any scratch used so far).
    const i = this.holes.findIndex(([, size]) => size >= bytes);
    if (i >= 0) {
      const [at, size] = this.holes[i]!;
      if (size === bytes) this.holes.splice(i, 1);
      else this.holes[i] = [at + bytes, size - bytes];
      return at;
    }
    const at = this.bottom - bytes;
    // Stryker disable next-line EqualityOperator: a block that starts where the scratch used so far ends does not overlap it
    if (at < this.scratchEnd) {
      throw new RangeError(`the threads' memory: no room to keep ${bytes} more bytes (${this.keptBytes} kept, ${this.scratchEnd} used as scratch, of ${this.buffer.byteLength})`);
    }
    this.bottom = at;
    return at;
  }
  private release(at: number, bytes: number): void {
    this.holes.push([at, bytes]);
    this.holes.sort((x, y) => x[0] - y[0]);
    // Merge neighbours, and raise the bottom over holes that reach it.
    for (let i = this.holes.length - 1; i > 0; i--) {
      const [a, n] = this.holes[i - 1]!;
      if (a + n === this.holes[i]![0]) this.holes.splice(i - 1, 2, [a, n + this.holes[i]![1]]);
    }
    if (this.holes.length > 0 && this.holes[0]![0] === this.bottom) this.bottom += this.holes.shift()![1];
  }
}
let arena: TaskArena | undefined;

/** Arrays of fewer values than this are a step's own (allocated as usual): a view costs more than they do. */
const STEP_MIN_VALUES = 4096;

/**
 * A training step's arrays (see ../step-memory.ts) in a block kept in the threads' memory, handed out
 * in order from its start and all given back when the next step begins: the kernels read and write
 * them in place. A step that needs more than the block has gets plain arrays for the rest, and the
 * next one a block 1.25× the size that step asked for.
 */
export class StepRegion implements StepMemory {
  /** The block, and every earlier one (a stale tensor may still be a view of one). */
  private block: Float32Array | null = null;
  // Stryker disable next-line ArrayDeclaration: a string among the blocks owns nothing (its offsets are undefined)
  private readonly blocks: Float32Array[] = [];
  /** What this step has asked for (values, rounded to 16 each), whether or not the block held it. */
  private used = 0;
  constructor(private readonly arena: TaskArena) {}
  begin(): void {
    // Stryker disable next-line EqualityOperator: a step that fills the block exactly gets a larger one, only more room
    if (this.used > (this.block?.length ?? 0)) {
      try {
        this.block = this.arena.keep([roundUp(Math.ceil(this.used * 1.25), 16)])[0]!;
        this.blocks.push(this.block);
      } catch {
        // No room in the threads' memory: the steps keep the block they have.
      }
    }
    this.used = 0;
  }
  take(size: number): Float32Array | null {
    // Stryker disable next-line EqualityOperator: speed only: an array of exactly that size is plain, the same zeros
    if (size < STEP_MIN_VALUES) return null;
    const at = this.used;
    this.used = at + roundUp(size, 16); // 64-byte aligned, as kept arrays
    const b = this.block;
    // Stryker disable next-line EqualityOperator: speed only: the array that fills the block exactly is plain, the same zeros
    if (b === null || this.used > b.length) return null;
    const v = new Float32Array(b.buffer, b.byteOffset + at * 4, size);
    v.fill(0);
    return v;
  }
  owns(data: Data): boolean {
    if (data.buffer !== this.arena.buffer) return false;
    return this.blocks.some((b) => data.byteOffset >= b.byteOffset && data.byteOffset < b.byteOffset + b.byteLength);
  }
}

class Pool {
  /** Its memory holds the products too: operands kept there are read in place. */
  readonly arena = (arena ??= new TaskArena());
  readonly helpers: Helper[] = [];
  readonly ready: Promise<number>;
  retired = false;
  /** This thread's instance of the plain gemm module, and of the FMA one where the engine has relaxed SIMD. */
  private readonly gemms: (GemmExports | null)[];
  private readonly job: Int32Array;
  /** Per chunk, the sequence number of the last product whose chunk a helper finished. */
  private readonly done: Int32Array;
  /** A task's arguments, MAX_TASK_ARGS per call. */
  private readonly args: Float64Array;
  private seq = 0;
  private spinMs = 0.2;
  chunksPerThread = 4;
  private timeoutMs = 2000;
  minWork = PARALLEL_MIN_WORK;
  tasks = true;
  /** What getTasks hands out while this pool runs (one object, made once). */
  readonly api: Tasks = poolTasks(this);

  constructor(spawn: SpawnWorker, threads: number, options: ThreadOptions) {
    // Both kernels, so that setFma may switch at any time; every thread runs the one the job names.
    const modules = [compileSync(DEFAULT_SHAPE, true), wasmFmaSupported() ? compileSync({ ...DEFAULT_SHAPE, fma: true }, true) : null];
    this.gemms = modules.map((module) => module && (new WebAssembly.Instance(module, { env: { memory: this.arena.memory } }).exports as unknown as GemmExports));
    const argsOffset = roundUp(threads * SLOT_INTS * 4 + MAX_CHUNKS * 4, 8);
    const control = new SharedArrayBuffer(argsOffset + MAX_TASK_CHUNKS * MAX_TASK_ARGS * 8);
    this.job = new Int32Array(control, 0, SLOT_INTS);
    this.done = new Int32Array(control, threads * SLOT_INTS * 4, MAX_CHUNKS);
    this.args = new Float64Array(control, argsOffset, MAX_TASK_CHUNKS * MAX_TASK_ARGS);
    this.configure(options);
    let pending = threads - 1;
    let resolveReady!: (threads: number) => void;
    this.ready = new Promise((resolve) => (resolveReady = resolve));
    const settle = (): void => resolveReady(this.retired ? 1 : threads);
    for (let slot = 0; slot < threads - 1; slot++) {
      const events: WorkerEvents = {
        message: (data) => {
          const d = data as { ready?: boolean; error?: string };
          if (d.error !== undefined) this.retire(`worker ${slot + 1} failed: ${d.error}`);
          if (d.ready && --pending === 0) settle();
          if (this.retired) settle();
        },
        error: (reason) => {
          this.retire(`worker ${slot + 1}: ${reason}`);
          settle();
        },
      };
      const ctl = new Int32Array(control, (slot + 1) * SLOT_INTS * 4, SLOT_INTS);
      try {
        const handle = spawn(WORKER_SOURCE, events);
        this.helpers.push({ handle, ctl, missedSince: -1, wakes: 0, lateSince: -1 });
        handle.postMessage({
          modules, memory: this.arena.memory, control, slot, doneOffset: threads * SLOT_INTS * 4, argsOffset,
          taskModules: this.arena.modules,
        });
      } catch (e) {
        this.retire(`could not start worker ${slot + 1}: ${String(e)}`);
        settle();
        break;
      }
    }
  }

  configure(options: ThreadOptions): void {
    this.spinMs = options.spinMs ?? this.spinMs;
    this.timeoutMs = options.timeoutMs ?? this.timeoutMs;
    this.minWork = options.minWork ?? this.minWork;
    this.tasks = options.tasks ?? this.tasks;
    this.chunksPerThread = Math.min(Math.floor(MAX_CHUNKS / Math.max(1, this.helpers.length + 1)), options.chunksPerThread ?? this.chunksPerThread);
    Atomics.store(this.job, SPIN, Math.round(this.spinMs * 1000));
  }

  get threads(): number {
    return this.retired ? 1 : this.helpers.length + 1;
  }

  /** True while a helper holds chunks of an earlier product (it was late: this thread computed them instead). */
  late(): boolean {
    // Stryker disable next-line MethodExpression: with one helper (the tests run two threads), some and every agree
    return this.helpers.some((h) => Atomics.load(h.ctl, STATE) === TAKEN);
  }

  /** Stops the helpers; `reason` (a failure) is warned about once. */
  retire(reason?: string): void {
    if (this.retired) return;
    this.retired = true;
    // Stryker disable next-line ConditionalExpression: a pool that was never the current one retires only at its start, when there is no current pool to clear
    if (pool === this) {
      pool = null;
      setParameterAllocator(null);
      setStepMemory(null);
    }
    if (reason !== undefined) console.warn(`tsgrad: matmul threads disabled, continuing on one thread (${reason})`);
    for (const h of this.helpers) {
      Atomics.store(h.ctl, STATE, STOP);
      Atomics.notify(h.ctl, STATE);
      h.handle.terminate();
    }
  }

  /** out = op(A) op(B) across the threads (alone: on this thread only, in their memory); inputs already validated. */
  // Stryker disable next-line BooleanLiteral: every call passes alone
  matmul(out: Float32Array, a: Float32Array, b: Float32Array, m: number, k: number, n: number, transA: boolean, transB: boolean, alone = false): void {
    // A helper still busy with an earlier product (it was late and this thread computed its chunks
    // instead) may still write into the shared memory: this product runs on this thread alone, in
    // the single-thread kernel's own memory, until the helper is done (or is retired after timeoutMs).
    for (const [i, h] of this.helpers.entries()) {
      if (Atomics.load(h.ctl, STATE) !== TAKEN) {
        h.lateSince = -1;
        continue;
      }
      if (now() - h.lateSince > this.timeoutMs) this.retire(`worker ${i + 1} did not finish within the timeout`);
      matmulWasmInto(out, a, b, m, k, n, transA, transB);
      return;
    }
    // Alone: planned for one thread, one chunk a thread: the whole of C.
    const plan = alone ? planChunks(m, n, k, 1, 1) : planChunks(m, n, k, this.threads, this.chunksPerThread);
    const { byCols, width, chunks } = plan;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: helpers posted for a single chunk find none left to claim
    const helpers = chunks > 1 ? this.helpers : [];
    // Stryker disable next-line ArithmeticOperator: counting down gives every product a number distinct from the last ones too
    const seq = (this.seq = (this.seq + 1) | 0);
    for (const h of helpers) {
      // Wake idle helpers now: their wake-up overlaps our copy of A and B.
      // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator,BlockStatement: speed only: the post below stores POSTED and notifies whatever this wake-up did
      if (Atomics.compareExchange(h.ctl, STATE, DONE, WAKE) === DONE || Atomics.compareExchange(h.ctl, STATE, IDLE, WAKE) === IDLE) {
        Atomics.notify(h.ctl, STATE);
      }
    }
    const mPad = roundUp(m, MR);
    const ldc = roundUp(n, NR);
    const { mc, nc, kc, kcPad } = blockPlan(DEFAULT_BLOCKS, DEFAULT_SHAPE, byCols ? mPad : width, byCols ? width : ldc, k);
    const packBytes = align(mc * kcPad * 4) + align(kcPad * nc * 4); // per thread: [packA][packB]
    // An operand kept in the memory (a parameter: see keep) is read where it is; others get room after the packs.
    const [aAt, bAt] = [this.arena.address(a), this.arena.address(b)];
    let end = (helpers.length + 1) * packBytes;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: room left for a kept operand is only unused; no kept array is at address 0 (they are kept from the top down)
    const room = (kept: number, bytes: number): number => {
      if (kept >= 0) return kept;
      const at = end;
      end += align(bytes);
      return at;
    };
    const aPtr = room(aAt, m * k * 4);
    const bPtr = room(bAt, k * n * 4);
    const cPtr = end;
    // A second C, for chunks this thread takes back from a late helper (which may still write its own).
    // (The sizes below claim the scratch against the kept arrays only: the memory has its full size.)
    // Stryker disable next-line ArithmeticOperator: a second C overlapping the first differs only if a late helper writes its chunk between this thread's recomputation and its copy out, a race no test can time
    const c2Ptr = cPtr + align(mPad * ldc * 4);
    // With PREPACK_MIN_CHUNKS chunks or more, the operand they all read whole (A for column chunks, B
    // for row chunks) is packed once, here, instead of by every chunk: same packed values, same bits.
    // Stryker disable next-line ConditionalExpression,EqualityOperator: packed once or per chunk, the packed values are the same (tested against per-block packing)
    const prepack = chunks >= PREPACK_MIN_CHUNKS;
    const ppPtr = c2Ptr + align(mPad * ldc * 4);
    // Stryker disable next-line ArithmeticOperator: the size claimed only bounds the scratch against the kept arrays, far above it here
    const kPad = Math.ceil(k / kc) * kcPad; // every depth block packed at most kcPad deep
    // Stryker disable next-line ArithmeticOperator: the size claimed only bounds the scratch against the kept arrays, far above it here
    const ppBytes = prepack ? (byCols ? mPad * kPad : roundUp(n, NR) * kPad) * 4 : 0;
    // Stryker disable next-line ArithmeticOperator,MethodExpression,StringLiteral: the size claimed only bounds the scratch against the kept arrays, far above it here (the bound's error is tested on TaskArena.f32)
    const heap = this.arena.f32(ppPtr + Math.max(ppBytes, 4), 'matmulInto on the threads');
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a kept operand copied onto itself is unchanged; no kept array is at address 0 (they are kept from the top down)
    if (aAt < 0) heap.set(a.subarray(0, m * k), aPtr / 4);
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a kept operand copied onto itself is unchanged; no kept array is at address 0 (they are kept from the top down)
    if (bAt < 0) heap.set(b.subarray(0, k * n), bPtr / 4);

    const fma = getFma() && this.gemms[1] !== null ? 1 : 0;
    const { gemm, prepackA, prepackB } = this.gemms[fma]!;
    const pp = prepack ? ppPtr : 0;
    if (prepack && byCols) prepackA(aPtr, m, k, transA ? 1 : 0, 0, m, kc, ppPtr);
    // Stryker disable next-line ConditionalExpression: B packed into room that no chunk reads changes no result
    else if (prepack) prepackB(bPtr, k, n, transB ? 1 : 0, 0, n, kc, nc, ppPtr);
    // This thread's pack buffers are at 0; the shared operand, if packed once, at pp.
    const [aPacked, bPacked] = [prepack && byCols ? 1 : 0, prepack && !byCols ? 1 : 0];
    const [pa, pb] = [aPacked ? pp : 0, bPacked ? pp : align(mc * kcPad * 4)];
    const job = [aPtr, bPtr, cPtr, m, n, k, transA ? 1 : 0, transB ? 1 : 0, mc, nc, kc, ldc, byCols ? 1 : 0, plan.tiles, chunks, fma, seq, pp, 0];
    this.job.set(job, JOB);
    Atomics.store(this.job, NEXT, 0);
    helpers.forEach((h, i) => {
      h.ctl[PACKA] = (i + 1) * packBytes;
      h.ctl[PACKB] = h.ctl[PACKA]! + align(mc * kcPad * 4);
      Atomics.store(h.ctl, STATE, POSTED);
      Atomics.notify(h.ctl, STATE);
    });

    const len = byCols ? n : m;
    const compute = (i: number, cAt = cPtr): void => {
      const [lo, hi] = chunkRange(plan, i, len);
      const [i0, i1, j0, j1] = byCols ? [0, m, lo, hi] : [lo, hi, 0, n];
      gemm(aPtr, bPtr, cAt, m, n, k, transA ? 1 : 0, transB ? 1 : 0, i0, i1, j0, j1, pa, pb, mc, nc, kc, ldc, aPacked, bPacked);
    };
    const outAt = this.arena.address(out);
    const copyOut = (i: number, cAt = cPtr): void => {
      const [lo, hi] = chunkRange(plan, i, len);
      // A result kept in this memory (a gradient buffer) is copied by the module: no call per row.
      // Stryker disable next-line ConditionalExpression,EqualityOperator,BlockStatement: speed only: the copies per row below give the same values; no kept array is at address 0
      if (outAt >= 0) {
        if (byCols) this.gemms[fma]!.copyRows(cAt + lo * 4, ldc, outAt + lo * 4, n, m, hi - lo);
        else this.gemms[fma]!.copyRows(cAt + lo * ldc * 4, ldc, outAt + lo * n * 4, n, hi - lo, n);
        return;
      }
      const c = cAt / 4;
      if (!byCols && ldc === n) out.set(heap.subarray(c + lo * n, c + hi * n), lo * n);
      else if (!byCols) for (let r = lo; r < hi; r++) out.set(heap.subarray(c + r * ldc, c + r * ldc + n), r * n);
      else for (let r = 0; r < m; r++) out.set(heap.subarray(c + r * ldc + lo, c + r * ldc + hi), r * n + lo);
    };

    const mine = new Uint8Array(chunks);
    const t0 = now();
    let own = 0;
    for (let i = Atomics.add(this.job, NEXT, 1); i < chunks; i = Atomics.add(this.job, NEXT, 1)) {
      compute(i);
      copyOut(i); // while the helpers work on theirs
      mine[i] = 1;
      // Stryker disable next-line UpdateOperator: timing only: own sets chunkMs alone
      own++;
    }
    // Stryker disable next-line MethodExpression,ArithmeticOperator: timing only: how long before a helper counts as late, whose chunks are then computed again with the same bits
    const chunkMs = Math.max(0.05, (now() - t0) / Math.max(1, own)); // one of our chunks' time

    let failure: string | undefined; // retire only after every helper is done: retire() overwrites states
    let late = false;
    for (const [i, h] of helpers.entries()) {
      if (Atomics.compareExchange(h.ctl, STATE, POSTED, IDLE) === POSTED) {
        // It has not started (slow to wake, or dead): nothing was left for it.
        const wakes = Atomics.load(h.ctl, WAKES);
        // (Before READY, startup is slow, not dead: a failed start reports an error event.)
        if (h.missedSince < 0 || wakes !== h.wakes || Atomics.load(h.ctl, READY) !== 1) [h.missedSince, h.wakes] = [now(), wakes];
        else if (now() - h.missedSince > this.timeoutMs) failure ??= `worker ${i + 1} stopped responding`;
        continue;
      }
      h.missedSince = -1;
      // Wait about one of our chunks' time: a helper that is running finishes its last chunk by then.
      // One that is not (descheduled on a busy machine) is late: we compute what it has not finished.
      const state = this.wait(h.ctl, now() + chunkMs);
      if (state === FAILED) {
        this.retire(`worker ${i + 1} failed`);
        matmulWasmInto(out, a, b, m, k, n, transA, transB);
        return;
      }
      if (state === TAKEN) late = true;
    }
    let ours = 0;
    for (let i = 0; i < chunks; i++) {
      if (mine[i]) ours++;
      else if (late && Atomics.load(this.done, i) !== seq) {
        // A late helper's chunk (claimed, not finished): computed again here, into the second C,
        // with the same code and blocking, so the same bits as the helper's would be.
        compute(i, c2Ptr);
        copyOut(i, c2Ptr);
        ours++;
        stats.retaken++;
      } else copyOut(i);
    }
    if (late) for (const h of helpers) if (Atomics.load(h.ctl, STATE) === TAKEN && h.lateSince < 0) h.lateSince = now();
    stats.chunks += chunks;
    stats.byHelpers += chunks - ours;
    if (failure !== undefined) this.retire(failure);
  }

  /**
   * Calls TASK_FNS[fn] once per argument list in `calls`, split among the threads (see the header);
   * returns when every call is done. Throws (and retires the pool) if a helper failed in its part or
   * held it for timeoutMs.
   */
  runTask(fn: number, calls: readonly (readonly number[])[]): void {
    const f = this.arena.fns[fn]!;
    if (calls.length > MAX_TASK_CHUNKS || calls.some((a) => a.length > MAX_TASK_ARGS)) {
      throw new RangeError(`runTask: at most ${MAX_TASK_CHUNKS} calls of at most ${MAX_TASK_ARGS} arguments, got ${calls.length} calls of up to ${Math.max(...calls.map((a) => a.length))} arguments`);
    }
    // A helper late with a product still claims from the counter: then this thread does it all.
    const helpers = calls.length > 1 && !this.late() ? this.helpers : [];
    if (helpers.length === 0) {
      for (const a of calls) f(...a);
      return;
    }
    calls.forEach((a, i) => this.args.set(a, i * MAX_TASK_ARGS));
    this.job[KIND] = 1;
    this.job[TASK_FN] = fn;
    this.job[TASK_CHUNKS] = calls.length;
    this.job[TASK_NARGS] = calls[0]!.length;
    Atomics.store(this.job, NEXT, 0);
    for (const h of helpers) {
      Atomics.store(h.ctl, STATE, POSTED);
      Atomics.notify(h.ctl, STATE);
    }
    let mine = 0;
    for (let i = Atomics.add(this.job, NEXT, 1); i < calls.length; i = Atomics.add(this.job, NEXT, 1), mine++) f(...calls[i]!);
    for (const [i, h] of helpers.entries()) {
      if (Atomics.compareExchange(h.ctl, STATE, POSTED, IDLE) === POSTED) continue; // it never started
      const state = this.wait(h.ctl, now() + this.timeoutMs);
      if (state === TAKEN || state === FAILED) {
        const what = state === FAILED ? 'failed in' : `did not finish within ${this.timeoutMs} ms of`;
        this.retire(`worker ${i + 1} ${what} ${TASK_NAMES[fn]}`);
        throw new Error(`${TASK_NAMES[fn]}: worker thread ${i + 1} ${what} its part of the task; the result is incomplete`);
      }
    }
    stats.taskCalls += calls.length;
    stats.taskCallsByHelpers += calls.length - mine;
  }

  /** Waits while the helper's STATE is TAKEN (it holds chunks or a part of a task): spin, then sleep in slices; returns its state. */
  private wait(ctl: Int32Array, deadline: number): number {
    const t0 = now();
    const spinEnd = t0 + this.spinMs;
    let s = Atomics.load(ctl, STATE);
    // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator: timing only: the loop below waits for the same state until the deadline
    while (s === TAKEN && now() < spinEnd) s = Atomics.load(ctl, STATE);
    while (s === TAKEN && now() < deadline) {
      // Stryker disable next-line MethodExpression,ArithmeticOperator: timing only: the length of each slice of the wait
      Atomics.wait(ctl, STATE, TAKEN, Math.min(100, Math.max(0.05, deadline - now())));
      s = Atomics.load(ctl, STATE);
    }
    stats.waitMs += now() - t0;
    return s;
  }
}

let pool: Pool | null = null;
const stats = { chunks: 0, byHelpers: 0, retaken: 0, taskCalls: 0, taskCallsByHelpers: 0, waitMs: 0 };

/**
 * Chunks of products computed on the pool so far, how many of them by the helpers, and how many the
 * calling thread computed again because a helper was late with them; calls of tasks split among the
 * threads, and how many of them the helpers made; and the milliseconds this thread spent waiting for
 * helpers to finish their part.
 */
export function getThreadStats(): { chunks: number; byHelpers: number; retaken: number; taskCalls: number; taskCallsByHelpers: number; waitMs: number } {
  return { ...stats };
}

/** The running pool's tasks (see Pool.runTask), or null without one. */
export interface Tasks extends PartRunner {
  readonly arena: TaskArena;
  readonly threads: number;
}

/** Runs a kernel's calls split among threads (the pool's tasks). */
export interface PartRunner {
  /** How many parts to cut a call into: threads × chunksPerThread (the threads claim them). */
  readonly parts: number;
  /** Calls `fn` once per argument list, split among the threads; returns when all are done. */
  run(fn: TaskFn, calls: readonly (readonly number[])[]): void;
}

/**
 * The running pool's tasks, or null (no pool, one that retired, or tasks off): callers then run their
 * kernels alone, in their own memory. Null too while a helper is late with a product: it may still
 * write into the scratch of the threads' memory (its chunk of C, its pack buffers), which a task's
 * scratch would share.
 */
export function getTasks(): Tasks | null {
  const p = pool;
  return p === null || p.retired || !p.tasks || p.late() ? null : p.api;
}

function poolTasks(p: Pool): Tasks {
  const index = (fn: TaskFn): number => TASK_INDEX.get(fn)!;
  return {
    arena: p.arena,
    get threads() {
      return p.threads;
    },
    get parts() {
      return Math.min(MAX_TASK_CHUNKS, p.threads * p.chunksPerThread);
    },
    run: (fn, calls) => p.runTask(index(fn), calls),
  };
}

/**
 * Calls `local` over [0, n) with `argsFor(0, n)`, or, with a runner, `fn` over [0, n) cut into
 * runner.parts parts (multiples of `unit`) on the threads: `argsFor(lo, hi)` gives a part's arguments.
 */
export function runParts(runner: PartRunner | null, fn: TaskFn, local: (...args: number[]) => unknown, n: number, unit: number, argsFor: (lo: number, hi: number) => number[]): void {
  if (runner === null) local(...argsFor(0, n));
  else runner.run(fn, splitRange(n, runner.parts, unit).map(([lo, hi]) => argsFor(lo, hi)));
}

/**
 * Splits [0, n) into about `parts` ranges, each a multiple of `unit` long (the last may be shorter)
 * and at least `minLen`; returns their bounds [lo, hi).
 */
export function splitRange(n: number, parts: number, unit = 1, minLen = 1): [number, number][] {
  const units = Math.ceil(n / unit);
  const count = Math.max(1, Math.min(parts, units, Math.floor(n / Math.max(1, minLen))));
  const per = Math.ceil(units / count) * unit;
  const out: [number, number][] = [];
  for (let lo = 0; lo < n; lo += per) out.push([lo, Math.min(n, lo + per)]);
  return out;
}

/** True where this thread may block in Atomics.wait (Node, workers; not a browser page's main thread). */
export function canBlock(): boolean {
  try {
    // Returns "not-equal" at once; throws without SharedArrayBuffer or Atomics, or where blocking is refused.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs large float32 matmuls of the "wasm" backend on `threads` threads: this one plus
 * threads-1 workers from `spawn`. Replaces any previous pool; threads <= 1 just stops it.
 * Usable at once (until a worker is up, the caller computes every chunk itself); the promise
 * resolves to the thread count once every worker is up (1 if threads are unavailable or failed).
 */
export function startThreads(spawn: SpawnWorker, threads: number, options: ThreadOptions = {}): Promise<number> {
  stopThreads();
  if (!(threads > 1) || !wasmSimdSupported() || !canBlock()) return Promise.resolve(1);
  const p = new Pool(spawn, Math.floor(threads), options);
  if (!p.retired) {
    pool = p;
    // Parameters made from now on live in the threads' memory: no product or step copies them.
    setParameterAllocator((size) => p.arena.keep([size])[0]!);
    // A training step's activations and their gradients too (stepScope): read and written in place.
    setStepMemory(new StepRegion(p.arena));
  }
  return p.ready;
}

/** Changes options of the running pool (if any), e.g. for benchmarks. */
export function setThreadOptions(options: ThreadOptions): void {
  pool?.configure(options);
}

/** Stops the worker threads (if any); matmuls run on one thread again. */
export function stopThreads(): void {
  pool?.retire();
  pool = null;
}

/** Threads used by large float32 wasm matmuls (1 without a pool). */
export function getThreads(): number {
  return pool?.threads ?? 1;
}

/**
 * Browser: starts `threads`-1 Web Workers (Blob URL) when the page is cross-origin isolated
 * (SharedArrayBuffer) and this thread may block (i.e. not a page's main thread: run training in
 * a worker); else stays on one thread. Resolves to the thread count in use.
 */
export function useWebWorkers(threads = 2, options: ThreadOptions = {}): Promise<number> {
  const g = globalThis as { crossOriginIsolated?: boolean; Worker?: new (url: string) => Worker };
  const WorkerCtor = g.Worker;
  if (!g.crossOriginIsolated || WorkerCtor === undefined || typeof Blob !== 'function') {
    stopThreads();
    return Promise.resolve(1);
  }
  return startThreads(
    (source, events) => {
      const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
      const w = new WorkerCtor(url);
      w.onmessage = (e) => {
        URL.revokeObjectURL(url);
        events.message(e.data);
      };
      w.onerror = (e) => events.error(e.message || 'worker error');
      return w;
    },
    threads,
    options,
  );
}

/**
 * out (m x n) = op(A) . op(B) on the thread pool, as matmulWasmInto. A product too small to gain
 * from threads runs on this thread, in the threads' memory when an operand or out lives there (used
 * in place). Returns false (and does nothing) when there is no pool, or the product is too small and
 * nothing of it lives in that memory.
 */
export function matmulParallelInto(
  out: Float32Array,
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
  transA: boolean,
  transB: boolean,
): boolean {
  const p = pool;
  if (p === null || m * k * n === 0) return false;
  if (!Number.isInteger(m) || !Number.isInteger(k) || !Number.isInteger(n)) return false;
  if (a.length < m * k || b.length < k * n || out.length < m * n) return false; // matmulWasmInto throws
  const { arena } = p;
  // Below minWork a product stays on this thread; in the threads' memory when an operand or the result
  // lives there (a training step's arrays, a parameter), used in place (same bits either way).
  // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: speed only: the single-thread kernel gives the same bits
  const alone = m * k * n < p.minWork;
  // Stryker disable next-line EqualityOperator: no kept array is at address 0 (they are kept from the top down)
  if (alone && ((arena.address(a) < 0 && arena.address(b) < 0 && arena.address(out) < 0) || p.late())) return false;
  p.matmul(out, a, b, m, k, n, transA, transB, alone);
  return true;
}
