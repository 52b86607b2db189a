// The page's small DOM helpers: elements by id, the error banner, 28×28 images on canvases.
import { D, SIDE, explorer } from "./state.js";

export const $ = <T extends HTMLElement = HTMLElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`explorer: no element #${id}`);
  return el as T;
};

export function showError(message: string): void {
  explorer.errors.push(message);
  const box = $("error");
  box.hidden = false;
  box.textContent = (box.textContent ? box.textContent + "\n" : "") + message;
}

/** A canvas of `width`×`height` CSS pixels at the device's resolution, cleared, in CSS pixel coordinates. */
export function setupCanvas(canvas: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d")!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

/** Draws 28×28 images of values in [0, 1] (1 = ink, black) at (x, y) tiles of a 2-D context in canvas pixels. */
export function putImage(ctx: CanvasRenderingContext2D, values: ArrayLike<number>, offset = 0, x = 0, y = 0): void {
  const img = ctx.createImageData(SIDE, SIDE);
  for (let i = 0; i < D; i++) {
    const v = values[offset + i];
    const g = Math.round(255 * (1 - Math.min(1, Math.max(0, v || 0))));
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = g;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, x, y);
}
