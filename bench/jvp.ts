// Forward mode, two ways, on the seed encoder (784 → 500 → 2, tanh, batch 100, float32): jvp as
// the derivative of the pullback (what `jvp` does: a reverse pass that records its graph, then a
// reverse pass through it) against per-op tangent rules (here written out by hand for this
// function: what a forward-mode implementation would run), beside a forward pass and a vjp.
//
//   node --import tsx bench/jvp.ts [--json] [--reps N]
import { parseArgs } from "node:util";
import { medianMs } from "./timing.js";
import { Random, Tensor, VAE, getBackend, jvp, linear, noGrad, tensor, vjp } from "../src/index.js";

const { values } = parseArgs({ options: { json: { type: "boolean" }, reps: { type: "string" }, help: { type: "boolean", short: "h" } } });
if (values.help) {
  console.log("node --import tsx bench/jvp.ts [--json] [--reps N]   (medians of N repetitions, default 30)");
  process.exit(0);
}
const reps = Number(values.reps ?? 30);
const B = 100;
const model = new VAE({ hidden: 500 }, { seed: 0 });
const [l1, l2] = model.encoder.layers;
const rng = new Random(1);
const x = tensor(Float32Array.from({ length: B * 784 }, () => (rng.uniform() < 0.13 ? 1 : 0)), { shape: [B, 784] });
const v = tensor(Float32Array.from({ length: B * 784 }, () => rng.normal()), { shape: [B, 784] });
const u = tensor(Float32Array.from({ length: B * 2 }, () => rng.normal()), { shape: [B, 2] });
// Timed inside noGrad: the results are then plain values (outside it they would record a graph
// of their own, since the weights require grad).
const f = (t: Tensor) => model.encoder.forward(t);

/** Per-op tangent rules for this function: the primal and its tangent, one pass each, no graph. */
function forwardMode(t: Tensor, dt: Tensor): [Tensor, Tensor] {
  return noGrad(() => {
    const h = linear(t, l1.weight, l1.bias, "tanh");
    const dh = dt.matmul(l1.weight.T).mul(h.square().neg().add(1)); // d tanh(a) = (1 − tanh²)·da
    return [linear(h, l2.weight, l2.bias, "none"), dh.matmul(l2.weight.T)];
  });
}

const median = (f: () => unknown) => medianMs(f, reps);

// The two ways agree (to float32 rounding) before anything is timed.
const [, viaVjp] = jvp(f, [x], [v]);
const [, viaRules] = forwardMode(x, v);
let worst = 0;
for (let i = 0; i < viaVjp.size; i++) worst = Math.max(worst, Math.abs(viaVjp.data[i] - viaRules.data[i]) / (1e-3 + Math.abs(viaRules.data[i])));

const rows = {
  "forward pass": median(() => noGrad(() => f(x))),
  "vjp (forward + pullback)": median(() => noGrad(() => vjp(f, x)[1](u))),
  "jvp by per-op tangent rules": median(() => forwardMode(x, v)),
  "jvp as the derivative of the pullback": median(() => noGrad(() => jvp(f, [x], [v]))),
};
const result = { backend: getBackend(), batch: B, reps, msMedian: rows, agreement: worst };
if (values.json) console.log(JSON.stringify(result));
else {
  console.log(`jvp on the seed encoder (784 → 500 → 2, tanh, batch ${B}, float32, backend ${getBackend()}), median of ${reps}:`);
  for (const [name, ms] of Object.entries(rows)) console.log(`  ${name.padEnd(40)} ${ms.toFixed(2).padStart(7)} ms  (${(ms / rows["forward pass"]).toFixed(1)}× a forward pass)`);
  console.log(`  the two jvps agree to ${worst.toExponential(1)} (relative)`);
}
