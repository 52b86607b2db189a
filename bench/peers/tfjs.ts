// TensorFlow.js as a peer: the "cpu" backend (plain JavaScript) and the "wasm" backend (XNNPACK,
// SIMD), both in this process. Tensors live in the backend that was active when they were made, so
// each contender makes its own and selects its backend before each sample (untimed).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { dirname, join } from "node:path";
import { build } from "esbuild";
import * as tf from "@tensorflow/tfjs-core";
import { version_cpu } from "@tensorflow/tfjs-backend-cpu";
import { setWasmPaths, version_wasm } from "@tensorflow/tfjs-backend-wasm";
import type { Contender } from "./harness.js";
import type { GemmSpec } from "./onnx-gemm.js";

export type TfBackend = "cpu" | "wasm";
export const tfBackends: TfBackend[] = ["cpu", "wasm"];

export interface TfInfo {
  core: string;
  cpu: string;
  wasm: string;
  wasmSimd: boolean;
  wasmThreads: boolean;
  wasmPaths: string;
}

let info: TfInfo | undefined;
const require = createRequire(import.meta.url);

/**
 * Registers tfjs's own gradient functions. The packages' Node (CommonJS) builds carry none: the
 * @tensorflow/tfjs union package registers them from tfjs-core's ES module sources, which Node cannot
 * load as they are (extensionless imports). So those sources (tfjs-core/dist/register_all_gradients.js,
 * from the installed package) are bundled with esbuild at start-up and loaded once; the gradient and
 * kernel registries and the engine are globals, shared with the copy of tfjs-core imported above.
 */
