import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as T from "../src/index.js";
import { broadcastShapes, type Tensor } from "../src/index.js";
import { broadcastPairArb, expectClose, expectGradcheck, randomTensor, shapeArb, weighted } from "./helpers.js";

const runs = { numRuns: 25 };

// Naive float64 references, written from the definitions, independent of the library's kernels.
const sigmoidRef = (x: number) => 1 / (1 + Math.exp(-x));
const unaryOps: [string, (x: Tensor) => Tensor, (v: number) => number, number, number][] = [
  ["neg", T.neg, (v) => -v, -3, 3],
  ["exp", T.exp, Math.exp, -3, 3],
  ["log", T.log, Math.log, 0.2, 4],
  ["log1p", T.log1p, (v) => Math.log(1 + v), -0.5, 3],
  ["square", T.square, (v) => v * v, -3, 3],
  ["sqrt", T.sqrt, Math.sqrt, 0.2, 4],
  ["pow(3)", (x) => T.pow(x, 3), (v) => v * v * v, -2, 2],
  ["pow(-1.5)", (x) => T.pow(x, -1.5), (v) => 1 / (v * Math.sqrt(v)), 0.3, 3],
  ["sigmoid", T.sigmoid, sigmoidRef, -8, 8],
  ["tanh", T.tanh, (v) => (Math.exp(2 * v) - 1) / (Math.exp(2 * v) + 1), -4, 4],
  ["relu", T.relu, (v) => (v > 0 ? v : 0), -3, 3],
  ["softplus", T.softplus, (v) => Math.log(1 + Math.exp(v)), -20, 20],
  ["logSigmoid", T.logSigmoid, (v) => Math.log(sigmoidRef(v)), -20, 20],
];

describe("unary ops: forward against a float64 reference, backward by gradcheck", () => {
  for (const [name, op, ref, low, high] of unaryOps) {
    it(name, () => {
      fc.assert(
        fc.property(shapeArb, fc.integer(), (shape, seed) => {
          let x = randomTensor(shape, seed, low, high);
          // Keep relu away from its kink, where the derivative is not defined.
          if (name === "relu") x = T.tensor(x.data.map((v) => (Math.abs(v) < 1e-3 ? 0.5 : v)), { shape });
          expectClose(op(x).data, Array.from(x.data, ref), 1e-12, 1e-14);
          expectGradcheck(weighted(op, shape), [x]);
        }),
        runs,
      );
    });
  }
});

const binaryOps: [string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => number][] = [
  ["add", T.add, (x, y) => x + y],
  ["sub", T.sub, (x, y) => x - y],
  ["mul", T.mul, (x, y) => x * y],
  ["div", T.div, (x, y) => x / y],
];

function broadcastRef(a: Tensor, b: Tensor, f: (x: number, y: number) => number): number[] {
  const shape = broadcastShapes(a.shape, b.shape, "ref");
  const size = shape.reduce((p, d) => p * d, 1);
  const at = (t: Tensor, index: number[]) => {
    let offset = 0;
    const lead = shape.length - t.ndim;
    t.shape.forEach((d, i) => (offset = offset * d + (d === 1 ? 0 : index[lead + i])));
    return t.data[offset];
  };
  const out: number[] = [];
  for (let flat = 0; flat < size; flat++) {
    const index: number[] = [];
    let r = flat;
    for (let i = shape.length - 1; i >= 0; i--) {
      index[i] = r % shape[i];
      r = Math.floor(r / shape[i]);
    }
    out.push(f(at(a, index), at(b, index)));
  }
  return out;
}

describe("binary ops with NumPy broadcasting", () => {
  for (const [name, op, ref] of binaryOps) {
    it(`${name}: forward and gradcheck over broadcast shapes`, () => {
      fc.assert(
        fc.property(broadcastPairArb, fc.integer(), ([sa, sb], seed) => {
          const a = randomTensor(sa, seed);
          const b = randomTensor(sb, seed + 1, name === "div" ? 0.5 : -2, 2);
          const out = op(a, b);
          expect(out.shape).toEqual(broadcastShapes(sa, sb, name));
          expectClose(out.data, broadcastRef(a, b, ref));
          expectGradcheck(weighted(op, out.shape), [a, b]);
        }),
        runs,
      );
    });
  }

  it("mutually broadcasting shapes ([3,1] with [1,4], [2,1,3] with [4,1]): forward and gradcheck of every binary op", () => {
    for (const [name, op, ref] of binaryOps) {
      for (const [sa, sb] of [[[3, 1], [1, 4]], [[2, 1, 3], [4, 1]], [[1, 5], [2, 1]]]) {
        const a = randomTensor(sa, 7);
        const b = randomTensor(sb, 8, name === "div" ? 0.5 : -2, 2);
        const out = op(a, b);
        expect(out.shape, name).toEqual(broadcastShapes(sa, sb, name));
        expectClose(out.data, broadcastRef(a, b, ref));
        expectGradcheck(weighted(op, out.shape), [a, b]);
      }
    }
  });

  it("plain numbers act as scalars on either side", () => {
    const x = T.tensor([1, 2, 3]);
    expect(Array.from(T.sub(10, x).data)).toEqual([9, 8, 7]);
    expect(Array.from(x.div(2).data)).toEqual([0.5, 1, 1.5]);
    expect(Array.from(x.mul(2).add(1).data)).toEqual([3, 5, 7]);
  });

  it("a shape mismatch names the op and both shapes", () => {
    expect(() => T.add(T.zeros([2, 3]), T.zeros([4]))).toThrow(/add: shapes \[2,3\] and \[4\] cannot be broadcast/);
    expect(() => T.matmul(T.zeros([3, 4]), T.zeros([5, 2]))).toThrow("matmul: a has shape [3,4] and b has shape [5,2]; inner dimensions 4 and 5 differ");
  });
});

