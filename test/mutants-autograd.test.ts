// Behaviour of src/autograd that the mutation run (npm run mutate) found unguarded. Expected values
// are closed forms written out here (Math.* per element, hand-computed sums and products), finite
// differences, or the definitions of the transforms, never the output of the code under test.
import { describe, expect, it } from "vitest";
import {
  Random, Tensor, bernoulliLogLikelihood, noGrad, customVjp, grad, gradcheck, gradients, hvp, jacfwd, jacrev, jvp, linear, markBinary, tensor, valueAndGrad, vjp,
} from "../src/index.js";
import { expectClose } from "./helpers.js";

const x23 = () => tensor([[0.5, -1.5, 2], [-0.25, 1, 3]], { dtype: "float64" });
const flat = [0.5, -1.5, 2, -0.25, 1, 3];
const softplus = (v: number) => Math.log1p(Math.exp(v));
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

describe("every op as a Tensor method: values against Math.* per element", () => {
  const unary: [string, (t: Tensor) => Tensor, (v: number) => number][] = [
    ["neg", (t) => t.neg(), (v) => -v],
    ["exp", (t) => t.exp(), Math.exp],
    ["log", (t) => t.square().log(), (v) => Math.log(v * v)],
    ["log1p", (t) => t.square().log1p(), (v) => Math.log1p(v * v)],
    ["square", (t) => t.square(), (v) => v * v],
    ["sqrt", (t) => t.square().sqrt(), Math.abs],
    ["pow", (t) => t.pow(3), (v) => v ** 3],
    ["sigmoid", (t) => t.sigmoid(), sigmoid],
    ["tanh", (t) => t.tanh(), Math.tanh],
    ["relu", (t) => t.relu(), (v) => Math.max(v, 0)],
    ["softplus", (t) => t.softplus(), softplus],
    ["logSigmoid", (t) => t.logSigmoid(), (v) => -softplus(-v)],
  ];
  for (const [name, f, ref] of unary) {
    it(`x.${name}()`, () => expectClose(f(x23()).data, flat.map(ref), 1e-14, 1e-15));
  }

  it("x.add, x.sub, x.mul, x.div with a tensor and with a number", () => {
    const y = tensor([[2, 4, -8], [0.5, -1, 16]], { dtype: "float64" });
    const yf = [2, 4, -8, 0.5, -1, 16];
    expectClose(x23().add(y).data, flat.map((v, i) => v + yf[i]), 0, 0);
    expectClose(x23().sub(y).data, flat.map((v, i) => v - yf[i]), 0, 0);
    expectClose(x23().mul(y).data, flat.map((v, i) => v * yf[i]), 0, 0);
    expectClose(x23().div(y).data, flat.map((v, i) => v / yf[i]), 0, 0);
    expectClose(x23().sub(1).data, flat.map((v) => v - 1), 0, 0);
    expectClose(x23().div(4).data, flat.map((v) => v / 4), 0, 0);
  });

  it("x.sum, x.mean, x.max, x.logsumexp over an axis, with and without keepdims", () => {
    const rows = [flat.slice(0, 3), flat.slice(3)];
    const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
    expectClose(x23().sum(1).data, rows.map((r) => r[0] + r[1] + r[2]), 1e-15, 0);
    expect(x23().sum(1, true).shape).toEqual([2, 1]);
    expectClose(x23().mean(0).data, [0.125, -0.25, 2.5], 1e-15, 0);
    expect(x23().mean(0, true).shape).toEqual([1, 3]);
    expectClose(x23().max(1).data, [2, 3], 0, 0);
    expect(x23().max(1, true).shape).toEqual([2, 1]);
    expectClose(x23().logsumexp(1).data, rows.map(lse), 1e-14, 0);
    expect(x23().logsumexp(1, true).shape).toEqual([2, 1]);
    expectClose(x23().logsumexp().data, [lse(flat)], 1e-14, 0);
  });

  it("x.matmul, x.T, x.transpose, x.permute, x.reshape, x.slice, x.gather, x.concat, x.contiguous, x.clone", () => {
    const a = x23();
    // a·aᵀ by hand: rows r0 = (0.5, −1.5, 2), r1 = (−0.25, 1, 3).
    const r0r0 = 0.25 + 2.25 + 4, r0r1 = -0.125 - 1.5 + 6, r1r1 = 0.0625 + 1 + 9;
    expectClose(a.matmul(a.T).data, [r0r0, r0r1, r0r1, r1r1], 1e-15, 0);
    expectClose(a.matmul(a, { transB: true }).data, [r0r0, r0r1, r0r1, r1r1], 1e-15, 0);
    expect(a.T.shape).toEqual([3, 2]);
    expectClose(a.transpose().contiguous().data, [0.5, -0.25, -1.5, 1, 2, 3], 0, 0);
    expectClose(a.permute([1, 0]).clone().data, [0.5, -0.25, -1.5, 1, 2, 3], 0, 0);
    expectClose(a.reshape([3, 2]).data, flat, 0, 0);
    expect(a.reshape([3, 2]).shape).toEqual([3, 2]);
    expectClose(a.slice(1, 3, 1).contiguous().data, [-1.5, 2, 1, 3], 0, 0);
    expectClose(a.gather([1, 0, 1]).data, [...flat.slice(3), ...flat.slice(0, 3), ...flat.slice(3)], 0, 0);
    expectClose(a.concat([a.mul(2)], 0).data, [...flat, ...flat.map((v) => 2 * v)], 0, 0);
    expectClose(a.concat([a], 1).data, [...flat.slice(0, 3), ...flat.slice(0, 3), ...flat.slice(3), ...flat.slice(3)], 0, 0);
    const c = a.clone();
    c.data[0] = 99;
    expect(a.data[0]).toBe(0.5);
  });

  it("x.detach() shares the storage and records nothing; x.backward(gradient) seeds with the given cotangent", () => {
    const x = tensor([1, 2, 3], { dtype: "float64", requiresGrad: true });
    const d = x.mul(2).detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.node).toBe(null);
    const y = x.square();
    y.backward(tensor([1, 10, 100], { dtype: "float64" }));
    expectClose(x.grad!.data, [2, 40, 600], 0, 0);
  });
});

