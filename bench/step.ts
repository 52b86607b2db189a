// One seed training step (batch 100, H = 500: encoder 784→500→2, decoder 2→500→784, tanh,
// `negativeElbo`, Adam over ~787k float32 parameters), timed per phase, with variants side by side.
//
//   node --expose-gc --import tsx bench/step.ts [--json] [--quick] [--steps N] [--heap-steps N]
//                                               [--gc] [--compare DIR] [--threads N]
//
// Variants, interleaved step by step in one process (medians over the timed steps):
//   default        Adam with its WebAssembly SIMD update: moments and gradients in its memory, each
//                  parameter copied in and back out of it every step
//   dense-x        the batch not marked 0/1 (markBinary): the first layer as dense products
//   fma-off        the matmul kernels without relaxed-SIMD FMA (setFma(false))
//   adam-f64       the WebAssembly update in float64 arithmetic (bit-identical to TypeScript)
//   ts-adam        the TypeScript Adam loop (moments in plain arrays)
//   tasks-off      with --threads N > 1: only the matmuls on the threads, the element-wise and 0/1
//                  kernels on this one (setThreadOptions({ tasks: false }))
//   DIR            with --compare: the `Adam` of another checkout (e.g. one before these changes,
//                  whose default kept the parameters in the optimizer's memory and copied nothing)
// Then Adam's update alone over the seed model's parameter sizes: the WebAssembly kernel on operands
// already in its memory (what keeping parameters there saves), the copies in and out alone, the
// kernel table's `adam` entry (copies and kernel), and the TypeScript loop.
// The matmul line times the products of one step through `matmulInto` on their own, on operands where
// a step has them (with threads, in the threads' memory): what is left of a step beyond it is the
// element-wise work, bookkeeping and garbage collection.
// Then the heap: `process.memoryUsage()` after a full GC, after 100 and after --heap-steps steps of the
// default variant (a flat heap: within 10%).
import "../src/node/relaxed-simd.js";
import os from "node:os";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import * as here from "../src/index.js";
import { loadMnist } from "../src/node/mnist.js";
import { useWorkerThreads } from "../src/node/threads.js";
import { median } from "./timing.js";

const help = `node --expose-gc --import tsx bench/step.ts [options]

  --json            one JSON object instead of tables
  --quick           fewer steps (noisier)
  --steps N         timed steps per variant (default 60, quick 15)
  --heap-steps N    steps of the heap measurement (default 1000, quick 200; 0 skips it)
  --gc              a full GC before every timed step (untimed); by default GCs come as in training
  --compare DIR     also time the Adam and ops of the checkout in DIR (its src/index.ts)
  --threads N       run on N threads (useWorkerThreads; default 1), and add the tasks-off variant
  -h, --help        this text`;

