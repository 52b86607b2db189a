// The kernel table: (op, backend, dtype) → a plain function over typed arrays.
//
// Ops ask `kernel(op, dtype)` for the kernel of the selected backend (see setBackend) and never test
// array types or backends themselves. Each backend fills in its entries in one file:
// ./js-kernels.ts (every op, float32 and float64: the reference) and ./wasm/kernels.ts (float32
// WebAssembly SIMD128 versions of some ops). A backend without an entry for (op, dtype) falls back
// to the "js" one. A wasm entry may itself hand small inputs to the TypeScript kernel when copying
// into WebAssembly memory would cost more than it saves (each says at what size).
//
// Adding a kernel: its signature in `KernelSignatures`, the TypeScript loop and its
// `registerKernel(op, "js", …)` in ./js-kernels.ts, and for another backend its function and entry in
// that backend's file; callers use `kernel(op, dtype)(…)`. test/kernels.test.ts checks every
// registered wasm entry against the js one.

import { getBackend, type Backend } from "./backend.js";
import type { BinarySide } from "./binary.js";
import type { Data, DType } from "./dtype.js";
import { registerJsKernels } from "./js-kernels.js";
import { registerWasmKernels } from "./wasm/kernels.js";

export type BiasActivation = "none" | "tanh" | "relu";

/** Adam's constants for one step of one parameter tensor. */
export interface AdamStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1/(1 − β1ᵗ), 1/(1 − β2ᵗ) */
  c1: number;
  c2: number;
  /**
   * "f64": float64 arithmetic rounding each stored value to the arrays' type (the TypeScript loop;
   * the WebAssembly f64x2 kernel gives the same bits); "f32": float32 arithmetic where a backend has
   * it (WebAssembly f32x4, within ~1 ulp per step), else as "f64".
   */
  precision: "f32" | "f64";
}

/**
 * One parameter's moments, as the `adamState` kernel hands them out: the `adam` kernel steps them
 * from this object (a backend may attach where they sit in its memory), so no step looks them up.
 * Any backend's `adam` accepts any backend's slot (stepping m and v where they are).
 */
export interface AdamSlot<D extends Data> {
  /** First and second moments, zeros when handed out. */
  readonly m: D;
  readonly v: D;
}

/** Adam's per-parameter state, allocated by the backend that steps it (see the `adamState` kernel). */
export interface AdamState<D extends Data> {
  /** The moments, one slot per parameter size. */
  readonly slots: AdamSlot<D>[];
  /** Gradient buffers (see setGradBuffer), one per parameter size. */
  readonly grads: D[];
}

/**
 * The kernels' signatures, over arrays of one dtype (`D` is Float32Array or Float64Array; all
 * operands of a call share it). All arrays are row-major.
 */
export interface KernelSignatures<D extends Data> {
  /** out (m×n, overwritten) = op(A)·op(B), A stored m×k (k×m when transA), B k×n (n×k when transB). */
  matmul: (out: D, a: D, b: D, m: number, k: number, n: number, transA: boolean, transB: boolean) => void;
  /**
   * matmul's product when one operand (`binary`) holds only 0s and 1s, as sums of the other's rows
   * (./binary.ts); equal to matmul's to float32 rounding. Any other value in that operand: matmul.
   */
  matmulBinary: (out: D, a: D, b: D, m: number, k: number, n: number, transA: boolean, transB: boolean, binary: BinarySide) => void;
  /** y[r, j] ← act(y[r, j] + bias[j]) in place, for y of rows × cols. */
  biasActivation: (y: D, bias: D, rows: number, cols: number, activation: BiasActivation) => void;
  /** gp = g·act'(y) (tanh' = 1 − y², relu' = [y > 0]), and if gb is given gb += gp's column sums. */
  activationBackward: (gp: D, g: D, y: D, gb: D | null, rows: number, cols: number, activation: "tanh" | "relu") => void;
  /** out[j] += Σ_r g[r, j] for g of rows × cols. */
  columnSums: (out: D, g: D, rows: number, cols: number) => void;
  /** out[r, j] = s[r]·d[r, j] for d of s.length rows × cols (out may be d). */
  scaleRows: (out: D, s: D, d: D, cols: number) => void;
  /**
   * out[r] = Σ_j x·l − softplus(l) over rows of D logits l (rows = out.length), x repeated over rows
   * (row r reads x from (r·D) mod x.length); and if d is given, d = x − σ(l) element-wise.
   */
  bernoulliRows: (x: D, l: D, D: number, out: D, d: D | null) => void;
  /** Zeroed moments and gradient buffers for parameters of these sizes, where this backend's `adam` steps fastest. */
  adamState: (sizes: readonly number[]) => AdamState<D>;
  /** One Adam step of parameter p in place (p is written into, never replaced), with g its gradient and `slot` its moments (of p's length). */
  adam: (p: D, g: D, slot: AdamSlot<D>, step: AdamStep) => void;
}

