// IDX: [0, 0, type, ndims], ndims big-endian uint32 dims, then the data. MNIST uses type 0x08 (uint8).
const UBYTE = 0x08;

/** Parses an IDX file of unsigned bytes; `source` (a file path) starts every error message. */
export function parseIdx(bytes: Uint8Array, source: string): { dims: number[]; data: Uint8Array } {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}`);
  };
  if (bytes.length < 4) fail(`not an IDX file: ${bytes.length} bytes, the header alone needs 4`);
  if (bytes[0] !== 0 || bytes[1] !== 0) fail(`not an IDX file: magic starts with ${hex(bytes[0]!)} ${hex(bytes[1]!)}, expected 0x00 0x00`);
  if (bytes[2] !== UBYTE) fail(`unsupported IDX type code ${hex(bytes[2]!)}: only 0x08 (unsigned byte) is supported`);
  const ndims = bytes[3]!;
  const start = 4 + 4 * ndims;
  if (bytes.length < start) fail(`truncated: header declares ${ndims} dimensions (${start} bytes), file has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, b) => a * b, 1);
  const got = bytes.length - start;
  const says = `header says ${dims.join("×")} = ${size} bytes of data, file has ${got}`;
  if (got < size) fail(`truncated: ${says}`);
  if (got > size) fail(`trailing bytes: ${says}`);
  return { dims, data: bytes.subarray(start) };
}

/** Binarizes pixels as docs/derivation.md does: 1 if p > 127 else 0. */
export function binarize(pixels: Uint8Array): Float32Array {
  return binarizeInto(new Float32Array(pixels.length), pixels);
}

/** `binarize` with float64 output. */
export function binarize64(pixels: Uint8Array): Float64Array {
  return binarizeInto(new Float64Array(pixels.length), pixels);
}

function binarizeInto<T extends Float32Array | Float64Array>(out: T, pixels: Uint8Array): T {
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i]! > 127 ? 1 : 0;
  return out;
}

const hex = (b: number) => "0x" + b.toString(16).padStart(2, "0");
