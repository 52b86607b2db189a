import { describe, expect, it } from "vitest";
import * as T from "../src/index.js";
import { gradcheck, grad, noGrad, tensor, valueAndGrad } from "../src/index.js";
import { expectClose, randomTensor } from "./helpers.js";

describe("the autograd engine", () => {
  it("a diamond graph (a tensor used twice) accumulates its gradient", () => {
    // f(x) = Σ (x·x + sin-free composite) = Σ exp(x)·x; df/dx = exp(x)(1 + x)
    const x = tensor([0.5, -1, 2], { dtype: "float64", requiresGrad: true });
    const y = T.mul(T.exp(x), x).sum();
    y.backward();
    expectClose(x.grad!.data, [0.5, -1, 2].map((v) => Math.exp(v) * (1 + v)), 1e-14);
    const z = tensor([3], { dtype: "float64", requiresGrad: true });
    const a = z.mul(2);
    a.add(a).add(z).sum().backward(); // 2·(2z) + z
    expect(z.grad!.item()).toBe(5);
  });

  it("gradients accumulate across backward() calls until reset", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    x.square().sum().backward();
    x.square().sum().backward();
    expect(Array.from(x.grad!.data)).toEqual([4, 8]);
  });

  it("backward() on a non-scalar without a gradient says what to do", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    expect(() => x.mul(2).backward()).toThrow(/backward: called on a tensor of shape \[2\] without an upstream gradient; reduce it to a scalar/);
    x.mul(2).backward(tensor([1, 10]));
    expect(Array.from(x.grad!.data)).toEqual([2, 20]);
  });

  it("backward() on a tensor that needs no grad explains why", () => {
    expect(() => tensor([1]).sum().backward()).toThrow(/does not require grad/);
  });

  it("nothing is recorded inside noGrad", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = noGrad(() => x.mul(3).exp().sum());
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
    expect(T.isGradEnabled()).toBe(true);
  });

  it("detach() cuts the graph", () => {
    const x = tensor([2], { requiresGrad: true });
    const y = x.mul(x.detach()).sum();
    y.backward();
    expect(x.grad!.item()).toBe(2);
  });

  it("the graph is freed after backward(); a second backward() says so", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const h = x.exp();
    const y = h.sum();
    y.backward();
    expect(h.node!.inputs.length).toBe(0);
    expect(() => y.backward()).toThrow(/freed by an earlier backward\(\)/);
  });

  it("deep graphs do not overflow the call stack", () => {
    const x = tensor([1], { dtype: "float64", requiresGrad: true });
    let y = x;
    for (let i = 0; i < 20000; i++) y = y.mul(1.0001);
    y.sum().backward();
    expect(x.grad!.item()).toBeCloseTo(Math.pow(1.0001, 20000), 8);
  });
});

describe("grad and valueAndGrad (JAX style)", () => {
  it("grad of Σx² is 2x, with respect to chosen arguments", () => {
    const f = (x: T.Tensor, y: T.Tensor) => x.square().mul(y).sum();
    const x = tensor([1, 2, 3], { dtype: "float64" });
    const y = tensor([2], { dtype: "float64" });
    expect(Array.from(grad(f)(x, y).data)).toEqual([4, 8, 12]);
    const [gx, gy] = grad(f, { argnums: [0, 1] })(x, y);
    expect(Array.from(gx.data)).toEqual([4, 8, 12]);
    expect(gy.item()).toBe(14);
    const [value, g] = valueAndGrad(f)(x, y);
    expect(value.item()).toBe(28);
    expect(g.shape).toEqual([3]);
    expect(x.grad).toBeNull();
  });

  it("a function that does not depend on its argument has a zero gradient", () => {
    expect(Array.from(grad(() => tensor([5]).sum())(tensor([1, 2])).data)).toEqual([0, 0]);
  });
});

