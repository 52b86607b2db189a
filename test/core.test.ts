// The core never gives a silent wrong answer: each case here returned a wrong number without an
// error before tensors became versioned views and grad() a pure transform.
import { describe, expect, it } from "vitest";
import * as T from "../src/index.js";
import { Adam, Linear, Random, SGD, Tensor, gradcheck, grad, noGrad, tensor, valueAndGrad } from "../src/index.js";
import { loadParameters, saveParameters } from "../src/nn/checkpoint.js";
import { expectClose, randomTensor } from "./helpers.js";

describe("pure gradients", () => {
  it("a gradient of a gradient is the second derivative, not zeros", () => {
    const f = (t: Tensor) => t.mul(t).mul(t).sum();
    const x = tensor([2], { dtype: "float64" });
    expect(grad(f)(x).item()).toBe(12); // 3x²
    expect(grad((t: Tensor) => grad(f)(t).sum())(x).item()).toBe(12); // 6x
    expect(grad((t: Tensor) => grad((u: Tensor) => grad(f)(u).sum())(t).sum())(x).item()).toBe(6);
    // backward() through a gradient that depends on a leaf requiring grad
    const w = tensor([2], { dtype: "float64", requiresGrad: true });
    grad(f)(w).sum().backward();
    expect(w.grad!.item()).toBe(12);
    // inside noGrad the inner gradient is a constant, on purpose
    expect(grad((t: Tensor) => t.mul(noGrad(() => grad(f)(t))).sum())(x).item()).toBe(12);
  });

  it("grad(f) differentiates only with respect to its arguments: a closed-over tensor's .grad stays null", () => {
    const W = tensor([3, 4], { requiresGrad: true });
    const x = tensor([1, 2], { requiresGrad: true });
    const g = grad((t: Tensor) => t.mul(W).sum())(x);
    expect(Array.from(g.data)).toEqual([3, 4]);
    expect(W.grad).toBeNull();
    expect(x.grad).toBeNull();
    // valueAndGrad with argnums: the other argument's .grad is untouched too
    const [, gy] = valueAndGrad((a: Tensor, b: Tensor) => a.mul(b).sum(), { argnums: 1 })(x, W);
    expect(Array.from(gy.data)).toEqual([1, 2]);
    expect(x.grad).toBeNull();
    expect(W.grad).toBeNull();
  });

  it("grad leaves the part of an enclosing graph it does not differentiate through intact", () => {
    const W = tensor([1.5, -2], { dtype: "float64", requiresGrad: true });
    const h = W.mul(2); // an outer graph
    const gx = grad((t: Tensor) => t.mul(h).sum())(tensor([1, 1], { dtype: "float64" }));
    expect(Array.from(gx.data)).toEqual([3, -4]);
    h.sum().backward(); // still differentiable: grad() did not free h's node
    expect(Array.from(W.grad!.data)).toEqual([2, 2]);
  });

  it("a leaf's .grad never aliases another tensor or the upstream gradient", () => {
    const p = tensor([1, 2], { requiresGrad: true });
    const q = tensor([3, 4], { requiresGrad: true });
    T.sum(T.add(p, q)).backward();
    expect(p.grad).not.toBe(q.grad);
    expect(p.grad!.storage).not.toBe(q.grad!.storage);
    // an in-place clipping loop scales each gradient once
    for (const t of [p, q]) t.grad!.assign(t.grad!.mul(0.5));
    expect(Array.from(p.grad!.data)).toEqual([0.5, 0.5]);
    expect(Array.from(q.grad!.data)).toEqual([0.5, 0.5]);
    // through a view op, the leaf's gradient is not the caller's upstream array
    const x = tensor([1, 2, 3, 4], { requiresGrad: true });
    const upstream = tensor([[1, 1], [1, 1]]);
    x.reshape([2, 2]).backward(upstream);
    expect(x.grad!.storage).not.toBe(upstream.storage);
    // grad() with two arguments: two separate tensors
    const [ga, gb] = grad((a: Tensor, b: Tensor) => a.add(b).sum(), { argnums: [0, 1] })(tensor([1]), tensor([2]));
    expect(ga.storage).not.toBe(gb.storage);
  });
});

