// The readers of untrusted files, fuzzed: the safetensors reader (decodeSafetensors), the checkpoint
// loaders on top of it (modelFromBytes, and loadModel on files on disk) and the IDX reader (parseIdx,
// loadMnist). Given a valid file truncated at every offset, with random bit flips in its header, or
// random bytes, each either loads exactly what an independent reference reader makes of the same bytes,
// or throws a plain one-line Error that starts with the file's name: never a RangeError or TypeError from
// inside, never a hang, never a truncated file loaded.
import fc from "fast-check";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeSafetensors, encodeSafetensors } from "../src/nn/safetensors.js";
import { loadModel, readTrainState, saveTrainState } from "../src/node/checkpoint.js";
import { loadMnist } from "../src/node/mnist.js";
import { modelBytes, modelFromBytes } from "../src/vae/checkpoint-meta.js";
import { parseIdx } from "../src/vae/idx.js";
import { VAE } from "../src/vae/model.js";
import { Trainer, type TrainerState } from "../src/vae/train.js";

const SOURCE = "/fuzz/in put.safetensors"; // a path with a space: messages must carry it as given
const dir = mkdtempSync(join(tmpdir(), "tsgrad-fuzz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs `f`; a throw must be a plain Error whose one-line message starts with `source: ` (or, with
 * `anywhere`, names it) and says something.
 */
function outcome<T>(f: () => T, source: string, anywhere = false): { ok: true; value: T } | { ok: false; message: string } {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    const where = `input ${source}: ${(e as Error)?.stack ?? String(e)}`;
    expect(e, where).toBeInstanceOf(Error);
    expect((e as Error).constructor, `${where}\n(not a plain Error)`).toBe(Error);
    const message = (e as Error).message;
    expect(anywhere ? message.includes(source) : message.startsWith(`${source}: `), where).toBe(true);
    expect(message, where).not.toMatch(/[\n\r]/);
    expect(message.length - source.length, where).toBeGreaterThan(10);
    expect(message.length, where).toBeLessThan(600);
    return { ok: false, message };
  }
}

// ---- an independent reading of safetensors bytes, as the format's description says -------------

interface Ref { names: string[]; tensors: Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>; metadata: Record<string, string> }

/** The format read plainly: header JSON, then each tensor's bytes at its offsets. Undefined if not valid. */
function reference(bytes: Uint8Array): Ref | undefined {
  if (bytes.length < 8) return undefined;
  const n = new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) return undefined;
  let header: Record<string, any>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + Number(n))));
  } catch {
    return undefined;
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) return undefined;
  const start = 8 + Number(n);
  const tensors = new Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>();
  let covered = 0;
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const size = { F32: 4, F64: 8 }[t?.dtype as string];
    if (!size || !Array.isArray(t.shape) || !Array.isArray(t.data_offsets)) return undefined;
    const [b, e] = t.data_offsets;
    if (t.data_offsets.length !== 2 || !t.shape.every((d: unknown) => Number.isSafeInteger(d) && (d as number) >= 0)) return undefined;
    if (!Number.isSafeInteger(b) || !Number.isSafeInteger(e) || b < 0 || e < b || start + e > bytes.length) return undefined;
    if (e - b !== t.shape.reduce((p: number, d: number) => p * d, size)) return undefined;
    tensors.set(name, { dtype: t.dtype, shape: t.shape, bytes: bytes.slice(start + b, start + e) });
    covered += e - b;
  }
  if (covered !== bytes.length - start) return undefined; // (with the offsets distinct, the tensors tile the data)
  const meta = header.__metadata__ ?? {};
  if (typeof meta !== "object" || meta === null || Array.isArray(meta) || !Object.values(meta).every((v) => typeof v === "string")) return undefined;
  return { names: [...tensors.keys()].sort(), tensors, metadata: meta };
}