async function registerGradients(): Promise<void> {
  const entry = require.resolve("@tensorflow/tfjs-core/dist/register_all_gradients.js");
  const out = await build({ entryPoints: [entry], bundle: true, platform: "node", format: "cjs", write: false, logLevel: "error" });
  const dir = mkdtempSync(join(os.tmpdir(), "tfjs-gradients-"));
  try {
    const file = join(dir, "register_all_gradients.cjs");
    writeFileSync(file, out.outputFiles[0].contents);
    require(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Registers both backends once: wasm binaries from the package's dist folder, one thread, prod mode. */
export async function initTfjs(): Promise<TfInfo> {
  if (info) return info;
  const wasmPaths = dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm")) + "/";
  setWasmPaths(wasmPaths);
  // One thread (tfjs-backend-wasm has no thread pool in Node): the single-threaded SIMD binary, chosen explicitly.
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  // Prod mode: no debug checks, and no "install tfjs-node" banner on stdout.
  tf.enableProdMode();
  await registerGradients();
  // The wasm backend's Emscripten runtime adds process handlers that rethrow any uncaught error with a
  // line of its minified source as the "location"; they are removed again so errors read normally.
  const exceptionHandlers = new Set(process.listeners("uncaughtException"));
  const rejectionHandlers = new Set(process.listeners("unhandledRejection"));
  for (const b of tfBackends) if (!(await tf.setBackend(b))) throw new Error(`tfjs: backend "${b}" failed to initialize`);
  for (const l of process.listeners("uncaughtException")) if (!exceptionHandlers.has(l)) process.removeListener("uncaughtException", l);
  for (const l of process.listeners("unhandledRejection")) if (!rejectionHandlers.has(l)) process.removeListener("unhandledRejection", l);
  info = {
    core: tf.version_core,
    cpu: version_cpu,
    wasm: version_wasm,
    wasmSimd: Boolean(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")),
    wasmThreads: Boolean(await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT")),
    wasmPaths,
  };
  return info;
}

async function use(backend: TfBackend): Promise<void> {
  if (tf.getBackend() !== backend) await tf.setBackend(backend);
}

/** tf.matMul(a, b, transposeA, transposeB) on pre-made tensors; dataSync() makes each call complete. */
export class TfMatmul implements Contender {
  readonly name: string;
  private a: tf.Tensor2D | undefined;
  private b: tf.Tensor2D | undefined;
  private spec!: GemmSpec;
  limits?: { samples?: number; warmup?: number };

  constructor(readonly backend: TfBackend) {
    this.name = `tfjs-${backend}`;
  }

  async setup(s: GemmSpec, a: Float32Array, b: Float32Array): Promise<void> {
    await use(this.backend);
    this.a?.dispose();
    this.b?.dispose();
    this.a = tf.tensor2d(a, s.transA ? [s.k, s.m] : [s.m, s.k]);
    this.b = tf.tensor2d(b, s.transB ? [s.n, s.k] : [s.k, s.n]);
    this.spec = s;
  }

  before(): Promise<void> {
    return use(this.backend);
  }

  run(reps: number): number {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) {
      const c = tf.matMul(this.a!, this.b!, this.spec.transA, this.spec.transB);
      c.dataSync();
      c.dispose();
    }
    return performance.now() - t0;
  }

  async result(): Promise<Float32Array> {
    await use(this.backend);
    const c = tf.matMul(this.a!, this.b!, this.spec.transA, this.spec.transB);
    const y = Float32Array.from(c.dataSync());
    c.dispose();
    return y;
  }

  dispose(): void {
    this.a?.dispose();
    this.b?.dispose();
  }
}

/**
 * The seed training step written the way a tfjs user would: encoder 784→H→2 and decoder 2→H→784 with
 * tanh, z = g + σε (σ² = 0.01, one draw), loss = −mean ELBO with the Bernoulli likelihood from logits
 * (x·l − softplus(l)), Adam(1e-3) through optimizer.minimize. Weights are [in, out] (x·W), so the
 * backward products are the Aᵀ·B and A·Bᵀ forms. The returned cost's dataSync() ends each step.
 */
export class TfVaeStep implements Contender {
  readonly name: string;
  private readonly vars: tf.Variable[] = [];
  private readonly optimizer: tf.Optimizer;
  private batch = 0;
  lastLoss = NaN;

  private constructor(readonly backend: TfBackend, private readonly images: Float32Array, private readonly batchSize: number, hidden: number) {
    this.name = `tfjs-${backend}`;
    const D = 784;
    const d = 2;
    let seed = 1;
    // PyTorch's default initialization, as src/nn: uniform in ±1/√in for weights and biases.
    const layer = (fanIn: number, fanOut: number) => {
      const bound = 1 / Math.sqrt(fanIn);
      this.vars.push(tf.variable(tf.randomUniform([fanIn, fanOut], -bound, bound, "float32", seed++)));
      this.vars.push(tf.variable(tf.randomUniform([fanOut], -bound, bound, "float32", seed++)));
    };
    layer(D, hidden);
    layer(hidden, d);
    layer(d, hidden);
    layer(hidden, D);
    this.optimizer = tf.train.adam(1e-3);
  }

  static async create(backend: TfBackend, images: Float32Array, batchSize: number, hidden: number): Promise<TfVaeStep> {
    await use(backend);
    return new TfVaeStep(backend, images, batchSize, hidden);
  }

  before(): Promise<void> {
    return use(this.backend);
  }

  private loss(x: tf.Tensor2D, eps: tf.Tensor2D): tf.Scalar {
    const [w1, b1, w2, b2, w3, b3, w4, b4] = this.vars;
    const variance = 0.01;
    const d = 2;
    const LOG_2PI = Math.log(2 * Math.PI);
    const g = tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x, w1), b1)), w2), b2);
    const z = tf.add(g, tf.mul(eps, Math.sqrt(variance)));
    const logits = tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(z, w3), b3)), w4), b4);
    const logLikelihood = tf.sum(tf.sub(tf.mul(x, logits), tf.softplus(logits)), 1);
    const logPrior = tf.sub(tf.mul(tf.sum(tf.square(z), 1), -0.5), (d / 2) * LOG_2PI);
    const negLogQ = tf.add(tf.mul(tf.sum(tf.square(eps), 1), 0.5), (d / 2) * Math.log(variance) + (d / 2) * LOG_2PI);
    return tf.neg(tf.mean(tf.add(tf.add(logPrior, logLikelihood), negLogQ)));
  }

  /** One Adam step on the next minibatch (cycling through `images`); returns the loss. */
  step(): number {
    const D = 784;
    const count = this.images.length / D / this.batchSize;
    const start = (this.batch++ % count) * this.batchSize * D;
    const x = tf.tensor2d(this.images.subarray(start, start + this.batchSize * D), [this.batchSize, D]);
    const eps = tf.randomNormal([this.batchSize, 2]) as tf.Tensor2D;
    const cost = this.optimizer.minimize(() => this.loss(x, eps), true, this.vars)!;
    const loss = cost.dataSync()[0];
    tf.dispose([cost, x, eps]);
    return loss;
  }

  run(reps: number): number {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) this.lastLoss = this.step();
    return performance.now() - t0;
  }

  dispose(): void {
    tf.dispose(this.vars);
    this.optimizer.dispose();
  }
}

/** Tensors alive in tfjs (to check that nothing leaks across steps). */
export const tfTensorCount = (): number => tf.memory().numTensors;
