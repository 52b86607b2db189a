import { describe, expect, it } from "vitest";
import { Adam, Linear, Random, SGD, Tensor, VAE, getBackend, grad, linear, negativeElbo, sampleEps, setBackend, tensor } from "../src/index.js";
import { gradBuffer, setGradBuffer } from "../src/autograd/engine.js";
import { wasmElementwiseAvailable } from "../src/tensor/wasm/elementwise.js";
import { randomTensor } from "./helpers.js";

const simd = getBackend() === "wasm" && wasmElementwiseAvailable();

/** The spacing of float32 numbers at |x| (subnormal spacing below the smallest normal). */
function ulp32(x: number): number {
  const a = Math.abs(Math.fround(x));
  if (!(a >= 2 ** -126)) return 2 ** -149;
  if (a === Infinity) return Infinity;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

/** Largest |a − b| in ulps of the larger of the two (equal infinities and NaNs count as 0). */
function maxUlps(a: ArrayLike<number>, b: ArrayLike<number>): { ulps: number; at: number } {
  let worst = { ulps: 0, at: -1 };
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i]))) continue;
    const u = Math.abs(a[i] - b[i]) / ulp32(Math.max(Math.abs(a[i]), Math.abs(b[i])));
    if (!(u <= worst.ulps)) worst = { ulps: u, at: i };
  }
  return worst;
}

/** Gradients with zeros, tiny, ordinary and large magnitudes (up to 1e18: g² stays finite in float32 after (1−β2)·g). */
function nastyGradient(n: number, rng: Random): Float32Array {
  const g = new Float32Array(n);
  const scales = [0, 1e-30, 1e-8, 1e-3, 1, 1e3, 1e9, 1e18];
  for (let i = 0; i < n; i++) g[i] = rng.uniform() < 0.1 ? 0 : rng.normal() * scales[Math.floor(rng.uniform() * scales.length)];
  return g;
}

function twinParams(seed: number, sizes: number[]) {
  const make = () => new Map(sizes.map((n, i) => [`p${i}`, randomTensor([n], seed + i, -1, 1, "float32")] as const));
  const a = make();
  const b = make();
  for (const m of [a, b]) for (const p of m.values()) p.requiresGrad = true;
  return [a, b];
}

function stepBoth(opts: [Adam, Adam], steps: number, seed: number): void {
  const rng = new Random(seed);
  for (let s = 0; s < steps; s++) {
    const grads = [...opts[0].params.values()].map((p) => nastyGradient(p.size, rng));
    for (const opt of opts) {
      let i = 0;
      for (const p of opt.params.values()) p.grad = new Tensor(Float32Array.from(grads[i++]), p.shape);
      opt.step();
    }
  }
}