const raw = (a: Float32Array | Float64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** decodeSafetensors either refuses cleanly, or returns what the reference reads. */
function checkDecode(bytes: Uint8Array): boolean {
  const r = outcome(() => decodeSafetensors(bytes, SOURCE), SOURCE);
  if (!r.ok) return false;
  const ref = reference(bytes);
  expect(ref, "decodeSafetensors loaded bytes that the reference refuses").toBeDefined();
  expect(Object.keys(r.value.tensors).sort()).toEqual(ref!.names);
  for (const [name, t] of Object.entries(r.value.tensors)) {
    const want = ref!.tensors.get(name)!;
    expect([t.dtype, t.shape]).toEqual([want.dtype, want.shape]);
    expect(Buffer.compare(raw(t.data), want.bytes), `tensor ${name}`).toBe(0);
  }
  expect(r.value.metadata).toEqual(ref!.metadata);
  return true;
}

/** modelFromBytes either refuses cleanly, or builds a model whose every parameter is the file's tensor of that name. */
function checkModel(bytes: Uint8Array, source = SOURCE, load = () => modelFromBytes(bytes, source)): boolean {
  const r = outcome(load, source);
  if (!r.ok) return false;
  const ref = reference(bytes);
  expect(ref, "the model loader accepted bytes that the reference refuses").toBeDefined();
  for (const [name, p] of r.value.model.namedParameters()) {
    const want = ref!.tensors.get(name);
    expect(want, `parameter ${name} is not in the file`).toBeDefined();
    expect([...p.shape]).toEqual(want!.shape);
    expect(Buffer.compare(raw(p.data), want!.bytes), `parameter ${name}`).toBe(0);
  }
  return true;
}

const headerLength = (bytes: Uint8Array) => 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));

/** Flips `flips` bits at positions in [0, end) of a copy of `bytes`. */
const flipped = (bytes: Uint8Array, end: number) =>
  fc.array(fc.tuple(fc.nat({ max: end - 1 }), fc.nat({ max: 7 })), { minLength: 1, maxLength: 4 }).map((flips) => {
    const out = bytes.slice();
    for (const [at, bit] of flips) out[at]! ^= 1 << bit;
    return out;
  });

// ---- the files -------------------------------------------------------------------------------

const model = new VAE({ inputSize: 12, hidden: 3 }, { seed: 5 });
const modelFile = modelBytes(model, { epoch: 2, note: "a \"quoted\" note" });
const learned = modelBytes(new VAE({ inputSize: 6, hidden: 2, encoderVariance: "learned" }, { seed: 6 }));
const mixed = encodeSafetensors(
  { a: { dtype: "F64", shape: [2, 1], data: Float64Array.of(-0, Math.PI) }, b: { dtype: "F32", shape: [], data: Float32Array.of(7) }, c: { dtype: "F32", shape: [0, 3], data: new Float32Array(0) } },
  { k: "v" },
);

