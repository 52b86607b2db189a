import { setGradBuffer } from "../autograd/engine.js";
import { getBackend } from "../tensor/backend.js";
import { allocate, type Data } from "../tensor/dtype.js";
import { bumpVersion, type Tensor } from "../tensor/tensor.js";
import { AdamMemory, wasmElementwiseAvailable } from "../tensor/wasm/elementwise.js";

export interface Optimizer {
  step(): void;
  zeroGrad(): void;
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
    // Persistent gradient buffers: backward() refills the same arrays every step (see setGradBuffer).
    for (const p of params.values()) if (p.node === null) setGradBuffer(p, allocate(p.dtype, p.size));
  }

  step(): void {
    for (const [name, p] of this.params) {
      const g = gradOf(p, name, "SGD");
      if (!g) continue;
      const w = p.data;
      bumpVersion(p);
      const { lr, momentum } = this;
      if (momentum === 0) {
        for (let i = 0, n = w.length; i < n; i++) w[i] -= lr * g[i];
        continue;
      }
      let v = this.velocity.get(name);
      if (!v) this.velocity.set(name, (v = allocate(p.dtype, p.size)));
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
   * Where float32 parameters are updated: "auto" (default) in WebAssembly SIMD128 when the backend
   * (see setBackend) is "wasm", else in TypeScript; "js" always in TypeScript, with the moments in
   * plain typed arrays. float64 parameters are always updated in TypeScript.
   */
  kernel?: "auto" | "js";
  /**
   * The WebAssembly update's arithmetic: "f32" (default) in float32 (f32x4), within ~1 ulp of the
   * TypeScript loop per step; "f64" in float64 (f64x2), bit-identical to it; its kernel takes ~2.5× as long.
   */
  precision?: "f32" | "f64";
  /**
   * With the WebAssembly update, where float32 parameters' values live: "optimizer" (default) moves
   * them into the optimizer's memory (each parameter's `.data` becomes a view of it, same values),
   * so that a step copies nothing; "caller" leaves `.data` alone and copies it in and out each step.
   */
  parameterStorage?: "optimizer" | "caller";
}

/** The classic loop, in float64 arithmetic with each stored value rounded to the arrays' type. */
function adamLoop(w: Data, g: Data, m: Data, v: Data, lr: number, b1: number, b2: number, eps: number, c1: number, c2: number): void {
  const ob1 = 1 - b1;
  const ob2 = 1 - b2;
  for (let i = 0, n = w.length; i < n; i++) {
    const gi = g[i];
    const mi = (m[i] = b1 * m[i] + ob1 * gi);
    const vi = (v[i] = b2 * v[i] + ob2 * gi * gi);
    w[i] -= (lr * mi * c1) / (Math.sqrt(vi * c2) + eps);
  }
}

/**
 * Adam (Kingma & Ba): bias-corrected moment estimates m, v; p ← p − lr·m̂/(√v̂ + ε).
 *
 * Gradients: each parameter gets a persistent gradient buffer (setGradBuffer), so backward() fills
 * the same arrays every step instead of allocating new ones; `zeroGrad()` still sets `.grad` to null.
 *
 * With the WebAssembly update (float32 parameters, backend "wasm"), the parameters, their gradient
 * buffers and both moments live in one WebAssembly memory of fixed size, allocated here: `m`, `v`,
 * the gradients and (by default, see `parameterStorage`) each parameter's `.data` are views of it.
 * Keep references to the tensors, not to arrays taken from them before this constructor. Should a
 * parameter's `.data` or `.grad` later be replaced by another array, a step copies it through.
 */
export class Adam implements Optimizer {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Steps taken so far. */
  t = 0;
  readonly m = new Map<string, Float32Array | Float64Array>();
  readonly v = new Map<string, Float32Array | Float64Array>();
  readonly precision: "f32" | "f64";
  /** The WebAssembly memory of the float32 parameters, when they use the WebAssembly update. */
  private readonly wasm: AdamMemory | null = null;
  /** Per parameter (in `params` order), its slot in `wasm`, or -1. */
  private readonly slots: number[] = [];

  constructor(readonly params: Map<string, Tensor>, options: AdamOptions = {}) {
    this.lr = options.lr ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.precision = options.precision ?? "f32";
    const useWasm = (options.kernel ?? "auto") === "auto" && getBackend() === "wasm" && wasmElementwiseAvailable();
    const wasmParams = useWasm ? [...params.values()].filter((p) => p.dtype === "float32") : [];
    if (wasmParams.length > 0) this.wasm = new AdamMemory(wasmParams.map((p) => p.size));
    let slot = 0;
    for (const [name, p] of params) {
      const mem = this.wasm;
      if (mem !== null && p.dtype === "float32") {
        const k = slot++;
        this.slots.push(k);
        this.m.set(name, mem.m[k]);
        this.v.set(name, mem.v[k]);
        mem.p[k].set(p.data);
        if (p.node === null) setGradBuffer(p, mem.g[k]);
      } else {
        this.slots.push(-1);
        this.m.set(name, allocate(p.dtype, p.size));
        this.v.set(name, allocate(p.dtype, p.size));
        if (p.node === null) setGradBuffer(p, allocate(p.dtype, p.size));
      }
    }
  }

  step(): void {
    this.t++;
    const { lr, beta1, beta2, eps } = this;
    const c1 = 1 / (1 - Math.pow(beta1, this.t));
    const c2 = 1 / (1 - Math.pow(beta2, this.t));
    const mem = getBackend() === "wasm" ? this.wasm : null;
    let i = 0;
    for (const [name, p] of this.params) {
      const k = this.slots[i++];
      const g = gradOf(p, name, "Adam");
      if (!g) continue;
      bumpVersion(p);
      if (mem !== null && k >= 0) {
        if (g !== mem.g[k]) mem.g[k].set(g);
        const own = p.data === mem.p[k];
        if (!own) mem.p[k].set(p.data);
        mem.step(k, { lr, beta1, beta2, eps, c1, c2 }, this.precision);
        if (!own) p.data.set(mem.p[k]);
      } else {
        adamLoop(p.data, g, this.m.get(name)!, this.v.get(name)!, lr, beta1, beta2, eps, c1, c2);
      }
    }
  }

  zeroGrad(): void {
    for (const p of this.params.values()) p.grad = null;
  }
}
