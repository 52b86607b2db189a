// The `init`, `elbo`, `eval` and `report` commands of `npm run vae`.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Random } from "../tensor/random.js";
import { Tensor } from "../tensor/tensor.js";
import { estimateElbo } from "../vae/elbo.js";
import { binarize } from "../vae/idx.js";
import { VAE } from "../vae/model.js";
import { quantileGrid } from "../vae/quantile.js";
import { EXACT_KS, exactBounds, type ExactImage } from "../vae/marginal.js";
import { elboPerImage, encoderMeans, evaluateElbo, evaluateIwae } from "../vae/train.js";
import { loadMnist, type Split } from "../node/mnist.js";
import { loadModel, readMetrics, runFiles, saveModel } from "../node/checkpoint.js";
import { writeFileAtomic } from "../node/atomic.js";
import { exactRowsText } from "../charts/exact-rows.js";
import { writeReport, type ExactPosterior, type ExactReport, type ReportData } from "../node/report.js";
import { noGrad } from "../autograd/index.js";
import { SEED_MAX, UsageError, choiceOption, intOption, stringOption, type Command, type Values } from "./args.js";
import { progressReporter } from "./progress.js";

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether stderr is a terminal (progress lines are then updated in place). */
  isTTY: boolean;
}

export const DEFAULTS = { seed: 0, hidden: 500, sampleSeed: 1, samples: 1000, iwae: 500, iwaeImages: 100, reportExact: 20 };

/** Binarized images (docs/derivation.md: 1 if p > 127) and labels of a split, optionally its first `limit`. */
export function loadImages(split: Split, limit?: number) {
  const m = loadMnist(split, { limit });
  return { images: binarize(m.images), labels: m.labels, count: m.count };
}

const modelOptions = {
  seed: { value: "S", help: `seed of a freshly initialized model (default ${DEFAULTS.seed})` },
  hidden: { value: "H", help: `hidden units of encoder and decoder (default ${DEFAULTS.hidden})` },
  "learned-variance": { help: "the encoder also outputs log σ² (instead of the seed's fixed σ² = 0.01)" },
};

const allowNonFiniteOption = {
  "allow-non-finite": { help: "load a checkpoint holding NaN or ±Infinity (as a diverged run leaves), to inspect it; refused by default" },
};

/** Loads --checkpoint (or `path`), refusing non-finite values unless --allow-non-finite; warns when it lets them in. */
function loadChecked(path: string, values: Values, io: Io) {
  const allowNonFinite = values["allow-non-finite"] === true;
  const loaded = loadModel(path, { allowNonFinite });
  const bad = loaded.nonFinite;
  if (bad.length > 0) io.err(`warning: ${path}: ${bad.join(", ")} hold${bad.length === 1 ? "s" : ""} NaN or ±Infinity (loaded with --allow-non-finite), so the bounds computed from it are not finite\n`);
  return loaded;
}

/** A model from --checkpoint, or fresh from --seed, --hidden and --learned-variance. */
function modelFrom(values: Values, io: Io): { model: VAE; source: string; metadata?: Record<string, string> } {
  const checkpoint = stringOption(values, "checkpoint");
  if (checkpoint !== undefined) {
    const clash = ["seed", "hidden", "learned-variance"].find((k) => values[k] !== undefined);
    if (clash) throw new UsageError(`--${clash} describes a fresh model and cannot be combined with --checkpoint`);
    const { model, metadata } = loadChecked(checkpoint, values, io);
    return { model, source: checkpoint + (metadata.epoch ? ` (epoch ${metadata.epoch})` : ""), metadata };
  }
  const seed = intOption(values, "seed", DEFAULTS.seed, 0, SEED_MAX);
  const hidden = intOption(values, "hidden", DEFAULTS.hidden, 1);
  const learned = values["learned-variance"] === true;
  const model = new VAE({ hidden, encoderVariance: learned ? "learned" : 0.01 }, { seed });
  return { model, source: `freshly initialized (seed ${seed}, hidden ${hidden}${learned ? ", learned variance" : ""})` };
}