describe("fuzz: the safetensors reader", () => {
  it("reads the valid files (the reference agrees)", () => {
    for (const f of [modelFile, learned, mixed]) expect(checkDecode(f)).toBe(true);
    expect(checkModel(modelFile) && checkModel(learned)).toBe(true);
  });

  it("refuses each valid file truncated at every offset, and with bytes appended", () => {
    for (const f of [modelFile, learned, mixed]) {
      for (let k = 0; k < f.length; k++) expect(checkDecode(f.subarray(0, k)), `truncated to ${k} of ${f.length} bytes`).toBe(false);
      for (const extra of [[0], [1, 2, 3, 4]]) expect(checkDecode(Uint8Array.from([...f, ...extra]))).toBe(false);
    }
    for (let k = 0; k < modelFile.length; k++) expect(checkModel(modelFile.subarray(0, k)), `truncated to ${k}`).toBe(false);
  });

  it("random bit flips in the header: a clean refusal or exactly what the bytes say", () => {
    for (const f of [modelFile, mixed]) {
      fc.assert(fc.property(flipped(f, headerLength(f)), (bytes) => {
        checkDecode(bytes);
        if (f === modelFile) checkModel(bytes);
      }), { numRuns: 800, seed: 9 });
    }
  });

  it("random bytes, and random headers before random data: a clean refusal or exactly what the bytes say", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => void checkDecode(bytes)), { numRuns: 1000, seed: 10 });
    // A plausible header: a length that fits (or nearly), entries with near-valid fields.
    const dim = fc.oneof(fc.nat({ max: 4 }), fc.constantFrom(-1, 1.5, 2 ** 53, 1e300, "2", null));
    const entry = fc.record({
      dtype: fc.constantFrom("F32", "F64", "F16", "I64", "f32", 3),
      shape: fc.oneof(fc.array(dim, { maxLength: 3 }), fc.constantFrom(null, "x", {})),
      data_offsets: fc.oneof(fc.tuple(fc.nat({ max: 40 }), fc.nat({ max: 40 })), fc.array(fc.oneof(fc.integer({ min: -5, max: 40 }), fc.constant(2 ** 60)), { maxLength: 3 })),
    }, { requiredKeys: [] });
    const header = fc.dictionary(fc.oneof(fc.constantFrom("__metadata__", "__proto__", "w", "w\n2", "é"), fc.string({ maxLength: 4 })), fc.oneof(entry, fc.jsonValue({ maxDepth: 2 })), { maxKeys: 4 });
    const file = fc.tuple(header, fc.uint8Array({ maxLength: 48 }), fc.integer({ min: -2, max: 2 })).map(([h, data, slack]) => {
      const json = new TextEncoder().encode(JSON.stringify(h));
      const out = new Uint8Array(8 + json.length + data.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(Math.max(0, json.length + slack)), true);
      out.set(json, 8);
      out.set(data, 8 + json.length);
      return out;
    });
    fc.assert(fc.property(file, (bytes) => void checkDecode(bytes)), { numRuns: 2000, seed: 11 });
    // Headers of any JSON, and any bytes as the header text.
    const text = fc.oneof(fc.json({ maxDepth: 3 }).map((s) => new TextEncoder().encode(s)), fc.uint8Array({ maxLength: 64 }));
    fc.assert(fc.property(text, (json) => {
      const out = new Uint8Array(8 + json.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      checkDecode(out);
    }), { numRuns: 1000, seed: 12 });
  });

  it("random model configs in the metadata: a clean refusal (before allocating a huge model) or the file's tensors", () => {
    const tensors = Object.fromEntries([...model.namedParameters()].map(([name, p]) => [name, { dtype: "F32" as const, shape: [...p.shape], data: p.data as Float32Array }]));
    const size = fc.oneof(fc.constantFrom(12, 3, 2, 0, -1, 1.5, 2e6, 1e300, "3", null), fc.nat({ max: 20 }));
    const config = fc.oneof(
      fc.record({ inputSize: size, hidden: size, latent: size, encoderVariance: fc.constantFrom(0.01, "learned", 0, -1, "a\nb", null), activation: fc.constantFrom("tanh", "relu", "none", "x\ny", 3) }, { requiredKeys: [] }).map((c) => JSON.stringify(c)),
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 20 }),
    );
    fc.assert(fc.property(config, (c) => void checkModel(encodeSafetensors(tensors, { format: "tsgrad-vae/1", config: c }))), { numRuns: 800, seed: 18 });
    const huge = encodeSafetensors(tensors, { config: JSON.stringify({ ...model.config, hidden: 2_000_000 }) });
    expect(outcome(() => modelFromBytes(huge, SOURCE), SOURCE)).toEqual({
      ok: false,
      // encoder 12·H + H + 2H + 2 and decoder 2H + H + 12H + 12: 60,000,014 at H = 2·10⁶, 104 at H = 3
      message: `${SOURCE}: config {"inputSize":12,"hidden":2000000,"latent":2,"encoderVariance":0.01,"activation":"tanh"} needs 60000014 parameters, the file holds 104 values`,
    });
  });

  it("loadModel on files on disk: truncated, flipped and random files are refused in one line naming the file", () => {
    const path = join(dir, "model file.safetensors");
    const load = () => loadModel(path);
    for (let k = 0; k < modelFile.length; k += 7) {
      writeFileSync(path, modelFile.subarray(0, k));
      expect(checkModel(modelFile.subarray(0, k), path, load), `truncated to ${k}`).toBe(false);
    }
    fc.assert(fc.property(fc.oneof(flipped(modelFile, headerLength(modelFile)), fc.uint8Array({ maxLength: 100 })), (bytes) => {
      writeFileSync(path, bytes);
      checkModel(bytes, path, load);
    }), { numRuns: 200, seed: 13 });
    writeFileSync(path, modelFile);
    expect(checkModel(modelFile, path, load)).toBe(true);
  });
});

