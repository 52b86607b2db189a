// Files of a model and of a training run: safetensors checkpoints and metrics.jsonl, written atomically.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadParameters, saveParameters, type LoadOptions } from "../nn/checkpoint.js";
import { decodeSafetensors, oneLine } from "../nn/safetensors.js";
import { MODEL_FORMAT, TRAIN_FORMAT, modelBytes, modelFromBytes } from "../vae/checkpoint-meta.js";
import type { VAE, VaeConfig } from "../vae/model.js";
import type { Trainer, TrainerState } from "../vae/train.js";
import { writeFileAtomic } from "./atomic.js";

export { MODEL_FORMAT, TRAIN_FORMAT };

/** The files of a training run in `dir`. */
export const runFiles = (dir: string) => ({
  model: join(dir, "model.safetensors"),
  state: join(dir, "train-state.safetensors"),
  metrics: join(dir, "metrics.jsonl"),
  eval: join(dir, "eval.json"),
  report: join(dir, "report.html"),
});

export function readBytes(path: string, what = "checkpoint"): Uint8Array {
  if (!existsSync(path)) {
    throw new Error(`${path}: no such ${what}; create one with \`npm run vae -- init --out ${path}\` or \`npm run vae -- train --out DIR\``);
  }
  if (statSync(path).isDirectory()) {
    const inside = existsSync(join(path, "model.safetensors")) ? `; did you mean ${join(path, "model.safetensors")}?` : "";
    throw new Error(`${path}: is a directory, not a ${what} file${inside}`);
  }
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read the ${what}: ${(e as Error).message}`);
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

const jsonField = (metadata: Record<string, string>, key: string, path: string): any => {
  try {
    return JSON.parse(metadata[key]);
  } catch (e) {
    throw new Error(`${path}: metadata "${key}" is not valid JSON (${oneLine((e as Error).message)})`);
  }
};

/** Writes the model's parameters (PyTorch state_dict names) with its config in the metadata, atomically. */
export function saveModel(path: string, model: VAE, extra: Record<string, unknown> = {}): void {
  writeFileAtomic(path, modelBytes(model, extra));
}

/**
 * Loads a model from a model file or a train-state file. Without a "config" in the metadata (e.g. a
 * file written by PyTorch), the architecture is read off the tensor shapes. A NaN or ±Infinity in it is
 * refused unless `options.allowNonFinite`; `nonFinite` names the parameters that hold one.
 */
export function loadModel(path: string, options: LoadOptions = {}): { model: VAE; metadata: Record<string, string>; nonFinite: string[] } {
  return modelFromBytes(readBytes(path), path, options);
}

export interface TrainCheckpoint {
  config: VaeConfig;
  /** The options that must agree on --resume. */
  hyper: Record<string, unknown>;
  state: TrainerState;
  /** Wall seconds spent so far in the current epoch. */
  elapsed: number;
  /** The epochs the run trains to (what `--resume` keeps); undefined in files written before it was stored. */
  targetEpochs?: number;
}

/** Writes the model, Adam's moments and the trainer's state, atomically. */
export function saveTrainState(path: string, trainer: Trainer, info: Omit<TrainCheckpoint, "state" | "config">): void {
  const metadata = {
    format: TRAIN_FORMAT,
    config: JSON.stringify(trainer.model.config),
    hyper: JSON.stringify(info.hyper),
    state: JSON.stringify(trainer.getState()),
    elapsed: String(info.elapsed),
    ...(info.targetEpochs !== undefined && { targetEpochs: String(info.targetEpochs) }),
  };
  writeFileAtomic(path, saveParameters(trainer.tensors(), metadata));
}

/** Reads a train state; `restore` loads its tensors and state (checked by Trainer.setState) into a trainer built from `config`. */
export function readTrainState(path: string): TrainCheckpoint & { restore(trainer: Trainer): void } {
  const bytes = readBytes(path, "train state");
  const { metadata } = decodeSafetensors(bytes, path);
  if (metadata.format !== TRAIN_FORMAT) throw new Error(`${path}: not a train state (format ${JSON.stringify(metadata.format)}, expected "${TRAIN_FORMAT}")`);
  // Checked by Trainer.setState when restored.
  const state: TrainerState = jsonField(metadata, "state", path);
  const target = metadata.targetEpochs;
  if (target !== undefined && !/^[1-9]\d*$/.test(target)) throw new Error(`${path}: metadata "targetEpochs" must be a positive integer, got ${JSON.stringify(oneLine(target)).slice(0, 62)}`);
  return {
    config: jsonField(metadata, "config", path),
    hyper: jsonField(metadata, "hyper", path),
    state,
    elapsed: Number(metadata.elapsed) || 0,
    ...(target !== undefined && { targetEpochs: Number(target) }),
    restore(trainer) {
      loadParameters(bytes, trainer.tensors(), path);
      try {
        trainer.setState(state);
      } catch (e) {
        throw new Error(`${path}: ${oneLine((e as Error).message)}`);
      }
    },
  };
}

export function readMetrics(path: string): Record<string, number>[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").split("\n").filter((line) => line.trim()).map((line, i) => {
    try {
      return JSON.parse(line);
    } catch (e) {
      throw new Error(`${path}: line ${i + 1} is not valid JSON (${(e as Error).message})`);
    }
  });
}

export function writeMetrics(path: string, lines: object[]): void {
  writeFileAtomic(path, lines.map((l) => JSON.stringify(l) + "\n").join(""));
}
