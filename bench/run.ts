import "../src/node/relaxed-simd.js";
import os from "node:os";
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { machine, printTable } from "./lib.js";
import { squareShapes, vaeShapes } from "./matmul.js";
import { checkProducts, compareMatmul, type CheckResult, type MatmulPeers, type MatmulRow } from "./peers/compare-matmul.js";
import { compareStep, seedStep, type StepPeers } from "./peers/compare-step.js";
import type { Schedule } from "./peers/harness.js";
import { loadAverage, versions } from "./peers/info.js";
import type { OrtPeer } from "./peers/ort.js";
import type { TfInfo } from "./peers/tfjs.js";
import { ourThreads } from "./peers/threads.js";
import { geomean } from "./timing.js";

const help = `npm run bench [-- options]

Side by side in one run (medians): matmul GFLOP/s of our kernels ("js": the TypeScript kernel,
"wasm": the WebAssembly SIMD kernel, "wasm×2": it on two threads via useWorkerThreads when
src/node/threads.ts exists, "naive": the i-k-j loop) and of the peers (TensorFlow.js cpu and wasm
backends, onnxruntime-web with 1 and 2 threads) on square and VAE shapes; then a seed VAE training
step in images/s, ours and TensorFlow.js. Ratios are ours ÷ peer (above 1: ours faster).

Options:
  --json            print one JSON object instead of tables
  --quick           shorter measurements (noisier)
  --only <list>     sections to run, comma-separated: matmul, step, heap (heapUsed after 100 and
                    1,000 training steps, from bench/step.ts), jvp (forward mode on the seed
                    encoder, two ways, from bench/jvp.ts), views (x.matmul(W.T) against transB
                    and a copied transpose, from bench/views.ts), peers (the peers' versions, threads
                    and a correctness check of every contender), layers (the first layer on a
                    binarized batch: the 0/1-sparse kernel and the dense one), fma (the six
                    products with relaxed-SIMD FMA on and off), epoch (an epoch of the seed
                    recipe from the command line against PyTorch on one thread, when python3
                    with torch is installed; the last three from bench/speed.ts), browser (in-page
                    training speed in headless Chromium, hidden 500, beside Node's, and the six
                    products in both; from bench/browser.ts, skipped without Chromium); default: all
  --pairs N         epoch: alternating pairs, ours and PyTorch (default 1; the issue's figure: 3)
  --ours-only       leave the peer libraries out
  -h, --help        this text`;

