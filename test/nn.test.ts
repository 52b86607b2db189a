import { describe, expect, it } from "vitest";
import { Adam, Linear, MLP, Random, SGD, VAE, allocateParameter, encodeSafetensors, loadParameters, saveParameters, setParameterAllocator, tensor } from "../src/index.js";
import { decodeSafetensors } from "../src/nn/safetensors.js";
import { expectClose, expectGradcheck, randomTensor } from "./helpers.js";

describe("Linear and MLP", () => {
  it("Linear computes x·Wᵀ + b with W [out, in], initialized U(±1/√in) from the seeded generator", () => {
    const layer = new Linear(9, 4, { rng: new Random(1), dtype: "float64" });
    expect(layer.weight.shape).toEqual([4, 9]);
    expect(layer.bias.shape).toEqual([4]);
    for (const v of [...layer.weight.data, ...layer.bias.data]) expect(Math.abs(v)).toBeLessThanOrEqual(1 / 3);
    expect(Array.from(new Linear(9, 4, { rng: new Random(1) }).weight.data)).toEqual(Array.from(new Linear(9, 4, { rng: new Random(1) }).weight.data));
    const x = randomTensor([3, 9], 2);
    const y = layer.forward(x);
    const ref: number[] = [];
    for (let i = 0; i < 3; i++) {
      for (let o = 0; o < 4; o++) {
        let s = layer.bias.data[o];
        for (let j = 0; j < 9; j++) s += x.data[i * 9 + j] * layer.weight.data[o * 9 + j];
        ref.push(s);
      }
    }
    expectClose(y.data, ref, 1e-14, 1e-14);
    expect(() => layer.forward(randomTensor([3, 8], 1))).toThrow("Linear(9→4): input has shape [3,8], expected [batch,9]");
  });

  it("Linear takes its parameters from allocateParameter: float32 ones from the allocator set, else plain arrays", () => {
    const made: Float32Array[] = [];
    setParameterAllocator((size) => {
      const a = new Float32Array(size);
      made.push(a);
      return a;
    });
    try {
      const layer = new Linear(3, 2, { rng: new Random(2) });
      expect(made.map((a) => a.length)).toEqual([6, 2]);
      expect(layer.weight.data).toBe(made[0]);
      expect(layer.bias.data).toBe(made[1]);
      expect(Array.from(layer.weight.data)).toEqual(Array.from(new Linear(3, 2, { rng: new Random(2) }).weight.data)); // the same values
      expect(new Linear(3, 2, { dtype: "float64" }).weight.data).toBeInstanceOf(Float64Array);
      expect(made).toHaveLength(4); // the float32 layer above; not the float64 one
    } finally {
      setParameterAllocator(null);
    }
    expect(allocateParameter("float32", 5)).toEqual(new Float32Array(5));
    expect(allocateParameter("float64", 2)).toEqual(new Float64Array(2));
    expect(() => allocateParameter("int8" as never, 3)).toThrow(/allocate: unknown dtype "int8"/);
    expect(made).toHaveLength(4);
  });

  it("the spread of the initialization matches U(±1/√in): variance 1/(3·in)", () => {
    const w = new Linear(400, 300, { rng: new Random(5), dtype: "float64" }).weight.data;
    const variance = Array.from(w).reduce((s, v) => s + v * v, 0) / w.length;
    expect(Math.abs(variance - 1 / 1200) / (1 / 1200)).toBeLessThan(0.02);
  });

  it("MLP gradients check in float64, and parameters are named as PyTorch's state_dict", () => {
    const mlp = new MLP([5, 4, 3], "tanh", { dtype: "float64" });
    expect([...mlp.namedParameters("encoder.").keys()]).toEqual(["encoder.layers.0.weight", "encoder.layers.0.bias", "encoder.layers.1.weight", "encoder.layers.1.bias"]);
    expectGradcheck((x) => mlp.forward(x).square().sum(), [randomTensor([2, 5], 3)]);
    const relu = new MLP([5, 4, 3], "relu", { dtype: "float64" });
    expectGradcheck((x) => relu.forward(x).sum(), [randomTensor([2, 5], 4)]);
  });

  it("the VAE's parameter names are those a PyTorch user copies into nn.Linear layers", () => {
    const model = new VAE({ hidden: 7 });
    const shapes = Object.fromEntries([...model.namedParameters()].map(([n, t]) => [n, t.shape]));
    expect(shapes).toEqual({
      "encoder.layers.0.weight": [7, 784], "encoder.layers.0.bias": [7], "encoder.layers.1.weight": [2, 7], "encoder.layers.1.bias": [2],
      "decoder.layers.0.weight": [7, 2], "decoder.layers.0.bias": [7], "decoder.layers.1.weight": [784, 7], "decoder.layers.1.bias": [784],
    });
  });
});

