// WebAssembly SIMD128 float32 matmul: out = op(A) . op(B), same contract as the
// plain TypeScript kernel in ../matmul.ts.
//
// The module bytes are generated at load time by ./matmul-module.ts (no build
// toolchain, no Node imports). Compiling: `matmulWasmInto` compiles synchronously
// on first use, which is fine in Node and in workers. The module is ~2.7 KB, under
// Chrome's 4 KB limit for synchronous compiles on a page's main thread; should it
// grow past that (or to keep compilation off the main thread), `await initWasm()`
// once before the first call: it compiles with WebAssembly.compile.
// Use `wasmSimdSupported()` to decide whether to fall back to the JS kernel.
// V8 runs new wasm code in its baseline tier first: the first call and the next few
// (until the optimizing tier has compiled every function) are slower.
//
// Memory: each kernel instance owns one growable WebAssembly.Memory into which
// A and B are copied, C is computed and copied out. It only grows (reused
// across calls). Layout per call (byte offsets, 64-aligned):
//   [packA: mc x kcPad][packB: kcPad x nc][A: m*k][B: k*n][C: roundUp(m,MR) x roundUp(n,NR)]
// The exported wasm `gemm` takes pointers and a row/column sub-range of C, so a
// shared memory (`shared: true`) can later be split across workers by MR-aligned
// row blocks or NR-aligned column blocks, each worker with its own pack buffers:
// ./parallel.ts does that.

import type { MatmulKernel } from '../matmul.js';
import { ModuleBuilder, ValType, v128 } from './emit.js';
import { DEFAULT_SHAPE, type GemmExports, type KernelShape, buildGemmModule } from './matmul-module.js';

export interface BlockSizes {
  /** Rows of A packed per block (rounded to a multiple of MR). */
  readonly mc: number;
  /** Columns of B packed per block (rounded to a multiple of NR). */
  readonly nc: number;
  /** Depth of one packed block. */
  readonly kc: number;
}

// kc=256: a 4x256 A panel + 256x8 B panel (12 KB) stay in the 32 KB L1; mc=128: the A block
// (128 KB) stays in the 1 MB L2 and m=100 packs A once; nc=2048: B packed once for n <= 2048.
// Sweeps (kc 128..1024, mc 48..512, nc 256..4096; bench --blocks) on Zen 4 were all within noise.
export const DEFAULT_BLOCKS: BlockSizes = { mc: 128, nc: 2048, kc: 256 };

export interface WasmMatmulOptions {
  readonly shape?: KernelShape;
  readonly blocks?: Partial<BlockSizes>;
  /**
   * Use a SharedArrayBuffer-backed memory (for splitting work across workers later; needs
   * cross-origin isolation in browsers). Its maximum, reserved up front, is 1 GiB.
   */
  readonly shared?: boolean;
}

const PAGE = 65536;
export const MAX_PAGES = 65536; // 4 GiB, the wasm32 limit
export const SHARED_MAX_PAGES = 16384; // 1 GiB
const roundUp = (x: number, to: number): number => Math.ceil(x / to) * to;

let simdSupported: boolean | undefined;

/** True if this engine can compile WebAssembly SIMD128 (validates a tiny module). */
export function wasmSimdSupported(): boolean {
  return (simdSupported ??= probeSimd());
}

function probeSimd(): boolean {
  // (module (func (result v128) (f32x4.mul (v128.const 0) (v128.const 0))))
  const mod = new ModuleBuilder();
  mod.func([], [ValType.v128]).setBody([v128.const0(), v128.const0(), v128.f32x4Mul()]);
  const bytes = mod.toBytes();
  return typeof WebAssembly === 'object' && typeof WebAssembly.validate === 'function' && WebAssembly.validate(bytes);
}

let fmaSupported: boolean | undefined;

/**
 * True if this engine can compile relaxed SIMD's f32x4.relaxed_madd: Chromium ≥ 114, Node ≥ 22, and
 * Node 20 after `v8.setFlagsFromString("--experimental-wasm-relaxed-simd")` (src/node/relaxed-simd.ts,
 * imported by tsgrad-vae/node, sets it).
 */
export function wasmFmaSupported(): boolean {
  return (fmaSupported ??= probeFma());
}

function probeFma(): boolean {
  const mod = new ModuleBuilder();
  mod.func([], [ValType.v128]).setBody([v128.const0(), v128.const0(), v128.const0(), v128.f32x4RelaxedMadd()]);
  return wasmSimdSupported() && WebAssembly.validate(mod.toBytes());
}

let fmaChoice: boolean | undefined;

/**
 * Whether float32 matmuls use fused multiply-adds (relaxed SIMD): by default yes where the engine has
 * them, unless the TSGRAD_FMA environment variable (Node) is 0. Results then differ from the plain
 * kernel's in the last bits, but not between thread counts: every element is summed by the same code
 * in the same order on any thread. setFma(false) is the deterministic mode: the same bits on every
 * engine and CPU.
 */
