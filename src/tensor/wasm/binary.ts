// Runtime of the 0/1-sparse product in WebAssembly (./binary-module.ts): the 0/1 operand is copied
// into this module's own memory and its pattern found there (regrouped by column when the product
// needs it, in TypeScript by ../binary.ts's regroupByColumn), the other operand is copied (or
// transposed) in, and the row sums and the transposes run there, a group of columns at a time where
// a transpose is needed (sumsOfTransposed, transposedSums). Same results as the TypeScript row sums
// up to the order of float32 additions (both add rows in the pattern's order).
import { type BinarySide, regroupByColumn } from '../binary.js';
import type { MatmulKernel } from '../matmul.js';
import { GROUP, buildBinaryModule, type BinaryExports } from './binary-module.js';
import { MAX_PAGES, growMemory, wasmSimdSupported } from './matmul.js';
import { getTasks, runParts, type TaskArena, type Tasks } from './parallel.js';

const roundUp = (x: number, to: number): number => Math.ceil(x / to) * to;
const align = (bytes: number): number => roundUp(bytes, 64);
/** Row sums and transposes of fewer floats than this stay on one thread. */
const PARALLEL_MIN_FLOATS = 1 << 18;

/** The threads for `floats` of work: the pool's tasks, or null (one thread) without a pool or below PARALLEL_MIN_FLOATS. */
// Stryker disable next-line ConditionalExpression,EqualityOperator: speed only: the parts give the same values on one thread or two
const threadsFor = (tasks: Tasks | null, floats: number): Tasks | null => (floats < PARALLEL_MIN_FLOATS ? null : tasks);

/** The transpose dst[j, i] = src[i, j] of src (rows × cols), on the threads when it is large. */
function transpose(k: BinaryExports, tasks: Tasks | null, dst: number, ldDst: number, src: number, ldSrc: number, rows: number, cols: number): void {
  // By blocks of src's rows, multiples of 4 (the kernel's 4×4 blocks): dst's columns lo..hi.
  // Stryker disable next-line ArithmeticOperator: speed only: the size only decides the threads
  runParts(threadsFor(tasks, rows * cols), 'binary.transpose', k.transpose, rows, 4, (lo, hi) => [dst + lo * 4, ldDst, src + lo * ldSrc * 4, ldSrc, hi - lo, cols]);
}

/** Where a product runs: the module's own memory, or the threads' (whose kept arrays it reads in place). */
interface Space {
  readonly memory: WebAssembly.Memory;
  readonly k: BinaryExports;
  /** The memory as float32, with `bytes` of scratch from address 0. */
  f32(bytes: number): Float32Array;
  /** The byte address of an operand kept in this memory, else -1 (it is copied in). */
  address(x: Float32Array): number;
}

let instance: Space | null | undefined;
/** The threads' memory as a Space, made once per arena (the process has one). */
let arenaSpace: { arena: TaskArena; space: Space } | undefined;

function get(): Space | null {
  // Stryker disable next-line ConditionalExpression: building the module again on every call gives the same kernels
  if (instance === undefined) {
    try {
      // Stryker disable next-line ConditionalExpression: without SIMD the build below throws, and the catch gives null too
      if (!wasmSimdSupported()) instance = null;
      else {
        const memory = new WebAssembly.Memory({ initial: 16 });
        const k = new WebAssembly.Instance(new WebAssembly.Module(buildBinaryModule()), { env: { memory } }).exports as unknown as BinaryExports;
        const f32 = (bytes: number): Float32Array => {
          growMemory(memory, bytes, MAX_PAGES, 'matmulBinary');
          return new Float32Array(memory.buffer);
        };
        instance = { memory, k, f32, address: () => -1 };
      }
    } catch {
      instance = null;
    }
  }
  return instance;
}

/** True if the WebAssembly version can run here. */
export function wasmBinaryAvailable(): boolean {
  return get() !== null;
}

/**
 * matmulBinary in WebAssembly: out (m×n) = op(A)·op(B) with `binary` the 0/1 operand; `dense` runs
 * the product when that operand holds another value (or the module cannot run here).
 */