const { values } = parseArgs({
  options: {
    json: { type: "boolean" },
    quick: { type: "boolean" },
    steps: { type: "string" },
    "heap-steps": { type: "string" },
    compare: { type: "string" },
    gc: { type: "boolean" },
    threads: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(help);
  process.exit(0);
}
const json = values.json ?? false;
const quick = values.quick ?? false;
const steps = Number(values.steps ?? (quick ? 15 : 60));
const heapSteps = Number(values["heap-steps"] ?? (quick ? 200 : 1000));
const threads = Number(values.threads ?? 1);
if (!Number.isInteger(threads) || threads < 1) {
  console.error(`bench/step: --threads must be a positive integer, got ${values.threads}`);
  process.exit(2);
}
if (threads > 1) await useWorkerThreads(threads);
const log = (s = "") => json || console.log(s);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) console.error("bench/step: run node with --expose-gc for the heap numbers and a GC between samples");

const B = 100;
const D = 784;
const H = 500;
const IMAGES = 1000;

type Lib = typeof here;
const images = here.binarize(loadMnist("train", { limit: IMAGES }).images);

/** Trainer.step's work (batch copy, ε, forward, backward, Adam, loss.item()), timed per phase. */
class Runner {
  readonly model: InstanceType<Lib["VAE"]>;
  readonly opt: InstanceType<Lib["Adam"]>;
  private readonly rng: InstanceType<Lib["Random"]>;
  private batch = 0;
  readonly times = { step: [] as number[], forward: [] as number[], backward: [] as number[], optimizer: [] as number[] };
  loss = NaN;

  constructor(readonly name: string, readonly lib: Lib, adam: Record<string, unknown>, readonly binary = true, readonly fma = true, readonly tasks = true) {
    this.model = new lib.VAE({ hidden: H }, { seed: 0 });
    this.opt = new lib.Adam(this.model.namedParameters(), { lr: 1e-3, ...adam });
    this.rng = new lib.Random(1);
  }

  step(record: boolean): void {
    const { lib } = this;
    const fma = (lib as Partial<Lib>).setFma && lib.wasmFmaSupported() ? this.fma : undefined;
    if (fma !== undefined) lib.setFma(fma);
    if (threads > 1) here.setThreadOptions({ tasks: this.tasks });
    const t0 = performance.now();
    const b = this.batch++ % (IMAGES / B);
    this.opt.zeroGrad();
    let t1 = 0;
    // As Trainer.step does: forward and backward as one step scope (with threads, their arrays in the
    // threads' memory, reused by the next step; older checkouts have none).
    const scope = (lib as Partial<Lib>).stepScope ?? ((f: () => void) => f());
    scope(() => {
      const x = lib.allocate("float32", B * D);
      x.set(images.subarray(b * B * D, (b + 1) * B * D));
      const eps = lib.sampleEps(this.rng, 1, B, 2);
      const xt = new lib.Tensor(x, [B, D]);
      // As Trainer.step does: its images were checked once, so the batch is recorded 0/1 without a scan
      // (older checkouts: markBinary, or nothing).
      const storage = xt.storage as { assumeBinary?: () => void };
      if (this.binary) {
        if (storage.assumeBinary) storage.assumeBinary();
        else (lib as Partial<Lib>).markBinary?.(xt);
      }
      const loss = lib.negativeElbo(this.model, xt, eps);
      this.loss = loss.item();
      t1 = performance.now();
      loss.backward();
    });
    const t2 = performance.now();
    this.opt.step();
    const t3 = performance.now();
    if (!record) return;
    this.times.step.push(t3 - t0);
    this.times.forward.push(t1 - t0);
    this.times.backward.push(t2 - t1);
    this.times.optimizer.push(t3 - t2);
  }
}

const runners: Runner[] = [
  new Runner("default", here, {}),
  new Runner("dense-x", here, {}, false),
  new Runner("fma-off", here, {}, true, false),
  new Runner("adam-f64", here, { precision: "f64" }),
  new Runner("ts-adam", here, { kernel: "js" }),
  ...(threads > 1 ? [new Runner("tasks-off", here, {}, true, true, false)] : []),
];
if (values.compare) {
  const other = (await import(pathToFileURL(resolve(values.compare, "src/index.ts")).href)) as Lib;
  runners.push(new Runner(values.compare, other, {}));
}

log(`machine: ${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} cores, Node ${process.version}; load average ${os.loadavg().map((v) => v.toFixed(2)).join(" ")}; backend ${here.getBackend()}, ${here.getThreads()} thread(s)`);
log(`seed step: batch ${B}, H = ${H}, ${[...runners[0].model.namedParameters().values()].reduce((a, p) => a + p.size, 0)} parameters; ${steps} timed steps per variant, interleaved`);

// Warm up (JIT tiers, WebAssembly tier-up, glibc's mmap threshold), then time round-robin. GCs happen
// as they do in training, and a variant may pay for another's garbage; the medians mostly skip them.
// With --gc, a full GC before every step: no step pays for garbage, but V8 then also throws away
// optimized code that depends on objects that died, so every step runs partly cold (slower).
const forceGc = values.gc ?? false;
for (let i = 0; i < (quick ? 5 : 15); i++) for (const r of runners) r.step(false);
for (let i = 0; i < steps; i++) {
  for (const r of runners) {
    if (forceGc) gc?.();
    r.step(true);
  }
}

// The matmul products of one step, alone (same shapes and transposes as `linear` forward and backward).
const products: [number, number, number, boolean, boolean][] = [
  [B, D, H, false, true], [B, H, 2, false, true], [B, 2, H, false, true], [B, H, D, false, true], // forward
  [B, D, H, false, false], [D, B, H, true, false], // decoder layer 1: dx, dW
  [B, H, 2, false, false], [H, B, 2, true, false], // decoder layer 0
  [B, 2, H, false, false], [2, B, H, true, false], // encoder layer 1
  [H, B, D, true, false], // encoder layer 0: dW
];
// Where a step has them: with threads, in the threads' memory (parameters are kept there, and a
// step's activations and gradients live there too), so the products read them in place.
const operand = (n: number, f: (i: number) => number): Float32Array => {
  const x = here.allocateParameter("float32", n) as Float32Array;
  for (let i = 0; i < n; i++) x[i] = f(i);
  return x;
};
const operands = products.map(([m, k, n]) => ({ a: operand(m * k, Math.sin), b: operand(k * n, Math.cos), out: operand(m * n, () => 0) }));
const matmulTimes: number[] = [];
for (let rep = 0; rep < steps + 10; rep++) {
  const t0 = performance.now();
  products.forEach(([m, k, n, ta, tb], i) => here.matmulInto(operands[i].out, operands[i].a, operands[i].b, m, k, n, ta, tb));
  if (rep >= 10) matmulTimes.push(performance.now() - t0);
}
const matmulMs = median(matmulTimes);

// Adam's update alone, over the seed model's parameter sizes (all of a step's Adam work).
const sizes = [...runners[0].model.namedParameters().values()].map((p) => p.size);
const { AdamMemory } = await import("../src/tensor/wasm/elementwise.js");
const { kernelFor } = await import("../src/tensor/kernels.js");
const adamStep = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, c1: 10, c2: 1000, precision: "f32" as const };
const params = sizes.map((n) => new Float32Array(n).map((_, i) => Math.sin(i)));
const grads = sizes.map((n) => new Float32Array(n).map((_, i) => 1e-3 * Math.cos(i)));
const mem = new AdamMemory(sizes);
sizes.forEach((_, k) => { mem.p[k].set(params[k]); mem.g[k].set(grads[k]); });
const wasmAdam = kernelFor("adam", "wasm", "float32");
const jsState = kernelFor("adamState", "js", "float32")(sizes);
const jsAdam = kernelFor("adam", "js", "float32");
const adamTasks: Record<string, () => void> = {
  "wasm kernel, operands in its memory": () => sizes.forEach((_, k) => mem.step(k, adamStep)),
  "copies in and out alone": () => sizes.forEach((_, k) => { mem.p[k].set(params[k]); params[k].set(mem.p[k]); }),
  "wasm table entry (copy in, kernel, copy out)": () => sizes.forEach((_, k) => wasmAdam(params[k], mem.g[k], mem.slots[k], adamStep)),
  "wasm f64 table entry": () => sizes.forEach((_, k) => wasmAdam(params[k], mem.g[k], mem.slots[k], { ...adamStep, precision: "f64" })),
  "TypeScript loop": () => sizes.forEach((_, k) => jsAdam(params[k], grads[k], jsState.slots[k], adamStep)),
};
const adamTimes = Object.fromEntries(Object.keys(adamTasks).map((k) => [k, [] as number[]]));
for (let rep = 0; rep < steps + 10; rep++) {
  for (const [name, f] of Object.entries(adamTasks)) {
    const t0 = performance.now();
    f();
    if (rep >= 10) adamTimes[name].push(performance.now() - t0);
  }
}
const adamRows = Object.entries(adamTimes).map(([name, t]) => ({ "Adam update alone": name, "ms (median)": median(t) }));

