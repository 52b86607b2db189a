// Behaviour of src/vae that the mutation run (npm run mutate) found unguarded. The oracle is a second
// implementation written here with plain loops in float64: the MLPs, the three log-densities and the
// ELBO's terms of docs/derivation.md, the closed-form KL. Models are tiny (a few pixels, a few hidden
// units) so that every value can be checked exactly.
import { describe, expect, it } from "vitest";
import {
  Random, TRAIN_FORMAT, Tensor, Trainer, VAE, analyticKl, elboSamples, encodeSafetensors, encoderMeans, estimateElbo, evaluateIwae,
  logDiagNormal, modelBytes, modelFromBytes, normalQuantile, parseIdx, quantileGrid, sampleEps, streamSeed, tensor, trainLoop,
  type Linear,
} from "../src/index.js";
import { expectClose } from "./helpers.js";

const LOG_2PI = Math.log(2 * Math.PI);
const softplus = (l: number) => (l > 0 ? l + Math.log1p(Math.exp(-l)) : Math.log1p(Math.exp(l)));

/** The layers by plain loops: tanh between, nothing after the last; `rows` inputs of the first layer's width. */
function mlp(layers: readonly Linear[], input: ArrayLike<number>, rows: number): number[] {
  let h = Array.from(input);
  layers.forEach((layer, i) => {
    const [out, inF] = [layer.outFeatures, layer.inFeatures];
    const next: number[] = [];
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < out; o++) {
        let s = layer.bias.data[o];
        for (let j = 0; j < inF; j++) s += h[r * inF + j] * layer.weight.data[o * inF + j];
        next.push(i < layers.length - 1 ? Math.tanh(s) : s);
      }
    }
    h = next;
  });
  return h;
}

/** The terms of docs/derivation.md part 2 for one image x and one draw ε: z = g + σ ⊙ ε. */
function terms(model: VAE, x: ArrayLike<number>, eps: readonly number[]) {
  const d = model.config.latent;
  const enc = mlp(model.encoder.layers, x, 1);
  const variance = model.config.encoderVariance;
  const logVar = variance === "learned" ? enc.slice(d, 2 * d) : new Array<number>(d).fill(Math.log(variance));
  const z = eps.map((e, i) => enc[i] + Math.exp(logVar[i] / 2) * e);
  const logits = mlp(model.decoder.layers, z, 1);
  let logLikelihood = 0;
  logits.forEach((l, j) => (logLikelihood += x[j] * l - softplus(l)));
  const logPrior = -0.5 * z.reduce((s, v) => s + v * v, 0) - (d / 2) * LOG_2PI;
  const negLogQ = 0.5 * eps.reduce((s, v) => s + v * v, 0) + (d / 2) * LOG_2PI + 0.5 * logVar.reduce((s, v) => s + v, 0);
  return { logPrior, logLikelihood, negLogQ, elbo: logPrior + logLikelihood + negLogQ, mean: enc.slice(0, d) };
}

const tiny = (config: Partial<VAE["config"]> = {}, seed = 1) => new VAE({ inputSize: 5, hidden: 3, ...config }, { seed, dtype: "float64" });
const pixels = [1, 0, 1, 1, 0, 0, 1, 0, 0, 1];

