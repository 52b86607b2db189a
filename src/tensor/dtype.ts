export type DType = "float32" | "float64";
export type Data = Float32Array | Float64Array;

export function allocate(dtype: DType, size: number): Data {
  if (dtype === "float64") return new Float64Array(size);
  if (dtype === "float32") return new Float32Array(size);
  throw new TypeError(`allocate: unknown dtype ${JSON.stringify(dtype)}; use "float32" or "float64"`);
}

export function dtypeOf(data: Data): DType {
  return data instanceof Float64Array ? "float64" : "float32";
}

/** The dtype of a result of mixing a and b: float64 wins, as in NumPy. */
export function promote(a: DType, b: DType): DType {
  return a === "float64" || b === "float64" ? "float64" : "float32";
}