describe("fuzz: the train-state reader (readTrainState and restore)", () => {
  const config = { inputSize: 12, hidden: 3 };
  const images = Float32Array.from({ length: 8 * 12 }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0);
  const trainer = () => new Trainer(new VAE(config, { seed: 1 }), images, { batchSize: 2, lr: 1e-2, seed: 3 });
  const path = join(dir, "train state.safetensors");
  const t = trainer();
  t.step();
  saveTrainState(path, t, { hyper: { lr: 1e-2 }, elapsed: 1.5 });
  const valid = new Uint8Array(readFileSync(path));

  /** readTrainState and restore either refuse cleanly, or restore exactly the file's state and tensors. */
  function check(bytes: Uint8Array): boolean {
    writeFileSync(path, bytes);
    const read = outcome(() => readTrainState(path), path);
    if (!read.ok) return false;
    const target = trainer();
    const restored = outcome(() => read.value.restore(target), path);
    if (!restored.ok) return false;
    const ref = reference(bytes)!;
    expect(ref).toBeDefined();
    // The RNG words as 32-bit patterns (Random keeps them signed, a file may hold them unsigned).
    const bits = (st: TrainerState) => ({ ...st, shuffleRng: { ...st.shuffleRng, s: st.shuffleRng.s.map((v) => v >>> 0) }, epsRng: { ...st.epsRng, s: st.epsRng.s.map((v) => v >>> 0) } });
    expect(bits(target.getState())).toEqual(bits(read.value.state));
    for (const [name, p] of target.tensors()) expect(Buffer.compare(raw(p.data), ref.tensors.get(name)!.bytes), name).toBe(0);
    return true;
  }

  it("restores the valid file; refuses it truncated, with header bit flips, or with a corrupted state", () => {
    expect(check(valid)).toBe(true);
    for (let k = 0; k < valid.length; k += 11) expect(check(valid.subarray(0, k)), `truncated to ${k}`).toBe(false);
    fc.assert(fc.property(flipped(valid, headerLength(valid)), (bytes) => void check(bytes)), { numRuns: 400, seed: 19 });
    const { tensors, metadata } = decodeSafetensors(valid, path);
    const good = JSON.parse(metadata.state!);
    const value = fc.oneof(fc.constantFrom(null, -1, 0.5, 2 ** 60, "1", [], {}, [1, 2, 3, 4], [0, 0, 0, 0], [1, 2, 3, 2 ** 40]), fc.nat({ max: 9 }), fc.jsonValue({ maxDepth: 1 }));
    const state = fc.oneof(
      fc.tuple(fc.constantFrom(...Object.keys(good), "shuffleRng.s", "epsRng.spare"), value).map(([key, v]) => {
        const st = structuredClone(good);
        const [a, b] = key.split(".");
        if (b) st[a!][b] = v;
        else st[a!] = v;
        return JSON.stringify(st);
      }),
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
    );
    fc.assert(fc.property(state, (st) => void check(encodeSafetensors(tensors, { ...metadata, state: st }))), { numRuns: 500, seed: 20 });
    // The fields are checked by Trainer.setState (and the RNG words by Random.setState's check), the file named.
    const restoring = (st: object) => {
      writeFileSync(path, encodeSafetensors(tensors, { ...metadata, state: JSON.stringify(st) }));
      const target = trainer();
      const before = JSON.stringify(target.getState());
      const r = outcome(() => readTrainState(path).restore(target), path);
      expect(JSON.stringify(target.getState()), "a refused state changes nothing").toBe(before);
      return r;
    };
    expect(restoring({ ...good, epsRng: null })).toEqual({ ok: false, message: `${path}: Trainer.setState: epsRng must be an object { s, spare }, got null` });
    expect(restoring({ ...good, shuffleRng: { s: [1, 2, 3], spare: null } })).toEqual({ ok: false, message: `${path}: Trainer.setState: shuffleRng.s must be 4 32-bit integers, not all zero, got [1,2,3]` });
    expect(restoring({ ...good, seen: -1 })).toEqual({ ok: false, message: `${path}: Trainer.setState: seen must be a non-negative integer, got -1` });
  });
});

// ---- IDX ---------------------------------------------------------------------------------------

const IDX = "/fuzz/t10k-images-idx3-ubyte";