export function matmulBinaryWasmInto(
  dense: MatmulKernel<Float32Array>,
  out: Float32Array, a: Float32Array, b: Float32Array, m: number, k: number, n: number, transA: boolean, transB: boolean, binary: BinarySide,
): void {
  const own = get();
  if (own === null) return dense(out, a, b, m, k, n, transA, transB);
  // With a thread pool, in the shared memory its threads have the module's instances on, where
  // operands kept there (parameters, gradient buffers) are used in place.
  const tasks = getTasks();
  const arena = tasks?.arena;
  if (arena !== undefined && arenaSpace?.arena !== arena) {
    const f32 = (bytes: number) => arena.f32(bytes, 'matmulBinary on the threads');
    arenaSpace = { arena, space: { memory: arena.memory, k: arena.binary, f32, address: (x) => arena.address(x) } };
  }
  const w = arena === undefined ? own : arenaSpace!.space;
  // Stryker disable next-line ConditionalExpression,ArithmeticOperator: without it an empty product runs the kernels below over no rows and writes nothing, which a test checks
  if (m * n === 0) return;
  // Z: the 0/1 operand as stored, zRows × zCols; `regroup` when the rows of the product's 0/1 factor
  // (op(A), or op(B)ᵀ) are Z's columns. S: the summed operand as stored; M: it as the k rows that are
  // summed (ld a multiple of 4). Binary A: out = op(A)·op(B), M = op(B). Binary B: outᵀ = op(B)ᵀ·op(A)ᵀ,
  // M = op(A)ᵀ.
  const [Z, zRows, zCols, regroup] = binary === 'a' ? [a, transA ? k : m, transA ? m : k, transA] : [b, transB ? n : k, transB ? k : n, !transB];
  const [S, sRows, sCols, mIsS] = binary === 'a' ? [b, transB ? n : k, transB ? k : n, !transB] : [a, transA ? k : m, transA ? m : k, transA];
  const width = binary === 'a' ? n : m; // columns of M
  const rows = binary === 'a' ? m : n; // rows of the row sums
  const ld = roundUp(width, 4);
  const zSize = zRows * zCols;
  // Z, S (as M) and the result read and written where they are when they live in the memory (a
  // training step's arrays, parameters, gradient buffers); else copied in or out of the scratch from 0.
  const zAt = w.address(Z);
  // Stryker disable next-line ConditionalExpression,EqualityOperator: speed only: a copy of Z at 0 gives the same pattern; no kept array is at address 0
  const zPtr = zAt >= 0 ? zAt : 0;
  // Stryker disable next-line ConditionalExpression,EqualityOperator: room for a copy of Z that is not made is only unused
  const zpPtr = zAt >= 0 ? 0 : align(zSize * 4); // Z's pattern by its rows
  const ziPtr = zpPtr + align((zRows + 1) * 4);
  const ptrPtr = ziPtr + align(zSize * 4); // the pattern by the product's rows, when regrouped
  const idxPtr = ptrPtr + align((rows + 1) * 4);
  const sPtr = idxPtr + align(regroup ? zSize * 4 : 0);
  const mPtr = sPtr + align(sRows * sCols * 4);
  const oPtr = mPtr + align(k * ld * 4);
  const tPtr = oPtr + align(rows * ld * 4);
  // S read where it is (when the kernel reads it as stored), and the transposed sums written into out.
  // Stryker disable next-line ConditionalExpression,UnaryOperator,EqualityOperator,StringLiteral: speed only: S laid out in M's rows (mIsS) is copied whether kept or not, outAt serves binary 'b' alone, and a kept operand not used in place is copied
  const [sAt, outAt] = [mIsS ? -1 : w.address(S), binary === 'b' ? w.address(out) : -1];
  // Stryker disable next-line ConditionalExpression: room for the transpose when it is not needed is only unused
  // Stryker disable next-line LogicalOperator,EqualityOperator: more room is only unused; no kept array is at address 0 (they are kept from the top down)
  const end = tPtr + (binary === 'b' && outAt < 0 ? m * n * 4 : 0);
  const heap = w.f32(end);
  // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: speed only: Z copied onto itself is unchanged; no kept array is at address 0; zPtr is 0 here
  if (zAt < 0) heap.set(Z.subarray(0, zSize), zPtr / 4);
  const nnz = w.k.pattern(zPtr, zRows, zCols, zpPtr, ziPtr);
  // Stryker disable next-line EqualityOperator: an all-zero operand: the dense product gives the same zeros (for finite values)
  if (nnz < 0) return dense(out, a, b, m, k, n, transA, transB);
  let [ptr, idx] = [zpPtr, ziPtr];
  if (regroup) {
    // By column of Z (nnz-proportional, in TypeScript), on views of the module's memory.
    const view = (at: number, n: number): Int32Array => new Int32Array(w.memory.buffer, at, n);
    regroupByColumn(view(zpPtr, zRows + 1), view(ziPtr, nnz), zRows, rows, view(ptrPtr, rows + 1), view(idxPtr, nnz));
    [ptr, idx] = [ptrPtr, idxPtr];
  }
  // M as S where it is: its rows are S's (mIsS) and a multiple of 4 wide.
  // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator: speed only: M copied from S gives the same values
  const mAt = mIsS && ld === width ? w.address(S) : -1;
  // Stryker disable next-line ConditionalExpression,EqualityOperator: speed only: S copied as M gives the same values; no kept array is at address 0
  const m0 = mAt >= 0 ? mAt : mPtr;
  // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator: speed only: S copied as M onto room that is then not read changes nothing; no kept array is at address 0
  const copyM = mIsS && mAt < 0;
  // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: the row-by-row copy below gives the same values
  if (copyM && ld === width) heap.set(S.subarray(0, k * width), mPtr / 4);
  // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: row k is an empty subarray: it copies nothing; rows copied again over the whole copy above are the same values
  if (copyM && ld !== width) for (let r = 0; r < k; r++) heap.set(S.subarray(r * width, (r + 1) * width), mPtr / 4 + r * ld);
  // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator: speed only: a copy of S that is then read in place, or not read, is unused; no kept array is at address 0 (they are kept from the top down)
  if (!mIsS && sAt < 0) heap.set(S.subarray(0, sRows * sCols), sPtr / 4);
  // Stryker disable next-line ArithmeticOperator: speed only: the size only decides the threads
  const threads = threadsFor(tasks, nnz * ld);
  // S as stored: where it is when it lives in the memory, else its copy.
  // Stryker disable next-line EqualityOperator: no kept array is at address 0 (they are kept from the top down)
  const sFrom = sAt >= 0 ? sAt : sPtr;
  // The fused functions go by groups of columns, each part with its own buffer in the room of M (or of
  // the sums) at its first column, so neither is written whole.
  if (binary === 'b') {
    if (!mIsS) transpose(w.k, tasks, mPtr, ld, sFrom, sCols, sRows, sCols); // M whole: both sides transposed
    // Stryker disable next-line EqualityOperator: no kept array is at address 0 (they are kept from the top down)
    const t = outAt >= 0 ? outAt : tPtr;
    runParts(threads, 'binary.transposedSums', w.k.transposedSums, ld, GROUP, (lo, hi) => [t, n, m0, ld, width, ptr, idx, rows, lo, hi, oPtr + lo * rows * 4]);
    // Stryker disable next-line EqualityOperator: no kept array is at address 0 (they are kept from the top down)
    if (outAt < 0) out.set(heap.subarray(tPtr / 4, tPtr / 4 + m * n));
    return;
  }
  // The sums straight into out when it lives in the memory and its rows are ld wide.
  // Stryker disable next-line ConditionalExpression,EqualityOperator: speed only: sums copied out give the same values
  const oAt = ld === n ? w.address(out) : -1;
  // Stryker disable next-line ConditionalExpression,EqualityOperator: speed only: sums copied out give the same values; no kept array is at address 0
  const o0 = oAt >= 0 ? oAt : oPtr;
  // By rows of the sums: ptr's entries index idx from its start, so a part starts at ptr + 4·lo.
  if (mIsS) runParts(threads, 'binary.rowSums', w.k.rowSums, rows, 1, (lo, hi) => [o0 + lo * ld * 4, ld, m0, ld, ptr + lo * 4, idx, hi - lo, ld / 4]);
  else runParts(threads, 'binary.sumsOfTransposed', w.k.sumsOfTransposed, ld, GROUP, (lo, hi) => [o0, ld, sFrom, sCols, sRows, sCols, ptr, idx, rows, lo, hi, mPtr + lo * k * 4]);
  // Stryker disable next-line ConditionalExpression,EqualityOperator: no kept array is at address 0
  if (oAt >= 0) return;
  // Stryker disable next-line ConditionalExpression: the row-by-row copy below gives the same values
  if (ld === n) out.set(heap.subarray(oPtr / 4, oPtr / 4 + m * n));
  else for (let r = 0; r < m; r++) out.set(heap.subarray(oPtr / 4 + r * ld, oPtr / 4 + r * ld + n), r * n);
}
