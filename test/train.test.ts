import { beforeAll, describe, expect, it } from "vitest";
import { loadParameters, saveParameters } from "../src/nn/checkpoint.js";
import { Random } from "../src/tensor/random.js";
import { Tensor } from "../src/tensor/tensor.js";
import { elboSamples, estimateElbo, sampleEps } from "../src/vae/elbo.js";
import { binarize } from "../src/vae/idx.js";
import { VAE } from "../src/vae/model.js";
import { normalQuantile, quantileGrid } from "../src/vae/quantile.js";
import { DivergenceError, Trainer, elboPerImage, evaluateElbo, evaluateIwae, trainLoop, type TrainOptions } from "../src/vae/train.js";
import { loadMnist } from "../src/node/mnist.js";

const D = 784;
let train: Float32Array;
let test: Float32Array;

beforeAll(() => {
  train = binarize(loadMnist("train", { limit: 1000 }).images);
  test = binarize(loadMnist("test", { limit: 500 }).images);
});

/** Log-likelihood per test image of independent Bernoulli pixels fitted to `fit` (add-½ smoothing). */
function independentPixels(fit: Float32Array, data: Float32Array): number {
  const p = new Float64Array(D);
  for (let i = 0; i < fit.length; i++) p[i % D] += fit[i];
  const n = fit.length / D;
  let sum = 0;
  for (let i = 0; i < data.length; i++) {
    const q = (p[i % D] + 0.5) / (n + 1);
    sum += data[i] ? Math.log(q) : Math.log(1 - q);
  }
  return sum / (data.length / D);
}

const params = (model: VAE) => [...model.namedParameters()].map(([name, p]) => [name, Array.from(p.data)]);

describe("training", () => {
  // Measured: -547.5 → -188.5 nats per image on the first 500 test images; independent pixels fitted to
  // the same 1000 images (a model that ignores z) reach -202.0.
  it("200 Adam steps on 1000 images raise the test ELBO by > 150 nats, past a model that ignores z", async () => {
    const model = new VAE({ hidden: 100 }, { seed: 0 });
    const before = evaluateElbo(model, test);
    const trainer = new Trainer(model, train, { batchSize: 25, lr: 3e-3, seed: 0 });
    const epochs: number[] = [];
    await trainLoop(trainer, { epochs: 5, onEpoch: ({ trainElbo }) => void epochs.push(trainElbo) });
    const after = evaluateElbo(model, test);
    expect(trainer.optimizer.t).toBe(200);
    expect(epochs).toHaveLength(5);
    expect(after - before, `test ELBO ${before.toFixed(1)} → ${after.toFixed(1)}`).toBeGreaterThan(150);
    expect(after).toBeGreaterThan(independentPixels(train, test) + 5);
  }, 30_000);

  it("resuming from the saved state mid-epoch gives bit-identical parameters", async () => {
    const data = train.subarray(0, 300 * D);
    const options: TrainOptions = { batchSize: 50, lr: 1e-2, seed: 7 };
    const config = { hidden: 16 };
    const straight = new Trainer(new VAE(config, { seed: 1 }), data, options);
    await trainLoop(straight, { epochs: 2 });

    const first = new Trainer(new VAE(config, { seed: 1 }), data, options);
    let steps = 0;
    expect(await trainLoop(first, { epochs: 2, shouldStop: () => steps++ === 8 })).toBe("stopped");
    expect([first.epoch, first.batch]).toEqual([1, 2]);
    const bytes = saveParameters(first.tensors());
    const state = JSON.parse(JSON.stringify(first.getState()));

    const resumed = new Trainer(new VAE(config, { seed: 99 }), data, options);
    loadParameters(bytes, resumed.tensors());
    resumed.setState(state);
    expect(await trainLoop(resumed, { epochs: 2 })).toBe("done");
    expect(resumed.optimizer.t).toBe(12);
    expect(params(resumed.model)).toEqual(params(straight.model));
    expect(resumed.getState()).toEqual(straight.getState());
  });
});