const { values } = parseArgs({
  options: {
    json: { type: "boolean" },
    quick: { type: "boolean" },
    only: { type: "string" },
    "ours-only": { type: "boolean" },
    pairs: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(help);
  process.exit(0);
}
const sectionNames = ["matmul", "step", "heap", "jvp", "views", "peers", "layers", "fma", "epoch", "browser"] as const;
type Section = (typeof sectionNames)[number];
const only = (values.only ?? sectionNames.join(",")).split(",").map((s) => s.trim());
for (const s of only) {
  if (!(sectionNames as readonly string[]).includes(s)) {
    console.error(`bench: unknown section "${s}" in --only; use ${sectionNames.join(", ")}`);
    process.exit(2);
  }
}
const want = (s: Section) => only.includes(s);
const quick = values.quick ?? false;
const withPeers = !values["ours-only"];
const json = values.json ?? false;
const log = (s = "") => json || console.log(s);
const table = (rows: Record<string, string | number>[]) => json || printTable(rows);
const progress = (s: string) => process.stderr.isTTY && process.stderr.write(`\r\x1b[K… ${s}`);
const started = performance.now();

const matmulSchedule: Schedule = quick
  ? { rounds: 5, minSamples: 2, sampleMs: 10, warmupMs: 50, budgetMs: 400 }
  : { rounds: 15, minSamples: 3, sampleMs: 30, warmupMs: 200, budgetMs: 2500 };
// A sample is a run of steps lasting about sampleMs (one step for tfjs-cpu): the contenders share one
// heap and caches, and a single step timed right after a peer's step pays for part of its garbage (a
// first version timing one step per sample had ours at 109 ms/step, 32 alone, on a busy machine).
// tfjs needs a few steps before its kernels and Adam's slots settle.
const stepSchedule: Schedule = quick
  ? { rounds: 5, minSamples: 5, sampleMs: 100, warmupMs: 100, minWarmup: 2, budgetMs: Infinity }
  : { rounds: 21, minSamples: 21, sampleMs: 250, warmupMs: 500, minWarmup: 3, budgetMs: Infinity };

const report: Record<string, unknown> = { machine: machine(), loadAverageAtStart: loadAverage(), versions: versions(), options: { quick, only, withPeers } };
const notes: string[] = [];
log(`machine: ${machine()}; load average ${report.loadAverageAtStart} at start`);
log(`versions: ${Object.entries(report.versions as Record<string, string>).map(([k, v]) => `${k} ${v}`).join(", ")}`);

// ---- peers: start what the selected sections need ----
const needMatmulPeers = withPeers && (want("matmul") || want("peers"));
const needStepPeers = withPeers && want("step");
// The peer libraries are loaded only when used (--ours-only never touches them).
const tfjs = needMatmulPeers || needStepPeers ? await import("./peers/tfjs.js") : undefined;
const ort = needMatmulPeers ? await import("./peers/ort.js") : undefined;
let tfInfo: TfInfo | undefined;
if (tfjs) {
  try {
    tfInfo = await tfjs.initTfjs();
  } catch (e) {
    notes.push(`tfjs left out: ${(e as Error).message}`);
  }
}
const peers: MatmulPeers = { tfjs: [], ort: [], threads: await ourThreads(2) };
if (!peers.threads.kernel) notes.push(peers.threads.note);
if (needMatmulPeers) {
  if (tfjs && tfInfo) peers.tfjs = tfjs.tfBackends.map((b) => new tfjs.TfMatmul(b));
  const started = await Promise.allSettled([1, 2].map((t) => ort!.OrtPeer.start(t)));
  for (const [i, s] of started.entries()) {
    if (s.status === "fulfilled") peers.ort.push(s.value);
    else notes.push(`onnxruntime-web with ${i + 1} thread(s) left out: ${(s.reason as Error).message}`);
  }
  for (const o of peers.ort) {
    if (o.threads < o.requested) notes.push(`${o.name}: onnxruntime-web runs ${o.threads} thread(s), not ${o.requested}: ${o.warnings.join(" ") || "it gave no reason"}`);
  }
}
const stepPeers: StepPeers | undefined =
  tfjs && tfInfo && needStepPeers
    ? {
        make: (images, o) => Promise.all(tfjs.tfBackends.map((b) => tfjs.TfVaeStep.create(b, images, o.batchSize, o.hidden))),
        tensorCount: tfjs.tfTensorCount,
      }
    : undefined;

const fmtErr = (e: number) => (Number.isFinite(e) ? e.toExponential(1) : String(e));
const fmtRatio = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : "–");

try {
  if (want("peers")) {
    const info = {
      tfjs: tfInfo,
      ort: peers.ort.map((o) => ({ name: o.name, requested: o.requested, threads: o.threads, version: o.version, warnings: o.warnings })),
      ortNote: ort && peers.ort.length ? ort.ORT_PROCESS_NOTE : undefined,
      ourThreads: peers.threads.note,
      check: [] as CheckResult[],
    };
    info.check = await checkProducts(peers);
    report.peers = info;
    log("\npeers");
    if (tfInfo) log(`  tfjs ${tfInfo.core}: backends cpu and wasm (SIMD ${tfInfo.wasmSimd ? "on" : "off"}, threads ${tfInfo.wasmThreads ? "on" : "off"}; binaries from ${tfInfo.wasmPaths})`);
    for (const o of info.ort) log(`  onnxruntime-web ${o.version}: ${o.name} asked for ${o.requested} thread(s), runs ${o.threads}${o.warnings.length ? ` (${o.warnings.join(" ")})` : ""}`);
    if (info.ortNote) log(`  ${info.ortNote}`);
    log(`  ours: ${peers.threads.note}`);
    log("\n  every contender against a float64 product, max |y − ref| / max |ref|:");
    const names = Object.keys(info.check[0]?.error ?? {});
    table(info.check.map((c) => ({ form: c.form, ...Object.fromEntries(names.map((n) => [n, fmtErr(c.error[n])])) })));
  }

  if (want("matmul")) {
    const shapes = [...squareShapes, ...vaeShapes];
    const { rows, poolThreads } = await compareMatmul(shapes, peers, matmulSchedule, quick, progress);
    if (peers.threads.kernel && poolThreads < peers.threads.threads) notes.push(`wasm×${peers.threads.threads}: the worker pool started with ${poolThreads} thread(s) only`);
    progress("");
    const names = Object.keys(rows[0].gflops);
    const vae = rows.filter((r) => vaeShapes.some((s) => s.label === r.shape));
    const ratioPairs: [string, string][] = [];
    for (const peer of names.filter((n) => n.startsWith("tfjs") || n.startsWith("ort"))) ratioPairs.push(["wasm", peer]);
    // Our threaded column against the peer with as many threads.
    for (const ours of names.filter((n) => n.startsWith("wasm×"))) if (names.includes(`ort×${ours.slice(5)}`)) ratioPairs.push([ours, `ort×${ours.slice(5)}`]);
    // Two threads against one, with copies and in place.
    for (const ours of names.filter((n) => n.startsWith("wasm×"))) ratioPairs.push([ours, "wasm"]);
    if (names.includes("tfjs-cpu")) ratioPairs.push(["js", "tfjs-cpu"]);
    ratioPairs.push(["js", "naive"]);
    const ratios = (r: MatmulRow) => Object.fromEntries(ratioPairs.map(([a, b]) => [`${a}÷${b}`, r.gflops[a] / r.gflops[b]]));
    const vaeGeomean = Object.fromEntries(names.map((n) => [n, geomean(vae.map((r) => r.gflops[n]))]));
    report.matmul = { rows: rows.map((r) => ({ ...r, ratios: ratios(r) })), vaeGeomean: { gflops: vaeGeomean, ratios: ratios({ gflops: vaeGeomean } as MatmulRow) } };
    const ortUse = Object.fromEntries(peers.ort.map((o) => [o.name, o.utilization]));
    (report.matmul as Record<string, unknown>).ortCoresBusy = ortUse;
    for (const o of peers.ort) if (o.requested > 1 && o.utilization < 1.3) notes.push(`${o.name}: the child process kept only ${o.utilization.toFixed(2)} cores busy while timed (the machine has ${os.cpus().length} cores, shared with other load)`);

    log(`\nmatmul, float32, GFLOP/s (2mnk / median time), side by side per shape${quick ? " (--quick)" : ""}`);
    const multi = peers.ort.filter((o) => o.requested > 1).map((o) => o.name);
    const gflopsTable: Record<string, string | number>[] = rows.map((r) => ({ shape: r.shape, ...r.gflops, ...Object.fromEntries(multi.map((n) => [`${n} cores busy`, r.ortCoresBusy[n].toFixed(2)])) }));
    gflopsTable.push({ shape: "geomean of the six VAE", ...vaeGeomean, ...Object.fromEntries(multi.map((n) => [`${n} cores busy`, ""])) });
    table(gflopsTable);
    log(`\nours ÷ peer (GFLOP/s ratio, above 1: ours faster)`);
    table([...rows.map((r) => ({ shape: r.shape, ...ratios(r) })), { shape: "geomean of the six VAE", ...ratios({ gflops: vaeGeomean } as MatmulRow) }].map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "number" ? fmtRatio(v) : v]))));
    if (peers.ort.length) log(`\nonnxruntime-web cores busy while timed (its process's CPU time ÷ wall time), all shapes: ${peers.ort.map((o) => `${o.name} ${o.utilization.toFixed(2)}`).join(", ")}`);
    log(`js: matmulJsInto (TypeScript, float64 packing); wasm: matmulWasmInto (SIMD128, one thread, copies operands in and out); naive: matmulNaiveInto${rows.some((r) => r.samples.naive === 1) ? " (timed once where 2mnk ≥ 1e9)" : ""}.`);
    if (peers.threads.kernel) log(`${peers.threads.note}; "in place": its operands and result made in the threads' memory (allocateParameter while the pool runs), as a training step has them (parameters, and the step's arrays: stepScope), read and written where they are.`);
    const fewCpu = rows.filter((r) => (r.samples["tfjs-cpu"] ?? Infinity) < matmulSchedule.minSamples).map((r) => r.shape);
    if (fewCpu.length) log(`tfjs-cpu timed ${rows.find((r) => r.shape === fewCpu[0])!.samples["tfjs-cpu"]} time(s) on ${fewCpu.join(", ")}.`);
  }

  if (want("step")) {
    const { rows, notes: stepNotes } = await compareStep(seedStep, stepPeers, peers.threads, stepSchedule, progress);
    progress("");
    notes.push(...stepNotes);
    // Ratios of images/s: each of our fast rows (wasm, and wasm×2 when there) to every row.
    const bases = rows.filter((r) => r.name.startsWith("ours wasm"));
    const stepTable = rows.map((r) => ({
      contender: r.name,
      "ms/step": r.msPerStep,
      "images/s": r.imagesPerSecond,
      steps: String(r.steps),
      "last loss": r.loss,
      ...Object.fromEntries(bases.map((b) => [`${b.name} ÷ this`, fmtRatio(b.imagesPerSecond / r.imagesPerSecond)])),
    }));
    const ratios: Record<string, number> = {};
    for (const b of bases) for (const r of rows) if (r !== b) ratios[`${b.name}÷${r.name}`] = b.imagesPerSecond / r.imagesPerSecond;
    report.step = { ...seedStep, rows, ratios };
    log(`\ntraining step: batch ${seedStep.batchSize}, H = ${seedStep.hidden}, tanh, −ELBO (Bernoulli logits, σ² = 0.01, one draw), Adam 1e-3; median of samples of ~${stepSchedule.sampleMs} ms of consecutive steps${quick ? " (--quick)" : ""}`);
    table(stepTable);
    log("ours: Trainer.step() with float32 products on our wasm or js kernels; tfjs: the same model with optimizer.minimize, cost.dataSync() per step.");
  }
} finally {
  for (const o of peers.ort) o.close();
  peers.threads.stop?.();
}