describe("versions: backward refuses values changed in place after the op saved them", () => {
  it("an optimizer step between the forward pass and backward() throws, naming the op and the shape", () => {
    for (const makeOptimizer of [(m: Map<string, Tensor>) => new SGD(m, 0.5), (m: Map<string, Tensor>) => new Adam(m, { lr: 0.5 })]) {
      const x = tensor([1, 2], { requiresGrad: true });
      const w = tensor([3, 4], { requiresGrad: true });
      const loss = T.sum(T.mul(x, w));
      const opt = makeOptimizer(new Map([["w", w]]));
      w.grad = tensor([1, 1]);
      opt.step();
      expect(() => loss.backward()).toThrow(/a tensor of shape \[2\] that "mul" saved for its gradient was modified in place after "mul" ran \(its storage's version was 0, now 1/);
    }
  });

  it("loadParameters and assign() bump the version; a view shares it", () => {
    const layer = new Linear(3, 2, { rng: new Random(1) });
    const params = new Map([["w", layer.weight], ["b", layer.bias]]);
    const bytes = saveParameters(params);
    const x = randomTensor([4, 3], 1, -1, 1, "float32");
    const loss = layer.forward(x, "tanh").sum();
    const v = layer.weight.storage.version;
    loadParameters(bytes, params);
    expect(layer.weight.storage.version).toBe(v + 1);
    expect(() => loss.backward()).toThrow(/"linear" saved for its gradient was modified in place/);

    const base = tensor([1, 2, 3, 4], { requiresGrad: true });
    const y = base.reshape([2, 2]).exp().mul(base.reshape([2, 2])).sum();
    base.detach().assign([5, 6, 7, 8]); // a write through another view of the same storage
    expect(() => y.backward()).toThrow(/"mul" saved/);
  });

  it("ops whose backward reads no values (add, sum, reshape) do not refuse", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.add(1).reshape([2, 1]).sum();
    x.assign([7, 8]);
    y.backward();
    expect(Array.from(x.grad!.data)).toEqual([1, 1]);
  });

  it("clone() gives an op its own copy, so a later write to the original is harmless", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.clone().square().sum();
    x.detach().assign([10, 20]);
    y.backward();
    expect(Array.from(x.grad!.data)).toEqual([2, 4]);
  });
});

describe("gradients correct over the whole range", () => {
  // Independent closed forms: σ'(x) = 1/(2 + eˣ + e⁻ˣ), tanh'(x) = (2/(eˣ + e⁻ˣ))².
  const sigmoidPrime = (x: number) => 1 / (2 + Math.exp(x) + Math.exp(-x));
  const tanhPrime = (x: number) => (2 / (Math.exp(x) + Math.exp(-x))) ** 2;
  const derivative = (op: (t: Tensor) => Tensor, xs: number[], dtype: "float32" | "float64") => grad((t: Tensor) => op(t).sum())(tensor(xs, { dtype })).data;

  it("σ'(20) in float32 is 2.06e-9, not 0; σ'(−90) in float64 is 8.2e-40", () => {
    expect(derivative(T.sigmoid, [20], "float32")[0]).toBeCloseTo(2.0611536e-9, 15);
    const s = derivative(T.sigmoid, [-90], "float64")[0];
    expect(Math.abs(s / 8.194012623990515e-40 - 1)).toBeLessThan(1e-12);
  });

  it("sigmoid, tanh, softplus and logSigmoid derivatives to float32 relative precision from −85 to 85, float64 to ±700", () => {
    const cases: [string, (t: Tensor) => Tensor, (x: number) => number][] = [
      ["sigmoid", T.sigmoid, sigmoidPrime],
      ["tanh", T.tanh, tanhPrime],
      ["softplus", T.softplus, (x) => 1 / (1 + Math.exp(-x))],
      ["logSigmoid", T.logSigmoid, (x) => 1 / (1 + Math.exp(x))],
    ];
    for (const [dtype, limit, rtol] of [["float32", 85, 2 ** -23], ["float64", 700, 1e-13]] as const) {
      const xs = Array.from({ length: 341 }, (_, i) => -limit + (2 * limit * i) / 340);
      for (const [name, op, ref] of cases) {
        const got = derivative(op, xs, dtype);
        xs.forEach((x, i) => {
          const want = ref(x);
          const tiny = dtype === "float32" ? 2 ** -126 : 2 ** -1022; // below the normal range only absolute precision is left
          if (want < tiny || (name === "tanh" && dtype === "float32" && want < 2 ** -126)) return;
          expect(Math.abs(got[i] - want) / want, `${name}'(${x}) in ${dtype}: got ${got[i]}, want ${want}`).toBeLessThanOrEqual(2 * rtol);
        });
      }
    }
  });

  it("pow(x, 0) has gradient 0, also at x = 0", () => {
    const g = grad((t: Tensor) => T.pow(t, 0).sum())(tensor([0, 2, -3], { dtype: "float64" }));
    expect(Array.from(g.data)).toEqual([0, 0, 0]);
    expect(gradcheck((t) => T.pow(t, 0).sum(), [tensor([0, 1.5], { dtype: "float64" })]).ok).toBe(true);
  });

  it("max with ties shares the gradient equally; gradcheck agrees at a two-way tie", () => {
    const x = tensor([1, 3, 3, 2], { dtype: "float64" });
    expect(Array.from(grad((t: Tensor) => t.max())(x).data)).toEqual([0, 0.5, 0.5, 0]);
    expect(gradcheck((t) => t.max(), [x]).ok).toBe(true);
    const rows = tensor([[4, 4, 4], [1, 5, 2]], { dtype: "float64" });
    expectClose(grad((t: Tensor) => t.max(1).mul(tensor([1, 2], { dtype: "float64" })).sum())(rows).data, [1 / 3, 1 / 3, 1 / 3, 0, 2, 0]);
    expect(gradcheck((t) => t.max(0).sum(), [tensor([[2, 7], [2, 1]], { dtype: "float64" })]).ok).toBe(true);
  });
});
