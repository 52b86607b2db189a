// Gradients of gradients and forward mode: every op's second derivative against central
// differences, the dot-product test between jvp and vjp, Hessians, hvp, third derivatives in closed
// form, customVjp, and the curvature of the VAE's log p(x, z) in z.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as T from "../src/index.js";
import { Tensor, VAE, binarize64, customVjp, gradcheck, grad, hessian, hvp, jacfwd, jacrev, jvp, logStandardNormal, tensor, vjp } from "../src/index.js";
import { loadMnist } from "../src/node/mnist.js";
import { broadcastPairArb, expectClose, randomTensor, shapeArb, weighted } from "./helpers.js";

const runs = { numRuns: 12 };

function expectGradgradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[]): void {
  const report = gradcheck(f, inputs, { order: 2, raise: false, rtol: 1e-6, atol: 1e-8 });
  expect(report.ok, report.message).toBe(true);
}

/** Reverses the axes twice: the same values, read through a strided view in between. */
const strided = (t: Tensor) => {
  const rev = [...Array(t.ndim).keys()].reverse();
  return t.permute(rev).contiguous().permute(rev);
};

type Op = [string, (...xs: Tensor[]) => Tensor, (seed: number) => fc.Arbitrary<Tensor[]>];

const values = (shape: readonly number[], seed: number, low = -2, high = 2) => randomTensor(shape, seed, low, high);
const oneInput = (low = -2, high = 2) => (seed: number) => shapeArb.map((s) => [values(s, seed, low, high)]);
const matrices = (rows: number, inner: number, cols: number, seed: number) => [values([rows, inner], seed), values([inner, cols], seed + 1)];

const ops: Op[] = [
  ["neg", T.neg, oneInput()], ["exp", T.exp, oneInput()], ["log", T.log, oneInput(0.3, 3)], ["log1p", T.log1p, oneInput(-0.5, 3)],
  ["square", T.square, oneInput()], ["sqrt", T.sqrt, oneInput(0.3, 3)], ["pow(3)", (x) => T.pow(x, 3), oneInput()],
  ["pow(-1.5)", (x) => T.pow(x, -1.5), oneInput(0.3, 3)], ["pow(0)", (x) => T.pow(x, 0), oneInput()],
  ["sigmoid", T.sigmoid, oneInput(-6, 6)], ["tanh", T.tanh, oneInput(-3, 3)], ["relu", T.relu, oneInput()],
  ["softplus", T.softplus, oneInput(-6, 6)], ["logSigmoid", T.logSigmoid, oneInput(-6, 6)],
  ["sum", (x) => T.sum(x), oneInput()], ["mean(0)", (x) => (x.ndim > 0 ? T.mean(x, 0) : T.mean(x)), oneInput()],
  ["max(-1)", (x) => (x.ndim > 0 ? T.max(x, -1) : T.max(x)), oneInput()], ["logsumexp", (x) => (x.ndim > 0 ? T.logsumexp(x, -1, true) : T.logsumexp(x)), oneInput()],
  ["reshape", (x) => x.reshape([-1]), oneInput()], ["permute", (x) => x.permute([...Array(x.ndim).keys()].reverse()), oneInput()],
  ["slice", (x) => (x.ndim > 0 ? x.slice(0, 1, x.ndim - 1) : x), oneInput()], ["gather", (x) => (x.ndim > 0 ? x.gather([0, 0]) : x), oneInput()],
  ["concat", (x) => (x.ndim > 0 ? T.concat([x, x.exp()], 0) : x), oneInput()], ["clone", (x) => x.clone(), oneInput()],
  ["broadcastTo", (x) => T.broadcastTo(x, [2, ...x.shape]), oneInput()], ["sumTo", (x) => T.sumTo(x, x.shape.map((d, i) => (i === 0 ? 1 : d))), oneInput()],
  ["sigmoidPrime", T.sigmoidPrime, oneInput(-4, 4)], ["tanhPrime", T.tanhPrime, oneInput(-2, 2)],
  ...(["add", "sub", "mul", "div"] as const).map((name): Op => [name, (a, b) => T[name](a, b), (seed) => broadcastPairArb.map(([sa, sb]) => [values(sa, seed), values(sb, seed + 1, name === "div" ? 0.5 : -2, 2)])]),
  ["matmul", (a, b) => T.matmul(a, b), (seed) => fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })).map(([m, k, n]) => matrices(m, k, n, seed))],
  ["matmul(aᵀ, bᵀ) of views", (a, b) => T.matmul(a.T, b.T), (seed) => fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })).map(([m, n]) => [values([3, m], seed), values([n, 3], seed + 1)])],
  ...(["none", "tanh", "relu"] as const).map((act): Op => [`linear(${act})`, (x, w, b) => T.linear(x, w, b, act), (seed) => fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })).map(([rows, i, o]) => [values([rows, i], seed), values([o, i], seed + 1), values([o], seed + 2)])]),
  ["bernoulliLogLikelihood", (x, l) => T.bernoulliLogLikelihood(x, l), (seed) => fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 })).map(([k, d]) => [values([d], seed, 0, 1), values([k, d], seed + 1)])],
];