describe("Adam's WebAssembly SIMD update", () => {
  const sizes = [1, 3, 4, 7, 1000, 4099];

  it.skipIf(!simd)("in float32 arithmetic, each step is within ~1 ulp of the TypeScript loop's (parameters, m and v), over 10 steps", () => {
    // Each step starts both from the TypeScript optimizer's state, so that differences of rounding do
    // not compound (they do over a run, as between any two float32 implementations: v's relative error
    // carries over with weight β2 ≈ 1, and m can cancel to a small number). Errors are measured in
    // ulps of the magnitudes the arithmetic works with:
    // - m = β1·m + (1−β1)·g: ulp(m) + ulp(β1·m₀) + ulp((1−β1)·g) (the terms can cancel);
    // - v = β2·v + (1−β2)·g²: ulp(v), up to 3 (float32 rounds 1−β2 = 0.001 by 0.8 ulp, and g·g once more);
    // - p = p − u: ulp(p) + 8κ·ulp(u), with u the update and κ ≥ 1 the condition number of m's sum
    //   (u is m times five roundings' worth of float32 arithmetic).
    const [pa, pb] = twinParams(1, sizes);
    const ts = new Adam(pa, { lr: 1e-2, kernel: "js" });
    const wasm = new Adam(pb, { lr: 1e-2 });
    const b1 = ts.beta1;
    const worst = { p: 0, m: 0, v: 0 };
    let identical = 0;
    let total = 0;
    for (let s = 0; s < 10; s++) {
      const before = [...pa.keys()].map((name) => ({ p: Float32Array.from(pa.get(name)!.data), m: Float32Array.from(ts.m.get(name)!), v: Float32Array.from(ts.v.get(name)!) }));
      [...pa.keys()].forEach((name, k) => {
        pb.get(name)!.data.set(before[k].p);
        wasm.m.get(name)!.set(before[k].m);
        wasm.v.get(name)!.set(before[k].v);
      });
      stepBoth([ts, wasm], 1, 100 + s);
      [...pa.keys()].forEach((name, k) => {
        const g = pa.get(name)!.grad!.data;
        const { p: p0, m: m0 } = before[k];
        const [p1, q1] = [pa.get(name)!.data, pb.get(name)!.data];
        const [m1, n1, v1, w1] = [ts.m.get(name)!, wasm.m.get(name)!, ts.v.get(name)!, wasm.v.get(name)!];
        for (let i = 0; i < g.length; i++) {
          const terms = Math.abs(b1 * m0[i]) + Math.abs((1 - b1) * g[i]);
          const kappa = m1[i] === 0 ? 1 : Math.max(1, terms / Math.abs(m1[i]));
          worst.m = Math.max(worst.m, Math.abs(m1[i] - n1[i]) / (ulp32(m1[i]) + ulp32(b1 * m0[i]) + ulp32((1 - b1) * g[i])));
          worst.v = Math.max(worst.v, Math.abs(v1[i] - w1[i]) / ulp32(v1[i]));
          worst.p = Math.max(worst.p, Math.abs(p1[i] - q1[i]) / (ulp32(p1[i]) + 8 * kappa * ulp32(p0[i] - p1[i])));
          identical += p1[i] === q1[i] ? 1 : 0;
          total++;
        }
      });
    }
    expect(worst.p).toBeLessThanOrEqual(1);
    expect(worst.m).toBeLessThanOrEqual(1);
    expect(worst.v).toBeLessThanOrEqual(3);
    expect(identical / total).toBeGreaterThan(0.9); // most parameters come out bit for bit the same
  });

  it.skipIf(!simd)('with precision "f64" it is bit-identical to the TypeScript loop', () => {
    const [pa, pb] = twinParams(3, sizes);
    const ts = new Adam(pa, { lr: 3e-3, kernel: "js" });
    const wasm = new Adam(pb, { lr: 3e-3, precision: "f64" });
    stepBoth([ts, wasm], 6, 4);
    for (const name of pa.keys()) {
      expect(pb.get(name)!.data).toEqual(pa.get(name)!.data);
      expect(wasm.m.get(name)).toEqual(ts.m.get(name));
      expect(wasm.v.get(name)).toEqual(ts.v.get(name));
    }
  });

  it("updates parameters where they are: arrays and views taken before a step see the new values", () => {
    const [pa, pb] = twinParams(5, [10, 12]);
    const before = pb.get("p0")!.data;
    const seen = pb.get("p1")!.reshape([-1]);
    const wasm = new Adam(pb, { lr: 1e-2, precision: "f64" });
    const ts = new Adam(pa, { lr: 1e-2, kernel: "js" });
    stepBoth([ts, wasm], 2, 6);
    expect(pb.get("p0")!.data).toBe(before);
    expect(Array.from(before)).toEqual(Array.from(pa.get("p0")!.data));
    expect(Array.from(seen.data)).toEqual(Array.from(pa.get("p1")!.data));
  });

  it.skipIf(!simd)("moments and gradient buffers live in WebAssembly memory, parameters in their own arrays", () => {
    const [pb] = twinParams(5, [10, 12]);
    const arrays = [...pb.values()].map((p) => p.data);
    const wasm = new Adam(pb, { lr: 1e-2 });
    [...pb.values()].forEach((p, i) => {
      expect(p.data).toBe(arrays[i]);
      expect(wasm.m.get(`p${i}`)!.buffer).not.toBe(p.data.buffer);
      expect(gradBuffer(p)!.buffer).toBe(wasm.m.get("p0")!.buffer); // one memory for the lot
    });
  });

  it.skipIf(!simd)('with the backend switched to "js" after construction, steps run the TypeScript loop on the same state', () => {
    const [pa, pb] = twinParams(8, sizes);
    const ts = new Adam(pa, { lr: 1e-2, kernel: "js" });
    const wasm = new Adam(pb, { lr: 1e-2 });
    setBackend("js");
    try {
      stepBoth([ts, wasm], 3, 9);
    } finally {
      setBackend("wasm");
    }
    for (const name of pa.keys()) {
      expect(pb.get(name)!.data).toEqual(pa.get(name)!.data);
      expect(wasm.v.get(name)).toEqual(ts.v.get(name));
    }
  });

  it("trains the VAE: after 5 steps the parameters agree with the TypeScript update to ~float32 rounding", () => {
    const images = new Float32Array(20 * 784).map((_, i) => ((i * 2654435761) >>> 0) % 3 === 0 ? 1 : 0);
    const run = (kernel: "auto" | "js") => {
      const model = new VAE({ hidden: 16 }, { seed: 0 });
      const opt = new Adam(model.namedParameters(), { lr: 1e-2, kernel });
      const rng = new Random(1);
      for (let s = 0; s < 5; s++) {
        opt.zeroGrad();
        negativeElbo(model, new Tensor(images.subarray(0, 20 * 784), [20, 784]), sampleEps(rng, 1, 20, 2)).backward();
        opt.step();
      }
      return model.namedParameters();
    };
    const a = run("js");
    const b = run("auto");
    for (const [name, p] of a) {
      const q = b.get(name)!;
      for (let i = 0; i < p.size; i++) expect(Math.abs(p.data[i] - q.data[i]), `${name}[${i}]`).toBeLessThan(1e-5 + 1e-4 * Math.abs(p.data[i]));
    }
  });
});

