// The decoder panels: f(z) for the latent point under the pointer, and the manifold, f(z) on a 20×20 grid at
// the prior's quantiles.
import { Tensor, quantileGrid } from "../index.js";
import { $, putImage } from "./dom.js";
import { drawOverlay, onLatentPointer } from "./latent-plot.js";
import { D, SIDE, explorer, state } from "./state.js";

const GRID = 20;
const manifoldZ = quantileGrid(GRID);

/** f(z) = σ(l(z)) for latent points z [n × 2], row-major. */
export function decode(z: ArrayLike<number>): Float32Array {
  const n = z.length / 2;
  return Float32Array.from(state.model.decode(new Tensor(Float32Array.from(z), [n, 2])).data);
}

let pendingHover: [number, number] | null = null;
/** Decodes z into #decoded at the next frame (of several calls within a frame, the last). */
export function setHover(z: [number, number]): void {
  if (pendingHover === null) requestAnimationFrame(renderHover);
  pendingHover = z;
}
function renderHover(): void {
  const z = pendingHover;
  pendingHover = null;
  if (!z) return;
  putImage($<HTMLCanvasElement>("decoded").getContext("2d")!, decode(z));
  explorer.hover = { z, seq: ++state.hoverSeq };
  $("hover-z").textContent = `z = (${z[0].toFixed(3)}, ${z[1].toFixed(3)})`;
  drawOverlay();
}

export function drawManifold(): void {
  const ctx = $<HTMLCanvasElement>("manifold").getContext("2d")!;
  const images = decode(manifoldZ);
  for (let k = 0; k < GRID * GRID; k++) putImage(ctx, images, k * D, (k % GRID) * SIDE, Math.floor(k / GRID) * SIDE);
  const [lo, hi] = [manifoldZ[0], manifoldZ[2 * (GRID - 1)]];
  $("manifold-axes").textContent = `columns: z₁ from ${lo.toFixed(2)} (left) to ${hi.toFixed(2)} (right) · rows: z₂ from ${hi.toFixed(2)} (top) to ${lo.toFixed(2)} (bottom)`;
}

onLatentPointer(setHover);
$("manifold").addEventListener("pointermove", (e) => {
  if (!explorer.ready) return;
  const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
  const col = Math.min(GRID - 1, Math.max(0, Math.floor(((e.clientX - r.left) / r.width) * GRID)));
  const row = Math.min(GRID - 1, Math.max(0, Math.floor(((e.clientY - r.top) / r.height) * GRID)));
  const k = row * GRID + col;
  setHover([manifoldZ[2 * k], manifoldZ[2 * k + 1]]);
});