if (want("heap")) {
  // In a child process of its own: it needs --expose-gc, and a fresh heap.
  progress("heap over 1,000 training steps");
  const steps = quick ? 300 : 1000;
  const child = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", "bench/step.ts", "--json", "--steps", "5", "--heap-steps", String(steps)], { encoding: "utf8" });
  const out = child.stdout.slice(child.stdout.indexOf("{"));
  try {
    const heap = JSON.parse(out).heap as { steps: number; at100: { heapUsed: number }; atEnd: { heapUsed: number }; heapUsedRatio: number };
    report.heap = heap;
    const mb = (x: number) => (x / 2 ** 20).toFixed(2);
    log(`\nheap: heapUsed after a full GC, ${mb(heap.at100.heapUsed)} MB after 100 training steps and ${mb(heap.atEnd.heapUsed)} MB after ${heap.steps} (×${heap.heapUsedRatio.toFixed(3)})`);
  } catch {
    notes.push(`heap section failed: ${child.stderr.trim().split("\n").slice(-3).join(" ")}`);
  }
}

/** Runs a bench script in a child process with --json and hands its JSON to `show`; a failure becomes a note. */
function childSection<T>(name: string, what: string, script: string, args: string[], show: (r: T) => void): void {
  if (!want(name as Section)) return;
  progress(what);
  const child = spawnSync(process.execPath, ["--import", "tsx", script, "--json", ...args], { encoding: "utf8" });
  try {
    const r = JSON.parse(child.stdout.slice(child.stdout.indexOf("{"))) as T;
    report[name] = r;
    show(r);
  } catch {
    notes.push(`${name} section failed: ${child.stderr.trim().split("\n").slice(-3).join(" ")}`);
  }
}

