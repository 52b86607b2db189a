// Benchmarks the WebAssembly SIMD matmul against a naive i-k-j JS loop.
//
//   npx tsx bench/wasm-matmul.ts            # table of median GFLOP/s (2mnk / time)
//   npx tsx bench/wasm-matmul.ts --tiles    # sweep micro-tile shapes (MR x NR, k-unroll)
//   npx tsx bench/wasm-matmul.ts --blocks   # sweep cache blocks (mc, nc, kc)
//   npx tsx bench/wasm-matmul.ts --no-naive # skip the (slow) naive loop

import { createWasmMatmul, type WasmMatmul, type WasmMatmulOptions } from '../src/tensor/wasm/matmul.js';
import { median } from './timing.js';

interface Shape {
  readonly name: string;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly transA: boolean;
  readonly transB: boolean;
}

const ab = (m: number, k: number, n: number, name = `A.B ${m}x${k}x${n}`): Shape => ({ name, m, k, n, transA: false, transB: false });

const SHAPES: Shape[] = [
  ab(128, 128, 128, 'square 128'),
  ab(256, 256, 256, 'square 256'),
  ab(512, 512, 512, 'square 512'),
  ab(1024, 1024, 1024, 'square 1024'),
  ab(100, 784, 500, 'A.B   (100x784).(784x500)'),
  ab(100, 500, 784, 'A.B   (100x500).(500x784)'),
  { name: 'At.B  A 100x784, B 100x500', m: 784, k: 100, n: 500, transA: true, transB: false },
  { name: 'At.B  A 100x500, B 100x784', m: 500, k: 100, n: 784, transA: true, transB: false },
  { name: 'A.Bt  A 100x500, B 784x500', m: 100, k: 500, n: 784, transA: false, transB: true },
  { name: 'A.Bt  A 100x784, B 500x784', m: 100, k: 784, n: 500, transA: false, transB: true },
];
const VAE = SHAPES.slice(4);

function naiveInto(out: Float32Array, a: Float32Array, b: Float32Array, m: number, k: number, n: number, tA: boolean, tB: boolean): void {
  out.fill(0, 0, m * n);
  for (let i = 0; i < m; i++) {
    const row = i * n;
    for (let p = 0; p < k; p++) {
      const aip = tA ? a[p * m + i]! : a[i * k + p]!;
      if (tB) for (let j = 0; j < n; j++) out[row + j]! += aip * b[j * k + p]!;
      else {
        const brow = p * n;
        for (let j = 0; j < n; j++) out[row + j]! += aip * b[brow + j]!;
      }
    }
  }
}

function random(len: number): Float32Array {
  const x = new Float32Array(len);
  for (let i = 0; i < len; i++) x[i] = Math.random() * 2 - 1;
  return x;
}

interface Rate {
  median: number;
  best: number;
}

/** GFLOP/s (median and best sample); each sample runs the op enough times to take >= minSampleMs. */
function measure(run: () => void, flops: number, samples = 15, minSampleMs = 20, warmupMs = 300): Rate {
  const t0 = performance.now();
  let calls = 0;
  do {
    run();
    calls++;
  } while (performance.now() - t0 < warmupMs || calls < 3);
  const perCall = (performance.now() - t0) / calls;
  const reps = Math.max(1, Math.ceil(minSampleMs / perCall));
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const start = performance.now();
    for (let r = 0; r < reps; r++) run();
    times.push((performance.now() - start) / reps);
  }
  const rate = (ms: number): number => flops / (ms * 1e6);
  return { median: rate(median(times)), best: rate(Math.min(...times)) };
}

function benchKernel(kernel: WasmMatmul, s: Shape, samples?: number): Rate {
  const a = random(s.m * s.k);
  const b = random(s.k * s.n);
  const out = new Float32Array(s.m * s.n);
  return measure(() => kernel.matmulInto(out, a, b, s.m, s.k, s.n, s.transA, s.transB), 2 * s.m * s.n * s.k, samples);
}

function benchNaive(s: Shape): Rate {
  const a = random(s.m * s.k);
  const b = random(s.k * s.n);
  const out = new Float32Array(s.m * s.n);
  const big = s.m * s.n * s.k > 1e8;
  return measure(() => naiveInto(out, a, b, s.m, s.k, s.n, s.transA, s.transB), 2 * s.m * s.n * s.k, big ? 3 : 7, 20, big ? 0 : 200);
}

const fmt = (x: number): string => x.toFixed(1).padStart(7);
const args = new Set(process.argv.slice(2));

if (args.has('--tiles')) {
  const tiles: [number, number, number][] = [
    [4, 8, 1], [4, 8, 2], [4, 8, 4], [3, 8, 1], [5, 8, 1], [6, 8, 1], [6, 8, 4], [4, 12, 1], [3, 16, 1], [2, 16, 1],
  ];
  const cols = [SHAPES[2]!, ...VAE];
  console.log(`${'tile'.padEnd(10)}${cols.map((_, i) => `   s${i}`.padStart(7)).join('')}   mean`);
  for (const [mr, nr, ku] of tiles) {
    const kernel = createWasmMatmul({ shape: { mr, nr, ku } });
    const g = cols.map((s) => benchKernel(kernel, s, 7).median);
    console.log(`${`${mr}x${nr}u${ku}`.padEnd(10)}${g.map(fmt).join('')}${fmt(g.reduce((x, y) => x + y) / g.length)}`);
  }
  console.log(cols.map((s, i) => `s${i} = ${s.name}`).join('\n'));
} else if (args.has('--blocks')) {
  const cols = [SHAPES[2]!, SHAPES[3]!, ...VAE];
  const configs: NonNullable<WasmMatmulOptions['blocks']>[] = [];
  for (const kc of [128, 192, 256, 384, 512, 1024]) configs.push({ kc, mc: 128, nc: 2048 });
  for (const mc of [48, 96, 192, 256, 512]) configs.push({ kc: 256, mc, nc: 2048 });
  for (const nc of [256, 512, 1024, 4096]) configs.push({ kc: 256, mc: 128, nc });
  console.log(`${'mc/nc/kc'.padEnd(16)}${cols.map((_, i) => `   s${i}`.padStart(7)).join('')}   mean`);
  for (const blocks of configs) {
    const kernel = createWasmMatmul({ blocks });
    const g = cols.map((s) => benchKernel(kernel, s, 7).median);
    console.log(`${`${blocks.mc}/${blocks.nc}/${blocks.kc}`.padEnd(16)}${g.map(fmt).join('')}${fmt(g.reduce((x, y) => x + y) / g.length)}`);
  }
  console.log(cols.map((s, i) => `s${i} = ${s.name}`).join('\n'));
} else {
  const kernel = createWasmMatmul();
  const naive = !args.has('--no-naive');
  console.log(
    `wasm SIMD kernel ${kernel.shape.mr}x${kernel.shape.nr} (k-unroll ${kernel.shape.ku}), blocks mc=${kernel.blocks.mc} nc=${kernel.blocks.nc} kc=${kernel.blocks.kc}; median GFLOP/s, ${process.version}`,
  );
  console.log(`${'shape'.padEnd(30)}${'wasm'.padStart(8)}${'(best)'.padStart(8)}${naive ? 'naive'.padStart(8) : ''}`);
  for (const s of SHAPES) {
    const w = benchKernel(kernel, s);
    const line = `${s.name.padEnd(30)}${fmt(w.median).padStart(8)}${fmt(w.best).padStart(8)}`;
    console.log(naive ? `${line}${fmt(benchNaive(s).median).padStart(8)}` : line);
  }
}
