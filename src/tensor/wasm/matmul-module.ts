// Generates the WebAssembly SIMD128 float32 GEMM module (GotoBLAS/BLIS-style):
//
//   for jc in cols step nc:            B block  kc x nc  (packed once, stays in L2/L3)
//     for pc in 0..k step kc:
//       pack B[pc:pc+kc, jc:jc+nc] into NR-wide panels
//       for ic in rows step mc:        A block  mc x kc  (packed, stays in L2)
//         pack A[ic:ic+mc, pc:pc+kc] into MR-tall panels
//         for jr in 0..nc step NR:     one B panel (kc x NR) stays in L1
//           for ir in 0..mc step MR:
//             micro-kernel: C[MR x NR] (+)= Apanel . Bpanel
//
// Packed layouts (f32, zero-padded so the micro-kernel never sees an edge):
//   A panel: MR rows x kcPad, stored k-major: element (i, p) at (p * MR + i)
//   B panel: NR cols x kcPad, stored k-major: element (p, j) at (p * NR + j)
// kcPad = kc rounded up to the k-unroll KU (padding is zeros in both panels).
// C is written in whole MR x NR tiles, so the caller gives C room for
// roundUp(m, MR) rows and a row stride ldc >= roundUp(n, NR).

import {
  type Code,
  ModuleBuilder,
  Op,
  ValType,
  br,
  brIf,
  block,
  call,
  forLoop,
  i32Const,
  ifThen,
  localGet as get,
  localSet,
  loop,
  mem,
  v128,
} from './emit.js';

export interface KernelShape {
  /** Micro-tile rows (broadcast A values). */
  readonly mr: number;
  /** Micro-tile columns, a multiple of 4 (f32x4 vectors of B). */
  readonly nr: number;
  /** k-loop unroll (a power of two); packed k is padded to a multiple of it. */
  readonly ku: number;
  /**
   * Multiply-adds as relaxed SIMD's f32x4.relaxed_madd (one fused multiply-add where the CPU has
   * FMA) instead of f32x4.mul then f32x4.add. Default false: the plain, deterministic kernel.
   */
  readonly fma?: boolean;
}

// TurboFan issues all loads of a loop iteration before the arithmetic, so the tile must fit
// loads + accumulators in the 15 xmm registers V8 allocates: 4x8 with one k step per iteration
// (8 acc + 2 B + 4 broadcasts + 1 temp) is the largest that does not spill. Kernel-only on Zen 4 /
// Node 20: 4x8u1 35-38 GFLOP/s; 6x8u1, 5x8u1, 4x12u1, 3x16u1 ~20-24 and 4x8u2/u4 12-26 (all spill).
// Stryker disable next-line ObjectLiteral: evaluated once at import, where a run cannot switch a mutant on (an empty shape fails every product)
export const DEFAULT_SHAPE: KernelShape = { mr: 4, nr: 8, ku: 1 };

const { i32 } = ValType;
const set = (l: number, value: Code): Code => [value, localSet(l)];
const add = (a: Code, b: Code): Code => [a, b, Op.i32_add];
const sub = (a: Code, b: Code): Code => [a, b, Op.i32_sub];
const mul = (a: Code, b: Code): Code => [a, b, Op.i32_mul];
const lt = (a: Code, b: Code): Code => [a, b, Op.i32_lt_s];
const min = (a: Code, b: Code): Code => [a, b, lt(a, b), Op.select];
const inc = (l: number, by: Code): Code => set(l, add(get(l), by));

