// Bad arguments to the shape ops and the engine are refused with a message that names the op and
// what was wrong; and the engine's options (retainGraph, createGraph, gradients' targets, persistent
// buffers) do what they say.
import { describe, expect, it } from "vitest";
import * as T from "../src/index.js";
import { Tensor, backward, gradients, tensor } from "../src/index.js";
import { gradBuffer, needsGrad, setGradBuffer } from "../src/autograd/engine.js";
import { expectClose, randomTensor } from "./helpers.js";

describe("shape ops refuse what they cannot do", () => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]);
  it("reshape", () => {
    expect(T.reshape(x, [3, -1]).shape).toEqual([3, 2]);
    expect(T.reshape(x, [-1]).shape).toEqual([6]);
    expect(T.reshape(tensor(new Float32Array(0), { shape: [0, 3] }), [-1, 3]).shape).toEqual([0, 3]);
    expect(T.reshape(tensor(new Float32Array(0), { shape: [0, 3] }), [3, -1]).shape).toEqual([3, 0]);
    expect(() => T.reshape(x, [4, -1])).toThrow(/reshape: cannot reshape a tensor of shape \[2,3\] \(6 values\) to \[4,-1\]/);
    expect(() => T.reshape(x, [6, 1, 2])).toThrow(/reshape: cannot reshape/);
    expect(() => T.reshape(x, [-2, -3])).toThrow(/reshape: cannot reshape/);
    expect(() => T.reshape(x, [1.5, 4])).toThrow(/reshape: cannot reshape/);
  });
  it("permute and transpose", () => {
    expect(x.permute([1, 0]).shape).toEqual([3, 2]);
    expect(x.permute([-1, 0]).shape).toEqual([3, 2]);
    expect(x.reshape([1, 2, 3]).permute([2, 0, 1]).toArray()).toEqual([[[1, 4]], [[2, 5]], [[3, 6]]]);
    expect(x.reshape([1, 2, 3]).permute([-1, -3, -2]).shape).toEqual([3, 1, 2]);
    for (const bad of [[0], [0, 0], [0, 2], [0, -3], [0, 1.5], [1, 0, 2]]) {
      expect(() => x.permute(bad), JSON.stringify(bad)).toThrow(new RegExp(`permute: \\[${bad.join(",")}\\] is not a permutation of the 2 axes of a tensor of shape \\[2,3\\]`));
    }
    expect(x.T.node).toBeNull(); // no graph for tensors that need no grad
    const w = tensor([[1, 2]], { requiresGrad: true });
    expect(w.T.node!.op).toBe("transpose");
    expect(w.reshape([1, 1, 2]).permute([2, 1, 0]).node!.op).toBe("permute");
  });
  it("slice", () => {
    expect(x.slice(0, 0).shape).toEqual([0, 3]);
    expect(x.slice(1, 3, 1).toArray()).toEqual([[2, 3], [5, 6]]);
    expect(x.slice(2, 3, -1).toArray()).toEqual([[3], [6]]);
    for (const [s, e] of [[-1, 1], [0, 3], [2, 1], [0.5, 1], [0, 1.5]]) {
      expect(() => x.slice(s, e), `[${s}, ${e})`).toThrow(new RegExp(`slice: range \\[${s}, ${e}\\) is not within 0..2 along axis 0 of shape \\[2,3\\]`));
    }
    expect(() => x.slice(0, 1, 2)).toThrow(/slice: axis 2 is out of range for a tensor with 2 dimensions/);
    expect(x.slice(1, 1, 1).shape).toEqual([2, 0]);
  });
  it("gather", () => {
    expect(x.gather([1, 1, 0]).toArray()).toEqual([[4, 5, 6], [4, 5, 6], [1, 2, 3]]);
    expect(x.gather([]).shape).toEqual([0, 3]);
    expect(() => tensor(3).gather([0])).toThrow(/gather: cannot gather rows of a 0-D tensor/);
    for (const i of [-1, 2, 0.5, NaN]) expect(() => x.gather([0, i]), String(i)).toThrow(new RegExp(`gather: index ${i} is out of range for 2 rows`));
  });
  it("concat", () => {
    expect(() => T.concat([])).toThrow(/concat: needs at least one tensor/);
    expect(() => T.concat([x, tensor([[1, 2]])], 0)).toThrow(/concat: shapes \[2,3\] and \[1,2\] differ outside axis 0/);
    expect(() => T.concat([x, tensor([1, 2, 3])], 0)).toThrow(/concat: shapes \[2,3\] and \[3\] differ outside axis 0/);
    expect(() => T.concat([x], 2)).toThrow(/concat: axis 2 is out of range/);
    const mixed = T.concat([x, tensor([[7, 8, 9]], { dtype: "float64" })], 0);
    expect(mixed.dtype).toBe("float64");
    expect(T.concat([x, x], 0).dtype).toBe("float32");
    expect(T.concat([x, tensor([[7], [8]])], 1).toArray()).toEqual([[1, 2, 3, 7], [4, 5, 6, 8]]);
    expect(T.concat([tensor([[1, 2], [3, 4]]), tensor([[5], [6]]), tensor([[7, 8, 9], [0, 0, 0]])], 1).toArray()).toEqual([[1, 2, 5, 7, 8, 9], [3, 4, 6, 0, 0, 0]]);
  });
  it("broadcastTo", () => {
    expect(() => T.broadcastTo(x, [3, 3])).toThrow(/broadcastTo: shapes \[2,3\] and \[3,3\] cannot be broadcast/);
    expect(() => T.broadcastTo(x, [2, 1])).toThrow(/broadcastTo: shape \[2,3\] does not broadcast to \[2,1\]/);
    expect(T.broadcastTo(tensor([[1], [2]]), [2, 2, 3]).toArray()).toEqual([[[1, 1, 1], [2, 2, 2]], [[1, 1, 1], [2, 2, 2]]]);
  });
});

