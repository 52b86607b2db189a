// PNG (RFC 2083) written directly: signature, IHDR (8-bit RGBA), one IDAT of zlib-deflated scanlines
// (filter 0), IEND; node:zlib does the deflate. No third-party package, so the report adds nothing to install.
import { deflateSync } from "node:zlib";

export interface GridOptions { rows?: number; side?: number; pad?: number; scale?: number }

/** Gray level of the gaps between tiles. */
const GAP = 200;

/** Encodes an 8-bit RGBA buffer of width×height pixels as a PNG file. */
export function encodePng(width: number, height: number, rgba: Uint8Array): Uint8Array {
  if (rgba.length !== width * height * 4) throw new Error(`encodePng: ${width}×${height} RGBA needs ${width * height * 4} bytes, got ${rgba.length}`);
  const raw = new Uint8Array((4 * width + 1) * height); // each scanline: filter type 0, then its pixels
  for (let y = 0; y < height; y++) raw.set(rgba.subarray(4 * width * y, 4 * width * (y + 1)), (4 * width + 1) * y + 1);
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 6, 0, 0, 0], 8); // bit depth 8, colour type 6 (RGBA), deflate, adaptive filtering, no interlace
  const chunks = [chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", new Uint8Array(0))];
  const out = new Uint8Array(8 + chunks.reduce((n, c) => n + c.length, 0));
  out.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let at = 8;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A PNG chunk: big-endian length, type, data, CRC-32 of type and data. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

let CRC_TABLE: Uint32Array | undefined;
function crc32(bytes: Uint8Array): number {
  const table = (CRC_TABLE ??= Uint32Array.from({ length: 256 }, (_, n) => {
    for (let k = 0; k < 8; k++) n = n & 1 ? 0xedb88320 ^ (n >>> 1) : n >>> 1;
    return n >>> 0;
  }));
  let c = 0xffffffff;
  for (const b of bytes) c = table[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Tiles `count` grayscale side×side images (values in [0,1], 1 = ink) into a PNG grid of `cols` columns,
 * black ink on white paper, separated by `pad` gray pixels and magnified `scale` times (nearest neighbour).
 */
export function imageGridPng(images: Float32Array | Float64Array, count: number, cols: number, opts: GridOptions = {}): Uint8Array {
  const { side = 28, pad = 2, scale = 2 } = opts;
  const rows = opts.rows ?? Math.ceil(count / cols);
  const px = side * side;
  if (!(cols > 0 && rows > 0 && count > 0)) throw new Error(`imageGridPng: need count, cols and rows > 0, got ${count}, ${cols}, ${rows}`);
  if (count > rows * cols) throw new Error(`imageGridPng: ${count} images do not fit ${rows}×${cols}`);
  if (images.length < count * px) throw new Error(`imageGridPng: ${count} images of ${side}×${side} need ${count * px} values, got ${images.length}`);
  const step = side + pad;
  const w = (cols * step + pad) * scale;
  const h = (rows * step + pad) * scale;
  const rgba = new Uint8Array(w * h * 4).fill(GAP);
  const put = (x: number, y: number, g: number) => {
    for (let dy = 0; dy < scale; dy++) {
      let o = ((y * scale + dy) * w + x * scale) * 4;
      for (let dx = 0; dx < scale; dx++, o += 4) rgba[o] = rgba[o + 1] = rgba[o + 2] = g;
    }
  };
  for (let k = 0; k < count; k++) {
    const x0 = pad + (k % cols) * step;
    const y0 = pad + Math.floor(k / cols) * step;
    for (let i = 0; i < side; i++) {
      for (let j = 0; j < side; j++) {
        const v = images[k * px + i * side + j]!;
        put(x0 + j, y0 + i, Math.round(255 * (1 - Math.min(1, Math.max(0, v || 0)))));
      }
    }
  }
  for (let o = 3; o < rgba.length; o += 4) rgba[o] = 255;
  return encodePng(w, h, rgba);
}