/** Exported function signatures of the generated module (all args i32, pointers in bytes). */
export interface GemmExports {
  /**
   * C[i0:i1, j0:j1] = op(A) op(B) restricted to those rows/cols. i0, j0 (and i1, j1 unless they
   * are m, n) must be multiples of MR, NR so tiles of different calls never overlap; this is what
   * lets workers on a shared memory split C by row or column blocks, each with its own pack buffers.
   */
  gemm(
    a: number, b: number, c: number,
    m: number, n: number, k: number,
    transA: number, transB: number,
    i0: number, i1: number, j0: number, j1: number,
    packA: number, packB: number,
    mc: number, nc: number, kc: number, ldc: number,
    aPacked: number, bPacked: number,
  ): void;
  /**
   * Packs rows i0..i1 of op(A) (m x k) for every depth block of `kc` into dst, as gemm's aPacked
   * reads them: the calls of one product that share its rows (column chunks) then pack A once.
   */
  prepackA(a: number, m: number, k: number, transA: number, i0: number, i1: number, kc: number, dst: number): void;
  /** Packs columns j0..j1 of op(B) (k x n) for every nc x kc block into dst, as gemm's bPacked reads them. */
  prepackB(b: number, k: number, n: number, transB: number, j0: number, j1: number, kc: number, nc: number, dst: number): void;
  /** Copies `rows` rows of `cols` floats from src (row stride ldSrc floats) to dst (row stride ldDst): C out of its padded tiles. */
  copyRows(src: number, ldSrc: number, dst: number, ldDst: number, rows: number, cols: number): void;
}

export interface BuildOptions {
  /** Import a shared memory (needs a maximum size), for worker threads. */
  readonly sharedMaxPages?: number;
  /** Also export `kernel`, `packA`, `packB` (for tuning). */
  readonly exportInternals?: boolean;
}