describe("optimizers", () => {
  it("SGD: p ← p − lr·g, and with momentum v ← μv + g", () => {
    const p = tensor([1, 2], { requiresGrad: true, dtype: "float64" });
    const opt = new SGD(new Map([["p", p]]), 0.1, 0.5);
    p.grad = tensor([1, -1], { dtype: "float64" });
    opt.step();
    expectClose(p.data, [0.9, 2.1]);
    opt.step(); // v = 0.5·g + g = 1.5 g
    expectClose(p.data, [0.75, 2.25]);
    opt.zeroGrad();
    expect(p.grad).toBeNull();
  });

  it("Adam: the first step moves each parameter by lr·g/(|g| + ε) (bias-corrected m̂ = g, v̂ = g²)", () => {
    const p = tensor([1, 2, 3], { requiresGrad: true, dtype: "float64" });
    const opt = new Adam(new Map([["p", p]]), { lr: 0.01 });
    const g = [0.5, -2, 1e-3];
    p.grad = tensor(g, { dtype: "float64" });
    opt.step();
    expectClose(p.data, [1, 2, 3].map((v, i) => v - (0.01 * g[i]) / (Math.abs(g[i]) + 1e-8)), 1e-12);
  });

  it("Adam minimizes a quadratic", () => {
    const target = randomTensor([10], 1);
    const p = tensor(new Float64Array(10), { requiresGrad: true });
    const opt = new Adam(new Map([["p", p]]), { lr: 0.05 });
    for (let i = 0; i < 500; i++) {
      opt.zeroGrad();
      p.sub(target).square().sum().backward();
      opt.step();
    }
    expectClose(p.data, target.data, 0, 1e-3);
  });
});

describe("saving and loading parameters (safetensors)", () => {
  it("a model round-trips bit-exactly, with its architecture in __metadata__", () => {
    const a = new VAE({ hidden: 11 }, { seed: 1 });
    const bytes = saveParameters(a.namedParameters(), { config: JSON.stringify(a.config) });
    const b = new VAE({ hidden: 11 }, { seed: 2 });
    const { metadata, nonFinite } = loadParameters(bytes, b.namedParameters(), "model.safetensors");
    expect(JSON.parse(metadata.config)).toEqual(a.config);
    expect(nonFinite).toEqual([]);
    for (const [name, t] of a.namedParameters()) expect(b.namedParameters().get(name)!.data).toEqual(t.data);
    const header = decodeSafetensors(bytes).tensors["decoder.layers.1.weight"];
    expect(header.dtype).toBe("F32");
    expect(header.shape).toEqual([784, 11]);
  });

  it("a checkpoint of another architecture is rejected with the tensor, both shapes and a hint", () => {
    const bytes = saveParameters(new VAE({ hidden: 11 }).namedParameters());
    expect(() => loadParameters(bytes, new VAE({ hidden: 12 }).namedParameters(), "run/model.safetensors")).toThrow(
      'run/model.safetensors: tensor "encoder.layers.0.weight" has shape [11,784], the model expects [12,784] (different --hidden?)',
    );
    const partial = encodeSafetensors({ "encoder.layers.0.weight": { dtype: "F32", shape: [1], data: new Float32Array(1) } });
    expect(() => loadParameters(partial, new VAE({ hidden: 3 }).namedParameters(), "x.safetensors")).toThrow(/x.safetensors: missing tensors encoder.layers.0.bias/);
  });

  it("a truncated file is rejected naming the file", () => {
    const bytes = saveParameters(new VAE({ hidden: 3 }).namedParameters());
    expect(() => loadParameters(bytes.subarray(0, bytes.length - 10), new VAE({ hidden: 3 }).namedParameters(), "cut.safetensors")).toThrow(/^cut.safetensors: /);
  });
});
