import fc from "fast-check";
import { expect } from "vitest";
import { Random, Tensor, gradcheck, mul, sum, tensor } from "../src/index.js";

/** Shapes of 0..3 axes with sizes 1..5. */
export const shapeArb = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 0, maxLength: 3 });

/**
 * A shape and a second one that broadcasts against it: per axis both full, or a 1 on one side or
 * the other (so both can broadcast at once, [3,1] with [1,4]), and some leading axes dropped.
 */
export const broadcastPairArb = shapeArb.chain((s) =>
  fc.tuple(fc.constant(s), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: s.length, maxLength: s.length }), fc.integer({ min: 0, max: s.length }), fc.boolean()).map(
    ([full, ones, drop, swap]) => {
      const a = full.map((d, i) => (ones[i] === 1 ? 1 : d));
      const b = full.map((d, i) => (ones[i] === 2 ? 1 : d)).slice(drop);
      return swap ? [b, a] : [a, b];
    },
  ),
);

export function randomTensor(shape: readonly number[], seed: number, low = -2, high = 2, dtype: "float32" | "float64" = "float64"): Tensor {
  const rng = new Random(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const data = dtype === "float64" ? new Float64Array(size) : new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = low + (high - low) * rng.uniform();
  return tensor(data, { shape });
}

/** A scalar of f's output against fixed random weights, so every output element matters differently. */
export function weighted(f: (...xs: Tensor[]) => Tensor, outShape: readonly number[], seed = 99) {
  const w = randomTensor(outShape, seed, 0.5, 1.5);
  return (...xs: Tensor[]) => sum(mul(f(...xs), w));
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-12, atol = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e)) {
      expect(a, `element ${i}`).toBeNaN();
      continue;
    }
    if (a === e) continue;
    if (Math.abs(a - e) > atol + rtol * Math.abs(e)) {
      throw new Error(`element ${i}: got ${a}, expected ${e} (|diff| ${Math.abs(a - e)})`);
    }
  }
}

export function expectGradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], rtol = 1e-6): void {
  const report = gradcheck(f, inputs, { raise: false, rtol, atol: 1e-8 });
  expect(report.ok, report.message).toBe(true);
}

/** Deterministic float32 values in [-1, 1) from the library's seeded generator. */
export function randomFloat32(length: number, seed: number): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length }, () => 2 * rng.uniform() - 1);
}

/** A safetensors file built by hand: u64 LE header length (`length`, default the header's), the header text as given, the data. */
export function safetensorsFile(header: string | object, data: ArrayLike<number> = [], length?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(length ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** A header entry of an F32 tensor. */
export const safetensorsF32 = (shape: number[], begin: number, end: number) => ({ dtype: "F32", shape, data_offsets: [begin, end] });