export function getFma(): boolean {
  if (fmaChoice === undefined) {
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.TSGRAD_FMA;
    if (env !== undefined && env !== '' && env !== '0' && env !== '1') throw new Error(`TSGRAD_FMA: "${env}"; use 1 (fused multiply-adds where available) or 0 (the plain kernel)`);
    fmaChoice = env !== '0' && wasmFmaSupported();
  }
  return fmaChoice;
}

/** Turns fused multiply-adds in the float32 matmul kernels on or off (see getFma). @example setFma(false) */
export function setFma(on: boolean): void {
  if (on && !wasmFmaSupported()) {
    throw new Error('setFma: this engine has no relaxed SIMD (f32x4.relaxed_madd); on Node 20 import tsgrad-vae/node (or call v8.setFlagsFromString("--experimental-wasm-relaxed-simd")) before the first product');
  }
  fmaChoice = on;
}

/** The default kernel shape with the current FMA choice. */
export const currentShape = (): KernelShape => (getFma() ? FMA_SHAPE : DEFAULT_SHAPE);
const FMA_SHAPE: KernelShape = { ...DEFAULT_SHAPE, fma: true };

/** A compiled kernel instance with its own memory. */
export class WasmMatmul {
  readonly shape: KernelShape;
  readonly blocks: BlockSizes;
  readonly memory: WebAssembly.Memory;
  private readonly gemm: GemmExports['gemm'];
  private readonly maxPages: number;

  constructor(module: WebAssembly.Module, shape: KernelShape, options: WasmMatmulOptions = {}) {
    this.shape = shape;
    const b = { ...DEFAULT_BLOCKS, ...options.blocks };
    this.blocks = {
      mc: Math.max(shape.mr, roundUp(b.mc, shape.mr)),
      nc: Math.max(shape.nr, roundUp(b.nc, shape.nr)),
      kc: Math.max(1, Math.floor(b.kc)),
    };
    this.maxPages = options.shared ? SHARED_MAX_PAGES : MAX_PAGES;
    this.memory = options.shared
      ? new WebAssembly.Memory({ initial: 16, maximum: SHARED_MAX_PAGES, shared: true })
      : new WebAssembly.Memory({ initial: 16 });
    const instance = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    this.gemm = (instance.exports as unknown as GemmExports).gemm;
  }

