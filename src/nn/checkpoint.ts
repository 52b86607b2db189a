import { fmt, sameShape } from "../tensor/shape.js";
import type { Tensor } from "../tensor/tensor.js";
import { decodeSafetensors, encodeSafetensors, oneLine, type StoredTensor } from "./safetensors.js";

/** Named parameters as safetensors bytes (F32 or F64 as stored), with string metadata. */
export function saveParameters(params: Map<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array {
  const tensors: Record<string, StoredTensor> = {};
  for (const [name, p] of params) tensors[name] = { dtype: p.dtype === "float64" ? "F64" : "F32", shape: [...p.shape], data: p.data };
  return encodeSafetensors(tensors, metadata);
}

export interface LoadOptions {
  /** Load tensors holding NaN or ±Infinity (e.g. to inspect a diverged run) instead of refusing them. */
  allowNonFinite?: boolean;
}

/** What loadParameters read besides the tensors. */
export interface Loaded {
  metadata: Record<string, string>;
  /** The parameters holding a NaN or ±Infinity, in the order of `params` (empty unless allowNonFinite). */
  nonFinite: string[];
}

/**
 * Copies the tensors of a safetensors file into `params`, by name. Every parameter must be present
 * with its exact shape; extra tensors are an error unless `allowExtra`; a NaN or ±Infinity is an
 * error unless `options.allowNonFinite`. Returns the metadata and the names of the non-finite
 * tensors (one scan of the values, so that callers need not scan them again).
 */
export function loadParameters(bytes: Uint8Array, params: Map<string, Tensor>, source = "checkpoint", allowExtra = false, options: LoadOptions = {}): Loaded {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  const missing = [...params.keys()].filter((name) => !(name in tensors));
  if (missing.length > 0) throw new Error(`${source}: missing tensors ${missing.join(", ")}; is this a checkpoint of the same model?`);
  if (!allowExtra) {
    const extra = Object.keys(tensors).filter((name) => !params.has(name));
    if (extra.length > 0) throw new Error(`${source}: unexpected tensors ${oneLine(extra.join(", "))}; is this a checkpoint of the same model?`);
  }
  for (const [name, p] of params) {
    const t = tensors[name];
    if (!sameShape(t.shape, p.shape)) {
      throw new Error(`${source}: tensor "${name}" has shape ${fmt(t.shape)}, the model expects ${fmt(p.shape)} (different --hidden?)`);
    }
  }
  const nonFinite: string[] = [];
  for (const name of params.keys()) {
    const data = tensors[name].data;
    const bad = nonFiniteIn(data);
    if (bad === null) continue;
    if (!options.allowNonFinite) {
      throw new Error(`${source}: tensor "${name}" holds ${bad.count} non-finite value${bad.count === 1 ? "" : "s"} of ${data.length} ` +
        `(the first, ${data[bad.first]}, at index ${bad.first}), as a diverged run leaves; refused (to inspect it anyway, load with allowNonFinite, the command line's --allow-non-finite)`);
    }
    nonFinite.push(name);
  }
  for (const [name, p] of params) p.assign(tensors[name].data); // bumps each parameter's version
  return { metadata, nonFinite };
}

/** How many of `data` are NaN or ±Infinity and the index of the first, or null if none. */
function nonFiniteIn(data: Float32Array | Float64Array): { count: number; first: number } | null {
  let first = -1;
  let count = 0;
  for (let i = 0; i < data.length; i++) {
    if (Number.isFinite(data[i])) continue;
    if (first < 0) first = i;
    count++;
  }
  return first < 0 ? null : { count, first };
}
