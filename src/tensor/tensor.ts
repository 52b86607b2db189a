import { allocate, dtypeOf, type Data, type DType } from "./dtype.js";
import { checkShape, fmt, sizeOf, type Shape } from "./shape.js";
import { Random } from "./random.js";
import { isBinaryData } from "./binary.js";
import { checkStep, stepOf } from "./step-memory.js";

/** The slot autograd fills in: how to send a gradient back to this tensor's inputs. */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  backward(grad: Tensor): (Tensor | null)[];
  /** Tensors the backward reads, and their storages' versions when the op ran (see Storage.version). */
  readonly saved?: readonly Tensor[];
  readonly versions?: readonly number[];
}

export type NestedArray = number | NestedArray[];

export interface TensorOptions {
  shape?: Shape;
  dtype?: DType;
  requiresGrad?: boolean;
}

/**
 * The memory behind one or more tensors: a typed array and a version counter. Every in-place write
 * through the library (optimizer steps, loadParameters, Tensor.assign) bumps the version, so that a
 * backward pass can tell that a value it saved has since changed.
 */
export class Storage {
  version = 0;
  /** The version at which every value was last checked to be 0 or 1 (see markBinary); -1: never. */
  private binaryAt = -1;
  /** The training step whose memory holds the values (see stepScope), or -1: they are the storage's own. */
  private readonly step: number;
  constructor(private readonly values: Data) {
    this.step = stepOf(values);
  }

  /** The values; throws for a step's array once a later step has reused its memory (see stepScope). */
  get data(): Data {
    this.checkLive();
    return this.values;
  }

  /** Throws when the values are a training step's array whose memory a later step has reused. */
  checkLive(): void {
    if (this.step >= 0) checkStep(this.step, this.values.length);
  }

  /**
   * True while the values are known to be only 0s and 1s: set by markBinary, cleared by any
   * in-place write through the library (it bumps the version). Kernels that use it (matmulBinary)
   * still check each value they read and fall back to the dense path on anything else.
   */
  get binary(): boolean {
    return this.binaryAt === this.version;
  }

  /** Checks every value and records whether all are +0 or 1 (−0 is not: see isBinaryBits); returns that. */
  markBinary(): boolean {
    const ok = isBinaryData(this.data);
    this.binaryAt = ok ? this.version : -1;
    return ok;
  }

  /**
   * Records that every value is +0 or 1 without reading them: for values copied from storage that
   * markBinary checked (a minibatch gathered from checked images). The kernels that use the record
   * still check each value they read, so a wrong record costs speed, never a wrong result.
   */
  assumeBinary(): void {
    this.binaryAt = this.version;
  }
}