  /** out (m x n) = op(A) . op(B); see matmulWasmInto. */
  matmulInto(
    out: Float32Array,
    a: Float32Array,
    b: Float32Array,
    m: number,
    k: number,
    n: number,
    transA: boolean,
    transB: boolean,
  ): void {
    for (const [name, v] of [['m', m], ['k', k], ['n', n]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new RangeError(`matmulWasmInto: ${name} must be a non-negative integer, got ${v}`);
    }
    const mn = m * n;
    if (a.length < m * k) throw new RangeError(`matmulWasmInto: A has ${a.length} elements, needs ${m * k}`);
    if (b.length < k * n) throw new RangeError(`matmulWasmInto: B has ${b.length} elements, needs ${k * n}`);
    if (out.length < mn) throw new RangeError(`matmulWasmInto: out has ${out.length} elements, needs ${mn}`);
    if (mn === 0) return;
    if (k === 0) {
      out.fill(0, 0, mn);
      return;
    }

    const { mr, nr } = this.shape;
    const mPad = roundUp(m, mr);
    const ldc = roundUp(n, nr);
    const { mc, nc, kc, kcPad } = blockPlan(this.blocks, this.shape, mPad, ldc, k);

    const align = (bytes: number): number => roundUp(bytes, 64);
    const packA = 0;
    const packB = packA + align(mc * kcPad * 4);
    const aPtr = packB + align(kcPad * nc * 4);
    const bPtr = aPtr + align(m * k * 4);
    const cPtr = bPtr + align(k * n * 4);
    const end = cPtr + mPad * ldc * 4;
    this.ensureBytes(end);

    const heap = new Float32Array(this.memory.buffer);
    heap.set(a.subarray(0, m * k), aPtr / 4);
    heap.set(b.subarray(0, k * n), bPtr / 4);
    this.gemm(aPtr, bPtr, cPtr, m, n, k, transA ? 1 : 0, transB ? 1 : 0, 0, m, 0, n, packA, packB, mc, nc, kc, ldc, 0, 0);
    const c = cPtr / 4;
    if (ldc === n) {
      out.set(heap.subarray(c, c + mn));
    } else {
      for (let i = 0; i < m; i++) out.set(heap.subarray(c + i * ldc, c + i * ldc + n), i * n);
    }
  }

  private ensureBytes(bytes: number): void {
    growMemory(this.memory, bytes, this.maxPages, 'matmulWasmInto');
  }
}

/** Grows `memory` (never shrinks) so that `bytes` bytes are addressable; a refusal names `who` needed them. */
export function growMemory(memory: WebAssembly.Memory, bytes: number, maxPages: number, who: string): void {
  const have = memory.buffer.byteLength;
  // Stryker disable next-line EqualityOperator: at bytes = have, growing by a quarter more changes the memory's size only
  if (bytes <= have) return;
  const pages = Math.ceil(bytes / PAGE);
  if (pages > maxPages) {
    throw new RangeError(`${who}: needs ${bytes} bytes, over the ${maxPages * PAGE} byte memory limit`);
  }
  // Grow geometrically so a sequence of slowly growing sizes does not grow every call.
  const havePages = have / PAGE;
  memory.grow(Math.min(maxPages, Math.max(pages, Math.ceil(havePages * 1.25))) - havePages);
}

/**
 * Cache blocks for a `rows` x `cols` part of C (padded to MR, NR) with depth k: each dimension
 * split into equal blocks no larger than the configured ones (a short last block would waste a
 * pass over C). kc depends on k alone, so every part of a product split across threads sums each
 * element in the same order as a single call: the results are bit-identical.
 */
export function blockPlan(blocks: BlockSizes, shape: KernelShape, rows: number, cols: number, k: number) {
  const balance = (len: number, max: number, unit: number): number => roundUp(Math.ceil(len / Math.ceil(len / max)), unit);
  const kc = balance(k, blocks.kc, 1);
  return { mc: balance(rows, blocks.mc, shape.mr), nc: balance(cols, blocks.nc, shape.nr), kc, kcPad: roundUp(kc, shape.ku) };
}

const moduleCache = new Map<string, WebAssembly.Module>();
// Stryker disable next-line StringLiteral: any other suffix for "no FMA" keeps the keys distinct
const moduleKey = (s: KernelShape, shared: boolean): string => `${s.mr}x${s.nr}u${s.ku}${s.fma ? 'f' : ''}${shared ? 's' : ''}`;
const moduleBytes = (shape: KernelShape, shared: boolean): Uint8Array<ArrayBuffer> =>
  buildGemmModule(shape, shared ? { sharedMaxPages: SHARED_MAX_PAGES } : {});

/** The compiled module (cached); `shared` imports a shared memory of SHARED_MAX_PAGES (for threads). */
export function compileSync(shape: KernelShape, shared: boolean): WebAssembly.Module {
  const key = moduleKey(shape, shared);
  let mod = moduleCache.get(key);
  if (!mod) {
    mod = new WebAssembly.Module(moduleBytes(shape, shared));
    moduleCache.set(key, mod);
  }
  return mod;
}

/** Creates an independent kernel instance (own memory); for benchmarks, tuning and workers. */
export function createWasmMatmul(options: WasmMatmulOptions = {}): WasmMatmul {
  const shape = options.shape ?? currentShape();
  return new WasmMatmul(compileSync(shape, options.shared ?? false), shape, options);
}

/** The default kernels, plain and with FMA, made on first use. */
const defaults: { plain?: WasmMatmul; fma?: WasmMatmul } = {};
// Stryker disable next-line ObjectLiteral: without the shape, createWasmMatmul takes currentShape(), the same one
const defaultKernel = (): WasmMatmul => (getFma() ? (defaults.fma ??= createWasmMatmul({ shape: FMA_SHAPE })) : (defaults.plain ??= createWasmMatmul({ shape: DEFAULT_SHAPE })));

/**
 * Compiles the module asynchronously (required on a browser's main thread, where sync
 * compilation of modules over 4 KB is refused). Optional in Node and workers.
 */
export async function initWasm(): Promise<void> {
  const shape = currentShape();
  const key = moduleKey(shape, false);
  // Stryker disable next-line ConditionalExpression: true compiles the cached module again, which costs time only (false, never compiling, fails the refused-sync test: checked by hand)
  if (!moduleCache.has(key)) moduleCache.set(key, await WebAssembly.compile(moduleBytes(shape, false)));
  defaultKernel();
}

/** The bytes of the default module (e.g. to post to workers). */
export function wasmMatmulModuleBytes(shape: KernelShape = DEFAULT_SHAPE): Uint8Array<ArrayBuffer> {
  return buildGemmModule(shape);
}

/**
 * out (m x n, row-major, overwritten) = op(A) . op(B), where A is m x k (k x m if transA)
 * and B is k x n (n x k if transB), all row-major float32. k = 0 gives zeros.
 * Throws if WebAssembly SIMD is unavailable (check wasmSimdSupported() first).
 */
export const matmulWasmInto: MatmulKernel<Float32Array> = (out, a, b, m, k, n, transA, transB) => {
  defaultKernel().matmulInto(out, a, b, m, k, n, transA, transB);
};
