// The figures of issue 13, side by side in one process (medians), for bench/run.ts:
//
//   node --import tsx bench/speed.ts [--json] [--quick] [--only layers,fma,epoch] [--pairs N] [--limit N]
//
//   layers  the encoder's first layer on a binarized MNIST batch (x 100×784 of 0/1, W1 500×784):
//           x·W1ᵀ and its weight gradient G1ᵀ·x, by the dense kernel (`matmul`) and by the 0/1-sparse
//           one (`matmulBinary`), one thread, alternating; GFLOP/s counted as the dense product's 2mnk
//   fma     the six products of a step, one thread, with the FMA kernel and the plain one, alternating
//   epoch   one epoch of the seed recipe from the command line (`npm run vae -- train`, both cores)
//           against PyTorch on one thread (bench/torch_epoch.py, OpenBLAS's best kernel for the CPU),
//           in --pairs alternating pairs (default 1; the issue's figure is the median of 3)
import "../src/node/relaxed-simd.js";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Random, getFma, kernelFor, setFma, wasmFmaSupported } from "../src/index.js";
import { loadMnist } from "../src/node/mnist.js";
import { binarize } from "../src/vae/idx.js";
import { geomean, median } from "./timing.js";
import { printTable } from "./lib.js";
import { operands, vaeShapes } from "./matmul.js";