// ---- plain-loop oracles ------------------------------------------------------------------------

/** C = A·B for row-major A [m, k], B [k, n]. */
function matmulLoops(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): number[] {
  const c = new Array<number>(m * n).fill(0);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) c[i * n + j] += a[i * k + p] * b[p * n + j];
  return c;
}
/** The transpose of a row-major [r, c] array. */
function transposed(a: ArrayLike<number>, r: number, c: number): number[] {
  return Array.from({ length: r * c }, (_, i) => a[(i % r) * c + Math.floor(i / r)]);
}
const values = (n: number, seed: number) => Array.from({ length: n }, (_, i) => Math.sin(seed * 7.3 + i * 1.7) * 1.5);
const f64 = (data: number[], shape: number[], requiresGrad = false) => tensor(data, { shape, dtype: "float64", requiresGrad });

describe("matmul: every layout of the operands, values and gradients against loops", () => {
  const [m, k, n] = [2, 3, 4];
  const A = values(m * k, 1);
  const B = values(k * n, 2);
  const G = values(m * n, 3);
  const C = matmulLoops(A, B, m, k, n);
  const gA = matmulLoops(G, transposed(B, k, n), m, n, k); // G·Bᵀ
  const gB = matmulLoops(transposed(A, m, k), G, k, m, n); // Aᵀ·G

  // Each way of handing over A (and B): as stored, stored transposed with the flag, or as a transposed view.
  const forms = {
    stored: (v: number[], r: number, c: number) => ({ t: f64(v, [r, c], true), trans: false, leaf: (t: Tensor) => t, back: (g: number[]) => g }),
    flag: (v: number[], r: number, c: number) => ({ t: f64(transposed(v, r, c), [c, r], true), trans: true, leaf: (t: Tensor) => t, back: (g: number[]) => transposed(g, r, c) }),
    view: (v: number[], r: number, c: number) => {
      const base = f64(transposed(v, r, c), [c, r], true);
      return { t: base, trans: false, leaf: (t: Tensor) => t.T, back: (g: number[]) => transposed(g, r, c) };
    },
  };
  for (const [fa, makeA] of Object.entries(forms)) {
    for (const [fb, makeB] of Object.entries(forms)) {
      it(`A ${fa}, B ${fb}`, () => {
        const a = makeA(A, m, k);
        const b = makeB(B, k, n);
        const out = a.leaf(a.t).matmul(b.leaf(b.t), { transA: a.trans, transB: b.trans });
        expect(out.shape).toEqual([m, n]);
        expectClose(out.data, C, 1e-14, 1e-15);
        out.backward(f64(G, [m, n]));
        expectClose(a.t.grad!.data, a.back(gA), 1e-14, 1e-15);
        expectClose(b.t.grad!.data, b.back(gB), 1e-14, 1e-15);
      });
    }
  }

  it("a strided operand that is not a transpose (a column slice) is copied, and its gradient lands in its columns", () => {
    const wide = f64(values(m * (k + 2), 4), [m, k + 2], true);
    const a = wide.slice(1, 1 + k, 1); // [m, k], strides [k + 2, 1]
    const dense = [0, 1].flatMap((i) => [0, 1, 2].map((j) => wide.data[i * (k + 2) + 1 + j]));
    const out = a.matmul(f64(B, [k, n]));
    expectClose(out.data, matmulLoops(dense, B, m, k, n), 1e-14, 1e-15);
    out.backward(f64(G, [m, n]));
    const g = matmulLoops(G, transposed(B, k, n), m, n, k);
    expectClose(wide.grad!.data, [0, 1].flatMap((i) => [0, g[3 * i], g[3 * i + 1], g[3 * i + 2], 0]), 1e-14, 1e-15);
  });

  it("a float32 operand times a float64 one is float64", () => {
    const out = tensor(A, { shape: [m, k] }).matmul(f64(B, [k, n]));
    expect(out.dtype).toBe("float64");
    expectClose(out.data, matmulLoops(A.map(Math.fround), B, m, k, n), 1e-14, 1e-15);
  });

  it("refuses operands that are not 2-D, and inner dimensions that differ, marking transposed operands", () => {
    expect(() => f64([1, 2], [2]).matmul(f64([1, 2], [2, 1]))).toThrow("matmul: expects 2-D tensors, got a of shape [2] and b of shape [2,1]");
    expect(() => f64(A, [m, k]).matmul(f64(B, [k, n]), { transA: true })).toThrow("matmul: aᵀ has shape [3,2] and b has shape [3,4]; inner dimensions 2 and 3 differ");
    expect(() => f64(A, [m, k]).matmul(f64(B, [k, n]), { transB: true })).toThrow("matmul: a has shape [2,3] and bᵀ has shape [4,3]; inner dimensions 3 and 4 differ");
  });

  it("an operand of 0s and 1s (markBinary) gives the same product and gradients, on either side", () => {
    const bits = [1, 0, 1, 1, 0, 0];
    const x = f64(bits, [m, k], true);
    expect(markBinary(x)).toBe(true);
    const w = f64(B, [k, n], true);
    const out = x.matmul(w);
    expectClose(out.data, matmulLoops(bits, B, m, k, n), 1e-14, 1e-15);
    out.backward(f64(G, [m, n]));
    expectClose(x.grad!.data, matmulLoops(G, transposed(B, k, n), m, n, k), 1e-14, 1e-15);
    expectClose(w.grad!.data, matmulLoops(transposed(bits, m, k), G, k, m, n), 1e-14, 1e-15);
    const y = f64(bits, [k, 2], true);
    markBinary(y);
    const a = f64(A, [m, k], true);
    const G2 = values(m * 2, 6);
    const out2 = a.matmul(y);
    expectClose(out2.data, matmulLoops(A, bits, m, k, 2), 1e-14, 1e-15);
    out2.backward(f64(G2, [m, 2]));
    expectClose(a.grad!.data, matmulLoops(G2, transposed(bits, k, 2), m, 2, k), 1e-14, 1e-15);
    expectClose(y.grad!.data, matmulLoops(transposed(A, m, k), G2, k, m, 2), 1e-14, 1e-15);
  });
});