describe("the ELBO's terms against a plain-loop second implementation", () => {
  it("elboSamples with a learned variance: log p(z), log p(x|z) and −log q(z|x) per draw and image, z = g + exp(½ log σ²) ⊙ ε", () => {
    const model = tiny({ encoderVariance: "learned" }, 2);
    const x = tensor(pixels, { shape: [2, 5], dtype: "float64" });
    const epsValues = [0.3, -1.2, 0.8, 0.1, -0.5, 2.0, 1.5, -0.7, 0.05, 0.9, -2.1, 0.4]; // [K = 3, B = 2, d = 2]
    const s = elboSamples(model, x, tensor(epsValues, { shape: [3, 2, 2], dtype: "float64" }));
    for (let k = 0; k < 3; k++) {
      for (let b = 0; b < 2; b++) {
        const t = terms(model, pixels.slice(5 * b, 5 * b + 5), epsValues.slice(4 * k + 2 * b, 4 * k + 2 * b + 2));
        const at = 2 * k + b;
        expect(s.logPrior.data[at]).toBeCloseTo(t.logPrior, 12);
        expect(s.logLikelihood.data[at]).toBeCloseTo(t.logLikelihood, 12);
        expect(s.negLogQ.data[at]).toBeCloseTo(t.negLogQ, 12);
        expect(s.elbo.data[at]).toBeCloseTo(t.elbo, 12);
      }
    }
  });

  it("elboSamples refuses images that do not match ε or the model, naming both shapes", () => {
    const model = tiny();
    const eps = new Tensor(new Float64Array(2 * 2 * 2), [2, 2, 2]);
    const message = (shape: string) => `elbo: images have shape [${shape}], expected [2,5] to match ε of shape [2,2,2]`;
    expect(() => elboSamples(model, tensor(new Float64Array(5), { shape: [5] }), eps)).toThrow(message("5"));
    expect(() => elboSamples(model, tensor(new Float64Array(15), { shape: [3, 5] }), eps)).toThrow(message("3,5"));
    expect(() => elboSamples(model, tensor(new Float64Array(8), { shape: [2, 4] }), eps)).toThrow(message("2,4"));
    expect(() => elboSamples(model, tensor(new Float64Array(10), { shape: [1, 2, 5] }), eps)).toThrow(message("1,2,5"));
  });

  it("analyticKl = ½ Σ (σ² + g² − 1 − log σ²) over the last axis, for log-variance tensors and a fixed σ², on [K, B, d]", () => {
    const g = [0.5, -1, 2, 0.25, 0, -0.75, 1.5, 3, -2, 0.1, 0.2, -0.3]; // [2, 2, 3]
    const lv = [0.1, -0.4, 1, -2, 0.3, 0, 0.5, -1, 0.2, 0.7, -0.1, 0.4];
    const rows = (f: (i: number) => number) => [0, 1, 2, 3].map((r) => 0.5 * [0, 1, 2].reduce((s, j) => s + f(3 * r + j), 0));
    const gt = tensor(g, { shape: [2, 2, 3], dtype: "float64" });
    expectClose(analyticKl(gt, tensor(lv, { shape: [2, 2, 3], dtype: "float64" })).data, rows((i) => Math.exp(lv[i]) + g[i] ** 2 - 1 - lv[i]), 1e-14, 1e-15);
    expectClose(analyticKl(gt, 0.25).data, rows((i) => 0.25 + g[i] ** 2 - 1 - Math.log(0.25)), 1e-14, 1e-15);
  });

  it("logDiagNormal on [K, B, d]: −(1/2) Σ ((z − g)²/σ² + log 2π + log σ²) over the last axis, fixed or per dimension", () => {
    const z = [0.3, -1.2, 0.8, 0.1, -0.5, 2.0, 1.5, -0.7]; // [2, 2, 2]
    const g = [0.1, 0.2, -0.3, 0.4]; // [2, 2], broadcast over K
    const lv = [0.5, -1, 0.25, 2];
    const zt = tensor(z, { shape: [2, 2, 2], dtype: "float64" });
    const gt = tensor(g, { shape: [2, 2], dtype: "float64" });
    const ref = (logVar: (j: number) => number) =>
      [0, 1, 2, 3].map((r) => -0.5 * [0, 1].reduce((s, i) => {
        const j = (2 * r + i) % 4; // g's and log σ²'s entry for this (image, dimension)
        return s + (z[2 * r + i] - g[j]) ** 2 / Math.exp(logVar(j)) + LOG_2PI + logVar(j);
      }, 0));
    expectClose(logDiagNormal(zt, gt, 0.04).data, ref(() => Math.log(0.04)), 1e-13, 1e-14);
    expectClose(logDiagNormal(zt, gt, tensor(lv, { shape: [2, 2], dtype: "float64" })).data, ref((j) => lv[j]), 1e-13, 1e-14);
  });

  it("estimateElbo: the mean of K one-draw ELBOs, its standard error √(s²/K), the mean terms and g(x); K must be an integer ≥ 2", () => {
    const model = tiny({}, 3);
    const x = tensor(pixels.slice(0, 5), { shape: [1, 5], dtype: "float64" });
    const k = 4;
    const draws = new Random(8);
    const all = Array.from({ length: k }, () => terms(model, pixels.slice(0, 5), [draws.normal(), draws.normal()]));
    const m = all.reduce((s, t) => s + t.elbo, 0) / k;
    const s2 = all.reduce((s, t) => s + (t.elbo - m) ** 2, 0) / (k - 1);
    const e = estimateElbo(model, x, k, new Random(8));
    expect(e.elbo).toBeCloseTo(m, 12);
    expect(e.stderr).toBeCloseTo(Math.sqrt(s2 / k), 12);
    expect(e.logPrior).toBeCloseTo(all.reduce((s, t) => s + t.logPrior, 0) / k, 12);
    expect(e.negLogQ).toBeCloseTo(all.reduce((s, t) => s + t.negLogQ, 0) / k, 12);
    expect(e.samples).toBe(k);
    expectClose(e.encoderMean, all[0].mean, 1e-14, 1e-15);
    expect(estimateElbo(model, x, 2, new Random(1)).samples).toBe(2);
    for (const bad of [1, 2.5, 0]) expect(() => estimateElbo(model, x, bad, new Random(1))).toThrow(`estimateElbo: needs at least 2 samples for a standard error, got ${bad}`);
  });

  it("sampleEps draws K·B·d standard normals in order, float32 unless asked", () => {
    const eps = sampleEps(new Random(4), 2, 3, 2);
    expect(eps.dtype).toBe("float32");
    expect(eps.shape).toEqual([2, 3, 2]);
    const r = new Random(4);
    expect(Array.from(eps.data)).toEqual(Array.from({ length: 12 }, () => Math.fround(r.normal())));
    expect(sampleEps(new Random(4), 1, 1, 1, "float64").data[0]).toBe(new Random(4).normal());
  });
});