childSection<{ msMedian: Record<string, number> }>("jvp", "forward mode on the seed encoder", "bench/jvp.ts", ["--reps", quick ? "10" : "30"], (r) => {
  const base = r.msMedian["forward pass"];
  log(`\nforward mode on the seed encoder (784 → 500 → 2, tanh, batch 100), medians:`);
  table(Object.entries(r.msMedian).map(([name, ms]) => ({ "": name, ms: ms.toFixed(2), "× forward": (ms / base).toFixed(1) })));
});

childSection<{ gflops: Record<string, string | number>[] }>("views", "transposed views as matmul operands", "bench/views.ts", ["--reps", quick ? "10" : "40"], (r) => {
  log(`\nthe seed's NT products through a transposed view, GFLOP/s (one thread, medians):`);
  table(r.gflops.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === "number" ? v.toFixed(1) : v]))));
});

for (const section of ["layers", "fma", "epoch"] as const) {
  if (!want(section)) continue;
  // In a child process: bench/speed.ts prints its own tables (and the epoch runs further children).
  progress(section === "epoch" ? "an epoch, ours and PyTorch's" : section);
  const args = ["--import", "tsx", "bench/speed.ts", "--only", section, ...(quick ? ["--quick"] : []), ...(values.pairs ? ["--pairs", values.pairs] : []), ...(json ? ["--json"] : [])];
  const child = spawnSync(process.execPath, args, { encoding: "utf8" });
  progress("");
  if (child.status !== 0) notes.push(`${section} section failed: ${child.stderr.trim().split("\n").slice(-3).join(" ")}`);
  else if (!json) process.stdout.write(child.stdout);
  else report[section] = (JSON.parse(child.stdout.slice(child.stdout.indexOf("{"))) as Record<string, unknown>)[section];
}