const rows = runners.map((r) => {
  const step = median(r.times.step);
  return {
    variant: r.name,
    "step ms": step,
    "images/s": (B / step) * 1000,
    "forward ms": median(r.times.forward),
    "backward ms": median(r.times.backward),
    "optimizer ms": median(r.times.optimizer),
    "beyond matmul ms": step - matmulMs,
    loss: r.loss,
  };
});

log();
log(`matmul products of one step alone: ${matmulMs.toFixed(2)} ms (median)`);
printTable(rows);
log();
log(`Adam's update alone over the ${sizes.length} parameter tensors (${sizes.reduce((a, b) => a + b, 0)} float32 values), ${steps} interleaved repetitions:`);
printTable(adamRows);

// ---- heap over a long run -------------------------------------------------------------------------
let heap: Record<string, unknown> | null = null;
if (heapSteps > 0) {
  const r = new Runner("default", here, {});
  // A full GC, a pause for V8 to finish freeing dead ArrayBuffers' memory (it does that in the
  // background), and another GC; without the pause `arrayBuffers` still counts some dead ones.
  const usage = async () => {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 100));
    gc?.();
    const u = process.memoryUsage();
    return { heapUsed: u.heapUsed, external: u.external, arrayBuffers: u.arrayBuffers };
  };
  let at100: Awaited<ReturnType<typeof usage>> | null = null;
  for (let i = 1; i <= heapSteps; i++) {
    r.step(false);
    if (i === Math.min(100, heapSteps)) at100 = await usage();
  }
  const atEnd = await usage();
  const mb = (x: number) => x / 2 ** 20;
  heap = { steps: heapSteps, at100, atEnd, heapUsedRatio: atEnd.heapUsed / at100!.heapUsed };
  log();
  log(`heap (after a full GC), default variant: heapUsed ${mb(at100!.heapUsed).toFixed(2)} MB after 100 steps, ${mb(atEnd.heapUsed).toFixed(2)} MB after ${heapSteps} (×${(atEnd.heapUsed / at100!.heapUsed).toFixed(3)}); ` +
    `arrayBuffers ${mb(at100!.arrayBuffers).toFixed(1)} → ${mb(atEnd.arrayBuffers).toFixed(1)} MB`);
}

if (json) {
  console.log(JSON.stringify({ machine: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, loadavg: os.loadavg(), backend: here.getBackend(), batch: B, hidden: H, steps, forcedGc: forceGc, matmulMs, variants: rows, adam: adamRows, heap }, null, 2));
}

function printTable(table: Record<string, string | number>[]): void {
  const keys = Object.keys(table[0]);
  const fmt = (v: string | number) => (typeof v === "number" ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)) : v);
  const cells = table.map((r) => keys.map((k) => fmt(r[k])));
  const widths = keys.map((k, i) => Math.max(k.length, ...cells.map((c) => c[i].length)));
  const line = (vals: string[]) => vals.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join("  ");
  log(line(keys));
  log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const c of cells) log(line(c));
}
