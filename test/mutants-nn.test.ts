// Behaviour of src/nn that the mutation run (npm run mutate) found unguarded: the layers' defaults and
// errors, the optimizers' skipping and refusals, saving and loading parameters, and the safetensors
// byte layout on either byte order. Every expected value is written out by hand or computed here
// independently (plain loops, the spec's byte patterns), never taken from the code under test.
import { describe, expect, it } from "vitest";
import { Adam, Linear, MLP, Random, SGD, Tensor, encodeSafetensors, functionalCall, loadParameters, saveParameters, tensor } from "../src/index.js";
import { decodeSafetensors, oneLine, readLittleEndian, writeLittleEndian } from "../src/nn/safetensors.js";
import { expectClose, safetensorsFile as file, safetensorsF32 as f32 } from "./helpers.js";

/** The draws of U(±1/√in) that PyTorch's default initialization makes, from a fresh generator of this seed. */
function uniformDraws(seed: number, count: number, inFeatures: number): number[] {
  const rng = new Random(seed);
  return Array.from({ length: count }, () => (2 * rng.uniform() - 1) / Math.sqrt(inFeatures));
}

/** act(x·Wᵀ + b) by plain loops, x [B, in] and W [out, in] as row-major arrays. */
function dense(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, batch: number, inF: number, act: (v: number) => number): number[] {
  const out: number[] = [];
  for (let r = 0; r < batch; r++) {
    for (let o = 0; o < b.length; o++) {
      let s = b[o];
      for (let j = 0; j < inF; j++) s += x[r * inF + j] * w[o * inF + j];
      out.push(act(s));
    }
  }
  return out;
}

