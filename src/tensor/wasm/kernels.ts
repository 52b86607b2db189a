// The "wasm" backend's entries in the kernel table (../kernels.ts): float32 only (float64 falls back
// to "js"). Each entry hands inputs too small to pay for the copies into WebAssembly memory, and
// engines where the module cannot run, to the TypeScript kernel. The kernels themselves are in
// ./elementwise.ts and ./matmul.ts (their modules in ./elementwise-module.ts, ./matmul-module.ts);
// bit-identical to TypeScript for the bias add, relu and the backward loops; matmul accumulates in
// float32 where TypeScript does in float64 (within k roundings of Σ|a||b|); within 2 ulp (tanh: 1 ulp, plus 1 from rounding y + b to
// float32, which the TypeScript kernel keeps in float64) or 2-3 ulp (Bernoulli) for the
// transcendental ones, ~1 ulp per step for Adam in f32 and bit-identical in f64 (test/kernels.test.ts,
// test/fused-wasm.test.ts, test/optim.test.ts).
import { activationBackwardJs, adamJs, adamStateJs, bernoulliRowsJs, biasActivationJs, columnSumsJs, scaleRowsJs } from '../fused.js';
import { binaryRowSumsJs, matmulBinaryWith } from '../binary.js';
import { kernelFor, registerKernel } from '../kernels.js';
import { matmulBinaryWasmInto, wasmBinaryAvailable } from './binary.js';
import { matmulJsInto } from '../matmul.js';
import { AdamMemorySlot, activationBackwardWasm, adamStateWasm, adamWasm, bernoulliWasm, biasAddWasm, biasTanhWasm, columnSumsWasm, scaleRowsWasm, wasmElementwiseAvailable } from './elementwise.js';
import { matmulWasmInto, wasmSimdSupported } from './matmul.js';
import { matmulParallelInto } from './parallel.js';

/** Below this many values the TypeScript kernels are as fast (measured crossovers: 64-256 values). */
const WASM_MIN_VALUES = 256;

// Below this many multiply-adds the plain kernel wins: copying operands into WebAssembly memory costs
// more than the product (measured crossover near 16³ on the bench machine).
const WASM_MIN_WORK = 4096;

// Stryker disable next-line EqualityOperator: which kernel runs at exactly the threshold is speed only (both keep the contract)
const worth = (n: number): boolean => n >= WASM_MIN_VALUES && wasmElementwiseAvailable();

/** Row kernels pad rows to a multiple of 4 values, copying them one by one when they are not: only for wide rows then. */
// Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator,ArithmeticOperator: the row widths sent to WebAssembly are speed only (it pads any width)
const paysForPadding = (cols: number): boolean => cols % 4 === 0 || cols >= 32;
const worthRows = (rows: number, cols: number): boolean => paysForPadding(cols) && worth(rows * cols);

export function registerWasmKernels(): void {
  registerKernel('matmul', 'wasm', 'float32', (out, a, b, m, k, n, transA, transB) => {
    // Stryker disable next-line EqualityOperator: which kernel runs at exactly the threshold is speed only (both keep the contract)
    if (m * n * k < WASM_MIN_WORK || !wasmSimdSupported()) matmulJsInto(out, a, b, m, k, n, transA, transB);
    // Large products go to the worker threads if started (useWorkerThreads / useWebWorkers).
    else if (!matmulParallelInto(out, a, b, m, k, n, transA, transB)) matmulWasmInto(out, a, b, m, k, n, transA, transB);
  });

  // Stryker disable next-line StringLiteral: kernelFor and allocate read every dtype but "float64" as float32
  const matmulWasm = kernelFor('matmul', 'wasm', 'float32');
  registerKernel('matmulBinary', 'wasm', 'float32', (out, a, b, m, k, n, transA, transB, binary) => {
    // Stryker disable next-line EqualityOperator,ConditionalExpression,ArithmeticOperator: speed only: the two 0/1 kernels give the same bits (test/mutants-tensor.test.ts)
    if (m * n * k < WASM_MIN_WORK || !wasmBinaryAvailable()) matmulBinaryWith(binaryRowSumsJs, matmulWasm, out, a, b, m, k, n, transA, transB, binary);
    else matmulBinaryWasmInto(matmulWasm, out, a, b, m, k, n, transA, transB, binary);
  });

  registerKernel('biasActivation', 'wasm', 'float32', (y, bias, rows, cols, activation) => {
    if (!worthRows(rows, cols)) biasActivationJs(y, bias, rows, cols, activation);
    else if (activation === 'tanh') biasTanhWasm(y, bias, rows, cols);
    else biasAddWasm(y, bias, rows, cols, activation === 'relu');
  });

  registerKernel('activationBackward', 'wasm', 'float32', (gp, g, y, gb, rows, cols, activation) => {
    // Stryker disable next-line ConditionalExpression: speed only: both kernels give the same bits (test/mutants-tensor.test.ts)
    if (worthRows(rows, cols)) activationBackwardWasm(gp, g, y, gb, rows, cols, activation);
    else activationBackwardJs(gp, g, y, gb, rows, cols, activation);
  });

  registerKernel('columnSums', 'wasm', 'float32', (out, g, rows, cols) => {
    // Stryker disable next-line ConditionalExpression: speed only: both kernels give the same bits (test/mutants-tensor.test.ts)
    if (worthRows(rows, cols)) columnSumsWasm(out, g, rows, cols);
    else columnSumsJs(out, g, rows, cols);
  });

  registerKernel('scaleRows', 'wasm', 'float32', (out, s, d, cols) => {
    // Stryker disable next-line ConditionalExpression: speed only: both kernels give the same bits (test/mutants-tensor.test.ts)
    if (worthRows(s.length, cols)) scaleRowsWasm(out, s, d, cols);
    else scaleRowsJs(out, s, d, cols);
  });

  registerKernel('bernoulliRows', 'wasm', 'float32', (x, l, D, out, d) => {
    if (worth(l.length)) bernoulliWasm(x, l, D, out, d);
    else bernoulliRowsJs(x, l, D, out, d);
  });

  // Moments and gradient buffers in one WebAssembly memory; the parameters stay in their own arrays
  // and each step copies them in and out (see AdamMemory). Slots not from here step in TypeScript.
  // Stryker disable next-line StringLiteral: kernelFor and allocate read every dtype but "float64" as float32
  registerKernel('adamState', 'wasm', 'float32', (sizes) => adamStateWasm(sizes) ?? adamStateJs('float32', sizes));
  registerKernel('adam', 'wasm', 'float32', (p, g, slot, step) => {
    if (slot instanceof AdamMemorySlot) adamWasm(p, g, slot, step);
    else adamJs(p, g, slot.m, slot.v, step);
  });
}