describe("linear and bernoulliLogLikelihood: refusals, every gradient, every activation", () => {
  const [rows, inF, outF] = [3, 4, 2];
  const X = values(rows * inF, 7);
  const W = values(outF * inF, 8);
  const b = [0.3, -0.2];
  const G = values(rows * outF, 9);
  const acts = {
    none: { f: (v: number) => v, d: () => 1 },
    tanh: { f: Math.tanh, d: (y: number) => 1 - y * y },
    relu: { f: (v: number) => Math.max(v, 0), d: (y: number) => (y > 0 ? 1 : 0) },
  };

  it("refuses shapes that do not fit x [B,in], weight [out,in], bias [out], and mixed dtypes", () => {
    const message = (x: string, w: string, bb: string) => `linear: x ${x}, weight ${w} and bias ${bb} do not fit x [B,in], weight [out,in], bias [out]`;
    const [x, w, bias] = [f64(X, [rows, inF]), f64(W, [outF, inF]), f64(b, [outF])];
    expect(() => linear(f64(X, [rows * inF]), w, bias)).toThrow(message("[12]", "[2,4]", "[2]"));
    expect(() => linear(x, f64(W, [outF * inF]), bias)).toThrow(message("[3,4]", "[8]", "[2]"));
    expect(() => linear(x, w, f64(b, [1, outF]))).toThrow(message("[3,4]", "[2,4]", "[1,2]"));
    expect(() => linear(x, f64(W, [inF, outF]), bias)).toThrow(message("[3,4]", "[4,2]", "[2]"));
    expect(() => linear(x, w, f64([1, 2, 3], [3]))).toThrow(message("[3,4]", "[2,4]", "[3]"));
    // One condition broken at a time: every other dimension fits.
    expect(() => linear(f64(X, [rows, inF, 1]), w, bias)).toThrow(message("[3,4,1]", "[2,4]", "[2]"));
    expect(() => linear(x, f64(W, [outF, inF, 1]), bias)).toThrow(message("[3,4]", "[2,4,1]", "[2]"));
    expect(() => linear(x, w, f64(b, [outF, 1]))).toThrow(message("[3,4]", "[2,4]", "[2,1]"));
    expect(() => linear(f64(X, [2, 6]), w, bias)).toThrow(message("[2,6]", "[2,4]", "[2]"));
    expect(() => linear(tensor(X, { shape: [rows, inF] }), w, bias)).toThrow("linear: x, weight and bias must share a dtype, got float32, float64, float64");
    expect(() => linear(x, w, tensor(b))).toThrow("linear: x, weight and bias must share a dtype, got float64, float64, float32");
  });

  for (const [name, act] of Object.entries(acts)) {
    it(`act = ${name}: y = act(x·Wᵀ + b); dx = G'·W, dW = G'ᵀ·x, db = Σ_rows G' with G' = G·act'(y)`, () => {
      const pre = matmulLoops(X, transposed(W, outF, inF), rows, inF, outF).map((v, i) => v + b[i % outF]);
      const y = pre.map(act.f);
      const gp = G.map((g, i) => g * act.d(y[i]));
      for (const biasGrad of [true, false]) {
        const [x, w, bias] = [f64(X, [rows, inF], true), f64(W, [outF, inF], true), f64(b, [outF], biasGrad)];
        const out = linear(x, w, bias, name as "none");
        expectClose(out.data, y, 1e-14, 1e-15);
        out.backward(f64(G, [rows, outF]));
        expectClose(x.grad!.data, matmulLoops(gp, W, rows, outF, inF), 1e-14, 1e-15);
        expectClose(w.grad!.data, matmulLoops(transposed(gp, rows, outF), X, outF, rows, inF), 1e-14, 1e-15);
        if (biasGrad) expectClose(bias.grad!.data, [0, 1].map((j) => gp[j] + gp[2 + j] + gp[4 + j]), 1e-14, 1e-15);
        else expect(bias.grad).toBe(null);
      }
      // A binarized x (markBinary): the same weight gradient from sums of x's rows.
      const bits = X.map((v) => (v > 0 ? 1 : 0));
      const xb = f64(bits, [rows, inF]);
      markBinary(xb);
      const w = f64(W, [outF, inF], true);
      const yb = linear(xb, w, f64(b, [outF]), name as "none");
      const preb = matmulLoops(bits, transposed(W, outF, inF), rows, inF, outF).map((v, i) => v + b[i % outF]);
      expectClose(yb.data, preb.map(act.f), 1e-14, 1e-15);
      yb.backward(f64(G, [rows, outF]));
      const gpb = G.map((g, i) => g * act.d(act.f(preb[i])));
      expectClose(w.grad!.data, matmulLoops(transposed(gpb, rows, outF), bits, outF, rows, inF), 1e-14, 1e-15);
      // Second order (the backward written with ops): against finite differences.
      const report = gradcheck((xx, ww, bb) => linear(xx, ww, bb, name as "none").square().sum(), [f64(X, [rows, inF]), f64(W, [outF, inF]), f64(b, [outF])], { order: 2, raise: false });
      expect(report.ok, report.message).toBe(true);
    });
  }

  it("bernoulliLogLikelihood: Σ x·l − softplus(l) per row, x repeated over the logits' leading axes (leading 1s allowed); gradients x − σ(l) and Σ g·l", () => {
    const D = 3;
    const x = [1, 0, 1, 0, 0, 1]; // [B = 2, D]
    const l = values(2 * 2 * D, 10); // [K = 2, B = 2, D]
    const g = [0.5, -1, 2, 0.25];
    const rowsRef = [0, 1, 2, 3].map((r) => [0, 1, 2].reduce((s, j) => s + x[(r % 2) * D + j] * l[r * D + j] - softplus(l[r * D + j]), 0));
    for (const xShape of [[2, D], [1, 2, D], [1, 1, 2, D]]) {
      const xt = f64(x, xShape, true);
      const lt = f64(l, [2, 2, D], true);
      const out = bernoulliLogLikelihood(xt, lt);
      expect(out.shape).toEqual([2, 2]);
      expectClose(out.data, rowsRef, 1e-14, 1e-15);
      out.backward(f64(g, [2, 2]));
      expectClose(lt.grad!.data, l.map((v, i) => g[Math.floor(i / D)] * (x[i % (2 * D)] - sigmoid(v))), 1e-14, 1e-15);
      expectClose(xt.grad!.data, x.map((_, i) => g[Math.floor(i / D)] * l[i] + g[2 + Math.floor(i / D)] * l[2 * D + i]), 1e-14, 1e-15);
    }
    const lonly = f64(l, [2, 2, D], true);
    bernoulliLogLikelihood(f64(x, [2, D]), lonly).sum().backward();
    expectClose(lonly.grad!.data, l.map((v, i) => x[i % (2 * D)] - sigmoid(v)), 1e-14, 1e-15);
    const report = gradcheck((xx, ll) => bernoulliLogLikelihood(xx, ll).square().sum(), [f64(x, [2, D]), f64(l, [2, 2, D])], { order: 2, raise: false });
    expect(report.ok, report.message).toBe(true);
    for (const bad of [[3, D], [2, 2], [D * 2], [2, 2, 2, D]]) {
      expect(() => bernoulliLogLikelihood(f64(new Array(bad.reduce((a, c) => a * c, 1)).fill(0), bad), f64(l, [2, 2, D]))).toThrow(
        `bernoulliLogLikelihood: pixels of shape [${bad.join(",")}] do not match the trailing axes of logits [2,2,3]`,
      );
    }
  });
});

