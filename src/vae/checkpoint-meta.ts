// The model file format of `npm run vae` (safetensors with string metadata), without Node imports, so
// that a browser writes and reads the same files as the command line (src/node/checkpoint.ts).
//   format  "tsgrad-vae/1" for a model, "tsgrad-vae-train/1" for a train state (model + Adam's moments)
//   config  JSON of the VaeConfig
//   epoch, step, hyper  (written by training) epochs done, Adam steps, JSON of the run's options
import { loadParameters, saveParameters, type LoadOptions } from "../nn/checkpoint.js";
import { decodeSafetensors, oneLine } from "../nn/safetensors.js";
import { VAE, seedConfig, type VaeConfig } from "./model.js";

export const MODEL_FORMAT = "tsgrad-vae/1";
export const TRAIN_FORMAT = "tsgrad-vae-train/1";

/** The metadata of a model file: format, config, and `extra` (strings as they are, anything else as JSON). */
export function modelMetadata(model: VAE, extra: Record<string, unknown> = {}): Record<string, string> {
  const metadata: Record<string, string> = { format: MODEL_FORMAT, config: JSON.stringify(model.config) };
  for (const [k, v] of Object.entries(extra)) metadata[k] = typeof v === "string" ? v : JSON.stringify(v);
  return metadata;
}

/** The bytes of a model file, as `saveModel` of src/node/checkpoint.ts writes them. */
export function modelBytes(model: VAE, extra: Record<string, unknown> = {}): Uint8Array {
  return saveParameters(model.namedParameters(), modelMetadata(model, extra));
}

/**
 * A model from the bytes of a model or train-state file; `source` names it in errors. Without a "config"
 * in the metadata (e.g. a file written by PyTorch) the architecture is read off the tensor shapes.
 * `nonFinite`: the parameters holding NaN or ±Infinity (loaded only with `options.allowNonFinite`).
 */
export function modelFromBytes(bytes: Uint8Array, source = "checkpoint", options: LoadOptions = {}): { model: VAE; metadata: Record<string, string>; nonFinite: string[] } {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  let config: VaeConfig;
  if (metadata.config !== undefined) {
    try {
      config = JSON.parse(metadata.config);
    } catch (e) {
      throw new Error(`${source}: metadata "config" is not valid JSON (${(e as Error).message})`);
    }
  } else {
    const [w0, w1] = [tensors["encoder.layers.0.weight"], tensors["encoder.layers.1.weight"]];
    if (!w0 || !w1) throw new Error(`${source}: no "config" metadata and no encoder.layers.{0,1}.weight tensors; is this a VAE checkpoint?`);
    const latent = tensors["decoder.layers.0.weight"]?.shape[1] ?? seedConfig.latent;
    config = { ...seedConfig, inputSize: w0.shape[1], hidden: w0.shape[0], latent, encoderVariance: w1.shape[0] === 2 * latent ? "learned" : seedConfig.encoderVariance };
  }
  // Before allocating the model: a config that asks for more parameters than the file holds values (a
  // corrupted "hidden", say) is refused here rather than by a multi-gigabyte allocation.
  const text = oneLine(metadata.config ?? `${JSON.stringify(config)} (read off the tensor shapes)`);
  const shown = text.length > 160 ? `${text.slice(0, 160)}…` : text;
  const held = Object.values(tensors).reduce((n, t) => n + t.data.length, 0);
  const needed = parameterCount({ ...seedConfig, ...config }); // a config that is not an object (a number, a string) adds no field
  if (needed > held) {
    throw new Error(`${source}: config ${shown} needs ${needed} parameters, the file holds ${held} values`);
  }
  let model: VAE;
  try {
    model = new VAE(config);
  } catch (e) {
    throw new Error(`${source}: bad config ${shown}: ${oneLine((e as Error).message)}`);
  }
  const { nonFinite } = loadParameters(bytes, model.namedParameters(), source, metadata.format === TRAIN_FORMAT, options);
  return { model, metadata, nonFinite };
}

/** Weights and biases of the encoder D → H → d (2d if learned) and the decoder d → H → D; NaN if the sizes are not numbers. */
function parameterCount({ inputSize: D, hidden: H, latent: d, encoderVariance }: VaeConfig): number {
  const out = encoderVariance === "learned" ? 2 * d : d;
  return D * H + H + H * out + out + d * H + H + H * D + D;
}