export const initCommand: Command = {
  name: "init",
  summary: "Write a freshly initialized model (safetensors, with its architecture in the metadata).",
  options: { ...modelOptions, out: { value: "FILE", help: "where to write the model (required)" } },
};

export function init(values: Values, io: Io): number {
  const out = stringOption(values, "out", true);
  const { model, source } = modelFrom(values, io);
  saveModel(out, model);
  const n = [...model.namedParameters().values()].reduce((a, p) => a + p.size, 0);
  io.out(`wrote ${out}: ${source}, ${n} parameters\n`);
  return 0;
}

export const elboCommand: Command = {
  name: "elbo",
  summary: "Part 3 of the seed: the Monte Carlo ELBO of one MNIST image, with its standard error, its three terms and g(x).",
  options: {
    checkpoint: { value: "FILE", help: "model to evaluate (default: a fresh model from --seed/--hidden)" },
    ...modelOptions,
    ...allowNonFiniteOption,
    index: { value: "I", help: "image index (default 0, a 5 in the training set)" },
    split: { value: "train|test", help: "data set (default train)" },
    samples: { value: "K", help: `draws of ε (default ${DEFAULTS.samples})` },
    "sample-seed": { value: "S", help: `seed of the draws of ε (default ${DEFAULTS.sampleSeed})` },
    exact: { help: `also log p(x) by quadrature over z (± its error estimate), the Laplace approximation, IWAE_K for K = ${EXACT_KS.join(", ")}, and the gap log p(x) − ELBO (2-D latent only)` },
    json: { help: "print one JSON object" },
  },
};

/** The exact quantities of one image, as JSON keys. */
function exactJson(e: ExactImage) {
  return { logMarginal: e.logMarginal, logMarginalError: e.logMarginalError, laplace: e.laplace, iwae: e.iwae, elboQuadrature: e.elbo, gap: e.gap, mode: e.marginal.mode.mode, grid: e.marginal.points };
}

function requireTwoD(model: VAE): void {
  if (model.config.latent !== 2) throw new UsageError(`--exact integrates over a 2-D latent space; the model's has ${model.config.latent} dimensions`);
}

export function elbo(values: Values, io: Io): number {
  const split = choiceOption(values, "split", ["train", "test"] as const, "train");
  const index = intOption(values, "index", 0);
  const k = intOption(values, "samples", DEFAULTS.samples, 2);
  const sampleSeed = intOption(values, "sample-seed", DEFAULTS.sampleSeed, 0, SEED_MAX);
  const { model, source } = modelFrom(values, io);
  if (values.exact) requireTwoD(model); // before loading the data and the K-draw ELBO
  const data = loadMnist(split);
  if (index >= data.count) throw new UsageError(`--index must be in 0..${data.count - 1} for the ${split} split, got ${index}`);
  const D = model.config.inputSize;
  const x = new Tensor(binarize(data.images.subarray(index * D, (index + 1) * D)), [1, D]);
  const e = estimateElbo(model, x, k, new Random(sampleSeed));
  const label = data.labels[index];
  const exact = values.exact ? exactBounds(model, x.data as Float32Array, { seed: sampleSeed })[0] : undefined;
  if (values.json) {
    io.out(JSON.stringify({ ...e, index, split, label, sampleSeed, model: source, ...(exact && exactJson(exact)) }) + "\n");
    return 0;
  }
  const f = (v: number) => v.toFixed(4).padStart(12);
  io.out(
    `ELBO of ${split} image ${index} (a ${label}), model ${source}, K = ${k} draws of ε:\n` +
      `  ELBO            ${f(e.elbo)} ± ${e.stderr.toFixed(4)} nats (mean ± standard error)\n` +
      `  E[log p(z)]     ${f(e.logPrior)}\n` +
      `  E[log p(x|z)]   ${f(e.logLikelihood)}\n` +
      `  E[-log q(z|x)]  ${f(e.negLogQ)}\n` +
      `  g(x)            (${e.encoderMean.map((v) => v.toFixed(8)).join(", ")})\n` +
      (exact ? exactText(exact) : "") +
      `note: g(x), the encoder's mean, is a ${e.encoderMean.length}-vector; the ELBO is one number (the seed's part 3 answer [-0.10000038, -0.10000038] has the shape of g(x): docs/derivation.md, "Part 3")\n`,
  );
  return 0;
}

