// npm run bench -- --only browser: in-page training speed in Chromium beside Node's. The same function
// (bench/browser/training.ts: the seed model at hidden 500, minibatch Adam on binarized MNIST) runs in Node
// with worker_threads and in a Chromium module worker with web workers, both on two threads, alternating
// Node, Chromium, Node, Chromium. Prints the medians, or one JSON object with --json.
import "../src/node/relaxed-simd.js";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { binarize, getFma } from "../src/index.js";
import { loadMnist } from "../src/node/mnist.js";
import { useWorkerThreads } from "../src/node/threads.js";
import { CHROMIUM_PATH, launchChromium } from "../test/browser/chromium.js";
import { loadAverage } from "./peers/info.js";
import { geomean, median } from "./timing.js";
import { productSpeed, trainingSpeed, type TrainingSpeed, type TrainingSpeedOptions } from "./browser/training.js";

const { values } = parseArgs({ options: { json: { type: "boolean" }, quick: { type: "boolean" }, hidden: { type: "string" }, threads: { type: "string" }, "node-child": { type: "boolean" } } });
const here = dirname(fileURLToPath(import.meta.url));
const threads = Number(values.threads ?? 2);
const options: TrainingSpeedOptions = values.quick
  ? { hidden: Number(values.hidden ?? 500), batch: 100, warmup: 10, steps: 20, rounds: 3 }
  : { hidden: Number(values.hidden ?? 500), batch: 100, warmup: 20, steps: 50, rounds: 5 };
const productReps = values.quick ? 20 : 50;
const log = (s: string) => values.json || console.log(s);

const mnist = loadMnist("train", { limit: 6000 });
const images = binarize(mnist.images);
if (values["node-child"]) {
  if (threads > 1) await useWorkerThreads(threads);
  console.log(JSON.stringify({ products: productSpeed(productReps), ...trainingSpeed(images, options), fma: getFma() }));
  process.exit(0);
}

if (!existsSync(CHROMIUM_PATH)) {
  const skipped = `no Chromium at ${CHROMIUM_PATH}; install it with \`apt-get install -y chromium\` (scripts/setup.sh does)`;
  if (values.json) console.log(JSON.stringify({ browser: { skipped } }));
  else console.log(`\nin-page training in Chromium: skipped, ${skipped}`);
  process.exit(0);
}