describe("the engine's options", () => {
  it("retainGraph lets backward run twice; without it the second run says the graph was freed", () => {
    const a = tensor([1, 2], { dtype: "float64", requiresGrad: true });
    const y = a.square().sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect(Array.from(a.grad!.data)).toEqual([4, 8]);
    expect(() => y.backward()).toThrow(/freed by an earlier backward/);
    const z = a.exp().sum();
    gradients(z, [a], { retainGraph: true });
    expectClose(gradients(z, [a]).grads[0].data, [Math.E, Math.E ** 2], 1e-15);
    expect(() => gradients(z, [a])).toThrow(/freed/);
  });

  it("createGraph accumulates differentiable gradients into a leaf that already has one", () => {
    const a = tensor([3], { dtype: "float64", requiresGrad: true });
    a.pow(3).sum().backward(undefined, { createGraph: true }); // 3a² = 27
    a.square().sum().backward(undefined, { createGraph: true }); // + 2a = 6
    const g = a.grad!;
    expect(g.item()).toBe(33);
    a.grad = null;
    g.backward(); // d(3a² + 2a)/da = 6a + 2
    expect(a.grad!.item()).toBe(20);
  });

  it("gradients: an intermediate tensor as a target, zeros for one root does not depend on, an upstream gradient", () => {
    const a = tensor([1, 2], { dtype: "float64", requiresGrad: true });
    const b = tensor([5], { dtype: "float64", requiresGrad: true });
    const h = a.mul(3);
    const y = h.square();
    const [gh, ga, gb] = gradients(y, [h, a, b], { gradient: tensor([1, 10], { dtype: "float64" }) }).grads;
    expect(Array.from(gh.data)).toEqual([6, 120]); // 2h·u
    expect(Array.from(ga.data)).toEqual([18, 360]); // 2h·3·u
    expect(Array.from(gb.data)).toEqual([0]);
    expect(a.grad).toBeNull();
    expect(() => gradients(y, [a], { gradient: tensor([1, 1], { dtype: "float64" }) })).toThrow(/freed/); // freed between the targets and root
    expect(() => gradients(tensor([1]), [a])).toThrow(/gradients: this tensor does not require grad/);
    const y2 = a.square();
    expect(() => gradients(y2, [a])).toThrow(/gradients: called on a tensor of shape \[2\] without an upstream gradient/);
    expect(() => gradients(y2, [a], { gradient: tensor([1, 2, 3]) })).toThrow(/gradients: gradient of shape \[3\] does not match the tensor's shape \[2\]/);
    expect(() => backward(y2, tensor([1]))).toThrow(/backward: gradient of shape \[1\] does not match the tensor's shape \[2\]/);
  });

  it("only gradients on a path to a requested input are computed", () => {
    const seen: boolean[] = [];
    const probe = T.customVjp((t: Tensor, w: Tensor) => t.mul(w), (g, [t, w]) => {
      seen.push(needsGrad(t), needsGrad(w));
      return [g.mul(w), g.mul(t)];
    });
    const w = tensor([2], { requiresGrad: true });
    T.grad((t: Tensor) => probe(t, w.detach()).sum())(tensor([3]));
    expect(seen).toEqual([true, false]);
    seen.length = 0;
    probe(tensor([3], { requiresGrad: true }), w).sum().backward();
    expect(seen).toEqual([true, true]);
  });

  it("an op's gradient of the wrong shape is named", () => {
    const bad = T.customVjp((t: Tensor) => t.exp(), (g) => [g], { name: "fine" });
    const a = tensor([1, 2], { requiresGrad: true });
    const y = T.record(T.mapUnary(a, Math.exp), "wrongShape", [a], () => [tensor([1, 2, 3])]);
    expect(() => y.sum().backward()).toThrow(/backward: "wrongShape" produced a gradient of shape \[3\] for an input of shape \[2\]/);
    expect(() => bad(a).sum().backward()).not.toThrow();
  });

  it("persistent buffers: only for leaves of the right size and dtype; used once per backward, then accumulated into", () => {
    const a = tensor([1, 2], { requiresGrad: true });
    expect(() => setGradBuffer(a.mul(2), new Float32Array(2))).toThrow(/setGradBuffer: only leaves/);
    expect(() => setGradBuffer(a, new Float32Array(3))).toThrow(/setGradBuffer: a float32 tensor of 2 values needs a buffer of the same, got float32 × 3/);
    expect(() => setGradBuffer(a, new Float64Array(2))).toThrow(/got float64 × 2/);
    const buffer = new Float32Array(2);
    setGradBuffer(a, buffer);
    expect(gradBuffer(a)).toBe(buffer);
    const w = randomTensor([3, 2], 1, -1, 1, "float32");
    const b = tensor([0, 0, 0]);
    // a used twice in one backward: the buffer holds the sum
    let x = a.reshape([1, 2]);
    T.linear(x, w, b, "none").sum().add(T.linear(x, w, b, "none").sum()).backward();
    expect(a.grad!.data).toBe(buffer);
    const colSums = [0, 1].map((j) => 2 * (w.data[j] + w.data[2 + j] + w.data[4 + j]));
    expectClose(buffer, colSums, 1e-6);
    // a second backward adds in place
    x = a.reshape([1, 2]);
    T.linear(x, w, b, "none").sum().backward();
    expect(a.grad!.data).toBe(buffer);
    expectClose(buffer, colSums.map((v) => 1.5 * v), 1e-6);
    // a .grad replaced by a tensor of another size is not written into the buffer
    a.grad = tensor([1, 1, 1]);
    expect(() => a.sum().backward()).not.toThrow();
    setGradBuffer(a, null);
    expect(gradBuffer(a)).toBeNull();
  });
});
