// Products with a 0/1 operand (binarized images): op(S)·M for S of 0s and 1s is, row by row, a sum
// of M's rows at the 1s of S's row, and needs no multiplication. With ~13% of MNIST's pixels on, the
// encoder's x·W1ᵀ and its weight gradient G1ᵀ·x do ~7× fewer additions than the dense product's
// multiply-adds. Same contract as matmul (./matmul.ts), plus which operand is the 0/1 one; any other
// value in it sends the call to the dense kernel, so a wrong flag never gives a wrong answer.
import type { Data } from "./dtype.js";
import type { MatmulKernel } from "./matmul.js";

/** Which operand of a product is the 0/1 one. */
export type BinarySide = "a" | "b";

/**
 * The 1s of op(S) by row, CSR-style: row r's columns are idx[ptr[r] .. ptr[r+1]), ascending.
 * Grow-only buffers, valid until the next call.
 */
export interface BinaryPattern {
  readonly ptr: Int32Array;
  readonly idx: Int32Array;
  readonly nnz: number;
}

/** The float32 bits (read as int32) of 1; +0's are 0. −0 (int32 −2³¹) is another value. */
export const ONE_BITS = 0x3f800000;

/**
 * Whether float32 bits (read as int32) are those of +0 or 1: the values a 0/1 operand holds. −0 is
 * not one of them (the kernels compare bits; markBinary uses this same test, so that a tensor it marks
 * never falls back to the dense product).
 */
export function isBinaryBits(u: number): boolean {
  return u === 0 || u === ONE_BITS;
}

/** isBinaryBits for a float64 value: +0 or 1, not −0. */
export function isBinaryValue(v: number): boolean {
  return v === 1 || Object.is(v, 0);
}

/** Whether every value of `d` is +0 or 1 (the test markBinary records). */
export function isBinaryData(d: Data): boolean {
  // Stryker disable next-line ConditionalExpression,BlockStatement: the loop below gives the same answer on float32 values, slower
  if (d instanceof Float32Array) {
    // The bits as integers (faster than float compares in V8), as the 0/1 kernels read them.
    const u = new Int32Array(d.buffer, d.byteOffset, d.length);
    for (let i = 0; i < u.length; i++) if (!isBinaryBits(u[i]!)) return false;
    return true;
  }
  for (let i = 0; i < d.length; i++) if (!isBinaryValue(d[i]!)) return false;
  return true;
}

let ptrBuf = new Int32Array(0);
let idxBuf = new Int32Array(0);
let csrPtr = new Int32Array(0);
let csrIdx = new Int32Array(0);

/**
 * The pattern of op(S), rows × cols, where S is stored rows×cols (cols×rows when `trans`); null if
 * any of its values is not 0 or 1. One pass over S (its rows' 1s), then for `trans` a pass over the
 * 1s alone to regroup them by column.
 */
export function binaryPattern(s: Data, rows: number, cols: number, trans: boolean): BinaryPattern | null {
  // The stored rows of S and their 1s.
  const [sRows, sCols] = trans ? [cols, rows] : [rows, cols];
  // Stryker disable next-line ConditionalExpression,EqualityOperator: true or <= make a new buffer of the size needed, which serves as well (false, never growing, fails the tests)
  if (csrPtr.length < sRows + 1) csrPtr = new Int32Array(sRows + 1);
  // Stryker disable next-line ConditionalExpression,EqualityOperator: true or <= make a new buffer of the size needed, which serves as well (false, never growing, fails the tests)
  if (csrIdx.length < sRows * sCols) csrIdx = new Int32Array(sRows * sCols);
  const ptr = csrPtr;
  const idx = csrIdx;
  let t = 0;
  // Stryker disable next-line ConditionalExpression: the loop over values below finds the same pattern in float32 values, slower
  if (s instanceof Float32Array) {
    // The bits as integers (faster than float compares in V8).
    const u = new Int32Array(s.buffer, s.byteOffset, sRows * sCols);
    for (let r = 0; r < sRows; r++) {
      ptr[r] = t;
      const base = r * sCols;
      for (let c = 0; c < sCols; c++) {
        const v = u[base + c];
        if (v === 0) continue; // most pixels, one compare
        if (!isBinaryBits(v)) return null;
        idx[t++] = c;
      }
    }
  } else {
    for (let r = 0; r < sRows; r++) {
      ptr[r] = t;
      const base = r * sCols;
      for (let c = 0; c < sCols; c++) {
        const v = s[base + c];
        if (!isBinaryValue(v)) return null;
        if (v === 1) idx[t++] = c;
      }
    }
  }
  ptr[sRows] = t;
  if (!trans) return { ptr, idx, nnz: t };
  // Stryker disable next-line ConditionalExpression,EqualityOperator: true or <= make a new buffer of the size needed, which serves as well (false, never growing, fails the tests)
  if (ptrBuf.length < rows + 1) ptrBuf = new Int32Array(rows + 1);
  // Stryker disable next-line EqualityOperator: <= makes a new buffer of the size needed, which serves as well
  if (idxBuf.length < t) idxBuf = new Int32Array(Math.max(t, 2 * idxBuf.length));
  regroupByColumn(ptr, idx, sRows, rows, ptrBuf, idxBuf);
  return { ptr: ptrBuf, idx: idxBuf, nnz: t };
}