describe(`optimizers on the ${getBackend()} backend update parameters where they are`, () => {
  // The closed form: from zero moments, Adam's first step moves each value by lr·g/(|g| + ε/√(1−β2))·…
  // = lr·sign(g) (up to ε); SGD's by lr·g. Arrays and views taken before the step must see it.
  for (const dtype of ["float32", "float64"] as const) {
    for (const make of ["Adam", "SGD"] as const) {
      it(`${make}, ${dtype}: an array taken from .data, a reshape and a detach taken before a step see the stepped values`, () => {
        const w = randomTensor([3, 4], 11, -1, 1, dtype);
        const b = randomTensor([4], 12, -1, 1, dtype);
        w.requiresGrad = b.requiresGrad = true;
        const before = Float64Array.from(w.data);
        const array = w.data;
        const flat = w.reshape([12]);
        const detached = w.detach();
        const params = new Map([["w", w], ["b", b]]);
        const lr = 0.01;
        const opt = make === "Adam" ? new Adam(params, { lr }) : new SGD(params, lr);
        const g = randomTensor([3, 4], 13, -1, 1, dtype);
        w.mul(g).sum().add(b.sum()).backward(); // ∂/∂w = g
        opt.step();
        const tol = dtype === "float32" ? 2e-7 : 1e-15;
        for (let i = 0; i < 12; i++) {
          const gi = g.data[i];
          const want = before[i] - (make === "Adam" ? lr * Math.sign(gi) * (Math.abs(gi) / (Math.abs(gi) + 1e-8)) : lr * gi);
          expect(Math.abs(w.data[i] - want), `w[${i}]`).toBeLessThan(tol * 4);
          expect(array[i]).toBe(w.data[i]);
          expect(flat.data[i]).toBe(w.data[i]);
          expect(detached.data[i]).toBe(w.data[i]);
        }
        expect(w.data).toBe(array);
      });
    }
  }

  it("Adam's moments are resolved once per name: a replaced parameter of the same size steps on them, a new name or another size is an error", () => {
    for (const kernel of ["auto", "js"] as const) {
      const w = randomTensor([3, 4], 21, -1, 1, "float32");
      w.requiresGrad = true;
      const params = new Map([["w", w]]);
      const opt = new Adam(params, { lr: 0.01, kernel });
      const g = randomTensor([3, 4], 22, -1, 1, "float32");
      // Replaced by a tensor of the same size: the name's moments (zeros), so the first step is lr·sign(g).
      const w2 = randomTensor([3, 4], 23, -1, 1, "float32");
      const before = Float64Array.from(w2.data);
      params.set("w", w2);
      w2.grad = g;
      opt.step();
      for (let i = 0; i < 12; i++) expect(Math.abs(w2.data[i] - (before[i] - 0.01 * Math.sign(g.data[i])))).toBeLessThan(1e-6);
      params.set("w", randomTensor([2, 4], 24, -1, 1, "float32"));
      params.get("w")!.grad = randomTensor([2, 4], 25);
      expect(() => opt.step(), kernel).toThrow(/Adam: parameter "w" is now 8 float32 values, its moments 12 float32/);
      params.set("w", w2);
      params.set("b", randomTensor([4], 26));
      params.get("b")!.grad = randomTensor([4], 27);
      expect(() => opt.step(), kernel).toThrow(/Adam: parameter "b" was not among the parameters this optimizer was built with/);
    }
  });

  it("a tensor listed twice, under two names or as a view of another, is an error naming both", () => {
    const w = randomTensor([2, 3], 1);
    const b = randomTensor([3], 2);
    for (const Make of [Adam, SGD]) {
      expect(() => new Make(new Map([["encoder.w", w], ["b", b], ["decoder.w", w]]))).toThrow(/parameters "encoder\.w" and "decoder\.w" are the same tensor/);
      expect(() => new Make(new Map([["w", w], ["w.flat", w.reshape([6])]]))).toThrow(/parameters "w" and "w\.flat" share memory/);
      // Disjoint parts of one buffer are two parameters.
      const whole = new Float32Array(10);
      expect(() => new Make(new Map([["a", new Tensor(whole.subarray(0, 5), [5])], ["b", new Tensor(whole.subarray(5), [5])]]))).not.toThrow();
      expect(() => new Make(new Map([["a", new Tensor(whole.subarray(0, 6), [6])], ["b", new Tensor(whole.subarray(5), [5])]]))).toThrow(/"a" and "b" share memory/);
    }
  });
});

