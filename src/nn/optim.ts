import { setGradBuffer } from "../autograd/engine.js";
import { allocate, type Data, type DType } from "../tensor/dtype.js";
import { type AdamSlot, kernel, kernelFor } from "../tensor/kernels.js";
import { bumpVersion, type Tensor } from "../tensor/tensor.js";

export interface Optimizer {
  step(): void;
  zeroGrad(): void;
}

/**
 * Throws if a tensor is listed twice among `params` (under two names), or two of them share memory
 * (one a view of the other): a step would update those values twice.
 */
function checkDistinct(params: Map<string, Tensor>, op: string): void {
  // Stryker disable next-line ArrayDeclaration: a string entry matches no parameter (its p and buffer are undefined)
  const seen: { name: string; p: Tensor; buffer: ArrayBufferLike; start: number; end: number }[] = [];
  for (const [name, p] of params) {
    const d = p.data;
    const [start, end] = [d.byteOffset, d.byteOffset + d.byteLength];
    for (const q of seen) {
      if (q.p === p) throw new Error(`${op}: parameters "${q.name}" and "${name}" are the same tensor; list each parameter once`);
      if (q.buffer === d.buffer && start < q.end && q.start < end) {
        throw new Error(`${op}: parameters "${q.name}" and "${name}" share memory (their arrays overlap, as when one is a view of the other); list each parameter once`);
      }
    }
    seen.push({ name, p, buffer: d.buffer, start, end });
  }
}

function gradOf(p: Tensor, name: string, op: string): Float32Array | Float64Array | null {
  if (p.grad === null) return null;
  if (p.grad.size !== p.size) throw new Error(`${op}: gradient of ${name} has ${p.grad.size} values, the parameter ${p.size}`);
  return p.grad.data;
}

/** Plain gradient descent, with optional momentum: v ← μv + g, p ← p − lr·v. */
export class SGD implements Optimizer {
  private velocity = new Map<string, Float32Array | Float64Array>();

  constructor(readonly params: Map<string, Tensor>, readonly lr = 1e-2, readonly momentum = 0) {
    checkDistinct(params, "SGD");
    // Persistent gradient buffers: backward() refills the same arrays every step (see setGradBuffer).
    for (const p of params.values()) if (p.node === null) setGradBuffer(p, allocate(p.dtype, p.size));
  }

  step(): void {
    for (const [name, p] of this.params) {
      const g = gradOf(p, name, "SGD");
      if (!g) continue;
      const w = p.data;
      bumpVersion(p); // an in-place write: a graph that saved p now refuses to backward through it
      const { lr, momentum } = this;
      if (momentum === 0) {
        // Stryker disable next-line EqualityOperator: a write past the typed array's end is ignored
        for (let i = 0, n = w.length; i < n; i++) w[i] -= lr * g[i];
        continue;
      }
      let v = this.velocity.get(name);
      if (!v) this.velocity.set(name, (v = allocate(p.dtype, p.size)));
      // Stryker disable next-line EqualityOperator: writes past the typed arrays' ends are ignored
      for (let i = 0, n = w.length; i < n; i++) {
        v[i] = momentum * v[i] + g[i];
        w[i] -= lr * v[i];
      }
    }
  }

  zeroGrad(): void {
    for (const p of this.params.values()) p.grad = null;
  }
}

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /**
   * Which kernel updates the parameters: "auto" (default) the selected backend's (see setBackend):
   * for float32 on "wasm", WebAssembly SIMD128 with the moments and gradient buffers in WebAssembly
   * memory; "js" always the TypeScript loop, with the moments in plain typed arrays.
   */
  kernel?: "auto" | "js";
  /**
   * The WebAssembly update's arithmetic: "f32" (default) in float32 (f32x4), within ~1 ulp of the
   * TypeScript loop per step; "f64" in float64 (f64x2), bit-identical to it; its kernel takes ~2.5× as long.
   */
  precision?: "f32" | "f64";
}