describe("gradcheck", () => {
  it("passes a correct gradient and reports the worst element", () => {
    const report = gradcheck((x) => x.tanh().sum(), [randomTensor([3, 2], 1)]);
    expect(report.ok).toBe(true);
    expect(report.worst!.index.length).toBe(2);
  });

  it("catches a wrong gradient and names the input, index, both values and the error", () => {
    const wrong = (x: T.Tensor) => {
      const out = T.mapUnary(x, (v) => v * v);
      return T.record(out, "wrongSquare", [x], (g) => [T.mul(g, x)]).sum(); // forgets the factor 2
    };
    const x = tensor([1, -2, 3], { dtype: "float64" });
    const report = gradcheck(wrong, [x], { raise: false });
    expect(report.ok).toBe(false);
    expect(report.worst!.input).toBe(0);
    expect(report.worst!.index).toEqual([2]);
    expect(report.worst!.analytic).toBeCloseTo(3, 12);
    expect(report.worst!.numeric).toBeCloseTo(6, 6);
    expect(() => gradcheck(wrong, [x])).toThrow(/gradcheck failed: worst input 0 \(shape \[3\]\) at index \[2\]: analytic 3, numeric 6\.\d+, relative error 5\.00e-1/);
    expect(gradcheck(wrong, [x], { mode: "direction", raise: false }).ok).toBe(false);
  });

  it("direction mode costs two evaluations whatever the input size", () => {
    let calls = 0;
    const f = (x: T.Tensor) => {
      calls++;
      return x.square().sum();
    };
    gradcheck(f, [randomTensor([100, 50], 3)], { mode: "direction" });
    expect(calls).toBe(4); // one with the graph, one for the noise floor, two differences
  });
});

describe("stability at extremes (float32)", () => {
  const x = tensor([-1e4, 1e4]);
  it("softplus(±1e4) = [0, 1e4] and its gradient σ = [0, 1]", () => {
    const v = x.detach();
    v.requiresGrad = true;
    const y = T.softplus(v);
    expect(Array.from(y.data)).toEqual([0, 1e4]);
    y.sum().backward();
    expect(Array.from(v.grad!.data)).toEqual([0, 1]);
  });
  it("sigmoid(±1e4) = [0, 1] with gradient 0", () => {
    const v = tensor([-1e4, 1e4], { requiresGrad: true });
    const y = T.sigmoid(v);
    expect(Array.from(y.data)).toEqual([0, 1]);
    y.sum().backward();
    expect(Array.from(v.grad!.data)).toEqual([0, 0]);
  });
  it("logSigmoid(-1e4) = -1e4 with gradient 1; logSigmoid(1e4) = 0", () => {
    const v = tensor([-1e4, 1e4], { requiresGrad: true });
    const y = T.logSigmoid(v);
    expect(Array.from(y.data)).toEqual([-1e4, -0]);
    y.sum().backward();
    expect(Array.from(v.grad!.data)).toEqual([1, 0]);
  });
  it("moderate values match log(1+eˣ) to float32 precision", () => {
    const xs = [-30, -5, -0.1, 0, 0.1, 5, 30];
    const y = T.softplus(tensor(xs));
    xs.forEach((v, i) => expect(Math.abs(y.data[i] - Math.log1p(Math.exp(v)))).toBeLessThanOrEqual(6e-8 * Math.max(1, Math.abs(v))));
  });
});