describe("the VAE: configuration, initialization, decode, parameters", () => {
  it("refuses a non-positive or non-numeric σ² and sizes that are not positive integers, naming them", () => {
    for (const v of [0, -1, Number.NaN, "big" as unknown as number]) {
      expect(() => new VAE({ encoderVariance: v }), String(v)).toThrow(`VAE: encoderVariance must be a positive number or "learned", got ${v}`);
    }
    expect(new VAE({ inputSize: 1, hidden: 1, latent: 1, encoderVariance: 1e-300 }).config.encoderVariance).toBe(1e-300);
    for (const [name, v] of [["inputSize", 0], ["hidden", 1.5], ["latent", -1], ["hidden", Number.NaN]] as const) {
      expect(() => new VAE({ inputSize: 3, hidden: 2, [name]: v }), `${name} ${v}`).toThrow(`VAE: ${name} must be a positive integer, got ${v}`);
    }
  });

  it("initializes from Random(seed) (0 by default) or the given generator: encoder first, each layer W then b", () => {
    const firstWeights = (seed: number) => {
      const r = new Random(seed);
      return Array.from({ length: 6 }, () => (2 * r.uniform() - 1) / Math.sqrt(2)); // encoder.layers.0.weight [3, 2]
    };
    const weights = (m: VAE) => Array.from(m.encoder.layers[0].weight.data);
    const config = { inputSize: 2, hidden: 3, latent: 1 };
    expectClose(weights(new VAE(config, { seed: 3, dtype: "float64" })), firstWeights(3), 1e-15, 0);
    expectClose(weights(new VAE(config, { dtype: "float64" })), firstWeights(0), 1e-15, 0);
    expectClose(weights(new VAE(config, { rng: new Random(9), seed: 3, dtype: "float64" })), firstWeights(9), 1e-15, 0);
  });

  it("decode is σ of the decoder's logits, without a graph", () => {
    const model = tiny();
    const z = tensor([0.5, -1, 2, 0.25], { shape: [2, 2], dtype: "float64" });
    const f = model.decode(z);
    expect(f.requiresGrad).toBe(false);
    expect(f.node).toBe(null);
    expectClose(f.data, mlp(model.decoder.layers, z.data, 2).map((l) => 1 / (1 + Math.exp(-l))), 1e-14, 1e-15);
  });

  it("setParameter routes encoder.* and decoder.* to their MLP and refuses other names", () => {
    const model = tiny();
    const w = tensor(new Float64Array(3), { shape: [3] });
    model.setParameter("decoder.layers.0.bias", w);
    expect(model.decoder.layers[0].bias).toBe(w);
    expect(() => model.setParameter("prior.layers.0.bias", w)).toThrow('VAE: no parameter named "prior.layers.0.bias"');
  });
});