export type KernelName = keyof KernelSignatures<Data>;
export type DataOf<T extends DType> = T extends "float64" ? Float64Array : Float32Array;
export type Kernel<K extends KernelName, T extends DType> = KernelSignatures<DataOf<T>>[K];

const BACKENDS: readonly Backend[] = ["js", "wasm"];
const DTYPES: readonly DType[] = ["float32", "float64"];
const slot = (backend: Backend, dtype: DType): number => (backend === "wasm" ? 2 : 0) + (dtype === "float64" ? 1 : 0);

type Entries = (((...args: never[]) => unknown) | undefined)[];

/** Per op, its kernels at slot(backend, dtype); null until the backends have registered theirs. */
let table: Record<string, Entries> | null = null;

// The backends register on first use rather than when their modules load: they import kernels
// from modules that import this one, and a registration running while those are still loading
// would meet uninitialized bindings. Called as `table ?? loaded()`, so once.
function loaded(): Record<string, Entries> {
  const t: Record<string, Entries> = {};
  table = t;
  registerJsKernels();
  registerWasmKernels();
  return t;
}

/**
 * Registers `fn` as the kernel of `op` for `backend` and `dtype`, replacing any before it.
 * @example registerKernel("scaleRows", "wasm", "float32", myScaleRows)
 */
export function registerKernel<K extends KernelName, T extends DType>(op: K, backend: Backend, dtype: T, fn: Kernel<K, T>): void {
  if (!BACKENDS.includes(backend)) throw new Error(`registerKernel: unknown backend "${backend}"; use "js" or "wasm"`);
  if (!DTYPES.includes(dtype)) throw new Error(`registerKernel: unknown dtype "${dtype}"; use "float32" or "float64"`);
  const t = table ?? loaded();
  // Stryker disable next-line ArrayDeclaration: an empty array reads undefined at every slot, as the four undefineds do
  (t[op] ??= [undefined, undefined, undefined, undefined])[slot(backend, dtype)] = fn as Entries[number];
}

/** The kernel of `op` for `dtype` on `backend`: its own entry, else the "js" one; throws if neither. */
export function kernelFor<K extends KernelName, T extends DType>(op: K, backend: Backend, dtype: T): Kernel<K, T> {
  const entries = (table ?? loaded())[op];
  // Stryker disable next-line StringLiteral: slot() maps every backend name but "wasm" to the js slots
  const fn = entries?.[slot(backend, dtype)] ?? entries?.[slot("js", dtype)];
  if (fn === undefined) throw new Error(`kernel: no kernel "${op}" for ${dtype} (backend ${backend}); register one with registerKernel("${op}", "js", "${dtype}", fn)`);
  return fn as unknown as Kernel<K, T>;
}

/**
 * The kernel of `op` for `dtype` on the selected backend (see setBackend), falling back to "js".
 * @example kernel("matmul", "float32")(out, a, b, m, k, n, false, true)
 */
export function kernel<K extends KernelName, T extends DType>(op: K, dtype: T): Kernel<K, T> {
  return kernelFor(op, getBackend(), dtype);
}

/** Whether `backend` has an entry of its own for (op, dtype), not counting the fallback to "js". */
export function hasOwnKernel(op: KernelName, backend: Backend, dtype: DType): boolean {
  return (table ?? loaded())[op]?.[slot(backend, dtype)] !== undefined;
}

/** Every (op, backend, dtype) with an entry of its own. */
export function registeredKernels(): { op: KernelName; backend: Backend; dtype: DType }[] {
  const out: { op: KernelName; backend: Backend; dtype: DType }[] = [];
  for (const [op, entries] of Object.entries(table ?? loaded())) {
    for (const backend of BACKENDS) for (const dtype of DTYPES) if (entries[slot(backend, dtype)] !== undefined) out.push({ op: op as KernelName, backend, dtype });
  }
  return out;
}

/** The dtype shared by all of `arrays`; throws naming `op` when they mix float32 and float64. */
export function dtypeOfAll(op: string, ...arrays: (Data | null)[]): DType {
  let dtype: DType | null = null;
  for (const a of arrays) {
    if (a === null) continue;
    const d: DType = a instanceof Float64Array ? "float64" : "float32";
    if (dtype === null) dtype = d;
    else if (d !== dtype) throw new Error(`${op}: operands mix float32 and float64 arrays; convert them to one dtype first (astype)`);
  }
  return dtype ?? "float32";
}
