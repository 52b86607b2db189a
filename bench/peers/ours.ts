// Our side of the comparison: the matmul kernels called directly (not through the backend switch),
// and the seed training step through `Trainer`.
import type { MatmulKernel } from "../../src/tensor/matmul.js";
import { binarize, matmulJsInto, matmulNaiveInto, matmulWasmInto, setBackend, Trainer, VAE, type Backend } from "../../src/index.js";
import { loadMnist } from "../../src/node/mnist.js";
import type { Contender } from "./harness.js";
import type { GemmSpec } from "./onnx-gemm.js";

export type Kernel = MatmulKernel<Float32Array>;

export const ourKernels: Record<"js" | "wasm" | "naive", Kernel> = { js: matmulJsInto, wasm: matmulWasmInto, naive: matmulNaiveInto };

/** One of our float32 kernels on fixed operands, writing into a preallocated output. */
export class KernelContender implements Contender {
  limits?: { samples?: number; warmup?: number };
  private readonly out: Float32Array;

  /** With `alloc`, the operands (copied) and the result live in the arrays it makes. */
  constructor(readonly name: string, private readonly kernel: Kernel, private readonly s: GemmSpec, private a: Float32Array, private b: Float32Array, alloc?: (n: number) => Float32Array) {
    const make = alloc ?? ((n: number) => new Float32Array(n));
    this.out = make(s.m * s.n);
    if (alloc) {
      this.a = make(a.length);
      this.a.set(a);
      this.b = make(b.length);
      this.b.set(b);
    }
  }

  run(reps: number): number {
    const { kernel, out, a, b, s } = this;
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) kernel(out, a, b, s.m, s.k, s.n, s.transA, s.transB);
    return performance.now() - t0;
  }

  result(): Float32Array {
    this.run(1);
    return Float32Array.from(this.out);
  }
}

/** The first `count` training images of MNIST, binarized as the VAE trains on them. */
export function trainingImages(count: number): Float32Array {
  return binarize(loadMnist("train", { limit: count }).images);
}

/** `Trainer.step()` (batch, ε, forward, backward, Adam, loss.item()) with float32 products on `backend`. */
export class OurStep implements Contender {
  readonly name: string;
  readonly trainer: Trainer;
  lastLoss = NaN;

  constructor(readonly backend: Backend, images: Float32Array, batchSize: number, hidden: number) {
    this.name = `ours ${backend}`;
    this.trainer = new Trainer(new VAE({ hidden }, { seed: 0 }), images, { batchSize, lr: 1e-3, seed: 1 });
  }

  before(): void {
    setBackend(this.backend);
  }

  run(reps: number): number {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) this.lastLoss = -this.trainer.step().elbo;
    return performance.now() - t0;
  }
}