const { values } = parseArgs({
  options: {
    json: { type: "boolean" },
    quick: { type: "boolean" },
    only: { type: "string" },
    pairs: { type: "string" },
    limit: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log("node --import tsx bench/speed.ts [--json] [--quick] [--only layers,fma,epoch] [--pairs N] [--limit N]");
  process.exit(0);
}
const only = (values.only ?? "layers,fma,epoch").split(",");
const quick = values.quick ?? false;
const json = values.json ?? false;
const log = (s = "") => json || console.log(s);
const table = (rows: Record<string, string | number>[]) => json || printTable(rows);
const report: Record<string, unknown> = {};

/** Median ms per call of each task, interleaved call by call for `rounds` rounds after a warm-up. */
function alternate(tasks: Record<string, () => void>, rounds: number): Record<string, number> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(tasks).map((k) => [k, []]));
  for (let r = -10; r < rounds; r++) {
    for (const [name, f] of Object.entries(tasks)) {
      const t0 = performance.now();
      f();
      if (r >= 0) times[name].push(performance.now() - t0);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}
const rounds = quick ? 15 : 60;

if (only.includes("layers")) {
  const [B, D, H] = [100, 784, 500];
  const x = binarize(loadMnist("train", { limit: B }).images);
  const rng = new Random(1);
  const W = Float32Array.from({ length: H * D }, () => 0.05 * rng.normal());
  const G = Float32Array.from({ length: B * H }, () => rng.normal());
  const [y, gw] = [new Float32Array(B * H), new Float32Array(H * D)];
  const dense = kernelFor("matmul", "wasm", "float32");
  const sparse = kernelFor("matmulBinary", "wasm", "float32");
  const ms = alternate({
    "x·W1ᵀ dense": () => dense(y, x, W, B, D, H, false, true),
    "x·W1ᵀ sparse": () => sparse(y, x, W, B, D, H, false, true, "a"),
    "G1ᵀ·x dense": () => dense(gw, G, x, H, B, D, true, false),
    "G1ᵀ·x sparse": () => sparse(gw, G, x, H, B, D, true, false, "b"),
  }, rounds);
  const flops = 2 * B * D * H;
  const ones = x.reduce((s, v) => s + v, 0) / x.length;
  const rows = ["x·W1ᵀ", "G1ᵀ·x"].map((p) => ({
    product: p,
    "dense ms": ms[`${p} dense`],
    "sparse ms": ms[`${p} sparse`],
    "dense GFLOP/s": flops / ms[`${p} dense`] / 1e6,
    "sparse GFLOP/s (dense-equivalent)": flops / ms[`${p} sparse`] / 1e6,
    "sparse ÷ dense speed": `${(ms[`${p} dense`] / ms[`${p} sparse`]).toFixed(2)}×`,
  }));
  report.layers = { ones, rows };
  log(`\nthe first layer on a binarized MNIST batch (${(100 * ones).toFixed(1)}% ones), one thread, FMA ${getFma() ? "on" : "off"}, medians of ${rounds} alternating calls`);
  table(rows);
}

if (only.includes("fma")) {
  if (!wasmFmaSupported()) {
    report.fma = { skipped: "this engine has no relaxed SIMD" };
    log("\nFMA on/off: skipped, this engine has no relaxed SIMD (f32x4.relaxed_madd)");
  } else {
    const before = getFma();
    const kern = kernelFor("matmul", "wasm", "float32");
    const rows = vaeShapes.map((s) => {
      const { a, b, out } = operands(s);
      const run = () => kern(out, a, b, s.m, s.k, s.n, s.transA, s.transB);
      const ms = alternate({ on: () => (setFma(true), run()), off: () => (setFma(false), run()) }, rounds);
      const g = (t: number) => (2 * s.m * s.k * s.n) / t / 1e6;
      return { shape: s.label, "FMA on GFLOP/s": g(ms.on), "FMA off GFLOP/s": g(ms.off), "on ÷ off": `${(ms.off / ms.on).toFixed(2)}×` };
    });
    setFma(before);
    const gm = (k: "FMA on GFLOP/s" | "FMA off GFLOP/s") => geomean(rows.map((r) => r[k]));
    rows.push({ shape: "geomean", "FMA on GFLOP/s": gm("FMA on GFLOP/s"), "FMA off GFLOP/s": gm("FMA off GFLOP/s"), "on ÷ off": `${(gm("FMA on GFLOP/s") / gm("FMA off GFLOP/s")).toFixed(2)}×` });
    report.fma = { rows };
    log(`\nthe six products of a step, wasm, one thread, FMA (relaxed SIMD) on and off, medians of ${rounds} alternating calls`);
    table(rows);
  }
}

if (only.includes("epoch")) {
  const python = ["/usr/bin/python3", "python3"].find((p) => spawnSync(p, ["-c", "import torch"], { encoding: "utf8" }).status === 0);
  if (python === undefined) {
    report.epoch = { skipped: "no python3 with torch" };
    log("\nepoch against PyTorch: skipped, no python3 with torch. To include it: apt-get install -y python3-torch libopenblas0-pthread (Debian; OpenBLAS, else torch uses the reference BLAS)");
  } else {
    const pairs = Number(values.pairs ?? 1);
    const limit = values.limit;
    // OpenBLAS picks a fallback kernel on some CPUs it does not know: name the best one for this CPU.
    const avx512 = /avx512f/.test(spawnSync("grep", ["-m1", "flags", "/proc/cpuinfo"], { encoding: "utf8" }).stdout ?? "");
    const torchEnv = { ...process.env, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1", ...(avx512 ? { OPENBLAS_CORETYPE: "SkylakeX" } : {}) };
    const torchOnce = (): number => {
      const r = spawnSync(python, ["bench/torch_epoch.py", "--threads", "1", "--json", ...(limit ? ["--limit", limit] : [])], { encoding: "utf8", env: torchEnv });
      const out = JSON.parse(r.stdout.slice(r.stdout.indexOf("{"))) as { epochs: { seconds: number }[] };
      return out.epochs[0].seconds;
    };
    // The default command line: package.json's `vae` script (its node flags) with `train`.
    const [, ...vaeArgs] = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts: { vae: string } }).scripts.vae.split(/\s+/);
    const oursOnce = (): number => {
      const dir = mkdtempSync(join(os.tmpdir(), "tsgrad-epoch-"));
      try {
        const r = spawnSync(process.execPath, [...vaeArgs, "train", "--out", dir, "--epochs", "1", "--test-limit", "1000", ...(limit ? ["--limit", limit] : [])], { encoding: "utf8" });
        if (r.status !== 0) throw new Error(`bench/speed: training failed: ${r.stderr.slice(-300)}`);
        // The training seconds of metrics.jsonl (the progress line rounds them to 0.1 s).
        return (JSON.parse(readFileSync(join(dir, "metrics.jsonl"), "utf8").split("\n")[0]) as { trainSeconds: number }).trainSeconds;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const rows: { pair: string; "ours s": number; "PyTorch 1 thread s": number; "ours ÷ PyTorch": string; load: string }[] = [];
    for (let p = 1; p <= pairs; p++) {
      // Alternate which goes first, so that neither always meets the other's leftovers.
      let a: number, b: number;
      if (p % 2) [a, b] = [oursOnce(), torchOnce()];
      else [b, a] = [torchOnce(), oursOnce()];
      rows.push({ pair: String(p), "ours s": a, "PyTorch 1 thread s": b, "ours ÷ PyTorch": `${(a / b).toFixed(2)}×`, load: os.loadavg().map((v) => v.toFixed(2)).join(" ") });
    }
    const ratio = median(rows.map((r) => r["ours s"] / r["PyTorch 1 thread s"]));
    report.epoch = { pairs: rows, medianRatio: ratio, openblasCoretype: torchEnv.OPENBLAS_CORETYPE ?? "default" };
    log(`\nan epoch of the seed recipe${limit ? ` (first ${limit} images)` : ""}: \`npm run vae -- train\` (both cores) and PyTorch on one thread (OPENBLAS_CORETYPE=${torchEnv.OPENBLAS_CORETYPE ?? "default"}), alternating; training seconds`);
    table(rows);
    log(`median ours ÷ PyTorch over ${pairs} pair(s): ${ratio.toFixed(2)}× (goal ≤ 1.00×)`);
  }
}

if (json) console.log(JSON.stringify(report));
