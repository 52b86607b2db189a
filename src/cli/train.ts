// The `train` command: minibatch Adam with per-epoch evaluation, checkpoints, Ctrl-C and --resume.
import { backendInfo } from "../tensor/backend.js";
import { existsSync, readdirSync, rmSync, rmdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { VAE } from "../vae/model.js";
import { DivergenceError, Trainer, evaluateElbo, trainLoop, type StepResult } from "../vae/train.js";
import { readMetrics, readTrainState, runFiles, saveModel, saveTrainState, writeMetrics, type TrainCheckpoint } from "../node/checkpoint.js";
import { removeStaleTemporaries } from "../node/atomic.js";
import { acquireLock } from "../node/lock.js";
import { onStopRequest, type StopReason } from "./signals.js";
import { SEED_MAX, UsageError, intOption, positiveOption, stringOption, type Command, type Values } from "./args.js";
import { DEFAULTS, loadImages, type Io } from "./commands.js";
import { fmtTime } from "./progress.js";

const DEFAULT_EPOCHS = 10;

export const trainCommand: Command = {
  name: "train",
  summary:
    "Train the VAE by minibatch Adam on the shuffled binarized training set (one draw of ε per image per step). After each epoch it\n" +
    "appends the train and test ELBO to DIR/metrics.jsonl and saves DIR/model.safetensors and DIR/train-state.safetensors.\n" +
    "Ctrl-C or SIGTERM saves the state after the current step; --resume continues exactly where it stopped, to the run's own\n" +
    "target epochs unless --epochs is given. A step whose loss or gradient is not finite stops the run (exit code 1) and leaves\n" +
    "the last checkpoint as it was.",
  options: {
    out: { value: "DIR", help: "run directory (required)" },
    epochs: { value: "E", help: `train until E epochs are done (default ${DEFAULT_EPOCHS}; with --resume, the run's own target)` },
    batch: { value: "B", help: "minibatch size (default 100)" },
    lr: { value: "LR", help: "Adam's learning rate (default 1e-3)" },
    hidden: { value: "H", help: `hidden units (default ${DEFAULTS.hidden})` },
    seed: { value: "S", help: "seed of initialization, shuffling and ε (default 0)" },
    limit: { value: "N", help: "train on the first N training images (default all 60000)" },
    "test-limit": { value: "N", help: "evaluate on the first N test images (default all 10000)" },
    "learned-variance": { help: "the encoder also outputs log σ² (instead of the seed's fixed σ² = 0.01)" },
    resume: { help: "continue the run in DIR from DIR/train-state.safetensors, to its target epochs (unless --epochs)" },
    force: { help: "replace the run in DIR, if there is one (without --resume or --force, an existing run is refused)" },
  },
};

/** The options that fix a run's trajectory (with the seed): a resumed run must keep them. */
type Hyper = { hidden: number; "learned-variance": boolean; batch: number; lr: number; seed: number; limit: number; "test-limit": number };


/** A decoder that says p = ½ for every pixel has log p(x|z) = −D·log 2, and an ELBO below that: a train ELBO below twice it is diverging. */
const divergingBelow = (D: number) => -2 * D * Math.LN2;

export async function train(values: Values, io: Io): Promise<number> {
  const dir = stringOption(values, "out", true);
  const files = runFiles(dir);
  const epochsGiven = values.epochs === undefined ? undefined : intOption(values, "epochs", DEFAULT_EPOCHS, 1);
  if (values.resume && values.force) throw new UsageError("--resume continues the run in DIR and --force replaces it: give one of them");
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`--out ${dir} is a file; give a directory for the run (created if missing)`);
  // One train process per run directory: the lock holds its pid.
  const created = !existsSync(dir);
  const lock = acquireLock(join(dir, "train.lock"), `the run directory ${dir}`);
  try {
    if (lock.stale !== undefined) {
      const removed = removeStaleTemporaries(dir, [files.model, files.state, files.metrics].map((f) => basename(f)));
      io.err(`note: took over ${lock.path} from process ${lock.stale}, which is no longer running${removed ? ` (removed ${removed} partly written file${removed === 1 ? "" : "s"} it left)` : ""}\n`);
    }
    return await trainLocked(values, io, dir, files, epochsGiven, lock);
  } finally {
    lock.release();
    if (created && readdirSync(dir).length === 0) rmdirSync(dir);
  }
}

