// safetensors: u64 little-endian header length N, N bytes of UTF-8 JSON header, then the raw little-endian data.
// Header: { "__metadata__": { string: string }, name: { dtype, shape, data_offsets: [begin, end] } }, offsets
// relative to the data start. As the reference writer does, the header is padded with spaces to 8-byte alignment.

export type Dtype = "F32" | "F64";
export interface StoredTensor {
  dtype: Dtype;
  shape: number[];
  data: Float32Array | Float64Array;
}

const ITEMSIZE: Record<Dtype, number> = { F32: 4, F64: 8 };
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Encodes tensors (written in sorted name order) and string metadata as safetensors bytes. */
export function encodeSafetensors(tensors: Record<string, StoredTensor>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const entries: [string, unknown][] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new Error(`encodeSafetensors: metadata "${k}" must be a string, got ${typeof v}`);
    }
    entries.push(["__metadata__", metadata]);
  }
  let offset = 0;
  for (const name of names) {
    if (name === "__metadata__") throw new Error(`encodeSafetensors: "__metadata__" is reserved and cannot name a tensor`);
    const { dtype, shape, data } = tensors[name]!;
    const where = `encodeSafetensors: tensor "${name}"`;
    if (dtype !== "F32" && dtype !== "F64") throw new Error(`${where}: unsupported dtype ${String(dtype)}; F32 and F64 are supported`);
    const Want = dtype === "F32" ? Float32Array : Float64Array;
    if (!(data instanceof Want)) throw new Error(`${where}: dtype ${dtype} needs a ${Want.name}, got ${data?.constructor?.name}`);
    checkShape(shape, where);
    const size = product(shape);
    if (data.length !== size) throw new Error(`${where}: shape [${shape}] has ${size} elements, data has ${data.length}`);
    entries.push([name, { dtype, shape, data_offsets: [offset, offset + data.byteLength] }]);
    offset += data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(Object.fromEntries(entries)));
  const n = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const out = new Uint8Array(8 + n + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(n), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  let at = 8 + n;
  for (const name of names) {
    const data = tensors[name]!.data;
    // Stryker disable next-line ConditionalExpression: both paths write the same little-endian bytes (the copy is the fast one where the host is little-endian)
    if (LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    else writeLittleEndian(data, view, at);
    at += data.byteLength;
  }
  return out;
}

/** Writes `data` into `view` at byte `at`, little-endian on any host (the path of big-endian hosts). */
export function writeLittleEndian(data: Float32Array | Float64Array, view: DataView, at: number): void {
  if (data instanceof Float32Array) data.forEach((v, i) => view.setFloat32(at + 4 * i, v, true));
  else data.forEach((v, i) => view.setFloat64(at + 8 * i, v, true));
}

/** The values of little-endian `bytes` (a whole buffer) as `dtype`, on any host (the path of big-endian hosts). */
export function readLittleEndian(bytes: Uint8Array, dtype: Dtype): Float32Array | Float64Array {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return dtype === "F32"
    ? Float32Array.from({ length: bytes.byteLength / 4 }, (_, i) => v.getFloat32(4 * i, true))
    : Float64Array.from({ length: bytes.byteLength / 8 }, (_, i) => v.getFloat64(8 * i, true));
}

/** Decodes safetensors bytes into copied, aligned typed arrays; errors start with `source`. */
export function decodeSafetensors(
  bytes: Uint8Array,
  source = "safetensors",
): { tensors: Record<string, StoredTensor>; metadata: Record<string, string> } {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${oneLine(what)}`);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(bytes.length - 8)) fail(pytorchFile(bytes) ?? `header length ${n64} is larger than the ${bytes.length - 8} bytes after it`);
  const n = Number(n64);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isObject(header)) fail(`header must be a JSON object, got ${describe(header)}`);
  const { __metadata__: meta = {}, ...rest } = header as Record<string, unknown>;
  if (!isObject(meta)) fail(`__metadata__ must be an object of strings, got ${describe(meta)}`);
  for (const [k, v] of Object.entries(meta as object)) {
    if (typeof v !== "string") fail(`__metadata__ "${k}" must be a string, got ${describe(v)}`);
  }

  const start = 8 + n;
  const dataLength = bytes.length - start;
  const spans: { name: string; begin: number; end: number }[] = [];
  const tensors = Object.entries(rest).map(([name, info]): [string, StoredTensor] => {
    const where = `tensor "${oneLine(name)}"`;
    if (!isObject(info)) fail(`${where}: entry must be an object with dtype, shape and data_offsets, got ${describe(info)}`);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    for (const [key, v] of [["dtype", dtype], ["shape", shape], ["data_offsets", offsets]] as const) {
      if (v === undefined) fail(`${where}: missing ${key}`);
    }
    if (dtype !== "F32" && dtype !== "F64") fail(`${where}: unsupported dtype ${JSON.stringify(dtype)}; F32 and F64 are supported`);
    checkShape(shape, `${source}: ${where}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      fail(`${where}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const itemsize = ITEMSIZE[dtype as Dtype];
    const expected = product(shape as number[]) * itemsize;
    if (end - begin !== expected) {
      fail(`${where}: shape [${shape}] of ${dtype} needs ${expected} bytes, data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    if (end > dataLength) fail(`${where}: data_offsets [${begin}, ${end}] run past the end of the data (${dataLength} bytes)`);
    spans.push({ name, begin, end });
    const copy = bytes.slice(start + begin, start + end);
    // Stryker disable next-line ConditionalExpression: both paths read the same values (the view is the fast one where the host is little-endian)
    const data = LITTLE_ENDIAN
      ? (dtype === "F32" ? new Float32Array(copy.buffer) : new Float64Array(copy.buffer))
      : readLittleEndian(copy, dtype as Dtype);
    return [name, { dtype: dtype as Dtype, shape: [...(shape as number[])], data }];
  });

  // The tensors must tile the data exactly: sorted by offset, each begins where the previous ends.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let prev = "the start of the data";
  for (const { name, begin, end } of spans) {
    if (begin < at) fail(`tensor "${name}" [${begin}, ${end}] overlaps ${prev}, which ends at ${at}`);
    if (begin > at) fail(`hole of ${begin - at} bytes between ${prev} and tensor "${name}" at ${begin}`);
    at = end;
    prev = `tensor "${name}"`;
  }
  if (at !== dataLength) fail(`${dataLength - at} bytes after the last tensor are not part of any tensor`);
  return { tensors: Object.fromEntries(tensors), metadata: { ...(meta as Record<string, string>) } };
}

/** `s` with its control characters (newlines among them) written as \uXXXX, so that a message stays one line. */
export const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/** What a file refused as safetensors is, if it starts as PyTorch's torch.save writes (a zip archive, or a pickle before PyTorch 1.6). */
function pytorchFile(bytes: Uint8Array): string | undefined {
  const zip = bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04; // "PK\x03\x04"
  const pickle = bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5; // PROTO opcode, protocol 2..5
  if (!zip && !pickle) return undefined;
  return `not a safetensors file: it is a ${zip ? "zip archive" : "Python pickle"}, as PyTorch's torch.save writes (.pt, .pth); ` +
    `convert it in Python with \`safetensors.torch.save_file(model.state_dict(), "model.safetensors")\``;
}

function checkShape(shape: unknown, where: string): void {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
}

const product = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const isObject = (v: unknown): v is object => typeof v === "object" && v !== null && !Array.isArray(v);
const describe = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v);
