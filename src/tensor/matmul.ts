import type { Data } from "./dtype.js";
import { dtypeOfAll, kernel } from "./kernels.js";

// Block sizes. KC×NC of packed B (256×256 doubles = 512 KiB) stays in L2, MC×KC of packed A
// (64×256 doubles = 128 KiB) nearer still; the 4×4 tile keeps 16 accumulators in locals.
const MR = 4;
const NR = 4;
const KC = 256;
const MC = 64;
const NC = 256;

// Sized for the largest block (mc ≤ MC, nc ≤ NC, kc ≤ KC; MC and NC are multiples of MR and NR).
// Stryker disable next-line ArithmeticOperator: evaluated once at import, where a run cannot switch a mutant on (a wrong size fails every product)
const packedA = new Float64Array(MC * KC);
// Stryker disable next-line ArithmeticOperator: evaluated once at import, where a run cannot switch a mutant on (a wrong size fails every product)
const packedB = new Float64Array(KC * NC);

/**
 * The contract every matmul kernel keeps: out (m×n, overwritten) = op(A)·op(B), with A stored m×k
 * (k×m when transA) and B stored k×n (n×k when transB), all row-major.
 */
export type MatmulKernel<D extends Data = Data> = (out: D, a: D, b: D, m: number, k: number, n: number, transA: boolean, transB: boolean) => void;

/**
 * out (m×n, overwritten) = op(A)·op(B). A is stored row-major as m×k, or as k×m when transA;
 * B as k×n, or n×k when transB; all three of one dtype. The kernel of the selected backend (see
 * setBackend and the kernel table, ./kernels.ts): float32 products on "wasm" in WebAssembly SIMD,
 * large ones on several threads if started (see getThreads); float64 ones on the TypeScript kernel.
 */
export function matmulInto(out: Data, a: Data, b: Data, m: number, k: number, n: number, transA: boolean, transB: boolean): void {
  kernel("matmul", dtypeOfAll("matmulInto", out, a, b))(out, a, b, m, k, n, transA, transB);
}

/** The plain TypeScript kernel: cache-blocked, 4×4 register tiles; transposes absorbed by packing, never materialized. */
export function matmulJsInto(out: Data, a: Data, b: Data, m: number, k: number, n: number, transA: boolean, transB: boolean): void {
  out.fill(0, 0, m * n);
  // Stryker disable next-line EqualityOperator: one more block at jc = n is 0 columns wide and adds nothing
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    // Stryker disable next-line EqualityOperator: one more block at pc = k is 0 deep and adds 0
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      packB(b, k, n, transB, pc, kc, jc, nc);
      // Stryker disable next-line EqualityOperator: one more block at ic = m is 0 rows high and adds nothing
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic);
        packA(a, m, k, transA, ic, mc, pc, kc);
        // Stryker disable next-line EqualityOperator: one more panel at jr = nc is 0 columns wide: its tile stores nothing
        for (let jr = 0; jr < nc; jr += NR) {
          // Stryker disable next-line EqualityOperator: one more panel at ir = mc is 0 rows high: its tile stores nothing
          for (let ir = 0; ir < mc; ir += MR) {
            tile(kc, packedA, ir * kc, packedB, jr * kc, out, (ic + ir) * n + jc + jr, n, Math.min(MR, mc - ir), Math.min(NR, nc - jr));
          }
        }
      }
    }
  }
}

