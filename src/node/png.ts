import { PNG } from "pngjs";

export interface GridOptions { rows?: number; side?: number; pad?: number; scale?: number }

/** Gray level of the gaps between tiles. */
const GAP = 200;

/** Encodes an 8-bit RGBA buffer of width×height pixels as a PNG file. */
export function encodePng(width: number, height: number, rgba: Uint8Array): Uint8Array {
  if (rgba.length !== width * height * 4) throw new Error(`encodePng: ${width}×${height} RGBA needs ${width * height * 4} bytes, got ${rgba.length}`);
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return new Uint8Array(PNG.sync.write(png));
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
