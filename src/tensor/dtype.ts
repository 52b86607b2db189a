import { takeStepArray } from "./step-memory.js";

export type DType = "float32" | "float64";
export type Data = Float32Array | Float64Array;

export function allocate(dtype: DType, size: number): Data {
  if (dtype === "float64") return new Float64Array(size);
  if (dtype === "float32") return takeStepArray(size) ?? new Float32Array(size);
  throw new TypeError(`allocate: unknown dtype ${JSON.stringify(dtype)}; use "float32" or "float64"`);
}

export function dtypeOf(data: Data): DType {
  return data instanceof Float64Array ? "float64" : "float32";
}

/** The dtype of a result of mixing a and b: float64 wins, as in NumPy. */
export function promote(a: DType, b: DType): DType {
  return a === "float64" || b === "float64" ? "float64" : "float32";
}

/** Where float32 parameters are kept (see setParameterAllocator); null: plain arrays. */
let parameterAllocator: ((size: number) => Float32Array) | null = null;

/**
 * Makes `allocateParameter` take float32 arrays from `f`, or plain arrays again (null). The thread pool
 * sets it while it runs, so that parameters live in the threads' shared memory and its kernels (the
 * products, the 0/1 product, Adam's step) read and write them where they are, without copies.
 */
export function setParameterAllocator(f: ((size: number) => Float32Array) | null): void {
  parameterAllocator = f;
}

/**
 * An array of zeros for a long-lived tensor, a parameter: as `allocate`, but a float32 one comes from
 * the parameter allocator when one is set (a view of the threads' memory while a pool runs). Such a
 * view's memory is given back once the view is collected: keep the tensor (or the array itself), not
 * only a subarray of it, for as long as its values are used.
 */
export function allocateParameter(dtype: DType, size: number): Data {
  return dtype === "float32" && parameterAllocator !== null ? parameterAllocator(size) : allocate(dtype, size);
}