describe("reductions over everything or one axis, with keepdims", () => {
  const reductions: [string, (x: Tensor, axis?: number, keep?: boolean) => Tensor, (v: number[]) => number][] = [
    ["sum", T.sum, (v) => v.reduce((a, b) => a + b, 0)],
    ["mean", T.mean, (v) => v.reduce((a, b) => a + b, 0) / v.length],
    ["max", T.max, (v) => Math.max(...v)],
    ["logsumexp", T.logsumexp, (v) => Math.log(v.reduce((a, b) => a + Math.exp(b), 0))],
  ];
  const axisCase = shapeArb.filter((s) => s.length > 0).chain((s) =>
    fc.tuple(fc.constant(s), fc.option(fc.integer({ min: -s.length, max: s.length - 1 }), { nil: undefined }), fc.boolean(), fc.integer()),
  );
  for (const [name, op, ref] of reductions) {
    it(name, () => {
      fc.assert(
        fc.property(axisCase, ([shape, axis, keep, seed]) => {
          const x = randomTensor(shape, seed, -3, 3);
          const out = op(x, axis, keep);
          // Reference: gather each output's slice by brute force over multi-indices.
          const a = axis === undefined ? -1 : (axis + shape.length) % shape.length;
          const groups = new Map<string, number[]>();
          const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, d) => p * d, 1));
          for (let flat = 0; flat < x.size; flat++) {
            const key = a < 0 ? "all" : shape.map((_, i) => (i === a ? 0 : Math.floor(flat / strides[i]) % shape[i])).join(",");
            if (!groups.has(key)) groups.set(key, []);
            groups.get(key)!.push(x.data[flat]);
          }
          expectClose(out.data, [...groups.values()].map(ref), 1e-12, 1e-12);
          const expectedShape = a < 0 ? (keep ? shape.map(() => 1) : []) : keep ? shape.map((d, i) => (i === a ? 1 : d)) : shape.filter((_, i) => i !== a);
          expect(out.shape).toEqual(expectedShape);
          expectGradcheck(weighted((t) => op(t, axis, keep), out.shape), [x]);
        }),
        runs,
      );
    });
  }

  it("logsumexp does not overflow", () => {
    const x = T.tensor([1000, 1000], { dtype: "float64" });
    expect(T.logsumexp(x).item()).toBeCloseTo(1000 + Math.log(2), 10);
  });
});