async function trainLocked(values: Values, io: Io, dir: string, files: ReturnType<typeof runFiles>, epochsGiven: number | undefined, lock: { release(): void }): Promise<number> {
  const existing = [files.state, files.model].find((f) => existsSync(f));
  if (!values.resume && !values.force && existing) {
    throw new UsageError(`${dir} already holds a training run (${existing}); continue it with --resume, or replace it with --force`);
  }
  let saved: ReturnType<typeof readTrainState> | undefined;
  if (values.resume) {
    if (!existsSync(files.state)) throw new Error(`${files.state}: no train state to resume; start the run without --resume`);
    saved = readTrainState(files.state);
  }
  // The target: --epochs, else a resumed run's own (files from before it was stored: the default).
  const epochs = epochsGiven ?? saved?.targetEpochs ?? DEFAULT_EPOCHS;
  if (saved && epochsGiven === undefined && saved.targetEpochs === undefined) {
    io.err(`note: ${files.state} does not record the run's target epochs (an older file); training to ${DEFAULT_EPOCHS}, the default (give --epochs to choose)\n`);
  }
  const prev = (saved?.hyper ?? {}) as Partial<Hyper>;
  const hyper: Hyper = {
    hidden: intOption(values, "hidden", prev.hidden ?? DEFAULTS.hidden, 1),
    "learned-variance": values["learned-variance"] === true || (values["learned-variance"] === undefined && prev["learned-variance"] === true),
    batch: intOption(values, "batch", prev.batch ?? 100, 1),
    lr: positiveOption(values, "lr", prev.lr ?? 1e-3),
    seed: intOption(values, "seed", prev.seed ?? 0, 0, SEED_MAX),
    limit: intOption(values, "limit", prev.limit ?? Infinity, 1),
    "test-limit": intOption(values, "test-limit", prev["test-limit"] ?? Infinity, 1),
  };
  const trainSet = loadImages("train", hyper.limit === Infinity ? undefined : hyper.limit);
  const testSet = loadImages("test", hyper["test-limit"] === Infinity ? undefined : hyper["test-limit"]);
  hyper.limit = trainSet.count;
  hyper["test-limit"] = testSet.count;
  if (saved) {
    for (const [key, v] of Object.entries(hyper)) {
      const was = (saved.hyper as Record<string, unknown>)[key];
      if (was !== v) throw new UsageError(`--${key} is ${v} but the run in ${dir} used ${was}; a resumed run keeps its options (omit --${key} to reuse ${was})`);
    }
  }

  const model = new VAE({ hidden: hyper.hidden, encoderVariance: hyper["learned-variance"] ? "learned" : 0.01 }, { seed: hyper.seed });
  const trainer = new Trainer(model, trainSet.images, { batchSize: hyper.batch, lr: hyper.lr, seed: hyper.seed });
  let metrics: object[] = [];
  let elapsed = 0;
  if (saved) {
    saved.restore(trainer);
    metrics = readMetrics(files.metrics).filter((m) => m.epoch <= trainer.epoch);
    writeMetrics(files.metrics, metrics);
    elapsed = saved.elapsed;
    io.err(`resuming ${dir} at epoch ${trainer.epoch + 1}, batch ${trainer.batch}/${trainer.batches} (step ${trainer.optimizer.t})\n`);
    if (trainer.epoch >= epochs) {
      io.out(`${dir} already has ${trainer.epoch} epochs (target ${epochs}${epochsGiven === undefined ? ", the run's own" : ""}); nothing to do\n`);
      return 0;
    }
  } else {
    if (existing) {
      io.err(`note: --force: replacing the run in ${dir}\n`);
      for (const f of Object.values(files)) rmSync(f, { force: true });
    }
    writeMetrics(files.metrics, []);
  }
  const { backend, threads, fma } = backendInfo();
  io.err(`training on ${trainSet.count} images, ${trainer.batches} minibatches of ${hyper.batch} per epoch, hidden ${hyper.hidden}, lr ${hyper.lr}, seed ${hyper.seed}; test set ${testSet.count} images; backend ${backend}, ${threads} thread${threads === 1 ? "" : "s"}${fma ? ", FMA" : ""}\n`);

  let epochStart = performance.now();
  const runInfo = (): Omit<TrainCheckpoint, "state" | "config"> => ({ hyper, elapsed: elapsed + (performance.now() - epochStart) / 1000, targetEpochs: epochs });
  let stepSeconds = 0;
  let stepImages = 0;
  let runSeconds = 0;
  let runImages = 0;
  let lastDraw = 0;
  const every = Math.max(1, Math.round(trainer.batches / 10));
  const progress = (s: StepResult, final = false) => {
    const rate = runImages / runSeconds;
    const left = (epochs - s.epoch - 1) * trainer.count + (trainer.count - s.images);
    const line = `epoch ${s.epoch + 1}/${epochs}  batch ${s.batch}/${s.batches}  ${rate.toFixed(0)} img/s  ETA ${fmtTime(left / rate)}  train ELBO ${s.trainElbo.toFixed(2)}`;
    if (!io.isTTY) io.err(line + "\n");
    else io.err(`\r${line}\x1b[K${final ? "\n" : ""}`);
  };

  let stop: StopReason | undefined;
  const said = { SIGINT: "Ctrl-C", SIGTERM: "SIGTERM", "npm ended": "the npm run that started it ended" };
  const unsubscribe = onStopRequest((reason) => {
    if (stop) {
      if (reason === "npm ended") return;
      io.err(`\nsecond ${said[reason]}: exiting without saving\n`);
      lock.release(); // only if it is still ours
      process.exit(reason === "SIGINT" ? 130 : 143);
    }
    stop = reason;
    io.err(`\n${said[reason]}: stopping after this step${reason === "npm ended" ? "" : ` (${said[reason]} again to quit without saving)`}\n`);
  });
  let result: "done" | "stopped";
  const lastCheckpoint = () => {
    if (!existsSync(files.state)) return "no checkpoint had been written yet";
    const done = readTrainState(files.state).state.epoch;
    return `the checkpoints in ${dir} are left as they were (${done} epoch${done === 1 ? "" : "s"} done)`;
  };
  try {
    let t = performance.now();
    result = await trainLoop(trainer, {
      epochs,
      shouldStop: () => stop !== undefined,
      // Yield to the event loop (to see Ctrl-C) every 10 steps, ~0.1 s: yielding after every step
      // cost 15-25% of the training speed (measured at hidden 500 on 2 cores).
      yieldEvery: 10,
      pause: () => new Promise((resolve) => setImmediate(resolve)),
      onStep: (s) => {
        const now = performance.now();
        stepSeconds += (now - t) / 1000;
        runSeconds += (now - t) / 1000;
        t = now;
        stepImages += s.size;
        runImages += s.size;
        if (io.isTTY ? now - lastDraw > 100 || s.epochEnd : s.batch % every === 0 || s.epochEnd) {
          lastDraw = now;
          progress(s, !!s.epochEnd);
        }
      },
      onEpoch: ({ epoch, trainElbo }) => {
        const t0 = performance.now();
        const testElbo = evaluateElbo(model, testSet.images);
        const evalSeconds = (performance.now() - t0) / 1000;
        const line = {
          epoch,
          trainElbo,
          testElbo,
          seconds: elapsed + (performance.now() - epochStart) / 1000,
          trainSeconds: stepSeconds,
          evalSeconds,
          imagesPerSecond: stepImages / stepSeconds,
          step: trainer.optimizer.t,
        };
        metrics.push(line);
        if (trainElbo < divergingBelow(model.config.inputSize)) {
          io.err(`warning: epoch ${epoch}'s train ELBO ${trainElbo.toPrecision(4)} is far below ${(-model.config.inputSize * Math.LN2).toFixed(1)} = −${model.config.inputSize}·log 2, the log-likelihood of guessing p = ½ for every pixel: the run is diverging; try a smaller --lr (this run: --lr ${hyper.lr})\n`);
        }
        writeMetrics(files.metrics, metrics);
        saveModel(files.model, model, { epoch, step: trainer.optimizer.t, hyper });
        elapsed = 0;
        epochStart = performance.now();
        saveTrainState(files.state, trainer, runInfo());
        io.err(`epoch ${epoch}: train ELBO ${trainElbo.toFixed(2)}, test ELBO ${testElbo.toFixed(2)} nats per image, ${line.seconds.toFixed(1)} s (${line.imagesPerSecond.toFixed(0)} img/s, test ${evalSeconds.toFixed(1)} s)\n`);
        stepSeconds = stepImages = 0;
        t = performance.now();
      },
    });
  } catch (e) {
    if (!(e instanceof DivergenceError)) throw e;
    if (io.isTTY) io.err("\n");
    throw new Error(`${e.summary}; try a smaller --lr (this run: --lr ${hyper.lr}). ` +
      `Nothing was saved: ${lastCheckpoint()}`);
  } finally {
    unsubscribe();
  }
  if (result === "stopped") {
    saveTrainState(files.state, trainer, runInfo());
    io.out(`${stop === "SIGINT" ? "interrupted" : `stopped (${said[stop!]})`} at epoch ${trainer.epoch + 1}, batch ${trainer.batch}/${trainer.batches}; saved ${files.state}\n`);
    io.out(`resume with: npm run vae -- train --out ${dir} --resume   (it keeps the target of ${epochs} epochs)\n`);
    return 0;
  }
  io.out(`trained ${dir} to ${trainer.epoch} epochs: model ${files.model}, metrics ${files.metrics}\n`);
  return 0;
}