describe("tensors", () => {
  it("construct from nested arrays and typed arrays, with dtype", () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe("float32");
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(tensor(new Float64Array([1, 2]), { shape: [2, 1] }).dtype).toBe("float64");
    expect(tensor([1, 2], { dtype: "float64" }).data).toBeInstanceOf(Float64Array);
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged/);
    expect(() => tensor(new Float32Array(3), { shape: [2, 2] })).toThrow(/3 values do not fill shape \[2,2\]/);
  });

  it("zeros, ones, full, arange", () => {
    expect(Array.from(T.zeros([2]).data)).toEqual([0, 0]);
    expect(Array.from(T.ones([2]).data)).toEqual([1, 1]);
    expect(Array.from(T.full([2], 7).data)).toEqual([7, 7]);
    expect(Array.from(T.arange(5).data)).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(T.arange(1, 2, 0.25).data)).toEqual([1, 1.25, 1.5, 1.75]);
  });

  it("rand/randn are reproducible from a seed and have the right moments", () => {
    expect(Array.from(T.randn([5], { seed: 3 }).data)).toEqual(Array.from(T.randn([5], { seed: 3 }).data));
    expect(Array.from(T.randn([5], { seed: 3 }).data)).not.toEqual(Array.from(T.randn([5], { seed: 4 }).data));
    const z = T.randn([100000], { seed: 1, dtype: "float64" });
    const mean = T.mean(z).item();
    const variance = T.mean(z.square()).item() - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(4 / Math.sqrt(100000));
    expect(Math.abs(variance - 1)).toBeLessThan(4 * Math.sqrt(2 / 100000));
    const u = T.rand([100000], { seed: 2, dtype: "float64" });
    expect(Math.abs(T.mean(u).item() - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 12 / 100000));
    expect(T.max(u).item()).toBeLessThan(1);
  });

  it("the generator is xoshiro128** (first outputs for the reference seed state)", () => {
    // Reference: xoshiro128** from state s = [1, 2, 3, 4] gives 11520, 0, 5927040, 70819200 (the C reference code).
    const r = new T.Random(0);
    r.setState({ s: [1, 2, 3, 4], spare: null });
    expect([r.nextUint32(), r.nextUint32(), r.nextUint32(), r.nextUint32()]).toEqual([11520, 0, 5927040, 70819200]);
  });

  it("Random.setState refuses a state that is not 4 32-bit words (not all zero) and a null-or-finite spare, changing nothing", () => {
    const r = new T.Random(5);
    const twin = new T.Random(5);
    for (const [state, message] of [
      [{ s: [1, 2, 3], spare: null }, /^Random\.setState: state\.s must be 4 32-bit integers, not all zero, got \[1,2,3\]$/],
      [{ s: [1, 2, 3, 4, 5], spare: null }, /state\.s must be 4 32-bit integers/],
      [{ s: [1, 2, 3, 0.5], spare: null }, /state\.s must be 4 32-bit integers/],
      [{ s: [1, 2, 3, 2 ** 32], spare: null }, /state\.s must be 4 32-bit integers/],
      [{ s: [0, 0, 0, 0], spare: null }, /not all zero, got \[0,0,0,0\]/],
      [{ s: [1, 2, 3, 4], spare: Number.NaN }, /^Random\.setState: state\.spare must be null or a finite number, got null$/], // (NaN's JSON)
      [{ s: [1, 2, 3, 4] }, /state\.spare must be null or a finite number/],
      [null, /^Random\.setState: state must be an object \{ s, spare \}, got null$/],
      [[1, 2, 3, 4], /state must be an object/],
    ] as const) {
      expect(() => r.setState(state as never), JSON.stringify(state)).toThrow(message);
    }
    expect([r.nextUint32(), r.normal()]).toEqual([twin.nextUint32(), twin.normal()]); // unchanged by the refusals
    // Unsigned and signed words are the same state.
    const [a, b] = [new T.Random(0), new T.Random(0)];
    a.setState({ s: [2 ** 32 - 1, 2, 3, 4], spare: 0.25 });
    b.setState({ s: [-1, 2, 3, 4], spare: 0.25 });
    expect([a.normal(), a.nextUint32(), a.nextUint32()]).toEqual([0.25, b.nextUint32(), b.nextUint32()]);
  });

  it("prints readably", () => {
    expect(String(tensor([[1, 2], [3, 4.5]]))).toBe("Tensor(float32, [2,2]) [1, 2, 3, 4.5]");
    expect(String(T.zeros([3, 4], { requiresGrad: true }))).toBe("Tensor(float32, [3,4], requiresGrad) [0, 0, 0, 0, 0, 0, 0, 0, … 4 more]");
  });
});
