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
