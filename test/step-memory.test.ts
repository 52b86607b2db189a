// A training step's memory (src/tensor/step-memory.ts): inside stepScope, while a thread pool runs,
// float32 arrays come from a region of the threads' memory that the next step reuses; a tensor made on
// one throws on use once that happened.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopWorkerThreads, useWorkerThreads } from '../src/node/threads.js';
import { add } from '../src/autograd/elementwise.js';
import { allocate } from '../src/tensor/dtype.js';
import { Random } from '../src/tensor/random.js';
import { stepScope } from '../src/tensor/step-memory.js';
import { Tensor } from '../src/tensor/tensor.js';
import { activationBackwardWasm, bernoulliWasm, biasAddWasm, biasTanhWasm, columnSumsWasm, scaleRowsWasm } from '../src/tensor/wasm/elementwise.js';
import { getTasks } from '../src/tensor/wasm/parallel.js';
import { Trainer } from '../src/vae/train.js';
import { VAE } from '../src/vae/model.js';

const f32 = (n: number): Float32Array => allocate('float32', n) as Float32Array;
const stale = /made inside a training step/;

describe('without a thread pool', () => {
  beforeAll(() => stopWorkerThreads());

  it('a step scope runs f and its arrays are plain ones, never stale', () => {
    let t!: Tensor;
    expect(stepScope(() => ((t = new Tensor(f32(5000), [5000])), 7))).toBe(7);
    expect(t.data.buffer).toBeInstanceOf(ArrayBuffer);
    stepScope(() => undefined);
    expect(t.data.length).toBe(5000);
  });
});