function exactText(e: ExactImage): string {
  return exactRowsText({ ...e, points: e.marginal.points, mode: e.marginal.mode.mode });
}

export const evalCommand: Command = {
  name: "eval",
  summary: "Mean test-set ELBO per image and an importance-weighted (IWAE) bound on log p(x), in nats.",
  options: {
    checkpoint: { value: "FILE", help: "model to evaluate (required)" },
    samples: { value: "K", help: "draws of ε per image for the ELBO (default 1)" },
    limit: { value: "N", help: "use the first N test images for the ELBO (default all 10000)" },
    iwae: { value: "K2", help: `importance samples per image for the IWAE bound, 0 to skip (default ${DEFAULTS.iwae})` },
    "iwae-images": { value: "N", help: `first N test images for the IWAE bound (default ${DEFAULTS.iwaeImages})` },
    exact: { value: "N", help: `also, on the first N test images: log p(x) by quadrature, Laplace, IWAE_K for K = ${EXACT_KS.join(", ")}, the ELBO by quadrature and the gap log p(x) − ELBO, as means (and the gap per image in the JSON)` },
    out: { value: "FILE", help: "also write the result as JSON to FILE" },
    json: { help: "print one JSON object" },
    ...allowNonFiniteOption,
  },
};

export function evaluate(values: Values, io: Io): number {
  const checkpoint = stringOption(values, "checkpoint", true);
  const samples = intOption(values, "samples", 1, 1);
  const limit = values.limit === undefined ? undefined : intOption(values, "limit", 0, 1);
  const iwaeK = intOption(values, "iwae", DEFAULTS.iwae, 0);
  const iwaeImages = intOption(values, "iwae-images", DEFAULTS.iwaeImages, 1);
  const exactImages = values.exact === undefined ? undefined : intOption(values, "exact", 0, 1, 10000);
  const { model, metadata } = loadChecked(checkpoint, values, io);
  if (exactImages !== undefined) requireTwoD(model);
  const test = loadImages("test", limit);
  const t0 = performance.now();
  const elbo = elboPerImage(model, test.images, { samples });
  const result: Record<string, unknown> = { checkpoint, epoch: numberOrNull(metadata.epoch), step: numberOrNull(metadata.step), testElbo: elbo.mean, samples, images: test.count };
  if (iwaeK > 0) {
    const n = Math.min(iwaeImages, test.count);
    const first = test.images.subarray(0, n * model.config.inputSize);
    // The ELBO of the same images, so that the two bounds can be compared: theirs from the pass above.
    let sum = 0;
    for (let i = 0; i < n; i++) sum += elbo.perImage[i];
    Object.assign(result, { iwae: evaluateIwae(model, first, { samples: iwaeK }), iwaeK, iwaeImages: n, elboOnIwaeImages: sum / n });
  }
  if (exactImages !== undefined) {
    const t1 = performance.now();
    const images = (exactImages <= test.count ? test : loadImages("test", exactImages)).images.subarray(0, exactImages * model.config.inputSize);
    const progress = progressReporter(io, `eval --exact ${exactImages}`);
    result.exact = { ...exactSummary(exactBounds(model, images, { onProgress: progress.report })), seconds: (performance.now() - t1) / 1000 };
    progress.done();
  }
  result.seconds = (performance.now() - t0) / 1000;
  const out = stringOption(values, "out");
  if (out) writeFileAtomic(out, JSON.stringify(result, null, 2) + "\n");
  if (values.json) io.out(JSON.stringify(result) + "\n");
  else {
    io.out(`test ELBO ${(result.testElbo as number).toFixed(2)} nats per image (${test.count} images, ${samples} draw${samples > 1 ? "s" : ""} of ε each)\n`);
    if (iwaeK > 0) {
      const n = result.iwaeImages;
      io.out(`IWAE bound ${(result.iwae as number).toFixed(2)} nats per image (K = ${iwaeK}, first ${n} test images; the ELBO of the same ${n} images is ${(result.elboOnIwaeImages as number).toFixed(2)})\n`);
    }
    if (result.exact) io.out(exactTable(result.exact as ReturnType<typeof exactSummary>));
    if (out) io.out(`wrote ${out}\n`);
  }
  return 0;
}

