// The page's charts are src/charts' specs drawn by vega's View (bundled into main.js). A ChartHost owns one
// element's chart: it renders off-screen, then swaps the new chart in and finalizes the old one, and of the
// updates asked for while a render is under way it draws only the last.
import type { TopLevelSpec } from "vega-lite";
import { chartView, type ChartView } from "../charts/render.js";

export class ChartHost {
  view: ChartView | null = null;
  private next: (() => TopLevelSpec | null) | null = null;
  private running: Promise<void> | null = null;

  /** `onRender` runs after each swap, with the new view (or null when `make` gave no spec and the element shows `empty`). */
  constructor(readonly container: HTMLElement, readonly onRender: (view: ChartView | null) => void = () => {}, readonly empty = "") {}

  /** Draws the spec that `make` builds (null: the `empty` text) once the render under way, if any, is done. */
  update(make: () => TopLevelSpec | null): Promise<void> {
    this.next = make;
    return (this.running ??= this.loop());
  }

  private async loop(): Promise<void> {
    await null; // so that update() has stored this promise before the loop can end (a spec-less render awaits nothing)
    try {
      while (this.next) {
        const spec = this.next();
        this.next = null;
        let view: ChartView | null = null;
        const el = document.createElement("div");
        if (spec) view = await chartView(el, spec);
        else el.textContent = this.empty;
        this.container.replaceChildren(el);
        this.view?.finalize();
        this.view = view;
        this.onRender(view);
      }
    } finally {
      this.running = null;
    }
  }
}
