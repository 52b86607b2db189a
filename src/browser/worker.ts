// The explorer's worker, of which the page starts two: one trains the seed model with this library's Trainer
// (minibatch Adam, docs/derivation.md part 2's estimator) on a slice of MNIST fetched from the server, and posts
// progress, the parameters and the test set's encoder means after each epoch; the other computes the true
// posterior of a drawn digit (logMarginal: seconds of decoding, which would freeze the page).
import { Trainer, VAE, binarize, elboByQuadrature, encoderMeans, evaluateElbo, getThreads, initWasm, laplaceAt, logMarginal, trainLoop, useWebWorkers } from "../index.js";
import { modelFromBytes } from "../vae/checkpoint-meta.js";
import type { EpochMessage, ExactRequest, ExactResult, FromWorker, ToWorker, TrainRequest } from "./protocol.js";

interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;
const post = (message: FromWorker, transfer: Transferable[] = []) => scope.postMessage(message, transfer);

let stopRequested = false;
let running = false;

scope.onmessage = (e) => {
  const msg = e.data;
  if (msg.type === "stop") stopRequested = true;
  else if (msg.type === "exact") {
    exact(msg).catch((err: unknown) => post({ type: "exact-error", id: msg.id, message: err instanceof Error ? err.message : String(err) }));
  } else if (msg.type === "train") {
    if (running) return post({ type: "error", message: "already training" });
    running = true;
    stopRequested = false;
    train(msg)
      .catch((err: unknown) => post({ type: "error", message: err instanceof Error ? err.message : String(err) }))
      .finally(() => (running = false));
  }
};

/** Yields to the event loop (to see a "stop" message) without setTimeout's 4 ms clamp. */
const yieldNow = () =>
  new Promise<void>((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });

async function train(req: TrainRequest): Promise<void> {
  await initWasm();
  // A worker of a cross-origin-isolated page may block, so large products can use a second core.
  if (getThreads() === 1) await useWebWorkers(2).catch(() => 1);
  post({ type: "status", text: `loading ${req.limit} training images…` });
  const res = await fetch(`/data/train-images?n=${req.limit}`);
  if (!res.ok) throw new Error(`GET /data/train-images: ${res.status} ${await res.text()}`);
  const images = binarize(new Uint8Array(await res.arrayBuffer()));
  const test = binarize(req.testPixels);
  const model = new VAE({ hidden: req.hidden }, { seed: req.seed });
  const D = model.config.inputSize;
  const evalSet = test.subarray(0, Math.min(req.evalImages, test.length / D) * D);
  const trainer = new Trainer(model, images, { batchSize: req.batch, lr: req.lr, seed: req.seed });
  post({ type: "start", images: trainer.count, batches: trainer.batches });

  const sendEpoch = (epoch: number, trainElbo: number, imagesPerSecond: number, seconds: number, partial?: EpochMessage["partial"]) => {
    const params: Record<string, Float32Array> = {};
    for (const [name, p] of model.namedParameters()) params[name] = Float32Array.from(p.data);
    const means = encoderMeans(model, test);
    const testElbo = evaluateElbo(model, evalSet);
    post({ type: "epoch", epoch, step: trainer.optimizer.t, trainElbo, testElbo, imagesPerSecond, seconds, params, means, ...(partial && { partial }) }, [means.buffer, ...Object.values(params).map((p) => p.buffer)]);
  };
  sendEpoch(0, NaN, NaN, 0);

  let stepSeconds = 0;
  let stepImages = 0;
  let totalSeconds = 0;
  let totalImages = 0;
  let t = performance.now();
  const result = await trainLoop(trainer, {
    epochs: req.epochs,
    shouldStop: () => stopRequested,
    yieldEvery: 1,
    pause: yieldNow,
    onStep: (s) => {
      const now = performance.now();
      stepSeconds += (now - t) / 1000;
      stepImages += s.size;
      t = now;
      post({ type: "step", epoch: s.epoch, batch: s.batch, batches: s.batches, elbo: s.elbo, trainElbo: s.trainElbo, imagesPerSecond: stepImages / stepSeconds });
    },
    onEpoch: ({ epoch, trainElbo }) => {
      totalSeconds += stepSeconds;
      totalImages += stepImages;
      sendEpoch(epoch, trainElbo, stepImages / stepSeconds, stepSeconds);
      stepSeconds = stepImages = 0;
      t = performance.now();
    },
  });
  if (result === "stopped" && trainer.batch > 0) {
    // Stopped within an epoch: send the model as it is after the last step.
    totalSeconds += stepSeconds;
    totalImages += stepImages;
    sendEpoch(trainer.epoch, NaN, stepImages / stepSeconds, stepSeconds, { batch: trainer.batch, batches: trainer.batches });
  }
  // Seconds and images/s count the steps (and the short yields between them), not the evaluations after each epoch.
  post({ type: result === "done" ? "done" : "stopped", epochs: trainer.epoch, seconds: totalSeconds, images: totalImages });
}

/** The same functions as Node's `vae elbo --exact` on the same pixels: logMarginal (default options), elboByQuadrature, laplaceAt. */
async function exact(req: ExactRequest): Promise<void> {
  await initWasm();
  const t0 = performance.now();
  const { model } = modelFromBytes(req.model, "the page's model");
  const [m] = logMarginal(model, req.pixels);
  const [elbo] = elboByQuadrature(model, req.pixels);
  const lap = m.mode.positiveDefinite ? laplaceAt(m.mode) : undefined;
  const result: ExactResult = {
    type: "exact",
    id: req.id,
    logMarginal: m.logMarginal,
    error: m.error,
    converged: m.converged,
    box: m.box,
    points: m.points,
    logPosterior: m.logPosterior!,
    mode: m.mode.mode,
    elbo,
    gap: m.logMarginal - elbo,
    ...(lap && { laplace: lap.logMarginal, laplaceCovariance: lap.covariance }),
    seconds: (performance.now() - t0) / 1000,
  };
  post(result, [result.logPosterior.buffer]);
}
