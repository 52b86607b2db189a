// The charts shared by the report (src/node/report.ts), the explorer (src/browser) and the notebooks (examples):
// vega-lite specifications built from plain data, and their rendering. No Node import: it runs in pages too.
export * from "./specs.js";
export * from "./render.js";
export * from "./exact-rows.js";
export type * from "./types.js";
