import { fmt, sameShape } from "../tensor/shape.js";
import type { Tensor } from "../tensor/tensor.js";
import { decodeSafetensors, encodeSafetensors, oneLine, type StoredTensor } from "./safetensors.js";

/** Named parameters as safetensors bytes (F32 or F64 as stored), with string metadata. */
export function saveParameters(params: Map<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array {
  const tensors: Record<string, StoredTensor> = {};
  for (const [name, p] of params) tensors[name] = { dtype: p.dtype === "float64" ? "F64" : "F32", shape: [...p.shape], data: p.data };
  return encodeSafetensors(tensors, metadata);
}

/**
 * Copies the tensors of a safetensors file into `params`, by name. Every parameter must be present
 * with its exact shape; extra tensors are an error unless `allowExtra`. Returns the metadata.
 */
export function loadParameters(bytes: Uint8Array, params: Map<string, Tensor>, source = "checkpoint", allowExtra = false): Record<string, string> {
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
  for (const [name, p] of params) p.assign(tensors[name].data); // bumps each parameter's version
  return metadata;
}
