// The contracts every op keeps beyond its values: the name it records (errors quote it), the
// tensors whose in-place writes its backward must refuse, and its defaults.
import { describe, expect, it } from "vitest";
import * as T from "../src/index.js";
import { Tensor, grad, tensor } from "../src/index.js";
import { expectClose, randomTensor } from "./helpers.js";

const x = () => randomTensor([2, 3], 1, 0.5, 2).detach();
const y = () => randomTensor([2, 3], 2, 0.5, 2).detach();

/** [recorded name, op, which of the inputs the backward reads (so a write into them must be refused)]. */
const unary: [string, (t: Tensor) => Tensor, boolean][] = [
  ["neg", T.neg, false], ["exp", T.exp, false], ["log", T.log, true], ["log1p", T.log1p, true], ["square", T.square, true],
  ["sqrt", T.sqrt, false], ["relu", T.relu, true], ["tanh", T.tanh, true], ["sigmoid", T.sigmoid, true], ["softplus", T.softplus, true],
  ["logSigmoid", T.logSigmoid, true], ["sigmoidPrime", T.sigmoidPrime, true], ["tanhPrime", T.tanhPrime, true],
  ["pow", (t) => T.pow(t, 3), true], ["sum", (t) => T.sum(t), false], ["mean", (t) => T.mean(t, 1), false], ["max", (t) => T.max(t, 0), true],
  ["logsumexp", (t) => T.logsumexp(t, 1), true], ["reshape", (t) => t.reshape([3, 2]), false], ["transpose", (t) => t.T, false],
  ["permute", (t) => t.reshape([1, 2, 3]).permute([2, 0, 1]), false], ["slice", (t) => t.slice(0, 1, 1), false], ["gather", (t) => t.gather([1, 0, 1]), false],
  ["clone", (t) => t.clone(), false], ["broadcastTo", (t) => T.broadcastTo(t, [4, 2, 3]), false], ["sumTo", (t) => T.sumTo(t, [1, 3]), false],
  ["cast", (t) => T.cast(t, "float32"), false], ["concat", (t) => T.concat([t, t], 1), false],
];
const binary: [string, (a: Tensor, b: Tensor) => Tensor, [boolean, boolean]][] = [
  ["add", T.add, [false, false]], ["sub", T.sub, [false, false]], ["mul", T.mul, [true, true]], ["div", T.div, [false, true]],
  ["matmul", (a, b) => T.matmul(a, b, { transB: true }), [true, true]],
];

describe("each op records its name, and refuses a backward through a value written since", () => {
  for (const [name, op, reads] of unary) {
    it(name, () => {
      const a = x();
      a.requiresGrad = true;
      const out = op(a);
      expect(out.node!.op).toBe(name);
      const loss = T.sum(out); // sum reads no values, and a view op's result shares a's storage
      a.detach().assign(a.contiguous().add(1).data);
      if (reads) expect(() => loss.backward()).toThrow(new RegExp(`"${name}" saved for its gradient was modified in place`));
      else expect(() => loss.backward()).not.toThrow();
    });
  }
  for (const [name, op, [readsA, readsB]] of binary) {
    it(name, () => {
      for (const which of [0, 1]) {
        const [a, b] = [x(), y()];
        a.requiresGrad = true;
        b.requiresGrad = true;
        const out = op(a, b);
        expect(out.node!.op).toBe(name);
        const loss = T.sum(out);
        (which === 0 ? a : b).assign(randomTensor([2, 3], 9).data);
        const reads = which === 0 ? readsA : readsB;
        if (reads) expect(() => loss.backward(), `${name}, input ${which}`).toThrow(new RegExp(`"${name}" saved`));
        else expect(() => loss.backward(), `${name}, input ${which}`).not.toThrow();
      }
    });
  }

  it("exp, sqrt, div and logsumexp read their result: a write into it is refused too", () => {
    for (const [name, op] of [["exp", T.exp], ["sqrt", T.sqrt], ["div", (t: Tensor) => T.div(1, t)], ["logsumexp", (t: Tensor) => T.logsumexp(t, 1)]] as const) {
      const a = x();
      a.requiresGrad = true;
      const out = op(a);
      const loss = T.sum(out);
      out.assign(out.data);
      expect(() => loss.backward(), name).toThrow(new RegExp(`"${name}" saved`));
    }
  });

  it("the fused ops read their inputs and results", () => {
    const [w, b] = [randomTensor([4, 3], 3), randomTensor([4], 4)];
    for (const target of ["x", "weight", "out"] as const) {
      const xi = x();
      xi.requiresGrad = true;
      const out = T.linear(xi, w, b, "tanh");
      expect(out.node!.op).toBe("linear");
      const loss = T.sum(out);
      ({ x: xi, weight: w, out })[target].assign(({ x: xi, weight: w, out })[target].data);
      expect(() => loss.backward(), target).toThrow(/"linear" saved/);
    }
    const logits = randomTensor([2, 3], 6);
    logits.requiresGrad = true;
    const ll = T.bernoulliLogLikelihood(tensor([1, 0, 1]), logits);
    expect(ll.node!.op).toBe("bernoulliLogLikelihood");
    const loss = T.sum(ll);
    logits.assign(logits.data);
    expect(() => loss.backward()).toThrow(/"bernoulliLogLikelihood" saved/);
  });
});

describe("defaults and edge cases", () => {
  it("reductions over an axis drop it unless keepdims", () => {
    const a = x();
    for (const op of [T.sum, T.mean, T.max, T.logsumexp]) {
      expect(op(a, 1).shape).toEqual([2]);
      expect(op(a, 0, true).shape).toEqual([1, 3]);
      expect(op(a).shape).toEqual([]);
      expect(op(a, undefined, true).shape).toEqual([1, 1]);
    }
  });

  it("max's gradient: ties within a row do not count entries of the next row; a NaN takes it all", () => {
    // row 0 has its maximum 3 once; the next row starts with a 3 as well
    const g = grad((t: Tensor) => T.max(t, 1).sum())(tensor([[1, 3], [3, 0]], { dtype: "float64" }));
    expect(Array.from(g.data)).toEqual([0, 1, 1, 0]);
    const gc = grad((t: Tensor) => T.max(t, 0).sum())(tensor([[5, 1], [2, 5]], { dtype: "float64" }));
    expect(Array.from(gc.data)).toEqual([1, 0, 0, 1]);
    const gn = grad((t: Tensor) => T.max(t).mul(2))(tensor([1, NaN, 4, NaN], { dtype: "float64" }));
    expect(Array.from(gn.data)).toEqual([0, 2, 0, 0]);
  });

  it("mean scales the gradient by 1/len along the reduced axis only", () => {
    const g = grad((t: Tensor) => T.mean(t, 1).mul(tensor([1, 2], { dtype: "float64" })).sum())(tensor([[1, 2, 3], [4, 5, 6]], { dtype: "float64" }));
    expectClose(g.data, [1 / 3, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3], 1e-15);
  });

  it("logsumexp's gradient is the softmax along the axis", () => {
    const v = [[0, 1, 2], [5, 5, 5]];
    const g = grad((t: Tensor) => T.logsumexp(t, 1).mul(tensor([1, 3], { dtype: "float64" })).sum())(tensor(v, { dtype: "float64" }));
    const soft = (row: number[]) => row.map((a) => Math.exp(a) / row.reduce((s, b) => s + Math.exp(b), 0));
    expectClose(g.data, [...soft(v[0]), ...soft(v[1]).map((s) => 3 * s)], 1e-14);
  });
});