describe("second derivatives of every op, gradcheck of order 2 in float64", () => {
  for (const [name, op, inputs] of ops) {
    it(`${name}: contiguous and strided inputs`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 1000 }).chain((seed) => inputs(seed)), (xs) => {
          const shape = op(...xs).shape;
          expectGradgradcheck(weighted(op, shape), xs);
          expectGradgradcheck(weighted((...ys) => op(...ys.map(strided)), shape), xs);
        }),
        runs,
      );
    });
  }
});

describe("jvp and vjp are transposes: ⟨u, J·v⟩ = ⟨Jᵀ·u, v⟩ for every op", () => {
  for (const [name, op, inputs] of ops) {
    it(name, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 1000 }).chain((seed) => inputs(seed).map((xs) => [xs, seed] as const)), ([xs, seed]) => {
          const vs = xs.map((x, i) => randomTensor(x.shape, seed + 10 + i));
          const [y, jv] = jvp(op, xs, vs);
          const u = randomTensor(y.shape, seed + 20);
          const [y2, pull] = vjp(op, ...xs);
          expectClose(T.dense(y2), T.dense(y), 0, 0);
          const jtu = pull(u);
          const left = T.sum(T.mul(u, jv)).item();
          const right = jtu.reduce((s, g, i) => s + T.sum(T.mul(g, vs[i])).item(), 0);
          expect(Math.abs(left - right)).toBeLessThanOrEqual(1e-10 * (1 + Math.abs(left)));
        }),
        runs,
      );
    });
  }
});

describe("Hessians, hvp and higher derivatives", () => {
  const f = (x: Tensor) => T.sum(T.mul(x.tanh(), x.exp())).add(T.logsumexp(x.mul(x)));

  it("hessian is symmetric, equals jacfwd(jacrev(f)), and hvp equals H·v", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 1000 }), (n, seed) => {
        const x = randomTensor([n], seed, -1, 1);
        const H = hessian(f)(x);
        expect(H.shape).toEqual([n, n]);
        const h = H.toArray() as number[][];
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(Math.abs(h[i][j] - h[j][i])).toBeLessThan(1e-12 * (1 + Math.abs(h[i][j])));
        expectClose(jacfwd(jacrev(f))(x).data, H.data, 1e-12, 1e-12);
        const v = randomTensor([n], seed + 1);
        expectClose(hvp(f, x, v).data, T.matmul(H, v.reshape([n, 1])).data, 1e-12, 1e-12);
      }),
      runs,
    );
  });

  it("jacrev and jacfwd agree on a tall and a wide Jacobian, of shape [...out, ...in]", () => {
    const W = randomTensor([6, 2], 3);
    const tall = (x: Tensor) => T.matmul(W, x.reshape([2, 1])).tanh().reshape([3, 2]);
    const wide = (x: Tensor) => T.sum(x.square().mul(x), 1);
    const x2 = randomTensor([2], 4);
    const x34 = randomTensor([3, 4], 5);
    expect(jacrev(tall)(x2).shape).toEqual([3, 2, 2]);
    expectClose(jacrev(tall)(x2).data, jacfwd(tall)(x2).data, 1e-13, 1e-14);
    expect(jacfwd(wide)(x34).shape).toEqual([3, 3, 4]);
    expectClose(jacrev(wide)(x34).data, jacfwd(wide)(x34).data, 1e-13, 1e-14);
  });

  it("third derivatives match their closed forms: tanh''' = −2·tanh'·(1 − 3tanh²), (x⁴)''' = 24x, exp''' = exp", () => {
    const d3 = (g: (t: Tensor) => Tensor) => grad((a: Tensor) => grad((b: Tensor) => grad((c: Tensor) => T.sum(g(c)))(b).sum())(a).sum());
    const xs = [-1.5, -0.2, 0.3, 1.1];
    const x = tensor(xs, { dtype: "float64" });
    expectClose(d3(T.tanh)(x).data, xs.map((v) => { const t = Math.tanh(v); return -2 * (1 - t * t) * (1 - 3 * t * t); }), 1e-12);
    expectClose(d3((t) => T.pow(t, 4))(x).data, xs.map((v) => 24 * v), 1e-12);
    expectClose(d3(T.exp)(x).data, xs.map(Math.exp), 1e-14);
    expectClose(d3(T.sigmoid)(x).data, xs.map((v) => { const s = 1 / (1 + Math.exp(-v)); return s * (1 - s) * (1 - 6 * s + 6 * s * s); }), 1e-12);
  });

  it("backward({ createGraph: true }) leaves differentiable gradients in the leaves", () => {
    const x = tensor([0.5, -1], { dtype: "float64", requiresGrad: true });
    x.pow(3).sum().backward(undefined, { createGraph: true });
    const g = x.grad!; // 3x², with a graph
    expect(g.requiresGrad).toBe(true);
    expectClose(g.data, [0.75, 3], 1e-15);
    x.grad = null;
    g.sum().backward();
    expectClose(x.grad!.data, [3, -6], 1e-15); // 6x
  });
});