describe("Linear and MLP: initialization, defaults and errors", () => {
  it("Linear draws W then b from the given generator, in that order, each U(±1/√in)", () => {
    const layer = new Linear(3, 2, { rng: new Random(7), dtype: "float64" });
    const draws = uniformDraws(7, 3 * 2 + 2, 3);
    expectClose(layer.weight.data, draws.slice(0, 6), 1e-15, 0);
    expectClose(layer.bias.data, draws.slice(6), 1e-15, 0);
  });

  it("without a generator, Linear and MLP draw from Random(0)", () => {
    const layer = new Linear(2, 2, { dtype: "float64" });
    expectClose([...layer.weight.data, ...layer.bias.data], uniformDraws(0, 6, 2), 1e-15, 0);
    const mlp = new MLP([2, 1], "relu", { dtype: "float64" });
    expectClose([...mlp.layers[0].weight.data, ...mlp.layers[0].bias.data], uniformDraws(0, 3, 2), 1e-15, 0);
  });

  it("Linear.forward without an activation is x·Wᵀ + b, with gradient Σ_o W[o, j] in x for a summed output", () => {
    const layer = new Linear(3, 2, { rng: new Random(3), dtype: "float64" });
    layer.bias.assign([-5, -6]); // every output negative: an activation would change the values or the gradient
    const x = tensor([[0.5, -1, 2], [1, 0.25, -0.5]], { dtype: "float64", requiresGrad: true });
    const y = layer.forward(x);
    const w = layer.weight.data;
    expectClose(y.data, dense(x.data, w, [-5, -6], 2, 3, (v) => v), 1e-14, 0);
    y.sum().backward();
    expectClose(x.grad!.data, [0, 1, 2, 0, 1, 2].map((j) => w[j] + w[3 + j]), 1e-14, 0);
    expectClose(layer.bias.grad!.data, [2, 2], 1e-15, 0);
  });

  it("Linear.forward refuses an input that is not [batch, in], naming the layer and both shapes", () => {
    const layer = new Linear(3, 2);
    expect(() => layer.forward(tensor([1, 2, 3]))).toThrow("Linear(3→2): input has shape [3], expected [batch,3]");
    expect(() => layer.forward(tensor([[1, 2]]))).toThrow("Linear(3→2): input has shape [1,2], expected [batch,3]");
  });

  it("MLP is tanh between layers by default and nothing after the last", () => {
    const mlp = new MLP([2, 3, 2], undefined, { rng: new Random(4), dtype: "float64" });
    expect(mlp.activation).toBe("tanh");
    const x = [0.3, -0.7, 1.1, 0.4];
    const [l0, l1] = mlp.layers;
    const hidden = dense(x, l0.weight.data, l0.bias.data, 2, 2, Math.tanh);
    const expected = dense(hidden, l1.weight.data, l1.bias.data, 2, 3, (v) => v);
    expectClose(mlp.forward(tensor(x, { shape: [2, 2], dtype: "float64" })).data, expected, 1e-12, 1e-14);
  });

  it("MLP refuses fewer than two sizes and an unknown activation", () => {
    expect(() => new MLP([4])).toThrow("MLP: needs at least an input and an output size, got [4]");
    expect(() => new MLP([4, 2], "gelu" as "tanh")).toThrow('MLP: unknown activation "gelu"; use "tanh" or "relu"');
    expect(new MLP([4, 2]).layers).toHaveLength(1);
  });

  it("MLP.namedParameters without a prefix names layers.i.weight and layers.i.bias", () => {
    expect([...new MLP([2, 3, 1]).namedParameters().keys()]).toEqual(["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]);
  });

  it("MLP.setParameter replaces exactly the named tensor and refuses other names and shapes", () => {
    const mlp = new MLP(Array.from({ length: 12 }, () => 2)); // 11 layers: layers.10 has two digits
    const t = tensor([[1, 2], [3, 4]]);
    mlp.setParameter("layers.10.weight", t);
    expect(mlp.layers[10].weight).toBe(t);
    for (const name of ["xlayers.0.weight", "layers.0.weightx", "layers.0.gamma", "layers.11.bias", "layers..bias"]) {
      expect(() => mlp.setParameter(name, tensor([1, 2])), name).toThrow(`MLP: no parameter named "${name}"`);
    }
    expect(() => mlp.setParameter("layers.3.bias", tensor([1, 2, 3]))).toThrow("MLP: layers.3.bias has shape [2], got [3]");
  });

  it("functionalCall puts the original tensors back after fn, also when fn throws", () => {
    const mlp = new MLP([2, 2]);
    const original = mlp.layers[0].bias;
    const replacement = tensor([10, 20]);
    const seen = functionalCall(mlp, new Map([["layers.0.bias", replacement]]), () => mlp.layers[0].bias);
    expect(seen).toBe(replacement);
    expect(mlp.layers[0].bias).toBe(original);
    expect(() => functionalCall(mlp, new Map([["layers.0.bias", replacement]]), () => {
      throw new Error("inside");
    })).toThrow("inside");
    expect(mlp.layers[0].bias).toBe(original);
  });
});

describe("optimizers: parameters without a gradient, bad gradients, shared memory", () => {
  for (const make of ["SGD", "Adam"] as const) {
    const build = (params: Map<string, Tensor>) => (make === "SGD" ? new SGD(params, 0.5) : new Adam(params, { lr: 0.5 }));

    it(`${make} leaves a parameter the loss did not use as it was, and steps the used one`, () => {
      const used = tensor([1, 2], { requiresGrad: true });
      const unused = tensor([3, 4], { requiresGrad: true });
      const opt = build(new Map([["used", used], ["unused", unused]]));
      used.mul(tensor([2, -2])).sum().backward();
      opt.step();
      expect(Array.from(unused.data)).toEqual([3, 4]);
      // SGD: p − 0.5·g with g = (2, −2); Adam's first step: p − 0.5·sign(g) (up to ε).
      expectClose(used.data, make === "SGD" ? [0, 3] : [0.5, 2.5], 1e-6, 0);
    });

    it(`${make} refuses a gradient whose size is not the parameter's, naming the optimizer and the parameter`, () => {
      const w = tensor([1, 2, 3, 4], { requiresGrad: true });
      const opt = build(new Map([["w", w]]));
      w.grad = tensor([1, 2, 3]);
      expect(() => opt.step()).toThrow(`${make}: gradient of w has 3 values, the parameter 4`);
    });

    it(`${make} names itself when a tensor is listed twice`, () => {
      const w = tensor([1, 2]);
      expect(() => build(new Map([["a", w], ["b", w]]))).toThrow(`${make}: parameters "a" and "b" are the same tensor`);
    });

    it(`${make} accepts views of one array that sit side by side, in either order, and refuses overlapping ones`, () => {
      const store = new Float32Array(8);
      const low = new Tensor(store.subarray(0, 4), [4], true);
      const high = new Tensor(store.subarray(4, 8), [4], true);
      expect(build(new Map([["high", high], ["low", low]])).params.size).toBe(2);
      expect(build(new Map([["low", low], ["high", high]])).params.size).toBe(2);
      const middle = new Tensor(store.subarray(3, 7), [4], true);
      expect(() => build(new Map([["high", high], ["middle", middle]]))).toThrow(`${make}: parameters "high" and "middle" share memory`);
    });

    it(`${make} accepts a computed tensor among its parameters, gives it no gradient buffer, and steps the leaves`, () => {
      const leaf = tensor([1, 2], { requiresGrad: true });
      const computed = leaf.mul(3);
      const opt = build(new Map([["leaf", leaf], ["computed", computed]]));
      leaf.sum().backward();
      opt.step();
      expect(Array.from(computed.data)).toEqual([3, 6]);
      expectClose(leaf.data, make === "SGD" ? [0.5, 1.5] : [0.5, 1.5], 1e-6, 0);
    });
  }

  it("SGD without momentum keeps no memory: an infinite gradient once does not poison the next steps", () => {
    const w = tensor([1, 2], { dtype: "float64" });
    const sgd = new SGD(new Map([["w", w]]), 0.5);
    w.grad = tensor([Infinity, 1], { dtype: "float64" });
    sgd.step();
    expect(Array.from(w.data)).toEqual([-Infinity, 1.5]);
    w.data[0] = 1;
    w.grad = tensor([2, 4], { dtype: "float64" });
    sgd.step();
    expect(Array.from(w.data)).toEqual([0, -0.5]); // p − 0.5·g, not p − 0.5·(0·∞ + g)
  });

  it("Adam refuses a parameter replaced by one of its size in another dtype, naming both dtypes", () => {
    const params = new Map([["w", tensor([1, 2, 3])]]);
    const opt = new Adam(params, { lr: 0.1 });
    const w64 = tensor([1, 2, 3], { dtype: "float64" });
    w64.grad = tensor([1, 1, 1], { dtype: "float64" });
    params.set("w", w64);
    expect(() => opt.step()).toThrow('Adam: parameter "w" is now 3 float64 values, its moments 3 float32; replace a parameter only by one of its size and dtype, or build a new Adam');
    expect(Array.from(w64.data)).toEqual([1, 2, 3]);
    const back64 = new Map([["w", tensor([1, 2], { dtype: "float64" })]]);
    const opt64 = new Adam(back64);
    const w32 = tensor([1, 2]);
    w32.grad = tensor([1, 1]);
    back64.set("w", w32);
    expect(() => opt64.step()).toThrow('Adam: parameter "w" is now 2 float32 values, its moments 2 float64;');
  });

  it("Adam's arithmetic is float32 unless asked otherwise", () => {
    expect(new Adam(new Map([["w", tensor([1])]])).precision).toBe("f32");
  });
});

describe("saveParameters and loadParameters", () => {
  const params = (values: Record<string, number[]>, dtype: "float32" | "float64" = "float32") =>
    new Map(Object.entries(values).map(([name, v]) => [name, tensor(v, { dtype })]));

  it("stores float64 parameters as F64 and float32 as F32", () => {
    const bytes = saveParameters(new Map([["a", tensor([1.5], { dtype: "float64" })], ["b", tensor([2.5], { dtype: "float32" })]]));
    const { tensors } = decodeSafetensors(bytes);
    expect(tensors.a.dtype).toBe("F64");
    expect(tensors.a.data).toBeInstanceOf(Float64Array);
    expect(tensors.b.dtype).toBe("F32");
    expect(Array.from(tensors.b.data)).toEqual([2.5]);
  });

  it("errors start with 'checkpoint' when no source is given", () => {
    const bytes = saveParameters(params({ a: [1] }));
    expect(() => loadParameters(bytes, params({ a: [1], b: [2], c: [3] }))).toThrow("checkpoint: missing tensors b, c; is this a checkpoint of the same model?");
  });

  it("extra tensors are refused by default, named on one line, and accepted with allowExtra", () => {
    const bytes = saveParameters(params({ a: [1], "x\ny": [2], z: [3] }));
    expect(() => loadParameters(bytes, params({ a: [0] }), "f.safetensors")).toThrow(
      "f.safetensors: unexpected tensors x\\u000ay, z; is this a checkpoint of the same model?",
    );
    const target = params({ a: [0] });
    loadParameters(bytes, target, "f.safetensors", true);
    expect(Array.from(target.get("a")!.data)).toEqual([1]);
  });

  it("non-finite values are refused with their count and the first one's index, or loaded with allowNonFinite", () => {
    const bad = saveParameters(params({ w: [1, NaN, 3, -Infinity] }));
    expect(() => loadParameters(bad, params({ w: [0, 0, 0, 0] }), "run.safetensors")).toThrow(
      'run.safetensors: tensor "w" holds 2 non-finite values of 4 (the first, NaN, at index 1), as a diverged run leaves; refused (to inspect it anyway, load with allowNonFinite, the command line\'s --allow-non-finite)',
    );
    const first = saveParameters(params({ w: [Infinity, 2] }));
    expect(() => loadParameters(first, params({ w: [0, 0] }), "run.safetensors")).toThrow('tensor "w" holds 1 non-finite value of 2 (the first, Infinity, at index 0)');
    const target = params({ w: [0, 0, 0, 0] });
    loadParameters(bad, target, "run.safetensors", false, { allowNonFinite: true });
    expect(Array.from(target.get("w")!.data)).toEqual([1, NaN, 3, -Infinity]);
    const ok = params({ w: [0, 0] });
    loadParameters(saveParameters(params({ w: [5, 6] })), ok, "run.safetensors");
    expect(Array.from(ok.get("w")!.data)).toEqual([5, 6]);
  });
});

const headerOf = (bytes: Uint8Array) => {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return new TextDecoder().decode(bytes.subarray(8, 8 + n)).trimEnd();
};

describe("safetensors: the little-endian layout on either byte order", () => {
  // IEEE 754 little-endian: 1.0f = 00 00 80 3f, -2.0f = 00 00 00 c0; 1.0 = 00 .. f0 3f, 0.5 = 00 .. e0 3f.
  const oneMinusTwo32 = [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0];
  const oneHalf64 = [0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f];

  it("writeLittleEndian writes the spec's bytes for F32 and F64 at the given offset", () => {
    const out = new Uint8Array(3 + 16);
    writeLittleEndian(new Float32Array([1, -2]), new DataView(out.buffer), 3);
    expect(Array.from(out.subarray(3, 11))).toEqual(oneMinusTwo32);
    expect(Array.from(out.subarray(0, 3))).toEqual([0, 0, 0]);
    const out64 = new Uint8Array(2 + 16);
    writeLittleEndian(new Float64Array([1, 0.5]), new DataView(out64.buffer), 2);
    expect(Array.from(out64.subarray(2))).toEqual(oneHalf64);
  });

  it("readLittleEndian reads the spec's bytes back, F32 and F64", () => {
    const r32 = readLittleEndian(Uint8Array.from(oneMinusTwo32), "F32");
    expect(r32).toBeInstanceOf(Float32Array);
    expect(Array.from(r32)).toEqual([1, -2]);
    const r64 = readLittleEndian(Uint8Array.from(oneHalf64), "F64");
    expect(r64).toBeInstanceOf(Float64Array);
    expect(Array.from(r64)).toEqual([1, 0.5]);
  });

  it("encodeSafetensors writes no __metadata__ entry for empty metadata", () => {
    const x = { x: { dtype: "F32" as const, shape: [2], data: new Float32Array([1, -2]) } };
    expect(headerOf(encodeSafetensors(x, {}))).toBe('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}');
    expect(headerOf(encodeSafetensors(x, { a: "b" }))).toBe('{"__metadata__":{"a":"b"},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}');
  });

  it("encodeSafetensors refuses metadata that is not a string, a dtype it cannot store, and data that is not a typed array", () => {
    const x = { dtype: "F32" as const, shape: [1], data: new Float32Array(1) };
    expect(() => encodeSafetensors({ x }, { epoch: 3 as unknown as string })).toThrow('encodeSafetensors: metadata "epoch" must be a string, got number');
    expect(() => encodeSafetensors({ x: { ...x, dtype: "BF16" as "F32" } })).toThrow('encodeSafetensors: tensor "x": unsupported dtype BF16; F32 and F64 are supported');
    expect(() => encodeSafetensors({ x: { ...x, data: undefined as unknown as Float32Array } })).toThrow('encodeSafetensors: tensor "x": dtype F32 needs a Float32Array, got undefined');
    expect(() => encodeSafetensors({ x: { ...x, data: Object.create(null) } })).toThrow('encodeSafetensors: tensor "x": dtype F32 needs a Float32Array, got undefined');
  });
});

describe("decodeSafetensors: edge cases of the layout", () => {
  const rejects = (bytes: Uint8Array, message: string | RegExp) => expect(() => decodeSafetensors(bytes, "m.safetensors")).toThrow(message);

  it("an 8-byte file has a header of length 0, which is not JSON", () => rejects(new Uint8Array(8), /^m\.safetensors: header is not valid UTF-8 JSON/));

  it("a header length a few bytes past the end is refused", () => rejects(file("{}", [], 5), "m.safetensors: header length 5 is larger than the 2 bytes after it"));

  it("the size error gives the span of the offsets", () =>
    rejects(file({ w: f32([3], 4, 8) }, new Uint8Array(8)), 'm.safetensors: tensor "w": shape [3] of F32 needs 12 bytes, data_offsets [4, 8] span 4'));

  it("tensors listed in any order tile the data, an empty tensor before the one that starts where it does", () => {
    // 1.0f, 2.0f, 3.0f: y = [1], x = [2, 3], e = [] at 4, listed x, e, y.
    const data = [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40];
    const out = decodeSafetensors(file({ x: f32([2], 4, 12), e: f32([0], 4, 4), y: f32([1], 0, 4) }, data));
    expect(Array.from(out.tensors.x.data)).toEqual([2, 3]);
    expect(Array.from(out.tensors.y.data)).toEqual([1]);
    expect(out.tensors.e.data.length).toBe(0);
    const out2 = decodeSafetensors(file({ e: f32([0], 4, 4), y: f32([1], 0, 4), x: f32([2], 4, 12) }, data));
    expect(Array.from(out2.tensors.x.data)).toEqual([2, 3]);
  });

  it("a header that is null is named as null", () => rejects(file("null"), "m.safetensors: header must be a JSON object, got null"));

  it("oneLine writes control characters as \\uXXXX and keeps the rest", () => {
    expect(oneLine("a\nb\u0000c\u007f\u2028d é")).toBe("a\\u000ab\\u0000c\\u007f\\u2028d é");
  });

  it("a PyTorch zip archive or pickle is named as such, with the conversion to run", () => {
    const withHead = (head: number[]) => Uint8Array.from([...head, ...new Array(12 - head.length).fill(0xff)]);
    const zip = /^m\.safetensors: not a safetensors file: it is a zip archive, as PyTorch's torch\.save writes \(\.pt, \.pth\); convert it in Python with `safetensors\.torch\.save_file\(model\.state_dict\(\), "model\.safetensors"\)`$/;
    rejects(withHead([0x50, 0x4b, 0x03, 0x04]), zip);
    for (const protocol of [2, 5]) rejects(withHead([0x80, protocol]), /it is a Python pickle, as PyTorch's torch\.save writes/);
    // One byte off the signature: the plain header-length error.
    for (const head of [[0x51, 0x4b, 0x03, 0x04], [0x50, 0x4c, 0x03, 0x04], [0x50, 0x4b, 0x02, 0x04], [0x50, 0x4b, 0x03, 0x05], [0x81, 2], [0x80, 1], [0x80, 6]]) {
      rejects(withHead(head), /^m\.safetensors: header length \d+ is larger than the 4 bytes after it$/);
    }
  });
});
