import { allocate, dtypeOf, type Data, type DType } from "./dtype.js";
import { checkShape, fmt, sizeOf, type Shape } from "./shape.js";
import { Random } from "./random.js";

/** The slot autograd fills in: how to send a gradient back to this tensor's inputs. */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  backward(grad: Tensor): (Tensor | null)[];
}

export type NestedArray = number | NestedArray[];

export interface TensorOptions {
  shape?: Shape;
  dtype?: DType;
  requiresGrad?: boolean;
}

/** A shape plus a contiguous, row-major typed array. */
export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  data: Data;
  requiresGrad: boolean;
  grad: Tensor | null = null;
  /** How this tensor was computed, while a graph is recorded; null for leaves. */
  node: GradNode | null = null;

  constructor(data: Data, shape: Shape, requiresGrad = false) {
    checkShape(shape, "tensor");
    if (data.length !== sizeOf(shape)) {
      throw new Error(`tensor: ${data.length} values do not fill shape ${fmt(shape)} (${sizeOf(shape)} needed)`);
    }
    this.shape = Object.freeze([...shape]);
    this.dtype = dtypeOf(data);
    this.data = data;
    this.requiresGrad = requiresGrad;
  }

  get size(): number {
    return this.data.length;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item: tensor has shape ${fmt(this.shape)}, not one element`);
    return this.data[0];
  }

  toArray(): NestedArray {
    const rec = (axis: number, offset: number): NestedArray => {
      if (axis === this.shape.length) return this.data[offset];
      const stride = sizeOf(this.shape.slice(axis + 1));
      return Array.from({ length: this.shape[axis] }, (_, i) => rec(axis + 1, offset + i * stride));
    };
    return rec(0, 0);
  }

  toString(): string {
    const shown = 8;
    const values = Array.from(this.data.subarray(0, shown), (v) => formatNumber(v)).join(", ");
    const more = this.size > shown ? `, … ${this.size - shown} more` : "";
    const grad = this.requiresGrad ? ", requiresGrad" : "";
    return `Tensor(${this.dtype}, ${fmt(this.shape)}${grad}) [${values}${more}]`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

function formatNumber(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6 ? v.toPrecision(5).replace(/\.?0+$/, "") : v.toExponential(3);
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let d: NestedArray = data;
  while (Array.isArray(d)) {
    shape.push(d.length);
    d = d[0];
    if (d === undefined) break;
  }
  return shape;
}

function flatten(data: NestedArray, shape: number[], out: Data): void {
  let k = 0;
  const rec = (d: NestedArray, axis: number): void => {
    if (axis === shape.length) {
      if (typeof d !== "number") throw new Error(`tensor: expected a number at depth ${axis}, got ${Array.isArray(d) ? "an array" : typeof d}`);
      out[k++] = d;
      return;
    }
    if (!Array.isArray(d) || d.length !== shape[axis]) {
      throw new Error(`tensor: ragged nested array: expected ${shape[axis]} entries at depth ${axis}, got ${Array.isArray(d) ? d.length : typeof d}`);
    }
    for (const e of d) rec(e, axis + 1);
  };
  rec(data, 0);
}

/** t in another dtype: t itself when it already has it, else a converted copy (no graph). */
export function astype(t: Tensor, dtype: DType): Tensor {
  if (t.dtype === dtype) return t;
  const data = allocate(dtype, t.size);
  data.set(t.data);
  return new Tensor(data, t.shape);
}

/**
 * A tensor from a (nested) number array or a typed array.
 * @example tensor([[1, 2], [3, 4]], { requiresGrad: true })
 */
export function tensor(data: NestedArray | Data | readonly number[], options: TensorOptions = {}): Tensor {
  let values: Data;
  let shape: Shape;
  if (data instanceof Float32Array || data instanceof Float64Array) {
    const dtype = options.dtype ?? dtypeOf(data);
    values = dtype === dtypeOf(data) ? data : allocate(dtype, data.length);
    if (values !== data) values.set(data);
    shape = options.shape ?? [data.length];
  } else {
    const nested = data as NestedArray;
    const inferred = inferShape(nested);
    values = allocate(options.dtype ?? "float32", sizeOf(inferred));
    flatten(nested, inferred, values);
    shape = options.shape ?? inferred;
  }
  return new Tensor(values, shape, options.requiresGrad ?? false);
}

export function full(shape: Shape, value: number, options: Omit<TensorOptions, "shape"> = {}): Tensor {
  checkShape(shape, "full");
  const data = allocate(options.dtype ?? "float32", sizeOf(shape));
  if (value !== 0) data.fill(value);
  return new Tensor(data, shape, options.requiresGrad ?? false);
}

export const zeros = (shape: Shape, options?: Omit<TensorOptions, "shape">) => full(shape, 0, options);
export const ones = (shape: Shape, options?: Omit<TensorOptions, "shape">) => full(shape, 1, options);

/** [start, start+step, …) up to but excluding stop, like NumPy's arange. */
export function arange(start: number, stop?: number, step = 1, options: Omit<TensorOptions, "shape"> = {}): Tensor {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error("arange: step must not be 0");
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const data = allocate(options.dtype ?? "float32", n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return new Tensor(data, [n], options.requiresGrad ?? false);
}

export interface RandomOptions extends Omit<TensorOptions, "shape"> {
  /** A seed (a fresh generator) or a generator to draw from; default seed 0. */
  seed?: number;
  rng?: Random;
}

function randomTensor(shape: Shape, options: RandomOptions, draw: (r: Random) => number): Tensor {
  checkShape(shape, "random");
  const rng = options.rng ?? new Random(options.seed ?? 0);
  const data = allocate(options.dtype ?? "float32", sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = draw(rng);
  return new Tensor(data, shape, options.requiresGrad ?? false);
}

/** Uniform samples in [low, high) from the seeded generator. */
export function rand(shape: Shape, options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const low = options.low ?? 0;
  const high = options.high ?? 1;
  return randomTensor(shape, options, (r) => low + (high - low) * r.uniform());
}

/** Standard normal samples from the seeded generator. */
export function randn(shape: Shape, options: RandomOptions = {}): Tensor {
  return randomTensor(shape, options, (r) => r.normal());
}