interface BrowserBench {
  skipped?: string;
  hidden: number;
  threads: number;
  node: { imagesPerSecond: number; version: string };
  chromium: { imagesPerSecond: number; version: string };
  products: { product: string; node: number; chromium: number }[];
}
childSection<{ browser: BrowserBench }>("browser", "in-page training in Chromium", "bench/browser.ts", quick ? ["--quick"] : [], ({ browser: r }) => {
  if (r.skipped) return log(`\nin-page training in Chromium: skipped, ${r.skipped}`);
  log(`\nin-page training speed (a module worker in headless Chromium ${r.chromium.version}) beside Node ${r.node.version}, hidden ${r.hidden}, batch 100, ${r.threads} threads, medians:`);
  table([
    { "": "training, images/s", Node: r.node.imagesPerSecond.toFixed(0), Chromium: r.chromium.imagesPerSecond.toFixed(0), "Chromium ÷ Node": (r.chromium.imagesPerSecond / r.node.imagesPerSecond).toFixed(2) },
    ...r.products.map((p) => ({ "": `${p.product} GFLOP/s`, Node: p.node.toFixed(1), Chromium: p.chromium.toFixed(1), "Chromium ÷ Node": (p.chromium / p.node).toFixed(2) })),
  ]);
});

const loadAtStart = Number(String(report.loadAverageAtStart).split(" ")[0]);
if (loadAtStart > 1) notes.push(`the machine was not idle: 1-minute load average ${loadAtStart.toFixed(2)} on ${os.cpus().length} cores before this run started; figures are slower and noisier than on an idle machine, the two-thread ones most`);
report.notes = notes;
report.loadAverageAtEnd = loadAverage();
report.seconds = (performance.now() - started) / 1000;
if (json) console.log(JSON.stringify(report));
else {
  const shown = notes.filter((n) => !n.startsWith("TODO") || !want("peers"));
  if (shown.length) log(`\nnotes:\n${shown.map((n) => `  - ${n}`).join("\n")}`);
  log(`\nload average ${report.loadAverageAtEnd} at end (this run included); ${(report.seconds as number).toFixed(0)} s`);
}
