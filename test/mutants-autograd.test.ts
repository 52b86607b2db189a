// Behaviour of src/autograd that the mutation run (npm run mutate) found unguarded. Expected values
// are closed forms written out here (Math.* per element, hand-computed sums and products), finite
// differences, or the definitions of the transforms, never the output of the code under test.
import { describe, expect, it } from "vitest";
import { Tensor, tensor } from "../src/index.js";
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