describe("the function transforms: argnums, refusals, constants, closed-over weights", () => {
  const x = () => f64([0.5, -1, 2], [3]);
  const y = () => f64([3, 0.25, -1.5], [3]);
  // f(x, y) = Σ x²·y: ∂x = 2xy, ∂y = x².
  const f = (a: Tensor, b: Tensor) => a.square().mul(b).sum();

  it("valueAndGrad and grad with argnums: one gradient for a number, a list for a list", () => {
    const [value, gy] = valueAndGrad(f, { argnums: 1 })(x(), y());
    expectClose(value.data, [0.25 * 3 + 0.25 + 4 * -1.5], 1e-15, 0);
    expectClose((gy as Tensor).data, [0.25, 1, 4], 0, 0);
    const [gx, gy2] = grad(f, { argnums: [0, 1] })(x(), y()) as Tensor[];
    expectClose(gx.data, [3, -0.5, -6], 0, 0);
    expectClose(gy2.data, [0.25, 1, 4], 0, 0);
    expect(grad(f, { argnums: [1] })(x(), y())).toHaveLength(1);
  });

  it("refuses a non-Tensor argument to differentiate, an f that does not return a Tensor, and a non-scalar f", () => {
    expect(() => grad(f, { argnums: 1 })(x(), 3 as unknown as Tensor)).toThrow("grad: argument 1 must be a Tensor to differentiate with respect to it");
    expect(() => grad(() => 3 as unknown as Tensor)(x())).toThrow("grad: f must return a Tensor, got number");
    expect(() => grad((a: Tensor) => a.mul(2))(f64([1, 2, 3, 4], [2, 2]))).toThrow("grad: f must return a scalar tensor, got shape [2,2]; use jacrev or vjp for other outputs");
    expect(() => vjp(() => undefined as unknown as Tensor, x())).toThrow("vjp: f must return a Tensor, got undefined");
  });

  it("the gradient of a function that ignores its argument is zeros of the argument's shape and dtype", () => {
    const g = grad(() => f64([5], []))(f64([1, 2], [2]));
    expect(g.dtype).toBe("float64");
    expect(Array.from(g.data)).toEqual([0, 0]);
    const [out, pull] = vjp(() => f64([1, 2], [2]), x());
    expect(Array.from(pull(f64([1, 1], [2]))[0].data)).toEqual([0, 0, 0]);
    expect(out.requiresGrad).toBe(false);
  });

  it("jvp is J·v: for f(x) = x² ⊙ y it is 2x ⊙ y ⊙ v; a constant f has tangent zeros; it refuses mismatched tangents", () => {
    const v = f64([1, -2, 0.5], [3]);
    const [out, tangent] = jvp((a) => a.square().mul(y()), [x()], [v]);
    expectClose(out.data, [0.75, 0.25, -6], 0, 0);
    expectClose(tangent.data, [3, 1, -3], 0, 0);
    const [, zero] = jvp(() => f64([1, 2], [2]), [x()], [v]);
    expect(Array.from(zero.data)).toEqual([0, 0]);
    const [, ignored] = jvp((a, b) => b.mul(2), [x(), y()], [v, v]);
    expectClose(ignored.data, [2, -4, 1], 0, 0);
    const [, onlyConstant] = jvp((a) => a.detach().mul(2), [x()], [v]);
    expect(Array.from(onlyConstant.data)).toEqual([0, 0, 0]);
    expect(() => jvp((a) => a, [x()], [])).toThrow("jvp: 1 primals but 0 tangents");
    expect(() => jvp((a) => a, [x()], [f64([1, 2], [2])])).toThrow("jvp: tangent 0 must be a Tensor of the primal's shape [3]");
    expect(() => jvp((a) => a, [x()], [3 as unknown as Tensor])).toThrow("jvp: tangent 0 must be a Tensor of the primal's shape [3]");
  });

  it("jacfwd and jacrev of x ↦ x² ⊙ y are diag(2x ⊙ y); of a constant, zeros of [...out, ...in]", () => {
    const want = [3, 0, 0, 0, -0.5, 0, 0, 0, -6];
    expectClose(jacfwd((a) => a.square().mul(y()))(x()).data, want, 0, 0);
    expectClose(jacrev((a) => a.square().mul(y()))(x()).data, want, 0, 0);
    for (const jac of [jacfwd, jacrev]) {
      const z = jac(() => f64([1, 2], [2]))(x());
      expect(z.shape).toEqual([2, 3]);
      expect(Array.from(z.data)).toEqual([0, 0, 0, 0, 0, 0]);
    }
    const scalarIn = jacfwd((a) => a.mul(f64([1, 2], [2])))(f64([3], [1]));
    expectClose(scalarIn.data, [1, 2], 0, 0);
    expect(scalarIn.shape).toEqual([2, 1]);
    const scalarOut = jacrev((a) => a.sum())(x());
    expectClose(scalarOut.data, [1, 1, 1], 0, 0);
    expect(scalarOut.shape).toEqual([3]);
  });

  it("hvp is H·v without H (f = Σ x³: 6x ⊙ v) and refuses v of another shape", () => {
    const v = f64([1, 2, 3], [3]);
    expectClose(hvp((a) => a.pow(3).sum(), x(), v).data, [3, -12, 36], 1e-15, 0);
    expect(() => hvp((a) => a.pow(3).sum(), x(), f64([1, 2], [2]))).toThrow("hvp: v has shape [2], x has shape [3]");
  });

  it("a gradient of a gradient through a closed-over weight: d/dw of ∂/∂x Σ (w·x)² is 4·w·x² (elementwise)", () => {
    const w = f64([2, -1, 0.5], [3], true);
    const inner = (a: Tensor) => grad((t: Tensor) => t.mul(w).square().sum())(a); // 2 w² x
    inner(x()).mul(x()).sum().backward(); // Σ 2 w² x², whose gradient in w is 4 w x²
    expectClose(w.grad!.data, [4 * 2 * 0.25, -4 * 1, 4 * 0.5 * 4], 1e-15, 0);
  });

  it("customVjp: its name in messages, forward returning an input, null and undefined gradients, and wrong gradients", () => {
    const id = customVjp((a) => a, (g) => [g.mul(10)], { name: "scaled" });
    const a = f64([1, 2], [2], true);
    const out = id(a);
    expect(out).not.toBe(a);
    out.sum().backward();
    expectClose(a.grad!.data, [10, 10], 0, 0);
    expect(() => customVjp(() => 1 as unknown as Tensor, (g) => [g], { name: "bad" })(a)).toThrow("bad: forward must return a Tensor, got number");
    expect(() => customVjp(() => 1 as unknown as Tensor, (g) => [g])(a)).toThrow("customVjp: forward must return a Tensor, got number");
    const two = (gs: (Tensor | null | undefined)[]) => customVjp((p, q) => p.add(q), () => gs, { name: "two" });
    const [p, q] = [f64([1], [1], true), f64([2], [1], true)];
    two([null, f64([5], [1])])(p, q).sum().backward();
    expect(p.grad).toBe(null);
    expectClose(q.grad!.data, [5], 0, 0);
    const r = f64([1], [1], true);
    two([undefined, f64([1], [1])])(r, q).sum().backward();
    expect(r.grad).toBe(null);
    expect(() => two([f64([1, 2], [2]), null])(p, q).sum().backward()).toThrow("two: backward's gradient 0 must be a Tensor of shape [1], got [2]");
    expect(() => two([3 as unknown as Tensor, null])(p, q).sum().backward()).toThrow("two: backward's gradient 0 must be a Tensor of shape [1], got number");
    expect(() => customVjp((t) => t.mul(2), () => 5 as unknown as Tensor[], { name: "n" })(p).sum().backward()).toThrow(
      "n: backward must return an array of 1 gradients (one per input, null for none), got number",
    );
  });
});

