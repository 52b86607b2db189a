// The rows of the exact quantities (log p(x) by quadrature, the ELBO by quadrature, IWAE_K, Laplace, the gap),
// laid out once: the command line's text (`elbo --exact`, `eval --exact`), the report's table and the
// explorer's table all print these rows.
import type { ExactNumbers } from "./types.js";

export interface ExactRow {
  key: string;
  label: string;
  value: number;
  /** The value with 4 decimals. */
  formatted: string;
  /** What qualifies the value (its error estimate, spread, where it was taken); "" if nothing. */
  note: string;
}

const f = (v: number) => v.toFixed(4);
const e = (v: number) => v.toExponential(1);

/** The rows, in increasing order of what they bound: ELBO, IWAE_K by K, Laplace, log p(x), then the gap. */
export function exactRows(x: ExactNumbers): ExactRow[] {
  const row = (key: string, label: string, value: number, note = ""): ExactRow => ({ key, label, value, formatted: f(value), note });
  const rows = [row("elbo", "ELBO (quadrature)", x.elbo, "no Monte Carlo noise")];
  const ks = Object.keys(x.iwae ?? {}).map(Number).sort((a, b) => a - b);
  for (const k of ks) rows.push(row(`iwae${k}`, `IWAE K = ${k}`, x.iwae![k]));
  if (x.laplace !== undefined) rows.push(row("laplace", "Laplace", x.laplace, x.mode ? `at the mode ẑ = (${x.mode.map((v) => v.toFixed(4)).join(", ")})` : ""));
  const grid = x.points === undefined ? "" : `, ${x.points}×${x.points} grid`;
  const error = x.logMarginalMaxError === undefined ? `error estimate ${e(x.logMarginalError)}${grid}` : `error estimate: mean ${e(x.logMarginalError)}, largest ${e(x.logMarginalMaxError)}${grid}`;
  rows.push(row("logMarginal", "log p(x) (quadrature)", x.logMarginal, error));
  const spread = x.gapMin === undefined || x.gapMedian === undefined || x.gapMax === undefined ? "" : `; per image: smallest ${f(x.gapMin)}, median ${f(x.gapMedian)}, largest ${f(x.gapMax)}`;
  rows.push(row("gap", "gap log p(x) − ELBO", x.gap, `= KL(q(z|x) ‖ p(z|x))${spread}`));
  return rows;
}

/** The rows as lines of text, indented by two spaces: label, value, note. */
export function exactRowsText(x: ExactNumbers): string {
  return exactRows(x).map((r) => `  ${r.label.padEnd(22)}${r.formatted.padStart(12)}${r.note ? `  (${r.note})` : ""}\n`).join("");
}