/** Means over the images of every exact quantity, and the gap per image. */
export function exactSummary(r: ExactImage[]) {
  const mean = (f: (e: ExactImage) => number) => r.reduce((a, e) => a + f(e), 0) / r.length;
  const gaps = r.map((e) => e.gap);
  const sorted = [...gaps].sort((a, b) => a - b);
  return {
    images: r.length,
    elbo: mean((e) => e.elbo),
    iwae: Object.fromEntries(EXACT_KS.map((k) => [k, mean((e) => e.iwae[k])])),
    laplace: mean((e) => e.laplace),
    logMarginal: mean((e) => e.logMarginal),
    logMarginalError: mean((e) => e.logMarginalError),
    logMarginalMaxError: Math.max(...r.map((e) => e.logMarginalError)),
    gap: mean((e) => e.gap),
    gapMedian: sorted[Math.floor((sorted.length - 1) / 2)],
    gapMin: sorted[0],
    gapMax: sorted.at(-1)!,
    gapPerImage: gaps,
  };
}

function exactTable(s: ReturnType<typeof exactSummary> & { seconds?: number }): string {
  return `exact, on the first ${s.images} test images (means in nats per image${s.seconds === undefined ? "" : `; ${s.seconds.toFixed(1)} s`}):\n` + exactRowsText(s);
}

const numberOrNull = (s: string | undefined) => (s === undefined ? null : Number(s));

export const reportCommand: Command = {
  name: "report",
  summary: "Render the HTML report of a training run: ELBO curves, latent space, manifold, reconstructions, samples.",
  options: {
    run: { value: "DIR", help: "directory of a training run (required)" },
    out: { value: "FILE", help: "where to write the report (default DIR/report.html)" },
    iwae: { value: "K", help: "importance samples per image, if DIR/eval.json is missing or stale (default 100)" },
    "iwae-images": { value: "N", help: "test images for that IWAE bound (default 100)" },
    exact: { value: "N", help: `log p(x), Laplace, IWAE_K and the ELBO by quadrature on the first N test images, and the true posteriors of three of them (default ${DEFAULTS.reportExact}, 0 to skip)` },
    ...allowNonFiniteOption,
  },
};

const GRID = 20;