describe('while a thread pool runs', () => {
  beforeAll(async () => {
    stopWorkerThreads();
    expect(await useWorkerThreads(2)).toBe(2);
  });
  afterAll(() => stopWorkerThreads());

  it("hands out zeroed arrays of the threads' memory inside a scope, the same again in the next; small ones and those outside are plain", () => {
    const arena = getTasks()!.arena;
    expect(arena.address(f32(10000))).toBe(-1); // outside any scope
    stepScope(() => [f32(10000), f32(6000)]); // (the region is sized by what a step asks for)
    let first!: Float32Array;
    stepScope(() => {
      first = f32(10000);
      expect(arena.address(first)).toBe(first.byteOffset);
      expect(first.byteOffset % 64).toBe(0);
      expect(first.every((v) => v === 0)).toBe(true);
      first.fill(5);
      const second = f32(6000);
      expect(arena.address(second)).toBeGreaterThanOrEqual(first.byteOffset + first.byteLength); // apart
      expect(arena.address(f32(100))).toBe(-1); // below the size that pays
      expect(allocate('float64', 10000).buffer).toBeInstanceOf(ArrayBuffer);
    });
    stepScope(() => {
      const again = f32(10000);
      expect(again.byteOffset).toBe(first.byteOffset); // the last step's memory, reused
      expect(again.every((v) => v === 0)).toBe(true);
    });
  });

  it('gives plain arrays where a step asks for more than the region holds, and a larger region to the next step', () => {
    const arena = getTasks()!.arena;
    const n = 3 << 20;
    stepScope(() => expect(arena.address(f32(n))).toBe(-1));
    stepScope(() => {
      const big = f32(n);
      expect(arena.address(big)).toBe(big.byteOffset);
      expect(big.length).toBe(n);
    });
  });

  it('a scope inside a scope is part of it: nothing is reused', () => {
    stepScope(() => {
      const a = f32(5000);
      a.fill(3);
      stepScope(() => {
        const b = f32(5000);
        expect(b.byteOffset).toBeGreaterThanOrEqual(a.byteOffset + a.byteLength);
      });
      expect(a.every((v) => v === 3)).toBe(true);
    });
  });

  it("a tensor made inside a step works until the next step begins, then throws on any use, naming what to do", () => {
    let t!: Tensor;
    let view!: Tensor;
    stepScope(() => {
      t = new Tensor(f32(5000).fill(2), [50, 100]);
      view = t.T;
    });
    expect(t.data[0]).toBe(2); // after its scope, before the next one
    expect(add(t, t).data[1]).toBe(4);
    const plain = new Tensor(new Float32Array(5000), [5000]);
    stepScope(() => undefined);
    expect(() => t.data).toThrow(stale);
    expect(() => t.storage.data).toThrow(/x\.clone\(\)/);
    expect(() => t.toArray()).toThrow(stale);
    expect(() => view.toArray()).toThrow(stale);
    expect(() => add(t, 1)).toThrow(stale);
    expect(plain.data.length).toBe(5000);
  });

  it("a step's tensors are stale once the pool stops (its memory is no longer a step's)", () => {
    let t!: Tensor;
    stepScope(() => void (t = new Tensor(f32(5000), [5000])));
    expect(t.data.length).toBe(5000);
    stopWorkerThreads();
    expect(() => t.data).toThrow(stale);
  });

  it("runs tanh, its gradient, the Bernoulli kernel, the bias add, the column sums and the row scaling on operands in the threads' memory where they are: the same bits as on copies, nothing else written", async () => {
    if (getTasks() === null) expect(await useWorkerThreads(2)).toBe(2);
    const arena = getTasks()!.arena;
    const rng = new Random(67);
    const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    for (const [rows, cols] of [[100, 500], [100, 784], [37, 64], [3, 10]] as const) {
      const n = rows * cols;
      const values = (scale: number) => Float32Array.from({ length: n }, () => scale * rng.normal());
      const [y0, g0, l0] = [values(2), values(1), values(3)];
      const x0 = Float32Array.from({ length: n }, () => (rng.uniform() < 0.2 ? 1 : 0));
      const bias = Float32Array.from({ length: cols }, () => rng.normal());
      // In the memory: each followed by a guard that must stay as it was.
      const kept = arena.keep([n, 64, n, 64, n, 64, n, 64, n, 64, n, 64]);
      const [ky, kg, kl, kx, kgp, kd] = [0, 2, 4, 6, 8, 10].map((i) => kept[i]!);
      const guards = [1, 3, 5, 7, 9, 11].map((i) => kept[i]!.fill(9));
      ky.set(y0); kg.set(g0); kl.set(l0); kx.set(x0);
      const [y, gp, d, gb, kgb] = [Float32Array.from(y0), new Float32Array(n), new Float32Array(n), new Float32Array(cols), new Float32Array(cols)];
      biasTanhWasm(y, bias, rows, cols);
      biasTanhWasm(ky, bias, rows, cols);
      expect(same(ky, y), `tanh ${rows}×${cols}`).toBe(true);
      activationBackwardWasm(gp, g0, y, gb, rows, cols, 'tanh');
      activationBackwardWasm(kgp, kg, ky, kgb, rows, cols, 'tanh');
      expect(same(kgp, gp) && same(kgb, gb), `tanh' ${rows}×${cols}`).toBe(true);
      const [out, kout] = [new Float32Array(rows), new Float32Array(rows)];
      bernoulliWasm(x0, l0, cols, out, d);
      bernoulliWasm(kx, kl, cols, kout, kd);
      expect(same(kout, out) && same(kd, d), `Bernoulli ${rows}×${cols}`).toBe(true);
      expect(same(kl, l0) && same(kx, x0) && same(kg, g0)).toBe(true); // read only
      // Without the bias gradient, and without d (no backward pass to come).
      const gpAlone = new Float32Array(n);
      activationBackwardWasm(gpAlone, g0, y, null, rows, cols, 'tanh');
      activationBackwardWasm(kgp, kg, ky, null, rows, cols, 'tanh');
      expect(same(kgp, gpAlone), `tanh' without gb ${rows}×${cols}`).toBe(true);
      const [outAlone, koutAlone] = [new Float32Array(rows), new Float32Array(rows)];
      bernoulliWasm(x0, l0, cols, outAlone, null);
      bernoulliWasm(kx, kl, cols, koutAlone, null);
      expect(same(koutAlone, outAlone), `Bernoulli without d ${rows}×${cols}`).toBe(true);
      for (const relu of [false, true]) {
        const [plainY, keptY] = [Float32Array.from(l0), kgp];
        keptY.set(l0);
        biasAddWasm(plainY, bias, rows, cols, relu);
        biasAddWasm(keptY, bias, rows, cols, relu);
        expect(same(keptY, plainY), `bias add ${relu} ${rows}×${cols}`).toBe(true);
      }
      const [sums, keptSums] = [Float32Array.from(bias), Float32Array.from(bias)];
      columnSumsWasm(sums, g0, rows, cols);
      columnSumsWasm(keptSums, kg, rows, cols);
      expect(same(keptSums, sums), `column sums ${rows}×${cols}`).toBe(true);
      const scale = Float32Array.from({ length: rows }, () => rng.normal());
      const scaled = new Float32Array(n);
      scaleRowsWasm(scaled, scale, g0, cols);
      scaleRowsWasm(kd, scale, kg, cols);
      expect(same(kd, scaled), `scaled rows ${rows}×${cols}`).toBe(true);
      scaleRowsWasm(kg, scale, kg, cols); // in place, as the Bernoulli gradient is
      expect(same(kg, scaled), `scaled rows in place ${rows}×${cols}`).toBe(true);
      for (const guard of guards) expect(guard.every((v) => v === 9)).toBe(true);
    }
  });

  it('a VAE trains to the same bits on two threads with the step memory as on one thread without it', async () => {
    stopWorkerThreads();
    const rng = new Random(61);
    const images = Float32Array.from({ length: 400 * 784 }, () => (rng.uniform() < 0.13 ? 1 : 0));
    const options = { batchSize: 100, lr: 1e-3, seed: 5 };
    const alone = new Trainer(new VAE({}, { seed: 6 }), images, options);
    const elbos = Array.from({ length: 5 }, () => alone.step().elbo);
    expect(await useWorkerThreads(2)).toBe(2);
    const pooled = new Trainer(new VAE({}, { seed: 6 }), images, options);
    for (const want of elbos) expect(pooled.step().elbo).toBe(want);
    for (const [name, p] of alone.model.namedParameters()) {
      const q = pooled.model.namedParameters().get(name)!;
      expect(Buffer.from(q.data.buffer, q.data.byteOffset, q.data.byteLength).equals(Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength)), name).toBe(true);
    }
  });
});
