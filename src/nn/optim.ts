import { allocate } from "../tensor/dtype.js";
import type { Tensor } from "../tensor/tensor.js";

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

  constructor(readonly params: Map<string, Tensor>, readonly lr = 1e-2, readonly momentum = 0) {}

  step(): void {
    for (const [name, p] of this.params) {
      const g = gradOf(p, name, "SGD");
      if (!g) continue;
      const w = p.data;
      if (this.momentum === 0) {
        for (let i = 0; i < w.length; i++) w[i] -= this.lr * g[i];
        continue;
      }
      let v = this.velocity.get(name);
      if (!v) this.velocity.set(name, (v = allocate(p.dtype, p.size)));
      for (let i = 0; i < w.length; i++) {
        v[i] = this.momentum * v[i] + g[i];
        w[i] -= this.lr * v[i];
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
}

/** Adam (Kingma & Ba): bias-corrected moment estimates m, v; p ← p − lr·m̂/(√v̂ + ε). */
export class Adam implements Optimizer {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Steps taken so far. */
  t = 0;
  readonly m = new Map<string, Float32Array | Float64Array>();
  readonly v = new Map<string, Float32Array | Float64Array>();

  constructor(readonly params: Map<string, Tensor>, options: AdamOptions = {}) {
    this.lr = options.lr ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    for (const [name, p] of params) {
      this.m.set(name, allocate(p.dtype, p.size));
      this.v.set(name, allocate(p.dtype, p.size));
    }
  }

  step(): void {
    this.t++;
    const { beta1: b1, beta2: b2, eps } = this;
    const c1 = 1 / (1 - Math.pow(b1, this.t));
    const c2 = 1 / (1 - Math.pow(b2, this.t));
    for (const [name, p] of this.params) {
      const g = gradOf(p, name, "Adam");
      if (!g) continue;
      const w = p.data;
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i];
        const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
        const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
        w[i] -= (this.lr * mi * c1) / (Math.sqrt(vi * c2) + eps);
      }
    }
  }

  zeroGrad(): void {
    for (const p of this.params.values()) p.grad = null;
  }
}