export async function report(values: Values, io: Io): Promise<number> {
  const dir = stringOption(values, "run", true);
  const files = runFiles(dir);
  const out = stringOption(values, "out") ?? files.report;
  const iwaeK = intOption(values, "iwae", 100, 0);
  const iwaeImages = intOption(values, "iwae-images", 100, 1);
  const exactImages = intOption(values, "exact", DEFAULTS.reportExact, 0, 10000);
  const metrics = readMetrics(files.metrics);
  const { model, metadata, nonFinite } = loadChecked(files.model, values, io);
  const { inputSize: D, latent } = model.config;
  if (latent !== 2) throw new Error(`${files.model}: the report's manifold needs a 2-D latent space, the model has ${latent}`);
  const side = Math.round(Math.sqrt(D));
  const test = loadImages("test");
  const grid = quantileGrid(GRID);
  const probabilities = (z: Float32Array) => Float32Array.from(model.decode(new Tensor(z, [z.length / latent, latent])).data);

  const recon = test.images.slice(0, 10 * D);
  const rng = new Random(2);
  const data: ReportData = {
    metrics: metrics.map(({ epoch, trainElbo, testElbo, seconds }) => ({ epoch, trainElbo, testElbo, seconds })),
    latent: { means: encoderMeans(model, test.images), labels: test.labels },
    manifold: { images: probabilities(grid), grid: GRID, side, z: Array.from({ length: GRID }, (_, j) => grid[2 * j]) },
    reconstructions: { originals: recon, recon: probabilities(encoderMeans(model, recon)), count: 10, side },
    samples: { images: probabilities(Float32Array.from({ length: 100 * latent }, () => rng.normal())), count: 100, side },
    config: { ...model.config, ...parseJson(metadata.hyper), epochs: metrics.length, steps: numberOrNull(metadata.step), model: resolve(files.model) },
  };

  const train = loadMnist("train", { limit: 1 });
  const e = estimateElbo(model, new Tensor(binarize(train.images), [1, D]), DEFAULTS.samples, new Random(DEFAULTS.sampleSeed));
  data.part3 = { ...e, index: 0 };

  const last = metrics.at(-1);
  if (last) {
    const testLimit = parseJson(metadata.hyper)["test-limit"];
    data.final = { testElbo: last.testElbo, testImages: typeof testLimit === "number" ? testLimit : undefined };
    const saved = existsSync(files.eval) ? parseJson(readFileSync(files.eval, "utf8")) : {};
    const first = (n: number) => test.images.subarray(0, n * D);
    if (typeof saved.iwae === "number" && typeof saved.iwaeImages === "number" && saved.step === numberOrNull(metadata.step)) {
      const n = Math.min(saved.iwaeImages, test.count);
      const elboOnIwaeImages = typeof saved.elboOnIwaeImages === "number" ? saved.elboOnIwaeImages : evaluateElbo(model, first(n));
      Object.assign(data.final, { iwae: saved.iwae, iwaeK: saved.iwaeK, iwaeImages: n, elboOnIwaeImages });
    } else if (iwaeK > 0) {
      const n = Math.min(iwaeImages, test.count);
      Object.assign(data.final, { iwae: evaluateIwae(model, first(n), { samples: iwaeK }), iwaeK, iwaeImages: n, elboOnIwaeImages: evaluateElbo(model, first(n)) });
    }
  }
  if (exactImages > 0 && nonFinite.length === 0) data.exact = exactReport(model, test.images.subarray(0, Math.min(exactImages, test.count) * D), test.labels, io);
  data.title = `VAE on binarized MNIST: ${dir}`;
  await writeReport(out, data);
  io.out(`wrote ${resolve(out)}\n`);
  return 0;
}

/** The report's exact section: the means, and the posteriors of the images with the smallest, median and largest gap. */
function exactReport(model: VAE, images: Float32Array, labels: Uint8Array, io: Io): ExactReport {
  const progress = progressReporter(io, "report --exact");
  const r = exactBounds(model, images, { onProgress: progress.report });
  progress.done();
  const { gapPerImage, ...summary } = exactSummary(r);
  const order = gapPerImage.map((g, i) => [g, i]).sort((a, b) => a[0] - b[0]).map(([, i]) => i);
  const picks: [string, number][] = [["smallest gap", order[0]], ["median gap", order[Math.floor((order.length - 1) / 2)]], ["largest gap", order.at(-1)!]];
  const D = model.config.inputSize;
  const posteriors = picks.filter(([, i], k) => picks.findIndex(([, j]) => j === i) === k).map(([which, i]): ExactPosterior => {
    const e = r[i];
    const q = noGrad(() => model.encode(new Tensor(images.subarray(i * D, (i + 1) * D), [1, D])));
    const variance = typeof q.variance === "number" ? [q.variance, q.variance] : Array.from(q.variance.contiguous().data, Math.exp);
    const c = e.laplaceResult.covariance;
    return {
      which, index: i, label: labels[i], gap: e.gap, logMarginal: e.logMarginal, elbo: e.elbo, laplace: e.laplace,
      box: e.marginal.box, points: e.marginal.points, logPosterior: e.marginal.logPosterior!,
      encoderMean: [q.mean.contiguous().data[0], q.mean.contiguous().data[1]], qStd: [Math.sqrt(variance[0]), Math.sqrt(variance[1])],
      mode: e.marginal.mode.mode, laplaceCovariance: [c[0], c[1], c[2], c[3]],
    };
  });
  return { ...summary, posteriors };
}

function parseJson(text: string | undefined): Record<string, any> {
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return {};
  }
}
