// The float32 WebAssembly training path against float64 on the TypeScript path, end to end: the
// gradient of the VAE's loss in every parameter tensor, on real MNIST images.
import { afterAll, describe, expect, it } from "vitest";
import { Random, Tensor, VAE, binarize, getBackend, negativeElbo, sampleEps, setBackend } from "../src/index.js";
import { wasmSimdSupported } from "../src/tensor/wasm/index.js";
import { loadMnist } from "../src/node/mnist.js";

const initial = getBackend();
afterAll(() => setBackend(initial));

function lossGradients(model: VAE, x: Tensor, eps: Tensor): Map<string, Float64Array> {
  negativeElbo(model, x, eps).backward();
  return new Map([...model.namedParameters()].map(([name, p]) => [name, Float64Array.from(p.grad!.data)]));
}

describe("the VAE loss's gradient, float32 on WebAssembly against float64 on TypeScript", () => {
  it.skipIf(!wasmSimdSupported())("agrees in every parameter tensor to a relative L2 error below 1e-6 (seed model, H = 500, 32 images)", () => {
    const B = 32;
    const pixels = binarize(loadMnist("train", { limit: B }).images);
    const eps64 = sampleEps(new Random(3), 1, B, 2, "float64");

    setBackend("wasm");
    const m32 = new VAE({ hidden: 500 }, { seed: 0 });
    const g32 = lossGradients(m32, new Tensor(pixels, [B, 784]), new Tensor(Float32Array.from(eps64.data), eps64.shape));

    setBackend("js");
    const m64 = new VAE({ hidden: 500 }, { seed: 0, dtype: "float64" });
    for (const [name, p] of m64.namedParameters()) p.assign(m32.namedParameters().get(name)!.data); // the same float32 weights, exactly
    const g64 = lossGradients(m64, new Tensor(Float64Array.from(pixels), [B, 784]), eps64);

    const errors: Record<string, number> = {};
    for (const [name, want] of g64) {
      const got = g32.get(name)!;
      let diff = 0;
      let norm = 0;
      for (let i = 0; i < want.length; i++) {
        diff += (got[i] - want[i]) ** 2;
        norm += want[i] ** 2;
      }
      errors[name] = Math.sqrt(diff / norm);
      expect(norm, name).toBeGreaterThan(0);
    }
    if (process.env.SHOW_ERRORS) console.log(errors);
    for (const [name, e] of Object.entries(errors)) expect(e, `${name}: relative L2 error ${e.toExponential(2)}`).toBeLessThan(1e-6);
    expect(Math.max(...Object.values(errors))).toBeGreaterThan(0); // float32 is not float64: the comparison is real
  });
});
