// Generates the WebAssembly SIMD128 module of the 0/1-sparse product (../binary.ts):
//
//   rowSums(out, ldo, m, ldm, ptr, idx, rows, nv)
//     out[r, :4nv] = Σ_{t in ptr[r]..ptr[r+1]} m[idx[t], :4nv], 8 vectors (32 floats) of a row in
//     registers at a time (then 4, 2, 1), every row for one group of columns before the next;
//   transpose(dst, ldDst, src, ldSrc, rows, cols)
//     dst[j, i] = src[i, j], 4×4 blocks by shuffles, the edges one float at a time;
//   sumsOfTransposed(out, ldo, s, ldS, sRows, k, ptr, idx, rows, c0, c1, buf)
//     rowSums over m = sᵀ (k × sRows) for columns c0..c1 of out, GROUP columns at a time: each group's
//     rows of s transposed into buf (k × GROUP, which stays in cache), then summed from there;
//   transposedSums(t, ldT, m, ldm, width, ptr, idx, rows, c0, c1, buf)
//     the transpose t (width × rows) of rowSums over m, for rows c0..c1 of t: GROUP columns of the
//     sums at a time into buf (rows × GROUP), then transposed from there into t.
// The fused two write and read no k × width or rows × width intermediate: on a CPU whose L3 is slow
// (Sapphire Rapids) that intermediate's round trip cost more than the sums.
// All pointers in bytes, strides and sizes in floats (ldo, ldm multiples of 4), ptr and idx i32.
import { ONE_BITS } from '../binary.js';
import { type Code, ModuleBuilder, Op, SimdOp, ValType, block, br, brIf, call, forLoop, i32Const, ifThen, localGet as get, localSet, loop, mem, simd, v128 } from './emit.js';

export interface BinaryExports {
  /** The 1s of s (rows × cols float32) by row into ptr (rows + 1) and idx; their count, or -1 if some value is not +0 or 1. */
  pattern(s: number, rows: number, cols: number, ptr: number, idx: number): number;
  rowSums(out: number, ldo: number, m: number, ldm: number, ptr: number, idx: number, rows: number, nv: number): void;
  transpose(dst: number, ldDst: number, src: number, ldSrc: number, rows: number, cols: number): void;
  /** rowSums(out + 4c0, ldo, sᵀ, …) for columns c0..c1 (multiples of 4 apart) without sᵀ: buf holds k × GROUP floats. */
  sumsOfTransposed(out: number, ldo: number, s: number, ldS: number, sRows: number, k: number, ptr: number, idx: number, rows: number, c0: number, c1: number, buf: number): void;
  /** Rows c0..c1 of t = (rowSums over m)ᵀ, t being width × rows (ldT): buf holds rows × GROUP floats. */
  transposedSums(t: number, ldT: number, m: number, ldm: number, width: number, ptr: number, idx: number, rows: number, c0: number, c1: number, buf: number): void;
}

/** Columns of the sums per group of the fused functions: one pass of rowSums' WIDE accumulators. */
export const GROUP = 32;

const { i32 } = ValType;
const set = (l: number, value: Code): Code => [value, localSet(l)];
const add = (a: Code, b: Code): Code => [a, b, Op.i32_add];
const mul = (a: Code, b: Code): Code => [a, b, Op.i32_mul];
const shl2 = (a: Code): Code => [a, i32Const(2), Op.i32_shl];
const inc = (l: number, by: Code): Code => set(l, add(get(l), by));
const lanes = (...f32Lanes: number[]): number[] => f32Lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);

/** Vectors of a row summed in registers per pass: 8 accumulators + 1 load fit V8's 15 xmm registers. */
const WIDE = 8;