describe("shape ops", () => {
  it("reshape (with -1) keeps values; gradcheck", () => {
    const x = randomTensor([2, 3, 2], 1);
    const y = T.reshape(x, [3, -1]);
    expect(y.shape).toEqual([3, 4]);
    expect(Array.from(y.data)).toEqual(Array.from(x.data));
    expectGradcheck(weighted((t) => T.reshape(t, [4, 3]), [4, 3]), [x]);
    expect(() => T.reshape(x, [5, 2])).toThrow(/reshape: cannot reshape a tensor of shape \[2,3,2\]/);
  });

  it("transpose: forward and gradcheck", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer(), (r, c, seed) => {
        const x = randomTensor([r, c], seed);
        const y = T.transpose(x).contiguous();
        for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) expect(y.data[j * r + i]).toBe(x.data[i * c + j]);
        expectGradcheck(weighted(T.transpose, [c, r]), [x]);
      }),
      runs,
    );
  });

  it("slice along any axis: forward and gradcheck", () => {
    fc.assert(
      fc.property(shapeArb.filter((s) => s.length > 0), fc.integer(), fc.nat(), fc.nat(), (shape, seed, u, v) => {
        const axis = Math.abs(seed) % shape.length;
        const len = shape[axis];
        const start = u % len;
        const end = start + 1 + (v % (len - start));
        const x = randomTensor(shape, seed);
        const y = T.slice(x, start, end, axis).contiguous();
        const expected: number[] = [];
        const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, d) => p * d, 1));
        for (let flat = 0; flat < x.size; flat++) {
          const idx = Math.floor(flat / strides[axis]) % len;
          if (idx >= start && idx < end) expected.push(x.data[flat]);
        }
        expect(Array.from(y.data)).toEqual(expected);
        expectGradcheck(weighted((t) => T.slice(t, start, end, axis), y.shape), [x]);
      }),
      runs,
    );
  });

  it("gather rows (a minibatch, with repeats): forward and gradcheck", () => {
    const x = randomTensor([5, 3], 4);
    const idx = [4, 0, 4, 2];
    const y = T.gather(x, idx);
    expect(Array.from(y.data)).toEqual(idx.flatMap((i) => Array.from(x.data.slice(i * 3, i * 3 + 3))));
    expectGradcheck(weighted((t) => T.gather(t, idx), [4, 3]), [x]);
    expect(() => T.gather(x, [5])).toThrow(/gather: index 5 is out of range for 5 rows/);
  });

  it("concat along an axis: forward and gradcheck", () => {
    const a = randomTensor([2, 3], 1);
    const b = randomTensor([2, 1], 2);
    const c = randomTensor([2, 2], 3);
    const y = T.concat([a, b, c], 1);
    expect(y.shape).toEqual([2, 6]);
    expect(Array.from(y.data.slice(0, 6))).toEqual([...a.data.slice(0, 3), b.data[0], ...c.data.slice(0, 2)]);
    expectGradcheck(weighted((x, y2, z) => T.concat([x, y2, z], 1), [2, 6]), [a, b, c]);
    expectGradcheck(weighted((x, y2) => T.concat([x, y2], 0), [4, 3]), [a, randomTensor([2, 3], 5)]);
    expect(() => T.concat([a, randomTensor([3, 1], 1)], 1)).toThrow(/concat: shapes \[2,3\] and \[3,1\] differ outside axis 1/);
  });
});

describe("matmul", () => {
  const dims = fc.integer({ min: 1, max: 7 });
  for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
    it(`gradcheck, transA=${transA} transB=${transB}`, () => {
      fc.assert(
        fc.property(dims, dims, dims, fc.integer(), (m, k, n, seed) => {
          const a = randomTensor(transA ? [k, m] : [m, k], seed);
          const b = randomTensor(transB ? [n, k] : [k, n], seed + 1);
          expectGradcheck(weighted((x, y) => T.matmul(x, y, { transA, transB }), [m, n]), [a, b]);
        }),
        { numRuns: 15 },
      );
    });
  }
});

describe("fused ops equal their compositions", () => {
  for (const activation of ["none", "tanh", "relu"] as const) {
    it(`linear(x, W, b, "${activation}") = act(x·Wᵀ + b): forward and gradcheck`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer(), (rows, inF, outF, seed) => {
          const x = randomTensor([rows, inF], seed);
          const w = randomTensor([outF, inF], seed + 1);
          const b = randomTensor([outF], seed + 2);
          const pre = T.add(T.matmul(x, T.transpose(w)), b);
          const composed = activation === "tanh" ? T.tanh(pre) : activation === "relu" ? T.relu(pre) : pre;
          if (activation === "relu") fc.pre(Array.from(pre.data).every((v) => Math.abs(v) > 1e-3));
          expectClose(T.linear(x, w, b, activation).data, composed.data, 1e-12, 1e-12);
          expectGradcheck(weighted((a, c, d) => T.linear(a, c, d, activation), [rows, outF]), [x, w, b]);
        }),
        runs,
      );
    });
  }

  it("bernoulliLogLikelihood(x, l) = Σ x·l - softplus(l), with x repeated over leading axes: forward and gradcheck", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), fc.integer(), (k, b, d, seed) => {
        const x = T.tensor(randomTensor([b, d], seed, 0, 1).data.map(Math.round), { shape: [b, d] });
        const l = randomTensor([k, b, d], seed + 1, -30, 30);
        expectClose(T.bernoulliLogLikelihood(x, l).data, T.sum(T.sub(T.mul(x, l), T.softplus(l)), -1).data, 1e-12, 1e-12);
        expectGradcheck(weighted((a, c) => T.bernoulliLogLikelihood(a, c), [k, b]), [x, l]);
      }),
      runs,
    );
    expect(() => T.bernoulliLogLikelihood(T.zeros([3, 5]), T.zeros([2, 4, 5]))).toThrow(/pixels of shape \[3,5\] do not match the trailing axes of logits \[2,4,5\]/);
  });
});
