// A transposed view as a matmul operand: x.matmul(W.T) against the transB option and against a
// materialized transpose (what transpose() cost before it returned a view), on the seed's NT
// products, one thread, float32. Medians.
//
//   node --import tsx bench/views.ts [--json] [--reps N]
import { parseArgs } from "node:util";
import { medianMs } from "./timing.js";
import { Tensor, getBackend, matmul, noGrad, randn } from "../src/index.js";

const { values } = parseArgs({ options: { json: { type: "boolean" }, reps: { type: "string" }, help: { type: "boolean", short: "h" } } });
if (values.help) {
  console.log("node --import tsx bench/views.ts [--json] [--reps N]   (medians of N repetitions, default 40)");
  process.exit(0);
}
const reps = Number(values.reps ?? 40);

const median = (f: () => unknown) => medianMs(f, reps);

// x [B, in] · Wᵀ with W [out, in]: the forward products of the seed's four layers.
const shapes: [number, number, number][] = [[100, 784, 500], [100, 500, 2], [100, 2, 500], [100, 500, 784]];
const rows = shapes.map(([b, inF, outF]) => {
  const x = randn([b, inF], { seed: 1 });
  const W = randn([outF, inF], { seed: 2 });
  const gflop = (2 * b * inF * outF) / 1e9;
  const rate = (f: () => Tensor) => gflop / (median(() => noGrad(f)) / 1e3);
  return {
    product: `(${b}×${inF})·(${inF}×${outF})ᵀ`,
    "x.matmul(W.T)": rate(() => x.matmul(W.T)),
    "matmul(x, W, { transB })": rate(() => matmul(x, W, { transB: true })),
    "x.matmul(W.T.contiguous())": rate(() => x.matmul(W.T.contiguous())),
  };
});
if (values.json) console.log(JSON.stringify({ backend: getBackend(), reps, gflops: rows }));
else {
  console.log(`GFLOP/s on the ${getBackend()} backend, one thread, median of ${reps}:`);
  for (const r of rows) console.log(`  ${r.product.padEnd(22)} view ${r["x.matmul(W.T)"].toFixed(1).padStart(5)}   transB ${r["matmul(x, W, { transB })"].toFixed(1).padStart(5)}   copy ${r["x.matmul(W.T.contiguous())"].toFixed(1).padStart(5)}`);
}
