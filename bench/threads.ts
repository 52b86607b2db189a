// Matmul on 1 vs 2 threads (WebAssembly SIMD kernel), measured side by side: the two variants
// alternate sample by sample, so machine noise hits both alike. Medians.
//
//   npx tsx bench/threads.ts               # GFLOP/s table (VAE shapes, squares) + VAE training step
//   npx tsx bench/threads.ts --crossover   # small squares and thin products: where 2 threads start to win
//   npx tsx bench/threads.ts --spin        # VAE step time by spin-before-sleep setting (ms)
//   npx tsx bench/threads.ts --quick       # fewer samples

import { parseArgs } from 'node:util';
import { Adam, Random, VAE, binarize, negativeElbo, sampleEps, tensor } from '../src/index.js';
import { loadMnist } from '../src/node/mnist.js';
import { spawnNodeWorker, stopWorkerThreads, useWorkerThreads } from '../src/node/threads.js';
import { matmulWasmInto } from '../src/tensor/wasm/matmul.js';
import { PARALLEL_MIN_WORK, type ThreadOptions, getThreadStats, matmulParallelInto, setThreadOptions, startThreads } from '../src/tensor/wasm/parallel.js';
import { machine, printTable } from './lib.js';
import { type MatmulShape, operands, vaeShapes } from './matmul.js';
import { median } from './timing.js';

const { values } = parseArgs({ options: { crossover: { type: 'boolean' }, spin: { type: 'boolean' }, quick: { type: 'boolean' } } });
const samples = values.quick ? 9 : 25;
const shape = (m: number, k: number, n: number, label = `${m}×${k}·${k}×${n}`): MatmulShape => ({ label, m, k, n, transA: false, transB: false });

/** Median ms per call of each variant; samples alternate between variants, each >= ~5 ms. */
function sideBySide(variants: (() => void)[]): number[] {
  for (const v of variants) for (let i = 0; i < 3; i++) v(); // warm up
  const reps = variants.map((v) => {
    const t0 = performance.now();
    v();
    return Math.max(1, Math.ceil(5 / Math.max(1e-3, performance.now() - t0)));
  });
  const rep = Math.max(...reps);
  const times: number[][] = variants.map(() => []);
  for (let s = 0; s < samples; s++) {
    variants.forEach((v, i) => {
      const t0 = performance.now();
      for (let r = 0; r < rep; r++) v();
      (times[i] as number[]).push((performance.now() - t0) / rep);
    });
  }
  return times.map(median);
}

function gflopsRow(s: MatmulShape): Record<string, string | number> {
  const { a, b, out } = operands(s);
  const one = () => matmulWasmInto(out, a, b, s.m, s.k, s.n, s.transA, s.transB);
  const two = (chunksPerThread: number) => () => {
    setThreadOptions({ chunksPerThread });
    if (!matmulParallelInto(out, a, b, s.m, s.k, s.n, s.transA, s.transB)) throw new Error('not parallel');
  };
  const before = getThreadStats();
  const [t1, tHalves, t2] = sideBySide([one, two(1), two(4)]) as [number, number, number];
  const st = getThreadStats();
  const flop = 2 * s.m * s.n * s.k;
  return {
    shape: s.label,
    '1 thread': flop / t1 / 1e6,
    '2 threads': flop / t2 / 1e6,
    speedup: t1 / t2,
    '2 (halves)': flop / tHalves / 1e6,
    'worker %': (100 * (st.byHelpers - before.byHelpers)) / Math.max(1, st.chunks - before.chunks),
  };
}

/** One VAE training step (batch 100, H = 500), as in a training epoch. */
function stepper(): () => void {
  const m = loadMnist('train', { limit: 1000 });
  const x = binarize(m.images);
  const model = new VAE({ hidden: 500 }, { seed: 0 });
  const opt = new Adam(model.namedParameters(), { lr: 1e-3 });
  const rng = new Random(1);
  let s = 0;
  return () => {
    const xb = tensor(x.subarray((s % 10) * 78400, ((s % 10) + 1) * 78400), { shape: [100, 784] });
    s++;
    opt.zeroGrad();
    negativeElbo(model, xb, sampleEps(rng, 1, 100, 2)).backward();
    opt.step();
  };
}

/** Median ms per VAE training step for each configuration of the running pool, alternating step by step. */
function stepTimes(configs: ThreadOptions[]): number[] {
  const step = stepper();
  for (let w = 0; w < 3; w++) step();
  const times: number[][] = configs.map(() => []);
  for (let r = 0; r < (values.quick ? 10 : 30); r++) {
    for (const [i, config] of configs.entries()) {
      setThreadOptions(config);
      const t0 = performance.now();
      step();
      (times[i] as number[]).push(performance.now() - t0);
    }
  }
  return times.map(median);
}

console.log(`machine: ${machine()}`);
if (values.spin) {
  await useWorkerThreads(2);
  const spins = [0, 0.05, 0.2, 1];
  console.log('\nVAE training step (batch 100, H = 500) on 2 threads, ms (median), by spin-before-sleep time (ms)');
  const ms = stepTimes(spins.map((spinMs) => ({ spinMs })));
  printTable([Object.fromEntries(spins.map((spin, i) => [`spin ${spin}`, ms[i] as number]))]);
} else {
  await startThreads(spawnNodeWorker, 2, { minWork: 0 }); // every product on 2 threads
  const shapes = values.crossover
    ? [...[16, 24, 32, 48, 64, 80, 96, 128, 160, 192].map((s) => shape(s, s, s)), shape(100, 32, 100), shape(100, 64, 100), shape(100, 100, 100), shape(100, 200, 100), shape(100, 400, 100), shape(100, 2, 784), shape(100, 784, 2)]
    : [...vaeShapes, ...[128, 256, 512, 1024].map((s) => shape(s, s, s))];
  console.log('\nmatmul float32, GFLOP/s (median), 1 thread vs 2 threads side by side (2 threads: 4 chunks per thread, claimed');
  console.log('dynamically; "halves": one part per thread); worker %: share of the chunks the worker computed');
  printTable(shapes.map(gflopsRow));
}

if (!values.crossover && !values.spin) {
  console.log('\nVAE training step (batch 100, H = 500), ms (median), 1 vs 2 threads alternating step by step');
  const [t1, t2] = stepTimes([{ minWork: Infinity }, { minWork: PARALLEL_MIN_WORK, chunksPerThread: 4 }]) as [number, number];
  printTable([{ '1 thread ms': t1, '2 threads ms': t2, speedup: t1 / t2, 'images/s 1': 100_000 / t1, 'images/s 2': 100_000 / t2 }]);
}
stopWorkerThreads();