/**
 * The pattern by column: from the 1s of an sRows×cols matrix by row (ptr, idx, CSR), those of its
 * transpose (cols rows) into (tp, ti), each row's columns ascending. Count per column, prefix sums,
 * then place in row order; proportional to the number of 1s.
 */
export function regroupByColumn(ptr: Int32Array, idx: Int32Array, sRows: number, cols: number, tp: Int32Array, ti: Int32Array): void {
  const nnz = ptr[sRows];
  tp.fill(0, 0, cols + 1);
  for (let q = 0; q < nnz; q++) tp[idx[q] + 1]++;
  // Stryker disable next-line EqualityOperator: r = cols adds into tp[cols + 1], past the rows this pattern has
  for (let r = 0; r < cols; r++) tp[r + 1] += tp[r];
  for (let c = 0; c < sRows; c++) {
    for (let q = ptr[c]; q < ptr[c + 1]; q++) ti[tp[idx[q]]++] = c;
  }
  // tp[r] is now the start of row r + 1: shift back.
  // Stryker disable next-line EqualityOperator: r = 0 stores tp[−1] (nothing) into tp[0], which the next line zeroes
  for (let r = cols; r > 0; r--) tp[r] = tp[r - 1];
  tp[0] = 0;
}

/** dst (cols×rows, row stride ldDst) = srcᵀ for src rows×cols row-major, in 32×32 blocks. */
export function transposeInto(dst: Data, src: Data, rows: number, cols: number, ldDst = rows): void {
  const B = 32;
  // Stryker disable next-line EqualityOperator: a block at i0 = rows has no rows
  for (let i0 = 0; i0 < rows; i0 += B) {
    const i1 = Math.min(rows, i0 + B);
    // Stryker disable next-line EqualityOperator: a block at j0 = cols has no columns
    for (let j0 = 0; j0 < cols; j0 += B) {
      const j1 = Math.min(cols, j0 + B);
      for (let i = i0; i < i1; i++) {
        const row = i * cols;
        for (let j = j0; j < j1; j++) dst[j * ldDst + i] = src[row + j];
      }
    }
  }
}

/** out[r, :n] = Σ_{c in row r of the pattern} M[c, :n], out and M with row strides ldo and ldm. */
export function binaryRowSumsJs(out: Data, ldo: number, m: Data, ldm: number, p: BinaryPattern, rows: number, n: number): void {
  const { ptr, idx } = p;
  for (let r = 0; r < rows; r++) {
    const o = r * ldo;
    out.fill(0, o, o + n);
    for (let t = ptr[r]; t < ptr[r + 1]; t++) {
      const base = idx[t] * ldm;
      for (let j = 0; j < n; j++) out[o + j] += m[base + j];
    }
  }
}

/** Two grow-only scratch buffers per dtype: [0] for M (an operand transposed in), [1] for T (the result transposed out). */
const scratch32 = [new Float32Array(0), new Float32Array(0)];
const scratch64 = [new Float64Array(0), new Float64Array(0)];
function scratchLike(like: Data, n: number, which: 0 | 1): Data {
  if (like instanceof Float64Array) {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: true or <= make a new buffer of the size needed, which serves as well (false, never growing, fails the tests)
    if (scratch64[which].length < n) scratch64[which] = new Float64Array(n);
    return scratch64[which];
  }
  // Stryker disable next-line ConditionalExpression,EqualityOperator: true or <= make a new buffer of the size needed, which serves as well (false, never growing, fails the tests)
  if (scratch32[which].length < n) scratch32[which] = new Float32Array(n);
  return scratch32[which];
}

/**
 * The product op(A)·op(B) with one 0/1 operand, by row sums; `dense` runs it when that operand turns
 * out to hold another value. Binary A: out = op(A)·M with M = op(B) (B transposed into scratch when
 * transB). Binary B: outᵀ = op(B)ᵀ·op(A)ᵀ, computed into scratch and transposed into out.
 */
export function matmulBinaryWith<D extends Data>(
  rowSums: typeof binaryRowSumsJs,
  dense: MatmulKernel<D>,
  out: D, a: D, b: D, m: number, k: number, n: number, transA: boolean, transB: boolean, binary: BinarySide,
): void {
  if (binary === "a") {
    const p = binaryPattern(a, m, k, transA);
    if (p === null) return dense(out, a, b, m, k, n, transA, transB);
    let M: Data = b;
    if (transB) transposeInto((M = scratchLike(b, k * n, 0)), b, n, k);
    rowSums(out, n, M, n, p, m, n);
  } else {
    const p = binaryPattern(b, n, k, !transB);
    if (p === null) return dense(out, a, b, m, k, n, transA, transB);
    let M: Data = a;
    if (!transA) transposeInto((M = scratchLike(a, k * m, 0)), a, m, k);
    const T = scratchLike(out, n * m, 1);
    rowSums(T, m, M, m, p, n, m);
    transposeInto(out, T, n, m);
  }
}