/** The IDX format read plainly: magic 0 0 8 n, n big-endian u32 sizes, exactly their product in bytes. */
function idxReference(bytes: Uint8Array): { dims: number[]; data: Uint8Array } | undefined {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 8) return undefined;
  const n = bytes[3]!;
  if (bytes.length < 4 + 4 * n) return undefined;
  const dims = Array.from({ length: n }, (_, i) => ((bytes[4 + 4 * i]! << 24) >>> 0) + (bytes[5 + 4 * i]! << 16) + (bytes[6 + 4 * i]! << 8) + bytes[7 + 4 * i]!);
  if (dims.reduce((a, b) => a * b, 1) !== bytes.length - 4 - 4 * n) return undefined;
  return { dims, data: bytes.subarray(4 + 4 * n) };
}

function idxFile(dims: number[], fill: (i: number) => number): Uint8Array {
  const size = dims.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(4 + 4 * dims.length + size);
  out.set([0, 0, 8, dims.length]);
  dims.forEach((d, i) => new DataView(out.buffer).setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < size; i++) out[4 + 4 * dims.length + i] = fill(i);
  return out;
}

function checkIdx(bytes: Uint8Array): boolean {
  const r = outcome(() => parseIdx(bytes, IDX), IDX);
  if (!r.ok) return false;
  const ref = idxReference(bytes);
  expect(ref, "parseIdx loaded bytes that the reference refuses").toBeDefined();
  expect(r.value.dims).toEqual(ref!.dims);
  expect(Buffer.compare(r.value.data, ref!.data)).toBe(0);
  return true;
}

describe("fuzz: the IDX reader", () => {
  const images = idxFile([3, 4, 5], (i) => (i * 37) % 256);
  const labels = idxFile([3], (i) => [7, 2, 1][i]!);

  it("reads the valid files, refuses them truncated at every offset or with a byte appended", () => {
    expect(checkIdx(images) && checkIdx(labels)).toBe(true);
    for (const f of [images, labels]) {
      for (let k = 0; k < f.length; k++) expect(checkIdx(f.subarray(0, k)), `truncated to ${k}`).toBe(false);
      expect(checkIdx(Uint8Array.from([...f, 0]))).toBe(false);
    }
  });

  it("random bit flips in the header, and random bytes: a clean refusal or exactly what the bytes say", () => {
    fc.assert(fc.property(flipped(images, 16), (bytes) => void checkIdx(bytes)), { numRuns: 1000, seed: 14 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => void checkIdx(bytes)), { numRuns: 1000, seed: 15 });
    const header = fc.tuple(fc.nat({ max: 4 }), fc.array(fc.oneof(fc.nat({ max: 6 }), fc.constant(2 ** 32 - 1)), { maxLength: 4 }), fc.uint8Array({ maxLength: 40 }));
    fc.assert(fc.property(header, ([n, dims, rest]) => {
      const out = new Uint8Array(4 + 4 * dims.length + rest.length);
      out.set([0, 0, 8, n]);
      dims.forEach((d, i) => new DataView(out.buffer).setUint32(4 + 4 * i, d, false));
      out.set(rest, 4 + 4 * dims.length);
      checkIdx(out);
    }), { numRuns: 1000, seed: 16 });
  });

  it("loadMnist on files on disk: truncated and flipped files are refused in one line naming the file", () => {
    const imagesPath = join(dir, "images idx3");
    const labelsPath = join(dir, "labels idx1");
    writeFileSync(labelsPath, labels);
    const load = () => loadMnist("test", { imagesPath, labelsPath });
    writeFileSync(imagesPath, images);
    expect(Array.from(load().labels)).toEqual([7, 2, 1]);
    for (let k = 0; k < images.length; k++) {
      writeFileSync(imagesPath, images.subarray(0, k));
      const r = outcome(load, imagesPath, true);
      expect(r.ok, `truncated to ${k}`).toBe(false);
    }
    writeFileSync(imagesPath, images);
    fc.assert(fc.property(flipped(labels, 8), (bytes) => {
      writeFileSync(labelsPath, bytes);
      const r = outcome(load, labelsPath, true);
      if (r.ok) expect(Array.from(r.value.labels)).toEqual(Array.from(idxReference(bytes)!.data));
    }), { numRuns: 300, seed: 17 });
  });
});