export function buildGemmModule(shape: KernelShape = DEFAULT_SHAPE, options: BuildOptions = {}): Uint8Array<ArrayBuffer> {
  const exportInternals = options.exportInternals ?? false;
  const { mr: MR, nr: NR, ku: KU } = shape;
  if (NR % 4 !== 0 || MR < 1 || KU < 1 || (KU & (KU - 1)) !== 0) throw new Error('bad kernel shape');
  const NV = NR / 4; // f32x4 vectors per B row

  const mod = new ModuleBuilder();
  mod.importMemory(
    options.sharedMaxPages === undefined
      ? { module: 'env', name: 'memory', initialPages: 1 }
      : { module: 'env', name: 'memory', initialPages: 1, maximumPages: options.sharedMaxPages, shared: true },
  );

  const kernel = mod.func([i32, i32, i32, i32, i32, i32], [], exportInternals ? 'kernel' : undefined);
  const packA = mod.func([i32, i32, i32, i32, i32, i32, i32, i32, i32], [], exportInternals ? 'packA' : undefined);
  const packB = mod.func([i32, i32, i32, i32, i32, i32, i32, i32, i32], [], exportInternals ? 'packB' : undefined);
  const gemm = mod.func(new Array<ValType>(20).fill(i32), [], 'gemm');
  const prepackA = mod.func(new Array<ValType>(8).fill(i32), [], 'prepackA');
  const prepackB = mod.func(new Array<ValType>(9).fill(i32), [], 'prepackB');
  const copyRows = mod.func(new Array<ValType>(6).fill(i32), [], 'copyRows');

  // ---- micro-kernel(ap, bp, cp, ldcBytes, iters, accumulate) ----
  // Computes the MR x NR tile over iters * KU steps of k, then stores (or adds) it at cp.
  {
    const [ap, bp, cp, ldc, iters, accumulate] = [0, 1, 2, 3, 4, 5];
    const acc = Array.from({ length: MR }, () => Array.from({ length: NV }, () => kernel.local(ValType.v128)));
    const bv = Array.from({ length: NV }, () => kernel.local(ValType.v128));
    const av = kernel.local(ValType.v128);

    const step = (u: number): Code => [
      bv.map((b, v) => set(b, [get(bp), v128.load((u * NR + 4 * v) * 4)])),
      acc.map((row, i) => [
        set(av, [get(ap), v128.load32Splat((u * MR + i) * 4)]),
        row.map((c, v) =>
          set(c, shape.fma ? [get(av), get(bv[v] as number), get(c), v128.f32x4RelaxedMadd()] : [get(c), get(av), get(bv[v] as number), v128.f32x4Mul(), v128.f32x4Add()]),
        ),
      ]),
    ];
    // The rows of the tile, with cp moved one row of C down between them.
    const storeTile = (accumulateIntoC: boolean): Code =>
      acc
        .map((row): Code =>
          row.map((c, v) =>
            accumulateIntoC
              ? [get(cp), get(cp), v128.load(16 * v), get(c), v128.f32x4Add(), v128.store(16 * v)]
              : [get(cp), get(c), v128.store(16 * v)],
          ),
        )
        .reduce((above, below) => [above, inc(cp, get(ldc)), below]);

    // Locals start at zero, so the accumulators need no init. iters >= 1 always.
    kernel.setBody([
      loop([
        Array.from({ length: KU }, (_, u) => step(u)),
        inc(ap, i32Const(KU * MR * 4)),
        inc(bp, i32Const(KU * NR * 4)),
        set(iters, sub(get(iters), i32Const(1))),
        get(iters),
        brIf(0),
      ]),
      ifThen(get(accumulate), storeTile(true), storeTile(false)),
    ]);
  }

  // ---- pack(src, ld, kMajor, idx0, count, p0, kb, kbPad, dst) ----
  // Packs elements (idx0 + w, p0 + p) for w < count, p < kb into W-wide k-major panels at dst,
  // zero padded to W and kbPad. Element (x, p) is at src + 4 * (kMajor ? p * ld + x : x * ld + p).
  // A uses x = row (kMajor when transposed), B uses x = column (kMajor unless transposed).
  const buildPack = (f: typeof packA, W: number): void => {
    const [src, ld, kMajor, idx0, count, p0, kb, kbPad, dst] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const w0 = f.local(i32);
    const r = f.local(i32);
    const panel = f.local(i32);
    const panelBytes = f.local(i32);
    const p = f.local(i32);
    const w = f.local(i32);
    const s = f.local(i32);
    const d = f.local(i32);
    const ld4 = f.local(i32);
    const rows = [0, 1, 2, 3].map(() => f.local(ValType.v128));
    const [lo01, lo23, hi01, hi23] = [0, 1, 2, 3].map(() => f.local(ValType.v128)) as [number, number, number, number];
    // Address of source row t (of the current 4) at the current k.
    // Stryker disable next-line ConditionalExpression: for t = 0 the general address is s + 0
    const rowPtr = (t: number): Code => (t === 0 ? get(s) : add(get(s), mul(get(ld4), i32Const(t))));
    // i8x16.shuffle lane bytes selecting f32 lanes (0-3 from the first operand, 4-7 from the second).
    const lanes = (...f32Lanes: number[]): number[] => f32Lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);

    // Copies W contiguous floats from s to d (v128 chunks, then i64 / f32 for the rest).
    const copyRow: Code[] = [];
    let off = 0;
    for (; off + 4 <= W; off += 4) copyRow.push([get(d), get(s), v128.load(off * 4), v128.store(off * 4)]);
    if (off + 2 <= W) {
      copyRow.push([get(d), get(s), mem.i64Load(off * 4), mem.i64Store(off * 4)]);
      off += 2;
    }
    if (off < W) copyRow.push([get(d), get(s), mem.f32Load(off * 4), mem.f32Store(off * 4)]);

    const copyScalar: Code = [get(d), get(s), mem.f32Load(), mem.f32Store()];

    f.setBody([
      set(panel, get(dst)),
      set(panelBytes, mul(get(kbPad), i32Const(W * 4))),
      set(ld4, mul(get(ld), i32Const(4))),
      forLoop(w0, i32Const(0), get(count), i32Const(W), [
        set(r, min(i32Const(W), sub(get(count), get(w0)))),
        // Zero what the copies below will not overwrite: a short panel, or the k padding.
        ifThen(
          lt(get(r), i32Const(W)),
          [get(panel), i32Const(0), get(panelBytes), mem.fill()],
          ifThen(lt(get(kb), get(kbPad)), [
            add(get(panel), mul(get(kb), i32Const(W * 4))),
            i32Const(0),
            mul(sub(get(kbPad), get(kb)), i32Const(W * 4)),
            mem.fill(),
          ]),
        ),
        ifThen(
          get(kMajor),
          // The W values of one k step are contiguous: copy them as vectors.
          [
            set(s, add(get(src), mul(add(add(get(idx0), get(w0)), mul(get(p0), get(ld))), i32Const(4)))),
            set(d, get(panel)),
            ifThen(
              [get(r), i32Const(W), Op.i32_eq],
              forLoop(p, i32Const(0), get(kb), i32Const(1), [
                copyRow,
                inc(s, get(ld4)),
                inc(d, i32Const(W * 4)),
              ]),
              forLoop(p, i32Const(0), get(kb), i32Const(1), [
                forLoop(w, i32Const(0), get(r), i32Const(1), [
                  copyScalar,
                  inc(s, i32Const(4)),
                  inc(d, i32Const(4)),
                ]),
                inc(s, sub(get(ld4), mul(get(r), i32Const(4)))),
                inc(d, mul(sub(i32Const(W), get(r)), i32Const(4))),
              ]),
            ),
          ],
          // k contiguous: 4 source rows at a time, transposing 4x4 blocks into the panel;
          // leftover k and rows go one float at a time.
          [
            set(w, i32Const(0)),
            // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: speed only: the 4×4 transposes write 4 values of one k step, right for any W, and the scalar loops alone pack the same
            W % 4 === 0
              ? block(
                  // Stryker disable next-line ArrayDeclaration: with no 4-row steps, the scalar loop below packs every row, the same values
                  loop([
                    [add(get(w), i32Const(4)), get(r), Op.i32_gt_s],
                    brIf(1),
                    set(s, add(get(src), mul(add(mul(add(add(get(idx0), get(w0)), get(w)), get(ld)), get(p0)), i32Const(4)))),
                    set(d, add(get(panel), mul(get(w), i32Const(4)))),
                    set(p, i32Const(0)),
                    block(
                      // Stryker disable next-line ArrayDeclaration: with no 4-deep steps, the scalar k loop below packs all of these 4 rows, the same values
                      loop([
                        [add(get(p), i32Const(4)), get(kb), Op.i32_gt_s],
                        brIf(1),
                        rows.map((x, t) => set(x, [rowPtr(t), v128.load()])),
                        // 4x4 transpose: cols[t] = (row0[t], row1[t], row2[t], row3[t])
                        set(lo01, [get(rows[0]), get(rows[1]), v128.shuffle(lanes(0, 4, 1, 5))]),
                        set(lo23, [get(rows[2]), get(rows[3]), v128.shuffle(lanes(0, 4, 1, 5))]),
                        set(hi01, [get(rows[0]), get(rows[1]), v128.shuffle(lanes(2, 6, 3, 7))]),
                        set(hi23, [get(rows[2]), get(rows[3]), v128.shuffle(lanes(2, 6, 3, 7))]),
                        [get(d), get(lo01), get(lo23), v128.shuffle(lanes(0, 1, 4, 5)), v128.store(0)],
                        [get(d), get(lo01), get(lo23), v128.shuffle(lanes(2, 3, 6, 7)), v128.store(W * 4)],
                        [get(d), get(hi01), get(hi23), v128.shuffle(lanes(0, 1, 4, 5)), v128.store(2 * W * 4)],
                        [get(d), get(hi01), get(hi23), v128.shuffle(lanes(2, 3, 6, 7)), v128.store(3 * W * 4)],
                        inc(s, i32Const(16)),
                        inc(d, i32Const(4 * W * 4)),
                        inc(p, i32Const(4)),
                        br(0),
                      ]),
                    ),
                    forLoop(p, get(p), get(kb), i32Const(1), [
                      [0, 1, 2, 3].map((t) => [get(d), rowPtr(t), mem.f32Load(), mem.f32Store(4 * t)]),
                      inc(s, i32Const(4)),
                      inc(d, i32Const(W * 4)),
                    ]),
                    inc(w, i32Const(4)),
                    br(0),
                  ]),
                )
              : [],
            forLoop(w, get(w), get(r), i32Const(1), [
              set(s, add(get(src), mul(add(mul(add(add(get(idx0), get(w0)), get(w)), get(ld)), get(p0)), i32Const(4)))),
              set(d, add(get(panel), mul(get(w), i32Const(4)))),
              forLoop(p, i32Const(0), get(kb), i32Const(1), [
                copyScalar,
                inc(s, i32Const(4)),
                inc(d, i32Const(W * 4)),
              ]),
            ]),
          ],
        ),
        inc(panel, get(panelBytes)),
      ]),
    ]);
  };
  buildPack(packA, MR);
  buildPack(packB, NR);

  // ---- gemm driver ----
  // aPacked: pa holds A's rows i0..i1 packed for every depth block (prepackA), one block after the
  // other; bPacked: pb holds B's columns j0..j1 packed for every (jc, pc) block (prepackB). Otherwise
  // each block is packed here, into pa and pb. The packed values are the same either way.
  // for pc in 0..k step kc: kb = the block's depth, kbPad = kb rounded up to KU; then body.
  const depthBlocks = (pc: number, kb: number, kbPad: number, k: number, kc: number, body: Code): Code =>
    forLoop(pc, i32Const(0), get(k), get(kc), [
      set(kb, min(get(kc), sub(get(k), get(pc)))),
      set(kbPad, [add(get(kb), i32Const(KU - 1)), i32Const(-KU), Op.i32_and]),
      body,
    ]);
  // The bytes of `count` rows (or columns) packed W-wide panels kbPad deep: count rounded up to W.
  // Stryker disable next-line ArithmeticOperator: rounding up one panel more only leaves room unused
  const roundBytes = (count: Code, W: number, kbPad: number): Code => mul(mul(mul([add(count, i32Const(W - 1)), i32Const(W), Op.i32_div_u], i32Const(W)), get(kbPad)), i32Const(4));
  {
    const [a, b, c, m, n, k, transA, transB, i0, i1, j0, j1, pa, pb, mc, nc, kc, ldc, aPacked, bPacked] = Array.from(
      { length: 20 },
      (_, i) => i,
    ) as [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number];
    const [jc, pc, ic, jr, ir, nb, kb, kbPad, mb, lda, ldb, paRun, pbRun, paBlk, pbBlk] = Array.from({ length: 15 }, () =>
      gemm.local(i32),
    ) as [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number];
    const select = (cond: Code, x: Code, y: Code): Code => [x, y, cond, Op.select];
    const notB = [get(transB), Op.i32_eqz];

    gemm.setBody([
      // A is m x k, or k x m when transposed; B is k x n, or n x k when transposed.
      set(lda, select(get(transA), get(m), get(k))),
      set(ldb, select(get(transB), get(k), get(n))),
      set(pbRun, get(pb)),
      forLoop(jc, get(j0), get(j1), get(nc), [
        set(nb, min(get(nc), sub(get(j1), get(jc)))),
        set(paRun, get(pa)),
        depthBlocks(pc, kb, kbPad, k, kc, [
          ifThen(
            get(bPacked),
            [set(pbBlk, get(pbRun)), inc(pbRun, roundBytes(get(nb), NR, kbPad))],
            [get(b), get(ldb), notB, get(jc), get(nb), get(pc), get(kb), get(kbPad), get(pb), call(packB.index), set(pbBlk, get(pb))],
          ),
          forLoop(ic, get(i0), get(i1), get(mc), [
            set(mb, min(get(mc), sub(get(i1), get(ic)))),
            ifThen(
              get(aPacked),
              set(paBlk, add(get(paRun), mul(mul(sub(get(ic), get(i0)), get(kbPad)), i32Const(4)))),
              [get(a), get(lda), get(transA), get(ic), get(mb), get(pc), get(kb), get(kbPad), get(pa), call(packA.index), set(paBlk, get(pa))],
            ),
            forLoop(jr, i32Const(0), get(nb), i32Const(NR), [
              forLoop(ir, i32Const(0), get(mb), i32Const(MR), [
                add(get(paBlk), mul(mul(get(ir), get(kbPad)), i32Const(4))),
                add(get(pbBlk), mul(mul(get(jr), get(kbPad)), i32Const(4))),
                add(get(c), mul(add(mul(add(get(ic), get(ir)), get(ldc)), add(get(jc), get(jr))), i32Const(4))),
                mul(get(ldc), i32Const(4)),
                [get(kbPad), i32Const(KU), Op.i32_div_u],
                [get(pc), i32Const(0), Op.i32_ne],
                call(kernel.index),
              ]),
            ]),
          ]),
          inc(paRun, roundBytes(sub(get(i1), get(i0)), MR, kbPad)),
        ]),
      ]),
    ]);
  }

  // ---- prepackA(a, m, k, transA, i0, i1, kc, dst), prepackB(b, k, n, transB, j0, j1, kc, nc, dst) ----
  {
    const [a, m, k, transA, i0, i1, kc, dst] = [0, 1, 2, 3, 4, 5, 6, 7];
    const [pc, kb, kbPad] = [prepackA.local(i32), prepackA.local(i32), prepackA.local(i32)];
    prepackA.setBody(
      depthBlocks(pc, kb, kbPad, k, kc, [
        [get(a), [get(m), get(k), get(transA), Op.select], get(transA), get(i0), sub(get(i1), get(i0)), get(pc), get(kb), get(kbPad), get(dst), call(packA.index)],
        inc(dst, roundBytes(sub(get(i1), get(i0)), MR, kbPad)),
      ]),
    );
  }
  {
    const [b, k, n, transB, j0, j1, kc, nc, dst] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const [jc, nb, pc, kb, kbPad] = Array.from({ length: 5 }, () => prepackB.local(i32)) as [number, number, number, number, number];
    prepackB.setBody(
      forLoop(jc, get(j0), get(j1), get(nc), [
        set(nb, min(get(nc), sub(get(j1), get(jc)))),
        depthBlocks(pc, kb, kbPad, k, kc, [
          [get(b), [get(k), get(n), get(transB), Op.select], get(transB), Op.i32_eqz, get(jc), get(nb), get(pc), get(kb), get(kbPad), get(dst), call(packB.index)],
          inc(dst, roundBytes(get(nb), NR, kbPad)),
        ]),
      ]),
    );
  }
  // ---- copyRows(src, ldSrc, dst, ldDst, rows, cols) ----
  {
    const [src, ldSrc, dst, ldDst, rows, cols] = [0, 1, 2, 3, 4, 5];
    const r = copyRows.local(i32);
    // Stryker disable ArrayDeclaration: the module is built once per process, before a run can switch a mutant on (the kept-result test checks the copies)
    copyRows.setBody(
      forLoop(r, i32Const(0), get(rows), i32Const(1), [
        [get(dst), get(src), mul(get(cols), i32Const(4)), mem.copy()],
        inc(src, mul(get(ldSrc), i32Const(4))),
        inc(dst, mul(get(ldDst), i32Const(4))),
      ]),
    );
    // Stryker restore ArrayDeclaration
  }
  return mod.toBytes();
}