// Packed A: panels of MR rows, each stored p-major (MR values per p), zero-padded past mc.
function packA(a: Data, m: number, k: number, transA: boolean, ic: number, mc: number, pc: number, kc: number): void {
  const dst = packedA;
  // Stryker disable next-line EqualityOperator: one more panel at ir = mc is packed past the used ones (or past the buffer's end): no tile reads it
  for (let ir = 0; ir < mc; ir += MR) {
    const base = ir * kc;
    for (let r = 0; r < MR; r++) {
      const i = ic + ir + r;
      // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator,BlockStatement: a padded row's values reach only accumulators that tile() never stores
      if (ir + r >= mc) {
        // Stryker disable next-line ConditionalExpression,EqualityOperator: the padding is never stored (above); p = kc writes the next panel's first value, packed again after
        for (let p = 0; p < kc; p++) dst[base + p * MR + r] = 0;
      } else if (transA) {
        // Stryker disable next-line EqualityOperator: p = kc writes the next panel's first value, packed again after it (or one no tile reads)
        for (let p = 0; p < kc; p++) dst[base + p * MR + r] = a[(pc + p) * m + i];
      } else {
        const row = i * k + pc;
        // Stryker disable next-line EqualityOperator: p = kc writes the next panel's first value, packed again after it (or one no tile reads)
        for (let p = 0; p < kc; p++) dst[base + p * MR + r] = a[row + p];
      }
    }
  }
}

// Packed B: panels of NR columns, each stored p-major (NR values per p), zero-padded past nc.
function packB(b: Data, k: number, n: number, transB: boolean, pc: number, kc: number, jc: number, nc: number): void {
  const dst = packedB;
  // Stryker disable next-line EqualityOperator: one more panel at jr = nc is packed past the used ones (or past the buffer's end): no tile reads it
  for (let jr = 0; jr < nc; jr += NR) {
    const base = jr * kc;
    for (let c = 0; c < NR; c++) {
      const j = jc + jr + c;
      // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator,BlockStatement: a padded column's values reach only accumulators that tile() never stores
      if (jr + c >= nc) {
        // Stryker disable next-line ConditionalExpression,EqualityOperator: the padding is never stored (above); p = kc writes the next panel's first value, packed again after
        for (let p = 0; p < kc; p++) dst[base + p * NR + c] = 0;
      } else if (transB) {
        const row = j * k + pc;
        // Stryker disable next-line EqualityOperator: p = kc writes the next panel's first value, packed again after it (or one no tile reads)
        for (let p = 0; p < kc; p++) dst[base + p * NR + c] = b[row + p];
      } else {
        // Stryker disable next-line EqualityOperator: p = kc writes the next panel's first value, packed again after it (or one no tile reads)
        for (let p = 0; p < kc; p++) dst[base + p * NR + c] = b[(pc + p) * n + j];
      }
    }
  }
}

// The 4×4 register tile: out[rows, cols] += Apanel · Bpanel over kc.
function tile(kc: number, A: Float64Array, ao: number, B: Float64Array, bo: number, out: Data, oo: number, ldo: number, rows: number, cols: number): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  for (let p = 0; p < kc; p++, ao += 4, bo += 4) {
    const a0 = A[ao], a1 = A[ao + 1], a2 = A[ao + 2], a3 = A[ao + 3];
    const b0 = B[bo], b1 = B[bo + 1], b2 = B[bo + 2], b3 = B[bo + 3];
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
  }
  // Stryker disable next-line ConditionalExpression,BlockStatement: the loop below adds the same sums for a full tile
  if (rows === 4 && cols === 4) {
    out[oo] += c00; out[oo + 1] += c01; out[oo + 2] += c02; out[oo + 3] += c03; oo += ldo;
    out[oo] += c10; out[oo + 1] += c11; out[oo + 2] += c12; out[oo + 3] += c13; oo += ldo;
    out[oo] += c20; out[oo + 1] += c21; out[oo + 2] += c22; out[oo + 3] += c23; oo += ldo;
    out[oo] += c30; out[oo + 1] += c31; out[oo + 2] += c32; out[oo + 3] += c33;
    return;
  }
  const c = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) out[oo + r * ldo + j] += c[r * 4 + j];
}

/** The textbook i-k-j loop, the baseline the blocked kernel is measured and tested against. */
export function matmulNaiveInto(out: Data, a: Data, b: Data, m: number, k: number, n: number, transA = false, transB = false): void {
  out.fill(0, 0, m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const aip = transA ? a[p * m + i] : a[i * k + p];
      if (transB) for (let j = 0; j < n; j++) out[i * n + j] += aip * b[j * k + p];
      else {
        const row = p * n;
        for (let j = 0; j < n; j++) out[i * n + j] += aip * b[row + j];
      }
    }
  }
}
