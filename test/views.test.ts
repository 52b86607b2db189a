// Tensors are views (shape, strides, offset) over a Storage: view ops copy nothing, every op takes
// strided inputs, and results equal those of the same values laid out contiguously.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as T from "../src/index.js";
import { Tensor, dense, matmul, tensor } from "../src/index.js";
import { expectClose, expectGradcheck, randomTensor, shapeArb, weighted } from "./helpers.js";

const runs = { numRuns: 30 };

/** The element at a multi-index, read through the strides: the definition of a view. */
function at(t: Tensor, index: number[]): number {
  return t.storage.data[t.offset + index.reduce((s, i, a) => s + i * t.strides[a], 0)];
}

/** Every multi-index of a shape, row-major. */
function indices(shape: readonly number[]): number[][] {
  const out: number[][] = [[]];
  for (const d of shape) out.splice(0, out.length, ...out.flatMap((p) => Array.from({ length: d }, (_, i) => [...p, i])));
  return out;
}

/** A random permutation of [0, n) from a seed. */
const permutationArb = (n: number) => fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n });

/** A random strided view of a fresh tensor: its axes permuted, then one axis sliced. */
const stridedArb = shapeArb.filter((s) => s.length > 0).chain((shape) =>
  fc.tuple(fc.constant(shape), permutationArb(shape.length), fc.nat(), fc.nat(), fc.integer()).map(([s, perm, u, v, seed]) => {
    const base = randomTensor(s, seed);
    let x = base.permute(perm);
    const axis = Math.abs(seed) % x.ndim;
    const len = x.shape[axis];
    const start = u % len;
    x = x.slice(start, start + 1 + (v % (len - start)), axis);
    return { base, x };
  }),
);

describe("views share storage", () => {
  it("reshape, detach, transpose, permute, .T and slice copy nothing and see writes both ways", () => {
    const base = tensor([[1, 2, 3], [4, 5, 6]]);
    const views = [base.reshape([3, 2]), base.detach(), base.transpose(), base.T, base.reshape([1, 2, 3]).permute([2, 0, 1]), base.slice(1, 3, 1), base.slice(1, 2)];
    for (const v of views) expect(v.storage).toBe(base.storage);
    base.assign([10, 20, 30, 40, 50, 60]);
    expect(base.T.toArray()).toEqual([[10, 40], [20, 50], [30, 60]]);
    expect(base.slice(1, 3, 1).toArray()).toEqual([[20, 30], [50, 60]]);
    base.T.slice(0, 1).assign([-1, -4]); // writes the first column of base
    expect(base.toArray()).toEqual([[-1, 20, 30], [-4, 50, 60]]);
    expect(base.storage.version).toBe(2);
  });

  it("each view reads the elements its definition names", () => {
    fc.assert(
      fc.property(stridedArb, ({ base, x }) => {
        const c = x.contiguous();
        expect(c.isContiguous).toBe(true);
        indices(x.shape).forEach((idx, flat) => expect(c.data[flat]).toBe(at(x, idx)));
        expect(x.storage).toBe(base.storage);
      }),
      runs,
    );
  });

  it(".data of a strided view refuses and says what to do; reshape of one copies", () => {
    const x = tensor([[1, 2], [3, 4]]).T;
    expect(() => x.data).toThrow(/data: this tensor is a strided view \(shape \[2,2\], strides \[1,2\]\); call \.contiguous\(\)/);
    const r = x.reshape([4]);
    expect(Array.from(r.data)).toEqual([1, 3, 2, 4]);
    expect(r.storage).not.toBe(x.storage);
    expect(() => tensor([1, 2, 3]).permute([0, 0, 1])).toThrow(/permute: \[0,0,1\] is not a permutation of the 1 axes/);
    expect(() => tensor([1, 2, 3]).T).toThrow(/transpose: expects a 2-D tensor, got shape \[3\]; use permute/);
  });
});

