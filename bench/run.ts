import { parseArgs } from "node:util";
import { machine, printTable } from "./lib.js";
import { jsKernels, measureMatmul, squareShapes, vaeShapes } from "./matmul.js";

const help = `npm run bench [-- options]

Measures matmul throughput (GFLOP/s, medians) of each kernel side by side.

Options:
  --json         print one JSON object instead of tables
  --quick        shorter measurements (noisier)
  -h, --help     this text`;

const { values } = parseArgs({ options: { json: { type: "boolean" }, quick: { type: "boolean" }, help: { type: "boolean", short: "h" } } });
if (values.help) {
  console.log(help);
  process.exit(0);
}
const time = values.quick ? 100 : 400;
const log = (s: string) => values.json || console.log(s);

log(`machine: ${machine()}\n`);
log("matmul, float32, GFLOP/s (median), blocked TypeScript kernel vs the naive i-k-j loop");
const rows: Record<string, string | number>[] = [];
for (const shape of [...squareShapes, ...vaeShapes]) {
  const g = await measureMatmul(shape, jsKernels, time);
  rows.push({ shape: shape.label, blocked: g.blocked, naive: g.naive, ratio: g.blocked / g.naive });
}
if (values.json) console.log(JSON.stringify({ machine: machine(), matmul: rows }));
else printTable(rows);
