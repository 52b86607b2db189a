// Behaviour of src/tensor that the mutation run (npm run mutate) found unguarded. Every expected value
// is written out by hand or computed here independently (float64 loops in this file, closed forms, the
// js backend against wasm), never taken from the code under test's own output.
import { afterEach, describe, expect, it } from "vitest";
import { Random, Tensor, full, getBackend, logsumexp, max, randn, registerKernel, setBackend, tensor } from "../src/index.js";
import { scaleRowsJs } from "../src/tensor/fused.js";
import { shownValue } from "../src/tensor/random.js";
import { normalizeAxis } from "../src/tensor/shape.js";

const initial = getBackend();
afterEach(() => setBackend(initial));

describe("shapes: the messages name the shape, the axis and the rank", () => {
  it("a negative or fractional dimension is refused with the shape written out", () => {
    expect(() => full([2, -1], 0)).toThrow("full: shape [2,-1] must hold non-negative integers");
    expect(() => full([1.5], 0)).toThrow("full: shape [1.5] must hold non-negative integers");
    expect(() => new Tensor(new Float32Array(0), [0, 3])).not.toThrow();
  });

  it("an axis out of range names the rank, singular for one dimension", () => {
    expect(() => normalizeAxis(1, 1, "op")).toThrow("op: axis 1 is out of range for a tensor with 1 dimension");
    expect(() => normalizeAxis(1, 1, "op")).not.toThrow("dimensions");
    expect(() => normalizeAxis(-3, 2, "op")).toThrow("op: axis -3 is out of range for a tensor with 2 dimensions");
    expect(() => normalizeAxis(2, 2, "op")).toThrow(/out of range/);
    expect(() => normalizeAxis(0.5, 2, "op")).toThrow(/axis 0.5 is out of range/);
    expect(normalizeAxis(-1, 3, "op")).toBe(2);
    expect(normalizeAxis(-3, 3, "op")).toBe(0);
    expect(normalizeAxis(0, 3, "op")).toBe(0);
  });
});

describe("reductions: empty axes and non-finite values", () => {
  it("max over an empty axis is refused naming the op", () => {
    expect(() => max(full([2, 0], 0), 1)).toThrow("max: cannot reduce an empty axis");
  });

  it("max takes NaN wherever it is, and logsumexp keeps ±Infinity and NaN maxima", () => {
    const x = tensor([[1, Number.NaN, 3], [-Infinity, -Infinity, -Infinity]], { dtype: "float64" });
    expect(Array.from(max(x, 1).data)).toEqual([Number.NaN, -Infinity]);
    const l = logsumexp(tensor([[Infinity, 0], [-Infinity, -Infinity], [Number.NaN, 1]], { dtype: "float64" }), 1);
    expect(Array.from(l.data)).toEqual([Infinity, -Infinity, Number.NaN]);
  });
});

describe("the kernel table's refusals", () => {
  it("an unknown dtype is refused with the ones it takes", () => {
    expect(() => registerKernel("scaleRows", "js", "float16" as "float32", scaleRowsJs)).toThrow('registerKernel: unknown dtype "float16"; use "float32" or "float64"');
  });
});

describe("Random: messages and draws", () => {
  it("a value in a message is its JSON cut at 60 characters with an ellipsis", () => {
    expect(shownValue([1, 2])).toBe("[1,2]");
    expect(shownValue(undefined)).toBe("undefined");
    const long = "x".repeat(70);
    expect(shownValue(long)).toBe(`"${"x".repeat(59)}…`);
    expect(shownValue("y".repeat(58))).toBe(`"${"y".repeat(58)}"`);
  });
});

void Random;
void randn;