describe("customVjp", () => {
  const cube = customVjp((x) => x.mul(x).mul(x), (g, [x]) => [g.mul(x.square()).mul(3)]);
  const detachedCube = customVjp((x) => x.mul(x).mul(x), (g, [x]) => [g.mul(x.detach().square()).mul(3)]);
  const x = tensor([0.7, -1.2, 2], { dtype: "float64" });

  it("a backward written with ops is differentiated to any order", () => {
    expectClose(grad((t: Tensor) => cube(t).sum())(x).data, [0.7, -1.2, 2].map((v) => 3 * v * v), 1e-15);
    expectGradgradcheck((t) => cube(t).sum(), [x]);
    expectClose(hessian((t: Tensor) => cube(t).sum())(x).data, [4.2, 0, 0, 0, -7.2, 0, 0, 0, 12], 1e-14);
  });

  it("a backward on detached values passes order 1 and fails order 2, and the report says which order failed", () => {
    const one = gradcheck((t) => detachedCube(t).sum(), [x], { raise: false });
    expect(one.ok, one.message).toBe(true);
    const two = gradcheck((t) => detachedCube(t).sum(), [x], { order: 2, raise: false });
    expect(two.ok).toBe(false);
    expect(two.failedOrder).toBe(2);
    expect(two.message).toMatch(/^gradcheck of order 2 \(the gradient of ⟨∇f, v⟩ for a random v\) failed: worst input 0/);
    for (const mode of ["full", "direction"] as const) expect(gradcheck((t) => detachedCube(t).sum(), [x], { order: 2, mode, raise: false }).failedOrder).toBe(2);
  });

  it("a backward returning the wrong number or shape of gradients is named", () => {
    const bad = customVjp((x) => x.exp(), () => [], { name: "myExp" });
    expect(() => grad((t: Tensor) => bad(t).sum())(x)).toThrow(/myExp: backward must return an array of 1 gradients/);
    const wrong = customVjp((x) => x.exp(), (g) => [g.sum()], { name: "myExp" });
    expect(() => grad((t: Tensor) => wrong(t).sum())(x)).toThrow(/myExp: backward's gradient 0 must be a Tensor of shape \[3\], got \[\]/);
  });
});

describe("gradcheck's direction mode", () => {
  it("steps along a unit-length direction: a wrong gradient of a large input fails at the same tolerance as a small one", () => {
    const wrongSquare = customVjp((x) => x.square(), (g, [x]) => [g.mul(x).mul(2.001)]);
    for (const n of [3, 3000]) {
      const report = gradcheck((t) => wrongSquare(t).sum(), [randomTensor([n], 1)], { mode: "direction", raise: false });
      expect(report.ok, `n = ${n}`).toBe(false);
    }
    expect(gradcheck((t) => t.square().sum(), [randomTensor([3000], 1)], { mode: "direction", order: 2 }).ok).toBe(true);
  });
});

describe("the VAE's curvature in z", () => {
  it("the 2×2 Hessian of log p(x, z) in z for one image matches central differences of its gradient", () => {
    const x = tensor(binarize64(loadMnist("train", { limit: 1 }).images), { shape: [1, 784] });
    const model = new VAE({ hidden: 50 }, { seed: 0, dtype: "float64" });
    const logJoint = (z: Tensor) => logStandardNormal(z).add(T.bernoulliLogLikelihood(x, model.decodeLogits(z))).sum();
    const z = tensor([[0.3, -0.8]], { dtype: "float64" });
    const H = hessian(logJoint)(z);
    expect(H.shape).toEqual([1, 2, 1, 2]);
    const h = 1e-5;
    const gradAt = (dz: number[]) => grad(logJoint)(tensor([[0.3 + dz[0], -0.8 + dz[1]]], { dtype: "float64" })).data;
    const numeric: number[] = [];
    for (const i of [0, 1]) {
      const up = gradAt(i === 0 ? [h, 0] : [0, h]);
      const down = gradAt(i === 0 ? [-h, 0] : [0, -h]);
      for (const j of [0, 1]) numeric[j * 2 + i] = (up[j] - down[j]) / (2 * h);
    }
    expectClose(H.data, numeric, 1e-6, 1e-6);
  });
});