/**
 * Adam (Kingma & Ba): bias-corrected moment estimates m, v; p ← p − lr·m̂/(√v̂ + ε).
 *
 * Parameters are updated where they are: a step writes into each parameter's `.data` in place, so
 * arrays and views taken from it before see the new values.
 *
 * Gradients: each parameter gets a persistent gradient buffer (setGradBuffer), so backward() fills
 * the same arrays every step instead of allocating new ones; `zeroGrad()` still sets `.grad` to null.
 * The moments and gradient buffers come from the backend's `adamState` kernel: for float32 on
 * "wasm", views of one fixed-size WebAssembly memory, which each step copies the parameters into and
 * back out of, given back to the engine when the optimizer and the gradient buffers are unreachable.
 * Each name's moments are resolved once, here: a parameter replaced in `params` by one of the same
 * size and dtype steps on them; a name added later, or another size, is an error at `step()`.
 */
export class Adam implements Optimizer {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Steps taken so far. */
  t = 0;
  /** The moments by parameter name (views of the slots the steps run on). */
  readonly m: ReadonlyMap<string, Data>;
  readonly v: ReadonlyMap<string, Data>;
  /** Each parameter's moments as the `adam` kernel takes them, resolved once here (see AdamSlot). */
  private readonly slots = new Map<string, AdamSlot<Data>>();
  readonly precision: "f32" | "f64";
  private readonly kernel: "auto" | "js";

  constructor(readonly params: Map<string, Tensor>, options: AdamOptions = {}) {
    checkDistinct(params, "Adam");
    this.lr = options.lr ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.precision = options.precision ?? "f32";
    // Stryker disable next-line StringLiteral: any value but "js" steps on the selected backend, as "auto" does
    this.kernel = options.kernel ?? "auto";
    for (const dtype of ["float32", "float64"] as const) {
      const named = [...params].filter(([, p]) => p.dtype === dtype);
      // Stryker disable next-line ConditionalExpression: a state for no parameters is empty and never used
      if (named.length === 0) continue;
      const state = this.kernelOf("adamState", dtype)(named.map(([, p]) => p.size));
      named.forEach(([name, p], i) => {
        this.slots.set(name, state.slots[i]);
        if (p.node === null) setGradBuffer(p, state.grads[i]);
      });
    }
    this.m = new Map([...this.slots].map(([name, slot]) => [name, slot.m]));
    this.v = new Map([...this.slots].map(([name, slot]) => [name, slot.v]));
  }

  private kernelOf<K extends "adam" | "adamState", T extends DType>(op: K, dtype: T) {
    // Stryker disable next-line StringLiteral: kernelFor reads every backend name but "wasm" as the js slots
    return this.kernel === "js" ? kernelFor(op, "js", dtype) : kernel(op, dtype);
  }

  step(): void {
    this.t++;
    const { lr, beta1, beta2, eps, precision } = this;
    const s = { lr, beta1, beta2, eps, c1: 1 / (1 - Math.pow(beta1, this.t)), c2: 1 / (1 - Math.pow(beta2, this.t)), precision };
    for (const [name, p] of this.params) {
      const g = gradOf(p, name, "Adam");
      if (!g) continue;
      const slot = this.slots.get(name);
      if (slot === undefined) throw new Error(`Adam: parameter "${name}" was not among the parameters this optimizer was built with; build a new Adam to add parameters`);
      if (slot.m.length !== p.size || slot.m.constructor !== p.data.constructor) {
        throw new Error(`Adam: parameter "${name}" is now ${p.size} ${p.dtype} values, its moments ${slot.m.length} ${slot.m instanceof Float64Array ? "float64" : "float32"}; replace a parameter only by one of its size and dtype, or build a new Adam`);
      }
      this.kernelOf("adam", p.dtype)(p.data, g, slot, s);
      bumpVersion(p); // an in-place write: a graph that saved p now refuses to backward through it
    }
  }

  zeroGrad(): void {
    for (const p of this.params.values()) p.grad = null;
  }
}
