export type DType = "float32" | "float64";
export type Data = Float32Array | Float64Array;

export function allocate(dtype: DType, size: number): Data {
  return dtype === "float64" ? new Float64Array(size) : new Float32Array(size);
}

export function dtypeOf(data: Data): DType {
  return data instanceof Float64Array ? "float64" : "float32";
}

/** The dtype of a result of mixing a and b: float64 wins, as in NumPy. */
export function promote(a: DType, b: DType): DType {
  return a === "float64" || b === "float64" ? "float64" : "float32";
}