describe("model files: the architecture from the metadata or the tensors", () => {
  const stored = (model: VAE) =>
    Object.fromEntries([...model.namedParameters()].map(([name, p]) => [name, { dtype: "F32" as const, shape: [...p.shape], data: Float32Array.from(p.data) }]));
  const same = (a: VAE, b: VAE) => {
    for (const [name, p] of a.namedParameters()) expect(Array.from(b.namedParameters().get(name)!.data), name).toEqual(Array.from(p.data));
  };

  it("without a config, reads D, H and d off the tensor shapes, and a learned variance off the encoder's 2d outputs", () => {
    for (const config of [{ inputSize: 6, hidden: 4, latent: 3, encoderVariance: 0.01 }, { inputSize: 5, hidden: 2, latent: 2, encoderVariance: "learned" as const }]) {
      const source = new VAE(config, { seed: 4 });
      const { model } = modelFromBytes(encodeSafetensors(stored(source)), "torch.safetensors");
      expect(model.config).toEqual({ ...config, activation: "tanh" });
      same(source, model);
    }
  });

  it("without a config, refuses a file missing either encoder weight, and one missing the decoder's first layer (latent size 2 assumed)", () => {
    const all = stored(new VAE({ inputSize: 4, hidden: 3 }));
    for (const drop of ["encoder.layers.0.weight", "encoder.layers.1.weight"]) {
      const { [drop]: _, ...rest } = all;
      expect(() => modelFromBytes(encodeSafetensors(rest))).toThrow('checkpoint: no "config" metadata and no encoder.layers.{0,1}.weight tensors; is this a VAE checkpoint?');
    }
    const { "decoder.layers.0.weight": _w, "decoder.layers.0.bias": _b, ...encoderOnly } = all;
    expect(() => modelFromBytes(encodeSafetensors(encoderOnly), "enc.safetensors")).toThrow(
      'enc.safetensors: config {"inputSize":4,"hidden":3,"latent":2,"encoderVariance":0.01,"activation":"tanh"} (read off the tensor shapes) needs 48 parameters, the file holds 39 values',
    );
  });

  it("a config that is not JSON is named; a long one is cut at 160 characters in messages", () => {
    const tensors = stored(new VAE({ inputSize: 4, hidden: 3 }));
    expect(() => modelFromBytes(encodeSafetensors(tensors, { config: "{oops" }), "m.safetensors")).toThrow(/^m\.safetensors: metadata "config" is not valid JSON \(/);
    const long = JSON.stringify({ inputSize: 4, hidden: 3, latent: 2, encoderVariance: -1, pad: "x".repeat(200) });
    expect(() => modelFromBytes(encodeSafetensors(tensors, { config: long }), "m.safetensors")).toThrow(
      `m.safetensors: bad config ${long.slice(0, 160)}…: VAE: encoderVariance must be a positive number or "learned", got -1`,
    );
    const exact = JSON.stringify({ inputSize: 4, hidden: 3, latent: 2, encoderVariance: -1, pad: "" }).padEnd(160, " ");
    expect(exact).toHaveLength(160);
    expect(() => modelFromBytes(encodeSafetensors(tensors, { config: exact }), "m.safetensors")).toThrow(`m.safetensors: bad config ${exact}: VAE`);
  });

  it("a config asking for a learned variance from a fixed-variance file is refused before allocating: (D·H + H + 2dH + 2d) + (dH + H + HD + D)", () => {
    const tensors = stored(new VAE({ inputSize: 4, hidden: 3 })); // 4·3 + 3 + 3·2 + 2 + 2·3 + 3 + 3·4 + 4 = 48 values
    const config = JSON.stringify({ inputSize: 4, hidden: 3, latent: 2, encoderVariance: "learned", activation: "tanh" });
    expect(() => modelFromBytes(encodeSafetensors(tensors, { config }), "m.safetensors")).toThrow(`m.safetensors: config ${config} needs 56 parameters, the file holds 48 values`);
  });

  it("a train-state file may hold tensors besides the model's; a model file may not", () => {
    const model = new VAE({ inputSize: 4, hidden: 3 }, { seed: 2 });
    const withMoments = { ...stored(model), "adam.m.decoder.layers.1.bias": { dtype: "F32" as const, shape: [4], data: new Float32Array(4) } };
    const config = JSON.stringify(model.config);
    same(model, modelFromBytes(encodeSafetensors(withMoments, { format: TRAIN_FORMAT, config })).model);
    expect(() => modelFromBytes(encodeSafetensors(withMoments, { format: "tsgrad-vae/1", config }))).toThrow("checkpoint: unexpected tensors adam.m.decoder.layers.1.bias");
    same(model, modelFromBytes(modelBytes(model)).model);
  });
});

describe("training steps, the loop and the evaluations", () => {
  const D = 5;
  const twice = Float32Array.from([...pixels.slice(0, 5), ...pixels.slice(0, 5)]); // the same image twice: any order is the same batch

  it("streamSeed(seed, stream) = (seed + stream · 0x632be5ab) mod 2³²", () => {
    expect(streamSeed(0, 1)).toBe(0x632be5ab);
    expect(streamSeed(5, 2)).toBe((5 + 2 * 0x632be5ab) % 2 ** 32);
    expect(streamSeed(2 ** 32 - 1, 1)).toBe(0x632be5ab - 1);
  });

  it("Trainer refuses pixels that are not whole images and a batch size that is not a positive integer; one image in batches of one is fine", () => {
    const model = new VAE({ inputSize: D, hidden: 2 });
    expect(() => new Trainer(model, new Float32Array(7), { batchSize: 1, lr: 1e-3, seed: 0 })).toThrow("Trainer: 7 pixels are not a positive number of 5-pixel images");
    expect(() => new Trainer(model, new Float32Array(0), { batchSize: 1, lr: 1e-3, seed: 0 })).toThrow("Trainer: 0 pixels are not a positive number of 5-pixel images");
    for (const b of [0, 1.5]) expect(() => new Trainer(model, twice, { batchSize: b, lr: 1e-3, seed: 0 })).toThrow(`Trainer: batchSize must be a positive integer, got ${b}`);
    const one = new Trainer(model, twice.subarray(0, D), { batchSize: 1, lr: 1e-3, seed: 0 });
    expect(one.batches).toBe(1);
  });

  it("each step reports the one-draw ELBO of its batch at the parameters before it, the running mean, and sizes; an epoch's end resets them", () => {
    const model = new VAE({ inputSize: D, hidden: 3 }, { seed: 5 });
    const options = { batchSize: 1, lr: 0.05, seed: 11 };
    const trainer = new Trainer(model, twice, options);
    const eps = new Random(streamSeed(options.seed, 2));
    const oracle = () => terms(model, pixels.slice(0, 5), [Math.fround(eps.normal()), Math.fround(eps.normal())]).elbo;
    const e1 = oracle();
    const before = [...model.namedParameters()].map(([, p]) => Array.from(p.data));
    const s1 = trainer.step();
    expect(s1.elbo).toBeCloseTo(e1, 4);
    expect(s1.trainElbo).toBeCloseTo(e1, 4);
    expect([s1.epoch, s1.batch, s1.batches, s1.size, s1.images, s1.epochEnd]).toEqual([0, 1, 2, 1, 1, undefined]);
    // Adam's first step moves every parameter by lr·g/(|g| + ε): by lr, where its gradient is not 0.
    const moved = [...model.namedParameters()].flatMap(([, p], i) => Array.from(p.data, (v, j) => Math.abs(v - before[i][j])));
    expect(Math.max(...moved)).toBeCloseTo(0.05, 5);
    const e2 = oracle();
    const s2 = trainer.step();
    expect(s2.elbo).toBeCloseTo(e2, 4);
    expect(s2.trainElbo).toBeCloseTo((e1 + e2) / 2, 4);
    expect([s2.epoch, s2.batch, s2.size, s2.images]).toEqual([0, 2, 1, 2]);
    expect(s2.epochEnd!.epoch).toBe(1);
    expect(s2.epochEnd!.trainElbo).toBeCloseTo((e1 + e2) / 2, 4);
    const e3 = oracle();
    const s3 = trainer.step();
    expect([s3.epoch, s3.batch, s3.images]).toEqual([1, 1, 1]);
    expect(s3.trainElbo).toBeCloseTo(e3, 4);
  });

  it("the last batch of an epoch holds the images left over", () => {
    const images = Float32Array.from({ length: 5 * D }, (_, i) => pixels[i % 10]);
    const trainer = new Trainer(new VAE({ inputSize: D, hidden: 2 }), images, { batchSize: 2, lr: 1e-3, seed: 0 });
    const steps = [trainer.step(), trainer.step(), trainer.step()];
    expect(steps.map((s) => [s.size, s.images, s.batch])).toEqual([[2, 2, 1], [2, 4, 2], [1, 5, 3]]);
    expect(steps[2].epochEnd?.epoch).toBe(1);
    // The running mean weighs each batch's mean ELBO by its images (the batch ELBOs are checked against an oracle above).
    const [e1, e2, e3] = steps.map((s) => s.elbo);
    expect(steps[1].trainElbo).toBeCloseTo((2 * e1 + 2 * e2) / 4, 10);
    expect(steps[2].trainElbo).toBeCloseTo((2 * e1 + 2 * e2 + e3) / 5, 10);
    expect(steps[2].epochEnd?.trainElbo).toBeCloseTo((2 * e1 + 2 * e2 + e3) / 5, 10);
  });

  it("setState refuses a batch outside the epoch, and accepts its last batch", () => {
    const make = () => new Trainer(new VAE({ inputSize: D, hidden: 2 }), twice, { batchSize: 1, lr: 1e-3, seed: 0 });
    const first = make();
    first.step();
    const state = first.getState(); // after the first of two batches
    const trainer = make();
    expect(() => trainer.setState({ ...state, batch: 2 })).toThrow("Trainer.setState: batch 2 is not within 0..1");
    for (const batch of [-1, 0.5]) expect(() => trainer.setState({ ...state, batch }), String(batch)).toThrow(`Trainer.setState: batch must be a non-negative integer, got ${batch}`);
    trainer.setState(state);
    expect(trainer.step().epochEnd?.epoch).toBe(1);
  });

  it("trainLoop yields every yieldEvery steps (4 by default), so that a timer set before it can stop it", async () => {
    const trainer = () => new Trainer(new VAE({ inputSize: D, hidden: 2 }), Float32Array.from({ length: 10 * D }, (_, i) => pixels[i % 10]), { batchSize: 1, lr: 1e-3, seed: 0 });
    let pauses = 0;
    const pause = async () => void pauses++;
    expect(await trainLoop(trainer(), { epochs: 1, pause })).toBe("done");
    expect(pauses).toBe(2); // after steps 4 and 8 of 10
    pauses = 0;
    await trainLoop(trainer(), { epochs: 1, pause, yieldEvery: 3 });
    expect(pauses).toBe(3);
    let fired = false;
    setTimeout(() => (fired = true), 0);
    const t = trainer();
    expect(await trainLoop(t, { epochs: 100, shouldStop: () => fired })).toBe("stopped");
    expect(t.epoch).toBeLessThan(100);
  });

  it("evaluateIwae's default batch is ⌊4·10⁶ / (K·D)⌋ images, which decides how the draws are dealt out", () => {
    const d = 400;
    const model = new VAE({ inputSize: d, hidden: 2 }, { seed: 1 });
    const images = Float32Array.from({ length: 25 * d }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0);
    const k = 1000; // ⌊4e6 / 4e5⌋ = 10 images per batch: three batches
    const byDefault = evaluateIwae(model, images, { samples: k });
    expect(byDefault).toBe(evaluateIwae(model, images, { samples: k, batchSize: 10 }));
    expect(byDefault).not.toBe(evaluateIwae(model, images, { samples: k, batchSize: 25 }));
    expect(byDefault).not.toBe(evaluateIwae(model, images, { samples: k, batchSize: 1 }));
  });

  it("encoderMeans is g(x) of every image, in batches of any size", () => {
    const model = new VAE({ inputSize: D, hidden: 3 }, { seed: 6 });
    const images = Float32Array.from({ length: 7 * D }, (_, i) => pixels[(3 * i) % 10]);
    const expected = mlp(model.encoder.layers, images, 7);
    for (const batchSize of [3, 7, 500]) expectClose(encoderMeans(model, images, batchSize), expected, 1e-5, 1e-6);
    expectClose(encoderMeans(model, images), expected, 1e-5, 1e-6);
  });
});

describe("normalQuantile, the manifold grid, the IDX header", () => {
  it("normalQuantile refuses what is not a probability", () => {
    for (const p of [-0.1, 1.5, Number.NaN]) expect(() => normalQuantile(p)).toThrow(`normalQuantile: p must be a probability in [0, 1], got ${p}`);
  });

  it("a 1×1 grid is the prior's median, (0, 0)", () => expect(Array.from(quantileGrid(1))).toEqual([0, 0]));

  it("a 0-dimensional IDX file is one byte after a 4-byte header", () => {
    const parsed = parseIdx(Uint8Array.from([0, 0, 8, 0, 42]), "s.idx");
    expect(parsed.dims).toEqual([]);
    expect(Array.from(parsed.data)).toEqual([42]);
    expect(() => parseIdx(Uint8Array.from([0, 0, 8, 0]), "s.idx")).toThrow("s.idx: truncated: header says  = 1 bytes of data, file has 0");
  });
});
