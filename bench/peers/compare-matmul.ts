// Matmul GFLOP/s of our kernels and the peers', side by side per shape, and a check that every
// contender computes the same product.
import { allocateParameter } from "../../src/index.js";
import { operands, type MatmulShape } from "../matmul.js";
import { sideBySide, type Contender, type Schedule } from "./harness.js";
import type { GemmSpec } from "./onnx-gemm.js";
import type { OrtPeer } from "./ort.js";
import { KernelContender, ourKernels } from "./ours.js";
import type { TfMatmul } from "./tfjs.js";
import type { OurThreads } from "./threads.js";

export interface MatmulPeers {
  tfjs: TfMatmul[];
  ort: OrtPeer[];
  threads: OurThreads;
}

export interface MatmulRow {
  shape: string;
  m: number;
  k: number;
  n: number;
  transA: boolean;
  transB: boolean;
  /** Median GFLOP/s (2mnk / median time) by contender. */
  gflops: Record<string, number>;
  /** Median ms per product, samples taken, products per sample. */
  ms: Record<string, number>;
  samples: Record<string, number>;
  reps: Record<string, number>;
  /** Fastest and slowest sample, ms per product. */
  range: Record<string, [number, number]>;
  /** onnxruntime-web's process CPU time ÷ wall time while timed on this shape: how many of its threads worked. */
  ortCoresBusy: Record<string, number>;
}

/** A contender backed by a peer object that keeps its own operands (tfjs tensors, an ort session). */
function peerContender(peer: TfMatmul | OrtPeer, limits?: Contender["limits"]): Contender {
  return { name: peer.name, run: (reps) => peer.run(reps), before: "before" in peer ? () => peer.before() : undefined, limits };
}

/** Products of at least this many flops count as big: the naive loop runs once, tfjs-cpu a few times. */
const BIG = 1e9;

/** Runs `f` with our thread pool started (when there is one); returns the threads it had. */
async function withPool<T>(threads: OurThreads, f: () => Promise<T>): Promise<[T, number]> {
  const inUse = threads.kernel && threads.start ? await threads.start() : 0;
  try {
    return [await f(), inUse];
  } finally {
    threads.stop?.();
  }
}

export async function compareMatmul(shapes: MatmulShape[], peers: MatmulPeers, schedule: Schedule, quick: boolean, progress: (s: string) => void): Promise<{ rows: MatmulRow[]; poolThreads: number }> {
  const [rows, poolThreads] = await withPool(peers.threads, () => measureShapes(shapes, peers, schedule, quick, progress));
  return { rows, poolThreads };
}

async function measureShapes(shapes: MatmulShape[], peers: MatmulPeers, schedule: Schedule, quick: boolean, progress: (s: string) => void): Promise<MatmulRow[]> {
  const rows: MatmulRow[] = [];
  for (const s of shapes) {
    progress(`matmul ${s.label}`);
    const { a, b } = operands(s);
    const big = 2 * s.m * s.n * s.k >= BIG;
    const contenders: Contender[] = [
      new KernelContender("js", ourKernels.js, s, a, b),
      new KernelContender("wasm", ourKernels.wasm, s, a, b),
    ];
    if (peers.threads.kernel) {
      contenders.push(new KernelContender(`wasm×${peers.threads.threads}`, peers.threads.kernel, s, a, b));
      // As a training step has them: operands and result in the threads' memory, used in place.
      const kept = (n: number) => allocateParameter("float32", n) as Float32Array;
      contenders.push(new KernelContender(`wasm×${peers.threads.threads} in place`, peers.threads.kernel, s, a, b, kept));
    }
    const naive = new KernelContender("naive", ourKernels.naive, s, a, b);
    if (big) naive.limits = { samples: 1, warmup: 0 };
    contenders.push(naive);
    for (const t of peers.tfjs) {
      await t.setup(s, a, b);
      contenders.push(peerContender(t, big && t.backend === "cpu" ? (quick ? { samples: 1, warmup: 0 } : { samples: 3, warmup: 1 }) : undefined));
    }
    for (const o of peers.ort) {
      await o.setup(s, a, b);
      contenders.push(peerContender(o));
    }
    const timings = await sideBySide(contenders, schedule);
    const row: MatmulRow = { shape: s.label, m: s.m, k: s.k, n: s.n, transA: s.transA, transB: s.transB, gflops: {}, ms: {}, samples: {}, reps: {}, range: {}, ortCoresBusy: {} };
    for (const [name, t] of Object.entries(timings)) {
      row.gflops[name] = (2 * s.m * s.n * s.k) / (t.ms * 1e6);
      row.ms[name] = t.ms;
      row.samples[name] = t.samples;
      row.reps[name] = t.reps;
      row.range[name] = [t.min, t.max];
    }
    for (const o of peers.ort) row.ortCoresBusy[o.name] = o.shapeUtilization;
    rows.push(row);
  }
  return rows;
}

export interface CheckResult {
  form: string;
  /** max |y − ref| / max |ref| by contender, against a float64 reference. */
  error: Record<string, number>;
}

/**
 * Every contender on one odd shape in the four transposition forms, against a float64 product (the
 * shape is over the thread pool's minimum work, so that wasm×2 does split it).
 */
export async function checkProducts(peers: MatmulPeers): Promise<CheckResult[]> {
  return (await withPool(peers.threads, () => check(peers)))[0];
}

async function check(peers: MatmulPeers): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    const s: GemmSpec = { m: 137, k: 253, n: 129, transA, transB };
    const { a, b } = operands({ ...s, label: "" });
    const ref = new Float64Array(s.m * s.n);
    for (let i = 0; i < s.m; i++)
      for (let j = 0; j < s.n; j++) {
        let acc = 0;
        for (let p = 0; p < s.k; p++) acc += (transA ? a[p * s.m + i] : a[i * s.k + p]) * (transB ? b[j * s.k + p] : b[p * s.n + j]);
        ref[i * s.n + j] = acc;
      }
    const scale = ref.reduce((mx, v) => Math.max(mx, Math.abs(v)), 0);
    const results: Record<string, Float32Array> = {};
    for (const [name, kernel] of Object.entries(ourKernels)) results[name] = new KernelContender(name, kernel, s, a, b).result();
    if (peers.threads.kernel) results[`wasm×${peers.threads.threads}`] = new KernelContender("", peers.threads.kernel, s, a, b).result();
    for (const t of peers.tfjs) {
      await t.setup(s, a, b);
      results[t.name] = await t.result();
    }
    for (const o of peers.ort) {
      await o.setup(s, a, b);
      results[o.name] = await o.result();
    }
    const error: Record<string, number> = {};
    for (const [name, y] of Object.entries(results)) {
      let worst = y.length === ref.length ? 0 : Infinity;
      for (let i = 0; i < ref.length && worst < Infinity; i++) worst = Math.max(worst, Number.isFinite(y[i]) ? Math.abs(y[i] - ref[i]) : Infinity);
      error[name] = worst / scale;
    }
    out.push({ form: `${transA ? "Aᵀ" : "A"}·${transB ? "Bᵀ" : "B"} (${s.m}×${s.k}·${s.k}×${s.n})`, error });
  }
  return out;
}