describe("a step that goes non-finite (issue 9, item 2)", () => {
  it("Trainer.step names the parameter whose gradient is not finite and throws before Adam changes anything", () => {
    const images = train.subarray(0, 100 * D);
    const trainer = new Trainer(new VAE({ hidden: 8 }, { seed: 1 }), images, { batchSize: 50, lr: 1e-3, seed: 1 });
    trainer.step();
    const before = [...trainer.tensors()].map(([name, t]) => [name, Array.from(t.data)]);
    const backward = Tensor.prototype.backward;
    Tensor.prototype.backward = function (this: Tensor, g?: Tensor) {
      backward.call(this, g);
      trainer.optimizer.params.get("encoder.layers.1.bias")!.grad!.data[1] = -Infinity; // a gradient gone bad, the loss still finite
    };
    try {
      let error: unknown;
      try {
        trainer.step();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DivergenceError);
      expect((error as DivergenceError).what).toBe("the gradient of encoder.layers.1.bias");
      expect((error as DivergenceError).summary).toBe("training diverged at epoch 1, batch 2/2: the gradient of encoder.layers.1.bias is -Infinity"); // the command line's error starts with it
      expect((error as Error).message).toBe(
        "training diverged at epoch 1, batch 2/2: the gradient of encoder.layers.1.bias is -Infinity; the parameters are left as they were before this step; try a smaller learning rate than 0.001",
      );
    } finally {
      Tensor.prototype.backward = backward;
    }
    expect([...trainer.tensors()].map(([name, t]) => [name, Array.from(t.data)])).toEqual(before);
    expect(trainer.optimizer.t).toBe(1);
  });

  it("a weight gradient gone bad while its bias gradient is finite (float32 overflow of xᵀδ) is caught at the next step's loss", () => {
    const images = train.subarray(0, 150 * D);
    const trainer = new Trainer(new VAE({ hidden: 8 }, { seed: 1 }), images, { batchSize: 50, lr: 1e-3, seed: 1 });
    const backward = Tensor.prototype.backward;
    Tensor.prototype.backward = function (this: Tensor, g?: Tensor) {
      backward.call(this, g);
      trainer.optimizer.params.get("decoder.layers.0.weight")!.grad!.data[0] = Infinity;
    };
    try {
      trainer.step(); // only bias gradients are checked: Adam's update turns the weight into NaN
      expect(() => trainer.step()).toThrow("training diverged at epoch 1, batch 2/3: the loss (the negative ELBO) is NaN");
    } finally {
      Tensor.prototype.backward = backward;
    }
  });
});

describe("evaluation", () => {
  const model = new VAE({ hidden: 30 }, { seed: 3 });

  it("the mean ELBO over batches equals the unbatched value", () => {
    const whole = evaluateElbo(model, test, { batchSize: 500 });
    for (const batchSize of [1, 7, 128]) expect(evaluateElbo(model, test, { batchSize })).toBeCloseTo(whole, 6);
  });

  it("elboPerImage keeps each image's mean over its draws, in batches: K = 1, the first n images' mean is their own evaluateElbo", () => {
    const images = test.subarray(0, 40 * D);
    for (const batchSize of [7, 500]) {
      const { mean, perImage } = elboPerImage(model, images, { batchSize, seed: 4 });
      expect(mean).toBe(evaluateElbo(model, images, { batchSize, seed: 4 }));
      // K = 1: the draws follow the images in order, so the first n images get the draws their own pass gives them.
      for (const n of [1, 10, 33]) {
        const own = evaluateElbo(model, images.subarray(0, n * D), { seed: 4 });
        expect(perImage.subarray(0, n).reduce((a, v) => a + v, 0) / n).toBeCloseTo(own, 9);
      }
    }
    // K = 3 in one batch: image i's values are column i of elboSamples on the pass's ε [3, 40, 2].
    const k = 3;
    const { perImage } = elboPerImage(model, images, { samples: k, seed: 6 });
    const values = elboSamples(model, new Tensor(images, [40, D]), sampleEps(new Random(6), k, 40, 2)).elbo.data;
    for (let i = 0; i < 40; i++) expect(perImage[i]).toBeCloseTo((values[i] + values[40 + i] + values[80 + i]) / k, 3);
  });

  it("with K draws on one image it is estimateElbo's mean; the IWAE bound at K = 1 is the ELBO and grows with K", () => {
    const x = test.subarray(0, D);
    const e = estimateElbo(model, new Tensor(x, [1, D]), 200, new Random(5));
    expect(evaluateElbo(model, x, { samples: 200, seed: 5 })).toBeCloseTo(e.elbo, 6);
    const images = test.subarray(0, 20 * D);
    expect(evaluateIwae(model, images, { samples: 1, seed: 2 })).toBeCloseTo(evaluateElbo(model, images, { seed: 2 }), 4);
    expect(evaluateIwae(model, images, { samples: 50 })).toBeGreaterThan(evaluateElbo(model, images, { samples: 50 }));
  });
});

describe("normalQuantile (Φ⁻¹, AS 241)", () => {
  it("matches SciPy's ndtri (Cephes) to ~1e-15", () => {
    const cases: [number, number][] = [
      [0.5, 0],
      [0.975, 1.959963984540054],
      [0.025, -1.959963984540054],
      [0.95, 1.6448536269514722],
      [0.8413447460685429, 1], // Φ(1)
      [0.001, -3.090232306167813],
      [1e-10, -6.361340902404056],
      [1e-300, -37.0470962993612],
    ];
    for (const [p, z] of cases) expect(Math.abs(normalQuantile(p) - z), `p = ${p}`).toBeLessThan(4e-15 * Math.max(1, Math.abs(z)));
    expect([normalQuantile(0), normalQuantile(1)]).toEqual([-Infinity, Infinity]);
    expect(() => normalQuantile(1.5)).toThrow(/probability/);
  });

  it("the manifold grid runs z₁ along columns and z₂ down the rows from high to low", () => {
    const g = quantileGrid(3);
    const at = (row: number, col: number) => [g[2 * (row * 3 + col)], g[2 * (row * 3 + col) + 1]];
    expect(at(0, 0)).toEqual([Math.fround(-1.6448536269514722), Math.fround(1.6448536269514722)]);
    expect(at(1, 1)).toEqual([0, 0]);
    expect(at(2, 2)).toEqual([Math.fround(1.6448536269514722), Math.fround(-1.6448536269514722)]);
  });
});