describe("gradcheck's report: where, how wrong, which order, the tolerances", () => {
  // x ↦ Σ x² with a backward that says 3x: wrong by x at each element.
  const wrongSquare = customVjp((t) => t.square(), (g, [t]) => [g.mul(t).mul(3)]);
  const off = (factor: number) => customVjp((t) => t.square(), (g, [t]) => [g.mul(t).mul(2 * factor)]);

  it("names the input, the index (unravelled row-major) and both values of the worst element", () => {
    const a = f64([0.1, 0.2, 0.3, 0.4, -3, 0.5], [2, 3]);
    const b = f64([0.5], [1]);
    const report = gradcheck((p, q) => p.square().sum().add(wrongSquare(q).sum()), [b, a], { raise: false });
    expect(report.ok).toBe(false);
    expect(report.failedOrder).toBe(1);
    expect(report.worst!.input).toBe(1);
    expect(report.worst!.index).toEqual([1, 1]);
    expect(report.worst!.analytic).toBeCloseTo(-9, 12);
    expect(report.worst!.numeric).toBeCloseTo(-6, 6);
    expect(report.worst!.relError).toBeCloseTo(0.5, 6);
    expect(report.message).toMatch(/^gradcheck failed: worst input 1 \(shape \[2,3\]\) at index \[1,1\]: analytic -9, numeric -6\.\d+, relative error 5\.00e-1 \(atol 1e-7, rtol 0\.000001\)$/);
    expect(() => gradcheck((p) => wrongSquare(p).sum(), [a])).toThrow(/^gradcheck failed: worst input 0/);
  });

  it("a NaN gradient is the worst element", () => {
    const nan = customVjp((t) => t.square(), (g, [t]) => [t.mul(Number.NaN)]);
    const report = gradcheck((t) => nan(t).sum(), [f64([1, 2], [2])], { raise: false });
    expect(report.ok).toBe(false);
    expect(report.worst!.analytic).toBeNaN();
  });

  it("passes within atol + rtol·|numeric| (+ the rounding noise), and fails outside: rtol, atol and eps as given", () => {
    const x = f64([3, -2], [2]);
    const close = (t: Tensor) => off(1 + 1e-7)(t).sum(); // 2x(1 + 1e-7): 6e-7 off at x = 3
    expect(gradcheck(close, [x], { raise: false }).ok).toBe(true);
    expect(gradcheck(close, [x], { rtol: 1e-8, raise: false }).ok).toBe(false);
    expect(gradcheck(close, [x], { rtol: 1e-8, atol: 1e-5, raise: false }).ok).toBe(true);
    const r = gradcheck(close, [x], { rtol: 1e-8, atol: 2e-9, raise: false });
    expect(r.message).toContain("(atol 2e-9, rtol 1e-8)");
    // Σ x³ has central difference 3x² + eps²: at eps = 0.01 it is 1e-4 off the (exact) gradient.
    const cube = (t: Tensor) => t.pow(3).sum();
    expect(gradcheck(cube, [x], { raise: false }).ok).toBe(true);
    const coarse = gradcheck(cube, [x], { eps: 0.01, raise: false });
    expect(coarse.ok).toBe(false);
    expect(coarse.worst!.numeric - coarse.worst!.analytic).toBeCloseTo(1e-4, 9);
  });

  it("direction mode: one unit direction d from Random(seed), analytic ⟨∇f, d⟩ against the central difference", () => {
    const x = f64([1, -2, 0.5], [3]);
    const rng = new Random(4);
    const d = [rng.normal(), rng.normal(), rng.normal()];
    const norm = Math.hypot(...d);
    const along = d.reduce((s, v, i) => s + (v / norm) * x.data[i], 0);
    const report = gradcheck((t) => wrongSquare(t).sum(), [x], { mode: "direction", seed: 4, raise: false });
    expect(report.ok).toBe(false);
    expect(report.worst!.input).toBe(-1);
    expect(report.worst!.index).toEqual([]);
    expect(report.worst!.analytic).toBeCloseTo(3 * along, 12);
    expect(report.worst!.numeric).toBeCloseTo(2 * along, 6);
    expect(report.message).toMatch(/^gradcheck failed: worst along a random direction: analytic/);
    expect(gradcheck((t) => t.square().sum(), [x], { mode: "direction", seed: 4, raise: false }).ok).toBe(true);
  });

  it("order 2 checks the gradient of ⟨∇f, v⟩; an order other than 1 or 2 and inputs without elements are named", () => {
    const x = f64([0.7, -1.2], [2]);
    expect(gradcheck((t) => t.pow(3).sum(), [x], { order: 2, raise: false }).failedOrder).toBe(null);
    const firstWrong = gradcheck((t) => wrongSquare(t).sum(), [x], { order: 2, raise: false });
    expect(firstWrong.failedOrder).toBe(1);
    expect(() => gradcheck((t) => t.sum(), [x], { order: 3 as 1 })).toThrow("gradcheck: order must be 1 or 2, got 3");
    const empty = gradcheck((t) => t.sum(), [f64([], [0])]);
    expect(empty.ok).toBe(true);
    expect(empty.worst).toBe(null);
    expect(empty.message).toBe("gradcheck: no inputs with elements");
  });
});