/** The module's bytes; with sharedMaxPages, it imports a shared memory of at most that many pages (threads). */
export function buildBinaryModule(sharedMaxPages?: number): Uint8Array<ArrayBuffer> {
  const mod = new ModuleBuilder();
  mod.importMemory(
    sharedMaxPages === undefined
      ? { module: 'env', name: 'memory', initialPages: 1 }
      : { module: 'env', name: 'memory', initialPages: 1, maximumPages: sharedMaxPages, shared: true },
  );

  const rowSumsFn = mod.func([i32, i32, i32, i32, i32, i32, i32, i32], [], 'rowSums');
  const transposeFn = mod.func([i32, i32, i32, i32, i32, i32], [], 'transpose');
  {
    const f = rowSumsFn;
    const [out, ldo, m, ldm, ptr, idx, rows, nv] = [0, 1, 2, 3, 4, 5, 6, 7];
    const [r, j, t, t0, t1, o, src] = Array.from({ length: 7 }, () => f.local(i32)) as [number, number, number, number, number, number, number];
    const acc = Array.from({ length: WIDE }, () => f.local(ValType.v128));
    const [ldmB, mj] = [f.local(i32), f.local(i32)];
    // src = m + 16j + idx[t]·ldm·4 bytes (mj = m + 16j for the current group of vectors)
    const rowAt = set(src, add(get(mj), mul([get(idx), shl2(get(t)), Op.i32_add, mem.i32Load()], get(ldmB))));
    // Column groups outermost: a group's slice of m (e.g. 784 rows × 128 bytes) stays in L2 while
    // every row sums into it, where whole rows of m (1.5 MB for W1ᵀ) would stream from L3 per row.
    f.setBody([
      set(ldmB, shl2(get(ldm))),
      set(j, i32Const(0)),
      // Groups of WIDE vectors, then of 4, 2 and 1.
      [WIDE, 4, 2, 1].map((w) => block(
        loop([
          [add(get(j), i32Const(w)), get(nv), Op.i32_gt_s],
          brIf(1),
          set(mj, add(get(m), shl2(shl2(get(j))))),
          forLoop(r, i32Const(0), get(rows), i32Const(1), [
            set(t0, [get(ptr), shl2(get(r)), Op.i32_add, mem.i32Load()]),
            set(t1, [get(ptr), shl2(get(r)), Op.i32_add, mem.i32Load(4)]),
            // Stryker disable next-line MethodExpression: accumulators past w are zeroed too, but never stored
            acc.slice(0, w).map((a) => set(a, v128.const0())),
            forLoop(t, get(t0), get(t1), i32Const(1), [
              rowAt,
              // Stryker disable next-line MethodExpression: accumulators past w sum too, but are never stored
              acc.slice(0, w).map((a, v) => set(a, [get(a), get(src), v128.load(16 * v), v128.f32x4Add()])),
            ]),
            set(o, add(get(out), shl2(add(mul(get(r), get(ldo)), shl2(get(j)))))),
            acc.slice(0, w).map((a, v) => [get(o), get(a), v128.store(16 * v)]),
          ]),
          inc(j, i32Const(w)),
          br(0),
        ]),
      )),
    ]);
  }

  {
    // pattern(s, rows, cols, ptr, idx) -> nnz | -1: 4 values at a time, their 1s from a bitmask.
    const f = mod.func([i32, i32, i32, i32, i32], [i32], 'pattern');
    const [s, rows, cols, ptr, idx] = [0, 1, 2, 3, 4];
    const [r, c, t, at, mask, bits, cols4] = Array.from({ length: 7 }, () => f.local(i32)) as [number, number, number, number, number, number, number];
    const [v, one] = [f.local(ValType.v128), f.local(ValType.v128)];
    const is1 = [get(v), get(one), simd(SimdOp.f32x4_eq)];
    const push = (col: Code): Code => [[get(idx), shl2(get(t)), Op.i32_add], col, mem.i32Store(), inc(t, i32Const(1))];
    const fail = [i32Const(-1), Op.return];
    f.setBody([
      set(one, [i32Const(ONE_BITS), simd(0x11) /* i32x4.splat */]),
      // Stryker disable next-line UnaryOperator: cols & 4 is also a multiple of 4 up to cols: the scalar loop takes the rest, same values
      set(cols4, [get(cols), i32Const(-4), Op.i32_and]),
      set(at, get(s)),
      forLoop(r, i32Const(0), get(rows), i32Const(1), [
        [get(ptr), shl2(get(r)), Op.i32_add, get(t), mem.i32Store()],
        forLoop(c, i32Const(0), get(cols4), i32Const(4), [
          set(v, [get(at), v128.load()]),
          // Every lane +0 (integer 0, so -0 counts as another value) or 1: ../binary.ts's isBinaryBits.
          [is1, get(v), v128.const0(), simd(SimdOp.i32x4_eq), simd(SimdOp.v128_or), simd(SimdOp.i32x4_all_true), Op.i32_eqz],
          ifThen([], fail),
          set(mask, [is1, simd(SimdOp.i32x4_bitmask)]),
          block(loop([
            [get(mask), Op.i32_eqz], brIf(1),
            push(add(get(c), [get(mask), Op.i32_ctz])),
            set(mask, [get(mask), get(mask), i32Const(1), Op.i32_sub, Op.i32_and]),
            br(0),
          ])),
          inc(at, i32Const(16)),
        ]),
        forLoop(c, get(cols4), get(cols), i32Const(1), [
          set(bits, [get(at), mem.i32Load()]),
          ifThen([get(bits), i32Const(ONE_BITS), Op.i32_eq], push(get(c)), ifThen(get(bits), fail)),
          inc(at, i32Const(4)),
        ]),
      ]),
      [get(ptr), shl2(get(rows)), Op.i32_add, get(t), mem.i32Store()],
      get(t),
    ]);
  }

  {
    const f = transposeFn;
    const [dst, ldDst, src, ldSrc, rows, cols] = [0, 1, 2, 3, 4, 5];
    const [i, j, rows4, cols4, s, d] = Array.from({ length: 6 }, () => f.local(i32)) as [number, number, number, number, number, number];
    const x = [0, 1, 2, 3].map(() => f.local(ValType.v128));
    const [lo01, lo23, hi01, hi23] = [0, 1, 2, 3].map(() => f.local(ValType.v128)) as [number, number, number, number];
    const srcAt = (ii: Code, jj: Code): Code => add(get(src), shl2(add(mul(ii, get(ldSrc)), jj)));
    const dstAt = (jj: Code, ii: Code): Code => add(get(dst), shl2(add(mul(jj, get(ldDst)), ii)));
    const scalar = (iFrom: Code, iTo: Code, jFrom: Code, jTo: Code): Code =>
      forLoop(i, iFrom, iTo, i32Const(1), forLoop(j, jFrom, jTo, i32Const(1), [dstAt(get(j), get(i)), srcAt(get(i), get(j)), mem.f32Load(), mem.f32Store()]));
    f.setBody([
      // Stryker disable next-line UnaryOperator: rows & 4 is also a multiple of 4 up to rows: the scalar loops take the rest, same values
      set(rows4, [get(rows), i32Const(-4), Op.i32_and]),
      // Stryker disable next-line UnaryOperator: cols & 4 is also a multiple of 4 up to cols: the scalar loops take the rest, same values
      set(cols4, [get(cols), i32Const(-4), Op.i32_and]),
      forLoop(i, i32Const(0), get(rows4), i32Const(4), [
        forLoop(j, i32Const(0), get(cols4), i32Const(4), [
          set(s, srcAt(get(i), get(j))),
          // Stryker disable next-line ConditionalExpression: for q = 0 the general address is s + 0
          x.map((v, q) => set(v, [q === 0 ? get(s) : add(get(s), shl2(mul(get(ldSrc), i32Const(q)))), v128.load()])),
          set(lo01, [get(x[0]), get(x[1]), v128.shuffle(lanes(0, 4, 1, 5))]),
          set(lo23, [get(x[2]), get(x[3]), v128.shuffle(lanes(0, 4, 1, 5))]),
          set(hi01, [get(x[0]), get(x[1]), v128.shuffle(lanes(2, 6, 3, 7))]),
          set(hi23, [get(x[2]), get(x[3]), v128.shuffle(lanes(2, 6, 3, 7))]),
          set(d, dstAt(get(j), get(i))),
          [get(d), get(lo01), get(lo23), v128.shuffle(lanes(0, 1, 4, 5)), v128.store()],
          [add(get(d), shl2(get(ldDst))), get(lo01), get(lo23), v128.shuffle(lanes(2, 3, 6, 7)), v128.store()],
          [add(get(d), shl2(mul(get(ldDst), i32Const(2)))), get(hi01), get(hi23), v128.shuffle(lanes(0, 1, 4, 5)), v128.store()],
          [add(get(d), shl2(mul(get(ldDst), i32Const(3)))), get(hi01), get(hi23), v128.shuffle(lanes(2, 3, 6, 7)), v128.store()],
        ]),
      ]),
      scalar(i32Const(0), get(rows4), get(cols4), get(cols)),
      scalar(get(rows4), get(rows), i32Const(0), get(cols)),
    ]);
  }
  // The fused functions: over groups [c, c + g) of columns c0..c1, GROUP wide (the last one narrower),
  // `body(c, g)` calls rowSums and transpose on the group through buf.
  const min = (a: Code, b: Code): Code => [a, b, a, b, Op.i32_lt_s, Op.select];
  const grouped = (name: string, params: number, c0: number, c1: number, body: (c: Code, g: Code) => Code): void => {
    const f = mod.func(new Array<ValType>(params).fill(i32), [], name);
    const [c, g] = [f.local(i32), f.local(i32)];
    f.setBody(forLoop(c, get(c0), get(c1), i32Const(GROUP), [set(g, min(i32Const(GROUP), [get(c1), get(c), Op.i32_sub])), body(get(c), get(g))]));
  };
  const nv = (g: Code): Code => [g, i32Const(2), Op.i32_shr_u];
  {
    const [out, ldo, sp, ldS, sRows, k, ptr, idx, rows, c0, c1, buf] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    grouped('sumsOfTransposed', 12, c0, c1, (c, g) => [
      // buf (k × g) = rows c..c+g of s, transposed (past sRows, none: those columns of the sums are padding)
      [get(buf), g, add(get(sp), shl2(mul(c, get(ldS)))), get(ldS), min(g, [get(sRows), c, Op.i32_sub]), get(k), call(transposeFn.index)],
      [add(get(out), shl2(c)), get(ldo), get(buf), g, get(ptr), get(idx), get(rows), nv(g), call(rowSumsFn.index)],
    ]);
  }
  {
    const [t, ldT, m, ldm, width, ptr, idx, rows, c0, c1, buf] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    grouped('transposedSums', 11, c0, c1, (c, g) => [
      // buf (rows × g) = columns c..c+g of the sums; then rows c..c+g of t (up to width) from it
      [get(buf), g, add(get(m), shl2(c)), get(ldm), get(ptr), get(idx), get(rows), nv(g), call(rowSumsFn.index)],
      [add(get(t), shl2(mul(c, get(ldT)))), get(ldT), get(buf), g, get(rows), min(g, [get(width), c, Op.i32_sub]), call(transposeFn.index)],
    ]);
  }
  return mod.toBytes();
}