describe("every op takes strided inputs", () => {
  const unary: [string, (t: Tensor) => Tensor][] = [
    ["neg", T.neg], ["exp", T.exp], ["square", T.square], ["tanh", T.tanh], ["sigmoid", T.sigmoid], ["softplus", T.softplus],
    ["logSigmoid", T.logSigmoid], ["relu", T.relu], ["pow(3)", (t) => T.pow(t, 3)], ["sum", (t) => T.sum(t)], ["mean(0)", (t) => T.mean(t, 0)],
    ["max(-1)", (t) => T.max(t, -1)], ["logsumexp(0)", (t) => T.logsumexp(t, 0)], ["reshape", (t) => t.reshape([-1])],
    ["gather", (t) => t.gather([0, 0])], ["concat", (t) => T.concat([t, t], 0)], ["clone", (t) => t.clone()],
  ];
  for (const [name, op] of unary) {
    it(`${name}: on a permuted, sliced view equals the op on its contiguous copy, and gradchecks`, () => {
      fc.assert(
        fc.property(stridedArb, ({ x }) => {
          const got = op(x);
          const want = op(x.contiguous());
          expect(got.shape).toEqual(want.shape);
          expect(Array.from(dense(got))).toEqual(Array.from(dense(want)));
          expectGradcheck(weighted((t) => op(t.permute([...Array(t.ndim).keys()].reverse()).permute([...Array(t.ndim).keys()].reverse())), want.shape), [x]);
        }),
        { numRuns: 10 },
      );
    });
  }

  it("binary ops broadcast a strided view against a contiguous tensor", () => {
    fc.assert(
      fc.property(stridedArb, fc.integer(), ({ x }, seed) => {
        const y = randomTensor(x.shape.slice(1), seed, 0.5, 2);
        for (const op of [T.add, T.sub, T.mul, T.div]) {
          expect(Array.from(dense(op(x, y)))).toEqual(Array.from(dense(op(x.contiguous(), y))));
          expect(Array.from(dense(op(y, x)))).toEqual(Array.from(dense(op(y, x.contiguous()))));
        }
      }),
      runs,
    );
  });

  it("gradients flow back through views into the base: gradcheck of f(base) = Σ w·op(view(base))", () => {
    fc.assert(
      fc.property(shapeArb.filter((s) => s.length > 0), fc.integer(), (shape, seed) => {
        const perm = [...shape.keys()].reverse();
        const f = (t: Tensor) => t.permute(perm).slice(0, 1, 0).tanh();
        const base = randomTensor(shape, seed);
        expectGradcheck(weighted(f, f(base).shape), [base]);
      }),
      runs,
    );
  });
});

describe("matmul reads transposed views in place", () => {
  it("x·Wᵀ through W.T equals the transB option, values and both gradients, in all four forms", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.integer(), (m, k, n, seed) => {
        for (const dtype of ["float64", "float32"] as const) {
          const a = randomTensor([m, k], seed, -1, 1, dtype);
          const bt = randomTensor([n, k], seed + 1, -1, 1, dtype); // stored as Bᵀ
          const at = randomTensor([k, m], seed + 2, -1, 1, dtype); // stored as Aᵀ
          const pairs: [() => Tensor, () => Tensor][] = [
            [() => a.matmul(bt.T), () => matmul(a, bt, { transB: true })],
            [() => at.T.matmul(bt.T), () => matmul(at, bt, { transA: true, transB: true })],
            [() => at.T.matmul(a.T), () => matmul(at, a, { transA: true, transB: true })],
            [() => matmul(bt.T, at, { transA: true }), () => matmul(bt, at)],
            [() => matmul(at.T, a.T.T, { transB: true }), () => matmul(at, a, { transA: true, transB: true })],
          ];
          for (const [viaView, viaFlag] of pairs) expect(Array.from(viaView().data)).toEqual(Array.from(viaFlag().data));
          const w = randomTensor([m, n], seed + 3, 0.5, 1.5, dtype);
          const g1 = T.grad((x: Tensor, y: Tensor) => x.matmul(y.T).mul(w).sum(), { argnums: [0, 1] })(a, bt);
          const g2 = T.grad((x: Tensor, y: Tensor) => matmul(x, y, { transB: true }).mul(w).sum(), { argnums: [0, 1] })(a, bt);
          expectClose(g1[0].data, g2[0].data, 0, 0);
          expectClose(g1[1].data, g2[1].data, 0, 0);
          expect(g1[1].isContiguous).toBe(true); // the gradient of W comes back in W's own layout
        }
      }),
      runs,
    );
  });

  it("gradchecks through a transposed operand on either side", () => {
    const a = randomTensor([3, 4], 1);
    const b = randomTensor([5, 4], 2);
    expectGradcheck(weighted((x, y) => x.matmul(y.T), [3, 5]), [a, b]);
    expectGradcheck(weighted((x, y) => y.T.T.matmul(x.T), [5, 3]), [a, b]);
  });
});