const bundles = await build({
  entryPoints: { main: join(here, "browser", "main.ts"), worker: join(here, "browser", "worker.ts") },
  outdir: "/bench", bundle: true, format: "esm", platform: "browser", target: "es2022", write: false, logLevel: "silent",
});
const files = Object.fromEntries(bundles.outputFiles.map((f) => [f.path.replace(/^.*\//, ""), f.text]));
const headers = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp", "Cache-Control": "no-store" };
const server: Server = createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  const body = path === "/" ? `<!doctype html><meta charset="utf-8"><title>bench</title><script type="module" src="/main.js"></script>` : path === "/images" ? mnist.images : files[path.slice(1)];
  if (body === undefined) return res.writeHead(404, headers).end();
  const type = path === "/" ? "text/html" : path === "/images" ? "application/octet-stream" : "text/javascript";
  res.writeHead(200, { ...headers, "Content-Type": type }).end(body);
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

const loadAtStart = loadAverage();
// Node runs in a child in a session of its own, as Chromium's processes do: with the kernel's autogroup
// scheduling (Linux's default on desktops and on this machine), CPU time is shared between sessions first,
// so on a busy machine a measurement in the bench's own session would get less of it than Chromium.
function inNode(): Promise<TrainingSpeed & { products: Record<string, number>; fma: boolean }> {
  const args = ["--import", "tsx", fileURLToPath(import.meta.url), "--node-child", "--threads", String(threads), ...(values.quick ? ["--quick"] : []), ...(values.hidden ? ["--hidden", values.hidden] : [])];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => (code === 0 ? resolvePromise(JSON.parse(out.slice(out.indexOf("{")))) : reject(new Error(`bench browser: the Node measurement failed (exit ${code}): ${err.trim().split("\n").slice(-3).join(" ")}`))));
  });
}
const chromium = await launchChromium();
type PageResult = TrainingSpeed & { products: Record<string, number>; ok: true; fma: boolean; threadsStarted: number } | { ok: false; error: string };
async function inPage(): Promise<PageResult & { ok: true }> {
  const page = chromium.page;
  await page.goto("about:blank"); // a fresh document each time: the same URL again would only be a hash navigation
  await page.goto(`${url}#${encodeURIComponent(JSON.stringify({ ...options, threads, productReps }))}`);
  await page.waitForFunction(() => (window as unknown as { __bench?: unknown }).__bench !== undefined, null, { timeout: 600_000 });
  const r = (await page.evaluate(() => (window as unknown as { __bench: unknown }).__bench)) as PageResult;
  if (!r.ok) throw new Error(`bench browser: the page failed: ${r.error}`);
  return r;
}

const node: TrainingSpeed[] = [];
const page: (TrainingSpeed & { fma: boolean })[] = [];
const nodeProducts: Record<string, number>[] = [];
const pageProducts: Record<string, number>[] = [];
let pageFma = false;
try {
  for (let pair = 0; pair < 2; pair++) {
    const n = await inNode();
    nodeProducts.push(n.products);
    node.push(n);
    const r = await inPage();
    pageProducts.push(r.products);
    pageFma = r.fma;
    page.push(r);
  }
} finally {
  await chromium.close();
  server.close();
}
const nodeRounds = node.flatMap((r) => r.rounds);
const pageRounds = page.flatMap((r) => r.rounds);
const products = Object.keys(nodeProducts[0]).map((label) => ({ product: label, node: median(nodeProducts.map((p) => p[label])), chromium: median(pageProducts.map((p) => p[label])) }));
const result = {
  products,
  hidden: options.hidden, batch: options.batch, threads,
  node: { imagesPerSecond: median(nodeRounds), rounds: nodeRounds, fma: getFma(), version: process.versions.node },
  chromium: { imagesPerSecond: median(pageRounds), rounds: pageRounds, fma: pageFma, version: chromium.context.browser()?.version() ?? "unknown" },
  loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAverage(),
};
if (values.json) console.log(JSON.stringify({ browser: result }));
else {
  log(`\nin-page training speed, hidden ${options.hidden}, batch ${options.batch}, ${threads} threads (medians over ${nodeRounds.length} rounds of ${options.steps} steps each, Node and Chromium alternating; load ${loadAtStart} → ${result.loadAverageAtEnd}):`);
  log(`  Node ${process.versions.node}:    ${result.node.imagesPerSecond.toFixed(0)} images/s (${((1e3 * options.batch) / result.node.imagesPerSecond).toFixed(1)} ms a step)${result.node.fma ? ", FMA" : ""}`);
  log(`  Chromium (worker): ${result.chromium.imagesPerSecond.toFixed(0)} images/s (${((1e3 * options.batch) / result.chromium.imagesPerSecond).toFixed(1)} ms a step)${pageFma ? ", FMA" : ""}`);
  log(`\nthe six products of a step, GFLOP/s (WebAssembly kernel, ${threads} thread${threads > 1 ? "s" : ""}, the mean of the two runs' medians):`);
  for (const p of products) log(`  ${p.product.padEnd(24)} Node ${p.node.toFixed(1).padStart(5)}   Chromium ${p.chromium.toFixed(1).padStart(5)}   ${(p.chromium / p.node).toFixed(2)}×`);
  log(`  ${"geomean".padEnd(24)} Node ${geomean(products.map((p) => p.node)).toFixed(1).padStart(5)}   Chromium ${geomean(products.map((p) => p.chromium)).toFixed(1).padStart(5)}`);
  log(`  Chromium ÷ Node: ${(result.chromium.imagesPerSecond / result.node.imagesPerSecond).toFixed(2)}×`);
}
