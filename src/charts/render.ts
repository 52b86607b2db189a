// Draws the specifications of specs.ts with vega and vega-lite: to an SVG string (Node, Deno: the report and the
// notebooks) or into an element of a page (the explorer, where esbuild bundles both packages into the page's
// script). vega and vega-lite are optional peer dependencies (about 11 MB that only the charts need), imported
// on first use.
import type { TopLevelSpec } from "vega-lite";

type Vega = typeof import("vega");
type VegaLite = typeof import("vega-lite");
export type ChartView = InstanceType<Vega["View"]>;

let charting: Promise<{ vega: Vega; vegaLite: VegaLite }> | undefined;

/** vega and vega-lite, loaded once; `who` names the caller in the error when they are not installed. */
export function loadCharting(who = "charts"): Promise<{ vega: Vega; vegaLite: VegaLite }> {
  return (charting ??= Promise.all([import("vega"), import("vega-lite")]).then(
    ([vega, vegaLite]) => ({ vega, vegaLite }),
    (e: Error & { code?: string }) => {
      charting = undefined;
      if (e?.code !== "ERR_MODULE_NOT_FOUND" || !/vega/.test(e.message)) throw e;
      throw new Error(`${who}: the charts need the packages vega and vega-lite (optional dependencies of tsgrad-vae), which are not installed; run \`npm install vega vega-lite\``);
    },
  ));
}

/** Renders a vega-lite spec to an SVG string (no DOM needed); marks' coordinates are trimmed to 0.01 px. */
export async function chartSvg(spec: TopLevelSpec, who?: string): Promise<string> {
  const { vega, vegaLite } = await loadCharting(who);
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "none" });
  try {
    const svg = await view.toSVG();
    // Thousands of points: 0.01 px is finer than any screen and keeps the SVG small.
    const trim = (coordinates: string) => coordinates.replace(/-?\d+\.\d{3,}(?:e-?\d+)?/g, (v) => String(+(+v).toFixed(2)));
    return svg.replace(/translate\([^)]*\)/g, trim).replace(/ d="[^"]*"/g, trim);
  } finally {
    view.finalize();
  }
}

/** Renders a vega-lite spec into `container` (replacing what it held) and resolves with the running view. */
export async function chartView(container: HTMLElement, spec: TopLevelSpec, options: { renderer?: "canvas" | "svg" } = {}): Promise<ChartView> {
  const { vega, vegaLite } = await loadCharting();
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: options.renderer ?? "canvas", container, hover: false });
  await view.runAsync();
  return view;
}