/** Row-major strides of a contiguous tensor of this shape. */
export function contiguousStrides(shape: Shape): number[] {
  // Stryker disable next-line ArrayDeclaration: an empty array filled by index gives the same strides
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/**
 * A view: a shape, strides and an offset over a Storage. Tensors made by ops are contiguous
 * (row-major, offset 0); reshape, detach, transpose, permute, .T and slice return views that share
 * their input's storage and see its writes.
 */
export class Tensor {
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly storage: Storage;
  readonly dtype: DType;
  /** The number of elements (the product of the shape). */
  readonly size: number;
  requiresGrad: boolean;
  grad: Tensor | null = null;
  /** How this tensor was computed, while a graph is recorded; null for leaves. */
  node: GradNode | null = null;
  /** This view's values as one typed array, when they are contiguous in the storage (else null). */
  private readonly span: Data | null;

  /**
   * A contiguous tensor over `data` (shared, not copied), or, given a Storage with strides and an
   * offset, a view of it.
   */
  constructor(data: Data | Storage, shape: Shape, requiresGrad = false, strides?: readonly number[], offset = 0) {
    checkShape(shape, "tensor");
    const size = sizeOf(shape);
    this.size = size;
    if (data instanceof Storage) {
      this.storage = data;
    } else {
      if (data.length !== size) {
        throw new Error(`tensor: ${data.length} values do not fill shape ${fmt(shape)} (${size} needed)`);
      }
      this.storage = new Storage(data);
    }
    this.shape = Object.freeze([...shape]);
    const natural = contiguousStrides(shape);
    this.strides = Object.freeze(strides ? [...strides] : natural);
    this.offset = offset;
    const store = this.storage.data;
    if (strides && strides.length !== shape.length) throw new Error(`tensor: ${strides.length} strides for shape ${fmt(shape)}`);
    if (size > 0) {
      let last = offset;
      let first = offset;
      for (let i = 0; i < shape.length; i++) {
        const step = this.strides[i] * (shape[i] - 1);
        // Stryker disable next-line EqualityOperator: a step of 0 moves neither end
        if (step > 0) last += step;
        else first += step;
      }
      if (!Number.isInteger(offset) || first < 0 || last >= store.length) {
        throw new Error(`tensor: a view of shape ${fmt(shape)}, strides ${fmt(this.strides)} and offset ${offset} reaches outside its storage of ${store.length} values`);
      }
    }
    let contiguous = true;
    // Stryker disable next-line EqualityOperator: at i = shape.length both strides are undefined, equal
    for (let i = 0; i < shape.length; i++) if (shape[i] !== 1 && this.strides[i] !== natural[i]) contiguous = false;
    // Stryker disable next-line ConditionalExpression: speed only: without the span, reads and writes go through the strides, to the same elements
    this.span = !contiguous ? null : offset === 0 && store.length === size ? store : store.subarray(offset, offset + size);
    this.dtype = dtypeOf(store);
    this.requiresGrad = requiresGrad;
  }

  /**
   * The values as a row-major typed array: the storage itself (or a subarray of it) for contiguous
   * tensors, so writes into it write the storage (they are not seen by version checks: prefer
   * assign()). A strided view has no such array: call contiguous() for a copy.
   */
  get data(): Data {
    this.storage.checkLive();
    if (this.span === null) {
      throw new Error(`data: this tensor is a strided view (shape ${fmt(this.shape)}, strides ${fmt(this.strides)}); call .contiguous() for a row-major copy, or read it with toArray()`);
    }
    return this.span;
  }

  /** True when the values lie row-major and without gaps in the storage (then .data is them). */
  get isContiguous(): boolean {
    return this.span !== null;
  }


  get ndim(): number {
    return this.shape.length;
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item: tensor has shape ${fmt(this.shape)}, not one element`);
    return this.storage.data[this.offset];
  }

  toArray(): NestedArray {
    const store = this.storage.data;
    const rec = (axis: number, at: number): NestedArray => {
      if (axis === this.shape.length) return store[at];
      return Array.from({ length: this.shape[axis] }, (_, i) => rec(axis + 1, at + i * this.strides[axis]));
    };
    return rec(0, this.offset);
  }

  /**
   * Writes values into this tensor's storage in place (through its strides) and bumps the storage's
   * version: a backward pass that saved this tensor, or a view of the same storage, then refuses.
   */
  assign(values: Tensor | ArrayLike<number>): this {
    const src = values instanceof Tensor ? dense(values) : values;
    if (src.length !== this.size) {
      throw new Error(`assign: ${src.length} values for a tensor of shape ${fmt(this.shape)} (${this.size} values)`);
    }
    // Stryker disable next-line ConditionalExpression: speed only: the strided write below reaches the same elements
    if (this.span !== null) {
      // Stryker disable next-line ConditionalExpression,LogicalOperator: the loop gives the same values as set()
      if (src instanceof Float32Array || src instanceof Float64Array) this.span.set(src);
      // Stryker disable next-line EqualityOperator: the span is a view of exactly size values: a write at index size is dropped
      else for (let i = 0; i < src.length; i++) this.span[i] = src[i];
    } else {
      strided(this, src, true);
    }
    this.storage.version++;
    return this;
  }

  toString(): string {
    const shown = 8;
    const values = Array.from(dense(this).subarray(0, shown), (v) => formatNumber(v)).join(", ");
    const more = this.size > shown ? `, … ${this.size - shown} more` : "";
    const grad = this.requiresGrad ? ", requiresGrad" : "";
    return `Tensor(${this.dtype}, ${fmt(this.shape)}${grad}) [${values}${more}]`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/**
 * Copies between t's strided elements and a row-major array: gathers them into `flat`, or, with
 * `scatter`, writes `flat` into them.
 */
function strided(t: Tensor, flat: Data | ArrayLike<number>, scatter: boolean): void {
  const store = t.storage.data;
  const { shape, strides } = t;
  const r = shape.length;
  const n = t.size;
  // Stryker disable next-line ConditionalExpression: with no elements the loop below makes no pass
  if (n === 0) return;
  const out = flat as Data;
  // The last axis in a tight loop, the others by an odometer.
  // Stryker disable next-line ConditionalExpression: a 0-d view is always contiguous (it has a span) and never comes here
  const inner = r === 0 ? 1 : shape[r - 1];
  // Stryker disable next-line ConditionalExpression: a 0-d view is always contiguous (it has a span) and never comes here
  const step = r === 0 ? 0 : strides[r - 1];
  const index = new Array<number>(r).fill(0);
  let base = t.offset;
  for (let o = 0; o < n; o += inner) {
    if (scatter) for (let j = 0, at = base; j < inner; j++, at += step) store[at] = out[o + j];
    // Stryker disable next-line EqualityOperator: j = inner writes the next row's first slot, written again after, or past the end (dropped)
    else for (let j = 0, at = base; j < inner; j++, at += step) out[o + j] = store[at];
    for (let axis = r - 2; axis >= 0; axis--) {
      index[axis]++;
      base += strides[axis];
      if (index[axis] < shape[axis]) break;
      base -= strides[axis] * shape[axis];
      index[axis] = 0;
    }
  }
}

/**
 * t's values as a row-major typed array: t.data when t is contiguous, else a copy gathered through
 * its strides. For kernels that read their inputs; never write into the result.
 */
export function dense(t: Tensor): Data {
  if (t.isContiguous) return t.data;
  const out = allocate(t.dtype, t.size);
  strided(t, out, false);
  return out;
}

/** A view of t's storage (no graph): same values, another shape, strides and offset. */
export function view(t: Tensor, shape: Shape, strides: readonly number[], offset: number): Tensor {
  return new Tensor(t.storage, shape, false, strides, offset);
}

/**
 * Records that t's values are all 0 or 1 if they are (+0 and 1 exactly: −0 is another value, as for the
 * kernels; checking every value of its storage), so that
 * products with t can use the 0/1-sparse kernel (matmulBinary); returns whether they are. The fact
 * lasts until the storage is next written in place. @example markBinary(new Tensor(binarize(px), [b, 784]))
 */
export function markBinary(t: Tensor): boolean {
  return t.storage.markBinary();
}

/** Marks an in-place write into t's storage done outside assign() (e.g. by a kernel into t.data). */
export function bumpVersion(t: Tensor): void {
  t.storage.version++;
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
  data.set(dense(t));
  return new Tensor(data, t.shape);
}

/**
 * A tensor from a (nested) number array (float32 unless `dtype` says otherwise) or a typed array
 * (shared, not copied, when it has the asked dtype; else converted into a new one).
 * @example tensor([[1, 2], [3, 4]], { requiresGrad: true })
 */
export function tensor(data: NestedArray | Data | readonly number[], options: TensorOptions = {}): Tensor {
  let values: Data;
  let shape: Shape;
  if (data instanceof Float32Array || data instanceof Float64Array) {
    const dtype = options.dtype ?? dtypeOf(data);
    values = dtype === dtypeOf(data) ? data : allocate(dtype, data.length);
    // Stryker disable next-line ConditionalExpression,EqualityOperator: copying a typed array onto itself changes nothing
    if (values !== data) values.set(data);
    shape = options.shape ?? [data.length];
  } else {
    const nested = data as NestedArray;
    const inferred = inferShape(nested);
    // Stryker disable next-line StringLiteral: allocate reads every dtype but "float64" as float32
    values = allocate(options.dtype ?? "float32", sizeOf(inferred));
    flatten(nested, inferred, values);
    shape = options.shape ?? inferred;
  }
  return new Tensor(values, shape, options.requiresGrad ?? false);
}

export function full(shape: Shape, value: number, options: Omit<TensorOptions, "shape"> = {}): Tensor {
  checkShape(shape, "full");
  // Stryker disable next-line StringLiteral: allocate reads every dtype but "float64" as float32
  const data = allocate(options.dtype ?? "float32", sizeOf(shape));
  // Stryker disable next-line ConditionalExpression: filling fresh zeros with 0 changes nothing
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
  // Stryker disable next-line StringLiteral: allocate reads every dtype but "float64" as float32
  const data = allocate(options.dtype ?? "float32", n);
  // Stryker disable next-line EqualityOperator: a write at index n of an n-value array is dropped
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
  // Stryker disable next-line StringLiteral: allocate reads every dtype but "float64" as float32
  const data = allocate(options.dtype ?? "float32", sizeOf(shape));
  // Stryker disable next-line EqualityOperator: a write at index length is dropped (one extra draw from a generator used up here)
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