describe("the engine, the elementwise ops, reductions and shapes: edges", () => {
  it("backward leaves .grad on leaves only, and a second backward through a freed graph says how to keep it", () => {
    const x = f64([1, 2], [2], true);
    const h = x.mul(3);
    const y = h.square().sum();
    y.backward();
    expectClose(x.grad!.data, [18, 36], 0, 0); // d/dx (3x)² = 18x
    expect(h.grad).toBe(null);
    expect(() => y.backward()).toThrow('backward: the graph through "sum" was freed by an earlier backward(); recompute the forward pass, or pass { retainGraph: true } to the earlier one');
  });

  it("an in-place write to a saved tensor is refused with the op, both versions and the fix", () => {
    const x = f64([1, 2], [2], true);
    const w = f64([3, 4], [2]);
    const y = x.mul(w).sum();
    w.assign([5, 6]);
    expect(() => y.backward()).toThrow(
      'backward: a tensor of shape [2] that "mul" saved for its gradient was modified in place after "mul" ran (its storage\'s version was 0, now 1: an optimizer step, loadParameters or assign()); run the forward pass again after the update, or give "mul" a copy (x.clone()) of the tensor you write into',
    );
  });

  it("backward with createGraph: a differentiable .grad, added to on a second call", () => {
    const x = f64([1, -2], [2], true);
    x.pow(3).sum().backward(undefined, { createGraph: true });
    expectClose(x.grad!.data, [3, 12], 0, 0);
    expect(x.grad!.requiresGrad).toBe(true);
    x.pow(3).sum().backward(undefined, { createGraph: true });
    expectClose(x.grad!.data, [6, 24], 0, 0);
  });

  it("a gradient a custom backward returns for an input that does not require grad is dropped", () => {
    const both = customVjp((p, q) => p.mul(q), (g, [p, q]) => [g.mul(q), g.mul(p)]);
    const [p, q] = [f64([2], [1], true), f64([3], [1])];
    both(p, q).sum().backward();
    expectClose(p.grad!.data, [3], 0, 0);
    expect(q.grad).toBe(null);
  });

  it("gradients() of a root that does not depend on a float64 target: zeros of its dtype", () => {
    const [a, b] = [f64([1, 2], [2], true), f64([3], [1], true)];
    const [ga, gb] = gradients(a.square().sum(), [a, b]).grads;
    expectClose(ga.data, [2, 4], 0, 0);
    expect(gb.dtype).toBe("float64");
    expect(Array.from(gb.data)).toEqual([0]);
  });

  it("relu's gradient at 0 is 0 (PyTorch's convention); pow refuses a tensor exponent; x⁰ saves nothing, so writing x after is fine", () => {
    expect(Array.from(grad((t: Tensor) => t.relu().sum())(f64([0, -1, 2], [3])).data)).toEqual([0, 0, 1]);
    expect(() => f64([1], [1]).pow(tensor([2]) as unknown as number)).toThrow("pow: the exponent must be a plain number");
    const x = f64([1.5, 2], [2], true);
    const y = x.pow(0).sum();
    x.assign([7, 8]);
    y.backward();
    expect(Array.from(x.grad!.data)).toEqual([0, 0]);
  });

  it("reductions name themselves when the axis is out of range", () => {
    const x = f64([1, 2, 3, 4], [2, 2]);
    for (const op of ["sum", "mean", "max", "logsumexp"] as const) {
      expect(() => x[op](2)).toThrow(`${op}: axis 2 is out of range for a tensor with 2 dimensions`);
    }
  });

  it("permute refuses an axis out of range and one given twice (as i and i − r); −1 counts from the end", () => {
    const x = f64([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(() => x.permute([2, 0])).toThrow("permute: [2,0] is not a permutation of the 2 axes of a tensor of shape [2,3]");
    expect(() => x.permute([1, -1])).toThrow("permute: [1,-1] is not a permutation of the 2 axes of a tensor of shape [2,3]");
    expect(() => x.permute([0, -2])).toThrow("permute: [0,-2] is not a permutation");
    expectClose(x.permute([-1, 0]).contiguous().data, [1, 4, 2, 5, 3, 6], 0, 0);
  });

  it("reshape of an empty tensor with −1: the unknown size is 0 when the known ones multiply to 0", () => {
    expect(f64([], [0, 3]).reshape([0, -1]).shape).toEqual([0, 0]);
    expect(f64([], [0, 3]).reshape([-1, 3]).shape).toEqual([0, 3]);
  });

  it("concat of float64 tensors is float64, and along a middle axis interleaves the blocks", () => {
    const a = f64([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [2, 2, 2]);
    const b = f64([1.1, 1.2, 1.3, 1.4], [2, 1, 2]);
    const c = a.concat([b], 1);
    expect(c.dtype).toBe("float64");
    expect(c.shape).toEqual([2, 3, 2]);
    expect(Array.from(c.data)).toEqual([0.1, 0.2, 0.3, 0.4, 1.1, 1.2, 0.5, 0.6, 0.7, 0.8, 1.3, 1.4]);
  });
});

describe("the transforms: messages with 2-D shapes, repeated pullbacks, nesting", () => {
  const m23 = () => f64(values(6, 11), [2, 3]);

  it("shapes in messages are comma-separated; each transform names itself", () => {
    expect(() => jvp((a) => a, [m23()], [f64(values(6, 1), [3, 2])])).toThrow("jvp: tangent 0 must be a Tensor of the primal's shape [2,3]");
    expect(() => hvp((a) => a.sum(), m23(), f64(values(6, 1), [3, 2]))).toThrow("hvp: v has shape [3,2], x has shape [2,3]");
    const bad = customVjp((a) => a.mul(2), () => [f64(values(6, 1), [3, 2])], { name: "b" });
    expect(() => bad(f64(values(6, 2), [2, 3], true)).sum().backward()).toThrow("b: backward's gradient 0 must be a Tensor of shape [2,3], got [3,2]");
    for (const [name, run] of [["jvp", () => jvp(() => 3 as unknown as Tensor, [m23()], [m23()])], ["jacrev", () => jacrev(() => 3 as unknown as Tensor)(m23())], ["jacfwd", () => jacfwd(() => 3 as unknown as Tensor)(m23())]] as const) {
      expect(run, name).toThrow(`${name}: f must return a Tensor, got number`);
    }
  });

  it("a vjp's pullback can be called again, and gives the same uᵀJ", () => {
    const [, pull] = vjp((a) => a.square(), f64([1, -2], [2]));
    expectClose(pull(f64([1, 1], [2]))[0].data, [2, -4], 0, 0);
    expectClose(pull(f64([3, 1], [2]))[0].data, [6, -4], 0, 0);
  });

  it("jvp inside grad is differentiated: d/dx Σ (3x²·v) = 6x·v; grad inside noGrad returns constants", () => {
    const v = f64([1, 2], [2]);
    const g = grad((t: Tensor) => jvp((a) => a.pow(3), [t], [v])[1].sum())(f64([0.5, -1], [2]));
    expectClose(g.data, [3, -12], 1e-15, 0);
    const w = f64([2], [1], true);
    const [value, gx] = noGrad(() => valueAndGrad((a: Tensor) => a.mul(w).sum())(f64([1, 2], [2], true)));
    expect(value.requiresGrad).toBe(false);
    expect(gx.requiresGrad).toBe(false);
  });

  it("a gradient with respect to some arguments stays differentiable in another that requires grad (argnums [0, 1], the outer in 1)", () => {
    const a = f64([1, -2], [2]);
    // f = Σ a²·b: ∂a = 2ab; d/db Σ 2ab = 2a.
    const outer = grad((bb: Tensor) => (grad((p: Tensor, q: Tensor) => p.square().mul(q).sum(), { argnums: [0, 1] })(a, bb) as Tensor[])[0].sum())(f64([3, 4], [2]));
    expectClose(outer.data, [2, -4], 0, 0);
  });

  it("a non-Tensor argument that is not differentiated is passed through as it is", () => {
    const g = grad((s: Tensor, t: Tensor) => t.mul(s).sum(), { argnums: 1 })(2 as unknown as Tensor, f64([1, 2], [2]));
    expectClose(g.data, [2, 2], 0, 0);
  });

  it("Jacobians of an empty input or output are empty, and of a float64 constant are float64", () => {
    expect(jacrev((a) => a.mul(2))(f64([], [0])).shape).toEqual([0, 0]);
    expect(jacfwd((a) => a.mul(2))(f64([], [0])).shape).toEqual([0, 0]);
    expect(jacfwd(() => f64([1], [1]))(f64([1, 2], [2])).dtype).toBe("float64");
  });

  it("customVjp records its inputs' versions: a write into an input after the call is refused at backward", () => {
    const double = customVjp((a) => a.mul(2), (g) => [g.mul(2)], { name: "double" });
    const x = f64([1, 2], [2], true);
    const y = double(x).sum();
    x.assign([3, 4]);
    expect(() => y.backward()).toThrow(/that "double" saved for its gradient was modified in place/);
  });
});