describe("persistent gradient buffers", () => {
  it("an optimizer's parameters accumulate into the same buffer across backward() calls, and zeroGrad() resets to no gradient", () => {
    for (const dtype of ["float32", "float64"] as const) {
      const layer = new Linear(5, 3, { rng: new Random(1), dtype });
      const params = new Map([["w", layer.weight], ["b", layer.bias]]);
      const opt = new Adam(params);
      const x1 = randomTensor([4, 5], 2, -1, 1, dtype);
      const x2 = randomTensor([4, 5], 3, -1, 1, dtype);
      const loss = (x: Tensor) => layer.forward(x, "tanh").square().sum();
      // References from fresh leaves (no buffers): the gradient of each loss alone.
      const alone = (x: Tensor) => grad((w: Tensor, b: Tensor) => linear(x, w, b, "tanh").square().sum(), { argnums: [0, 1] })(layer.weight.detach(), layer.bias.detach());
      const [gw1, gb1] = alone(x1);
      const [gw2, gb2] = alone(x2);

      loss(x1).backward();
      const buffer = layer.weight.grad!.data;
      expect(buffer).toBe(gradBuffer(layer.weight));
      expect(Array.from(buffer)).toEqual(Array.from(gw1.data));
      loss(x2).backward();
      expect(layer.weight.grad!.data).toBe(buffer);
      const tol = dtype === "float32" ? 1e-6 : 1e-14;
      for (let i = 0; i < buffer.length; i++) expect(Math.abs(buffer[i] - (gw1.data[i] + gw2.data[i]))).toBeLessThan(tol);
      for (let i = 0; i < 3; i++) expect(Math.abs(layer.bias.grad!.data[i] - (gb1.data[i] + gb2.data[i]))).toBeLessThan(tol);

      opt.zeroGrad();
      expect(layer.weight.grad).toBeNull();
      expect(layer.bias.grad).toBeNull();
      loss(x2).backward();
      expect(layer.weight.grad!.data).toBe(buffer); // reused, and holds only the new gradient
      expect(Array.from(layer.weight.grad!.data)).toEqual(Array.from(gw2.data));
      expect(Array.from(layer.bias.grad!.data)).toEqual(Array.from(gb2.data));
    }
  });

  it("a parameter used twice in one graph gets the sum of both paths; SGD keeps buffers too", () => {
    const w = randomTensor([4, 4], 1, -1, 1);
    const b = randomTensor([4], 2, -1, 1);
    const x = randomTensor([3, 4], 3, -1, 1);
    const f = (w: Tensor, b: Tensor) => linear(linear(x, w, b, "tanh"), w, b, "tanh").sum();
    const [gw, gb] = grad(f, { argnums: [0, 1] })(w, b);
    w.requiresGrad = b.requiresGrad = true;
    const opt = new SGD(new Map([["w", w], ["b", b]]), 0.1);
    f(w, b).backward();
    expect(w.grad!.data).toBe(gradBuffer(w));
    for (let i = 0; i < 16; i++) expect(w.grad!.data[i]).toBeCloseTo(gw.data[i], 14);
    for (let i = 0; i < 4; i++) expect(b.grad!.data[i]).toBeCloseTo(gb.data[i], 14);
    opt.step();
    opt.zeroGrad();
    expect(w.grad).toBeNull();
  });

  it("the gradient given to backward() is copied into a leaf's buffer, never adopted; a user-set .grad is added to, not overwritten", () => {
    const p = tensor([1, 2, 3], { requiresGrad: true });
    setGradBuffer(p, new Float32Array(3));
    const upstream = tensor([1, 10, 100]);
    p.backward(upstream);
    expect(p.grad!.data).toBe(gradBuffer(p));
    expect(Array.from(p.grad!.data)).toEqual([1, 10, 100]);
    upstream.data[0] = 5;
    expect(p.grad!.data[0]).toBe(1);
    p.grad = tensor([1, 1, 1]);
    p.mul(2).sum().backward();
    expect(Array.from(p.grad!.data)).toEqual([3, 3, 3]);
    expect(p.grad!.data).toBe(gradBuffer(p));
    expect(() => setGradBuffer(p, new Float32Array(2))).toThrow(/needs a buffer of the same/);
    setGradBuffer(p, null);
    expect(gradBuffer(p)).toBeNull();
  });
});
