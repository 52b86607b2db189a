// The latent plot: src/charts' latentSpec (the test set's encoder means by digit, the manifold's square and,
// for a drawn digit, its true posterior with q(z|x), the mode and the Laplace ellipse) drawn by vega, under a
// thin canvas for what follows the pointer: the hover crosshair and the drawn digit's ◆ (at g(x) while it is
// drawn, then beside its posterior's window).
import { latentSpec, posteriorWindow } from "../charts/specs.js";
import type { PosteriorGrid } from "../charts/types.js";
import { ChartHost } from "./chart-host.js";
import { $, setupCanvas } from "./dom.js";
import { MANIFOLD_EDGE, explorer, state } from "./state.js";

let posterior: { grid: PosteriorGrid; seq: number } | null = null;
let pending = { layers: [] as string[], posteriorSeq: null as number | null };

const host = new ChartHost($("scatter"), () => {
  explorer.plot = { renders: explorer.plot.renders + 1, ...pending };
  drawOverlay();
});

/** The posterior drawn over the points from the next render on (null: none), of drawing `seq`. */
export function setPosterior(p: { grid: PosteriorGrid; seq: number } | null): void {
  posterior = p;
}

/** Redraws the chart with the current means, limit and posterior; resolves when it is on the page. */
export function renderLatent(): Promise<void> {
  return host.update(() => {
    const means = state.means ?? new Float32Array(0);
    const labels = state.means ? state.labels : new Uint8Array(0);
    const spec = latentSpec(means, labels, { lim: state.lim, box: MANIFOLD_EDGE, posterior: posterior?.grid, legend: "bottom", pointSize: 11, opacity: 0.7 });
    pending = { layers: (spec as { layer: { name: string }[] }).layer.map((l) => l.name), posteriorSeq: posterior?.seq ?? null };
    return spec;
  });
}

/** The plot area in the overlay's pixels, and latent ↔ pixel maps through the chart's own scales. */
function frame() {
  const view = host.view;
  if (!view) return null;
  // The plot's top-left in the canvas: vega's padding, then the origin of its content (past the y axis).
  const pad = view.padding() as { left?: number; top?: number };
  const [ox, oy] = [view.origin()[0] + (pad.left ?? 0), view.origin()[1] + (pad.top ?? 0)];
  const x = view.scale("x") as ((v: number) => number) & { invert(p: number): number };
  const y = view.scale("y") as ((v: number) => number) & { invert(p: number): number };
  return {
    left: ox,
    top: oy,
    width: view.width(),
    height: view.height(),
    toPx: (z1: number, z2: number): [number, number] => [ox + x(z1), oy + y(z2)],
    fromPx: (px: number, py: number): [number, number] => [x.invert(px - ox), y.invert(py - oy)],
  };
}

explorer.latentToClient = (z1: number, z2: number) => {
  const f = frame();
  if (!f) throw new Error("explorer: the latent plot is not drawn yet");
  const r = $("scatter-overlay").getBoundingClientRect();
  const [x, y] = f.toPx(z1, z2);
  return { x: r.left + x, y: r.top + y };
};

/** The hover crosshair and ring, and the drawn digit's ◆ at g(x), over the chart. */
export function drawOverlay(): void {
  const canvas = host.container.querySelector("canvas");
  const f = frame();
  if (!canvas || !f) return;
  const { width, height } = canvas.getBoundingClientRect();
  const ctx = setupCanvas($<HTMLCanvasElement>("scatter-overlay"), width, height);
  ctx.beginPath();
  ctx.rect(f.left, f.top, f.width, f.height);
  ctx.clip();
  const hover = explorer.hover;
  if (hover) {
    const [x, y] = f.toPx(hover.z[0], hover.z[1]);
    ctx.strokeStyle = "rgba(20,24,32,0.35)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(f.left, y);
    ctx.lineTo(f.left + f.width, y);
    ctx.moveTo(x, f.top);
    ctx.lineTo(x, f.top + f.height);
    ctx.stroke();
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#111";
    ctx.beginPath();
    ctx.arc(x, y, 6, 0, 2 * Math.PI);
    ctx.stroke();
  }
  const drawn = explorer.drawn;
  if (drawn) {
    // Once the plot shows this drawing's posterior, the ◆ would hide it (it is a few pixels wide at this scale):
    // the ◆ and its label go beside the posterior's outlined window, whose red × marks g(x).
    const shown = posterior && posterior.seq === drawn.seq && explorer.plot.posteriorSeq === drawn.seq ? posteriorWindow(posterior.grid) : null;
    let [x, y] = f.toPx(drawn.encoderMean[0], drawn.encoderMean[1]);
    let side = 1;
    if (shown) {
      const [left, top] = f.toPx(shown.z1[0], shown.z2[1]);
      const [right] = f.toPx(shown.z1[1], shown.z2[1]);
      side = right + 100 < f.left + f.width ? 1 : -1;
      [x, y] = [side > 0 ? right + 11 : left - 11, Math.max(f.top + 10, top)];
    }
    const r = shown ? 7 : 9;
    ctx.lineWidth = 2.5;
    ctx.strokeStyle = "#fff";
    ctx.fillStyle = "#111";
    ctx.beginPath();
    ctx.moveTo(x, y - r);
    ctx.lineTo(x + r, y);
    ctx.lineTo(x, y + r);
    ctx.lineTo(x - r, y);
    ctx.closePath();
    ctx.stroke();
    ctx.fill();
    ctx.font = "600 12px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.textAlign = side > 0 ? "left" : "right";
    ctx.lineWidth = 3;
    ctx.strokeText("your digit", x + side * (r + 3), y);
    ctx.fillText("your digit", x + side * (r + 3), y);
  }
}

/** Calls `onPoint` with the latent point under the pointer while it moves inside the plot area. */
export function onLatentPointer(onPoint: (z: [number, number]) => void): void {
  $("scatter-overlay").addEventListener("pointermove", (e) => {
    const f = frame();
    if (!explorer.ready || !f) return;
    const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
    const [x, y] = [e.clientX - r.left, e.clientY - r.top];
    if (x < f.left || x > f.left + f.width || y < f.top || y > f.top + f.height) return;
    onPoint(f.fromPx(x, y));
  });
}
