// Generates the WebAssembly SIMD128 module of the element-wise float32 kernels of a training step:
//
//   adam32              Adam's update in f32x4 arithmetic (p, g, m, v in place)
//   adam64              the same update in f64x2 arithmetic, rounding to float32 where the
//                       TypeScript loop does: bit-identical to it
//   biasTanh            y ← tanh(y + b) over rows (the fused `linear` forward)
//   biasAdd             y ← y + b, or relu(y + b)
//   activationBackward  g·tanh'(·) or g·relu'(·) and the bias gradient (column sums), bit-identical
//   columnSums          a bias gradient without activation
//   scaleRows           out[r, :] = s[r]·d[r, :] (the Bernoulli gradient times the upstream one)
//   bernoulli           term = x·l − softplus(l) and d = x − σ(l) per element (the fused Bernoulli
//                       log-likelihood and its gradient), written in forms without cancellation
//   rowSums             float64 sums of rows of float32 values
//
// Only the transcendental kernels (biasTanh, bernoulli) and adam32 round differently from TypeScript;
// the others compute what TypeScript's loops do (float32 products and sums are single roundings; the
// rest runs in float64 lanes) and give the same bits.
//
// The transcendental functions are float32 polynomials evaluated four lanes at a time:
//   exp(r)      Cody–Waite reduction r = n·ln2 + f, |f| ≤ ln2/2, e^f = 1 + f + f²·E(f) (degree 5),
//               then two multiplications by 2^⌊n/2⌋ and 2^⌈n/2⌉ so that subnormal results round once
//   log1p(u)    for u ∈ [0, 1]: s = u/(2+u), log1p(u) = 2s + s·t·R(t), t = s² ≤ 1/9 (degree 4)
//   tanh(a)     for a = |x| < 0.9: a + a·t·P(t), t = a² (degree 6); else 1 − 2e/(1+e), e = exp(−2a);
//               the sign of x is copied onto the result
// E, R and P are near-minimax fits (iteratively reweighted least squares in 50-digit arithmetic,
// relative error of the result); test/fused-wasm.test.ts and test/kernels.test.ts check every
// kernel against the TypeScript path in ulps.
//
// All pointers are byte offsets, 16-aligned; counts are multiples of 4 (callers pad).

import { type Code, type FuncDef, ModuleBuilder, Op, ValType, forLoop, i32Const, ifThen, localGet as get, localSet, simd, v128 } from './emit.js';

const { i32, f32, f64 } = ValType;

// SIMD128 opcodes beyond those emit.ts names (after the 0xFD prefix).
const S = {
  f64x2_splat: 0x14,
  f32x4_lt: 0x43,
  f32x4_gt: 0x44,
  v128_and: 0x4e,
  v128_or: 0x50,
  v128_bitselect: 0x52,
  f32x4_demote_f64x2_zero: 0x5e,
  f64x2_promote_low_f32x4: 0x5f,
  i32x4_shl: 0xab,
  i32x4_shr_s: 0xac,
  i32x4_add: 0xae,
  i32x4_sub: 0xb1,
  f32x4_abs: 0xe0,
  f32x4_neg: 0xe1,
  f32x4_sqrt: 0xe3,
  f32x4_add: 0xe4,
  f32x4_sub: 0xe5,
  f32x4_mul: 0xe6,
  f32x4_div: 0xe7,
  f32x4_pmin: 0xea,
  f32x4_pmax: 0xeb,
  f64x2_sqrt: 0xef,
  f64x2_add: 0xf0,
  f64x2_sub: 0xf1,
  f64x2_mul: 0xf2,
  f64x2_div: 0xf3,
} as const;

const bin = (op: number) => (a: Code, b: Code): Code => [a, b, simd(op)];
const un = (op: number) => (a: Code): Code => [a, simd(op)];

/** f32x4 arithmetic on Code operands. */
const F = {
  add: bin(S.f32x4_add),
  sub: bin(S.f32x4_sub),
  mul: bin(S.f32x4_mul),
  div: bin(S.f32x4_div),
  /** b < a ? b : a (x86 minps; keeps a NaN a). */
  pmin: bin(S.f32x4_pmin),
  /** a < b ? b : a (x86 maxps; keeps a NaN a). */
  pmax: bin(S.f32x4_pmax),
  lt: bin(S.f32x4_lt),
  gt: bin(S.f32x4_gt),
  abs: un(S.f32x4_abs),
  neg: un(S.f32x4_neg),
  sqrt: un(S.f32x4_sqrt),
  splat: (x: Code): Code => [x, v128.f32x4Splat()],
  /** Four copies of a float32 constant. */
  c: (x: number): Code => [simd(0x0c), [...new Uint8Array(new Float32Array([x, x, x, x]).buffer)]],
};
/** f64x2 arithmetic. */
const D = {
  add: bin(S.f64x2_add),
  sub: bin(S.f64x2_sub),
  mul: bin(S.f64x2_mul),
  div: bin(S.f64x2_div),
  sqrt: un(S.f64x2_sqrt),
  splat: (x: Code): Code => [x, simd(S.f64x2_splat)],
  /** Lanes 0, 1 of a f32x4, widened. */
  promoteLow: un(S.f64x2_promote_low_f32x4),
  /** Lanes 2, 3 of a f32x4, widened. */
  promoteHigh: (a: Code): Code => [a, a, v128.shuffle(lanes(2, 3, 2, 3)), simd(S.f64x2_promote_low_f32x4)],
  /** Two f64x2 rounded to float32 (IEEE round to nearest, as Math.fround) and packed into one f32x4. */
  demote2: (lo: Code, hi: Code): Code => [lo, simd(S.f32x4_demote_f64x2_zero), hi, simd(S.f32x4_demote_f64x2_zero), v128.shuffle(lanes(0, 1, 4, 5))],
};
/** Bitwise and i32x4 operations. */
const V = {
  and: bin(S.v128_and),
  or: bin(S.v128_or),
  /** Lanes of a where mask is set, of b elsewhere. */
  select: (mask: Code, a: Code, b: Code): Code => [a, b, mask, simd(S.v128_bitselect)],
  iadd: bin(S.i32x4_add),
  isub: bin(S.i32x4_sub),
  shl: (a: Code, bits: number): Code => [a, i32Const(bits), simd(S.i32x4_shl)],
  shrS: (a: Code, bits: number): Code => [a, i32Const(bits), simd(S.i32x4_shr_s)],
  ic: (x: number): Code => [simd(0x0c), [...new Uint8Array(new Int32Array([x, x, x, x]).buffer)]],
};
/** i8x16.shuffle lane bytes selecting 32-bit lanes (0-3 from the first operand, 4-7 from the second). */
function lanes(...l: number[]): number[] {
  return l.flatMap((x) => [4 * x, 4 * x + 1, 4 * x + 2, 4 * x + 3]);
}
const add = (a: Code, b: Code): Code => [a, b, Op.i32_add];
const set = (l: number, value: Code): Code => [value, localSet(l)];
const load = (base: number, off: number): Code => [add(get(base), get(off)), v128.load()];
const store = (base: number, off: number, value: Code): Code => [add(get(base), get(off)), value, v128.store()];

/**
 * c[0] + c[1]·t + … + c[k]·t^k with t a local, by Estrin's scheme: pairs (c[2i] + c[2i+1]·t) combined
 * with t², t⁴, …, a dependency chain of ~log2(k) multiply-adds instead of Horner's k. The kernels are
 * latency-bound (a loop iteration is a long chain; few iterations fit in the out-of-order window).
 */
function poly(fn: Func, t: number, c: readonly number[]): Code {
  let terms: Code[] = [];
  for (let i = 0; i < c.length; i += 2) terms.push(i + 1 < c.length ? F.add(fn.f(c[i]), F.mul(fn.f(c[i + 1]), get(t))) : fn.f(c[i]));
  let power = t; // t^(2^level)
  const powers: Code[] = []; // computed first, in order
  while (terms.length > 1) {
    const sq = fn.local(ValType.v128);
    powers.push(set(sq, F.mul(get(power), get(power))));
    power = sq;
    const next: Code[] = [];
    for (let i = 0; i < terms.length; i += 2) next.push(i + 1 < terms.length ? F.add(terms[i], F.mul(terms[i + 1], get(power))) : terms[i]);
    terms = next;
  }
  return [powers, terms[0]];
}

// Coefficients (see the header), rounded to float32 when emitted.
const EXP_E = [0.5000000067657578, 0.16666665869422723, 0.04166629505158494, 0.008333496986029146, 0.0013944651144218543, 0.00019790371989065526];
const LOG1P_R = [0.6666667562240844, 0.39998877715726766, 0.2861688539173018, 0.2142765248659552, 0.2430095192136829];
const TANH_P = [-0.3333332312757787, 0.1333299886952645, -0.0539309404709257, 0.021669541727063275, -0.008275654659507265, 0.002592795557809427, -0.0004590709584036564];
const TANH_SMALL = 0.9;
const LOG2E = 1.4426950408889634;
// ln 2 = LN2_HI + LN2_LO; LN2_HI has 9 significant bits, so n·LN2_HI is exact for |n| < 2^15.
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
/** 1.5·2²³: adding it rounds a float of magnitude < 2²² to an integer, left in the low mantissa bits. */
const ROUNDER = 12582912;

/**
 * A function being built, with a pool of constants: each distinct f32x4/i32x4 constant gets a local
 * set once before the loops (`prologue`). V8 materializes a v128.const with several instructions at
 * each use; a local is a register or one load from the stack.
 */
class Func {
  private readonly pool = new Map<string, number>();
  private readonly init: Code[] = [];
  constructor(private readonly def: FuncDef) {}
  local(type: ValType): number {
    return this.def.local(type);
  }
  private constant(key: string, value: () => Code): Code {
    let l = this.pool.get(key);
    // Stryker disable next-line ConditionalExpression: a new local for every use holds the same constant
    if (l === undefined) {
      l = this.def.local(ValType.v128);
      this.pool.set(key, l);
      this.init.push(set(l, value()));
    }
    return get(l);
  }
  /** Four copies of a float32 constant. */
  f(x: number): Code {
    return this.constant(`f${Math.fround(x)}`, () => F.c(x));
  }
  /** Two copies of a float64 constant. */
  d(x: number): Code {
    // Stryker disable next-line StringLiteral: the module has one float64 constant, so its key names no other
    return this.constant(`d${x}`, () => [simd(0x0c), [...new Uint8Array(new Float64Array([x, x]).buffer)]]);
  }
  /** Four copies of an int32 constant. */
  i(x: number): Code {
    return this.constant(`i${x | 0}`, () => V.ic(x));
  }
  /** Sets the body, preceded by the constants' initialization. */
  setBody(body: Code): void {
    this.def.setBody([this.init, body]);
  }
}

/**
 * Code that leaves exp(x) (f32x4) on the stack, x in local `x` (clobbered). Exact to ~1 ulp for
 * x ≤ 88; the argument is clamped to [−104, 88.5] (exp(−104) rounds to 0 in float32); NaN stays NaN.
 */
function expCode(fn: Func, x: number): Code {
  const fx = fn.local(ValType.v128);
  const n = fn.local(ValType.v128);
  const h = fn.local(ValType.v128);
  const r = fn.local(ValType.v128);
  const scale = (k: Code): Code => V.shl(V.iadd(k, fn.i(127)), 23);
  return [
    // pmax/pmin (one instruction each) keep x when it is NaN: x < −104 and 88.5 < x are false
    set(x, F.pmin(F.pmax(get(x), fn.f(-104)), fn.f(88.5))),
    // n = round(x·log2 e) by adding 1.5·2²³ (the float's low bits are then n), fx = n as a float
    set(fx, F.add(F.mul(get(x), fn.f(LOG2E)), fn.f(ROUNDER))),
    set(n, V.isub(get(fx), fn.f(ROUNDER))),
    set(fx, F.sub(get(fx), fn.f(ROUNDER))),
    set(r, F.sub(F.sub(get(x), F.mul(get(fx), fn.f(LN2_HI))), F.mul(get(fx), fn.f(LN2_LO)))),
    set(h, V.shrS(get(n), 1)),
    // 1 + r + r²·E(r), then · 2^h · 2^(n−h)
    F.mul(
      F.mul(F.add(F.add(F.mul(F.mul(get(r), get(r)), poly(fn, r, EXP_E)), get(r)), fn.f(1)), scale(get(h))),
      scale(V.isub(get(n), get(h))),
    ),
  ];
}

/** log1p(u) for u in [0, 1] (in local `u`), f32x4. */
function log1pCode(fn: Func, u: number): Code {
  const s = fn.local(ValType.v128);
  const t = fn.local(ValType.v128);
  return [
    set(s, F.div(get(u), F.add(get(u), fn.f(2)))),
    set(t, F.mul(get(s), get(s))),
    F.add(F.add(get(s), get(s)), F.mul(F.mul(get(s), get(t)), poly(fn, t, LOG1P_R))),
  ];
}

/** tanh(x) for x in local `x` (clobbered), f32x4. */
function tanhCode(fn: Func, x: number): Code {
  const a = fn.local(ValType.v128);
  const t = fn.local(ValType.v128);
  const e = fn.local(ValType.v128);
  const small = fn.local(ValType.v128);
  return [
    set(a, F.abs(get(x))),
    set(t, F.mul(get(a), get(a))),
    set(small, F.add(get(a), F.mul(F.mul(get(a), get(t)), poly(fn, t, TANH_P)))),
    set(e, F.mul(get(a), fn.f(-2))),
    set(e, expCode(fn, e)),
    set(e, F.sub(fn.f(1), F.div(F.add(get(e), get(e)), F.add(get(e), fn.f(1))))),
    // |result| from the branch for |x|, then x's sign bit
    // Stryker disable next-line UnaryOperator: +2³¹ and −2³¹ are the same int32 bits (Int32Array wraps), the sign bit
    V.or(V.select(F.lt(get(a), fn.f(TANH_SMALL)), get(small), get(e)), V.and(get(x), fn.i(-0x80000000))),
  ];
}

export interface ElementwiseExports {
  /** Adam on n (a multiple of 4) float32 values at byte offsets p, g, m, v, in f32x4 arithmetic. */
  adam32(p: number, g: number, m: number, v: number, n: number, b1: number, omb1: number, b2: number, omb2: number, stepSize: number, sqrtC2: number, eps: number): void;
  /** Adam in f64x2 arithmetic, bit-identical to the TypeScript loop of Adam.step. */
  adam64(p: number, g: number, m: number, v: number, n: number, b1: number, omb1: number, b2: number, omb2: number, lr: number, c1: number, c2: number, eps: number): void;
  /** y[r·ld + j] ← tanh(y[r·ld + j] + b[j]) for r < rows, j < ld (a multiple of 4). */
  biasTanh(y: number, b: number, rows: number, ld: number): void;
  /** y[r·ld + j] ← y + b[j], or max(y + b[j], 0) if relu (float32 adds: as TypeScript's). */
  biasAdd(y: number, b: number, rows: number, ld: number, relu: number): void;
  /**
   * gp = g·(1 − y²) (tanh) or g·[y > 0] (relu), and if wantGb, gb[j] += gp[r, j] over rows, all in
   * float64 lanes rounding where TypeScript's loop stores: bit-identical to it.
   */
  activationBackward(gp: number, g: number, y: number, gb: number, rows: number, ld: number, relu: number, wantGb: number): void;
  /** gb[j] += g[r, j] over rows (each sum rounded to float32, as TypeScript's loop). */
  columnSums(gb: number, g: number, rows: number, ld: number): void;
  /** out[r·ld + j] = s[r]·d[r·ld + j] (one float32 rounding of the exact product, as TypeScript's). */
  scaleRows(out: number, s: number, d: number, rows: number, ld: number): void;
  /** Over n (a multiple of 4) elements: term = x·l − softplus(l); if wantD, d = x − σ(l). */
  bernoulli(l: number, x: number, term: number, d: number, n: number, wantD: number): void;
  /** out[r] (float64) = Σ_j src[r·cols + j] (float32), for r < rows. */
  rowSums(src: number, out: number, rows: number, cols: number): void;
}

/** The module's bytes; with sharedMaxPages, it imports a shared memory of at most that many pages (threads). */
export function buildElementwiseModule(sharedMaxPages?: number): Uint8Array<ArrayBuffer> {
  const mod = new ModuleBuilder();
  mod.importMemory(
    sharedMaxPages === undefined
      ? { module: 'env', name: 'memory', initialPages: 1 }
      : { module: 'env', name: 'memory', initialPages: 1, maximumPages: sharedMaxPages, shared: true },
  );

  // ---- adam32(p, g, m, v, n, b1, omb1, b2, omb2, stepSize, sqrtC2, eps) ----
  {
    const fn = new Func(mod.func([i32, i32, i32, i32, i32, f32, f32, f32, f32, f32, f32, f32], [], 'adam32'));
    const [p, g, m, v, n] = [0, 1, 2, 3, 4];
    const par = [5, 6, 7, 8, 9, 10, 11];
    const [b1, omb1, b2, omb2, step, sc2, eps] = par.map(() => fn.local(ValType.v128));
    const [o, end] = [fn.local(i32), fn.local(i32)];
    const [gv, mv, vv] = [fn.local(ValType.v128), fn.local(ValType.v128), fn.local(ValType.v128)];
    fn.setBody([
      [b1, omb1, b2, omb2, step, sc2, eps].map((l, i) => set(l, F.splat(get(par[i])))),
      set(end, [get(n), i32Const(4), Op.i32_mul]),
      forLoop(o, i32Const(0), get(end), i32Const(16), [
        set(gv, load(g, o)),
        // m ← β1·m + (1−β1)·g; v ← β2·v + ((1−β2)·g)·g
        set(mv, F.add(F.mul(get(b1), load(m, o)), F.mul(get(omb1), get(gv)))),
        set(vv, F.add(F.mul(get(b2), load(v, o)), F.mul(F.mul(get(omb2), get(gv)), get(gv)))),
        store(m, o, get(mv)),
        store(v, o, get(vv)),
        // p ← p − (lr/(1−β1ᵗ))·m / (√v·√(1/(1−β2ᵗ)) + ε): √v first, so that v·c2 cannot overflow
        store(p, o, F.sub(load(p, o), F.div(F.mul(get(step), get(mv)), F.add(F.mul(F.sqrt(get(vv)), get(sc2)), get(eps))))),
      ]),
    ]);
  }

  // ---- adam64(p, g, m, v, n, b1, omb1, b2, omb2, lr, c1, c2, eps) ----
  {
    const fn = new Func(mod.func([i32, i32, i32, i32, i32, f64, f64, f64, f64, f64, f64, f64, f64], [], 'adam64'));
    const [p, g, m, v, n] = [0, 1, 2, 3, 4];
    const par = [5, 6, 7, 8, 9, 10, 11, 12];
    const [b1, omb1, b2, omb2, lr, c1, c2, eps] = par.map(() => fn.local(ValType.v128));
    const [o, end] = [fn.local(i32), fn.local(i32)];
    const [g4, m4, v4, p4] = [0, 1, 2, 3].map(() => fn.local(ValType.v128));
    const half = () => ({ g: fn.local(ValType.v128), m: fn.local(ValType.v128), v: fn.local(ValType.v128), p: fn.local(ValType.v128) });
    const lo = half();
    const hi = half();
    // The TypeScript loop, in double: mi = b1·m + (1−b1)·g; vi = b2·v + (1−b2)·g·g;
    // w −= (lr·mi·c1)/(√(vi·c2) + ε), each stored rounded to float32.
    const update = (h: ReturnType<typeof half>): Code => [
      set(h.m, D.add(D.mul(get(b1), get(h.m)), D.mul(get(omb1), get(h.g)))),
      set(h.v, D.add(D.mul(get(b2), get(h.v)), D.mul(D.mul(get(omb2), get(h.g)), get(h.g)))),
      set(h.p, D.sub(get(h.p), D.div(D.mul(D.mul(get(lr), get(h.m)), get(c1)), D.add(D.sqrt(D.mul(get(h.v), get(c2))), get(eps))))),
    ];
    fn.setBody([
      [b1, omb1, b2, omb2, lr, c1, c2, eps].map((l, i) => set(l, D.splat(get(par[i])))),
      set(end, [get(n), i32Const(4), Op.i32_mul]),
      forLoop(o, i32Const(0), get(end), i32Const(16), [
        set(g4, load(g, o)),
        set(m4, load(m, o)),
        set(v4, load(v, o)),
        set(p4, load(p, o)),
        ([['g', g4], ['m', m4], ['v', v4], ['p', p4]] as const).map(([k, src]) => [set(lo[k], D.promoteLow(get(src))), set(hi[k], D.promoteHigh(get(src)))]),
        update(lo),
        update(hi),
        store(m, o, D.demote2(get(lo.m), get(hi.m))),
        store(v, o, D.demote2(get(lo.v), get(hi.v))),
        store(p, o, D.demote2(get(lo.p), get(hi.p))),
      ]),
    ]);
  }

  // ---- biasTanh(y, b, rows, ld) ----
  {
    const fn = new Func(mod.func([i32, i32, i32, i32], [], 'biasTanh'));
    const [y, b, rows, ld] = [0, 1, 2, 3];
    const [r, j, row, ldBytes] = [fn.local(i32), fn.local(i32), fn.local(i32), fn.local(i32)];
    const x = fn.local(ValType.v128);
    fn.setBody([
      set(ldBytes, [get(ld), i32Const(4), Op.i32_mul]),
      set(row, get(y)),
      forLoop(r, i32Const(0), get(rows), i32Const(1), [
        forLoop(j, i32Const(0), get(ldBytes), i32Const(16), [
          set(x, F.add(load(row, j), load(b, j))),
          store(row, j, tanhCode(fn, x)),
        ]),
        set(row, add(get(row), get(ldBytes))),
      ]),
    ]);
  }

  // ---- bernoulli(l, x, term, d, n, wantD) ----
  // With a = |l|, e = exp(−a), s = σ(−a) = e/(1+e), k = [l > 0]:
  //   x·l − softplus(l) = (x − k)·l − log1p(e)        (both parts ≤ 0 for x in [0, 1]: no cancellation)
  //   x − σ(l)          = (x − k) + (k ? s : −s)       (σ(l) = 1 − s for l > 0, s otherwise)
  {
    const fn = new Func(mod.func([i32, i32, i32, i32, i32, i32], [], 'bernoulli'));
    const [l, x, term, d, n, wantD] = [0, 1, 2, 3, 4, 5];
    const [o, end] = [fn.local(i32), fn.local(i32)];
    const [lv, pos, xk, e, e1] = [0, 1, 2, 3, 4].map(() => fn.local(ValType.v128));
    const one = fn.f(1);
    fn.setBody([
      set(end, [get(n), i32Const(4), Op.i32_mul]),
      forLoop(o, i32Const(0), get(end), i32Const(16), [
        set(lv, load(l, o)),
        set(pos, F.gt(get(lv), fn.f(0))),
        set(xk, F.sub(load(x, o), V.and(get(pos), one))),
        set(e, F.neg(F.abs(get(lv)))),
        set(e, expCode(fn, e)),
        set(e1, get(e)),
        store(term, o, F.sub(F.mul(get(xk), get(lv)), log1pCode(fn, e1))),
        ifThen(get(wantD), [
          set(e, F.div(get(e), F.add(get(e), one))),
          store(d, o, F.add(get(xk), V.select(get(pos), get(e), F.neg(get(e))))),
        ]),
      ]),
    ]);
  }

  // ---- rowSums(src, out, rows, cols) ----
  {
    const fn = new Func(mod.func([i32, i32, i32, i32], [], 'rowSums'));
    const [src, out, rows, cols] = [0, 1, 2, 3];
    const [r, j, ptr] = [fn.local(i32), fn.local(i32), fn.local(i32)];
    const acc = fn.local(f64);
    fn.setBody([
      set(ptr, get(src)),
      forLoop(r, i32Const(0), get(rows), i32Const(1), [
        [0x44, ...new Uint8Array(new Float64Array([0]).buffer)], localSet(acc), // f64.const 0
        forLoop(j, i32Const(0), get(cols), i32Const(1), [
          get(acc), get(ptr), [Op.f32_load, 2, 0], 0xbb /* f64.promote_f32 */, 0xa0 /* f64.add */, localSet(acc),
          set(ptr, add(get(ptr), i32Const(4))),
        ]),
        add(get(out), [get(r), i32Const(8), Op.i32_mul]), get(acc), [0x39, 3, 0] /* f64.store */,
      ]),
    ]);
  }

  // Row loops: for r < rows, for j < ld step 4, with `row` the byte offset of row r.
  const rowLoop = (fn: Func, rows: number, ld: number, body: (rowOff: number, j: number, r: number) => Code): Code => {
    const [r, j, rowOff, ldBytes] = [fn.local(i32), fn.local(i32), fn.local(i32), fn.local(i32)];
    return [
      set(ldBytes, [get(ld), i32Const(4), Op.i32_mul]),
      set(rowOff, i32Const(0)),
      forLoop(r, i32Const(0), get(rows), i32Const(1), [
        forLoop(j, i32Const(0), get(ldBytes), i32Const(16), body(rowOff, j, r)),
        set(rowOff, add(get(rowOff), get(ldBytes))),
      ]),
    ];
  };
  const at = (base: number, rowOff: number): Code => add(get(base), get(rowOff)); // pointer to the row
  const loadAt = (base: number, rowOff: number, j: number): Code => [add(at(base, rowOff), get(j)), v128.load()];
  const storeAt = (base: number, rowOff: number, j: number, value: Code): Code => [add(at(base, rowOff), get(j)), value, v128.store()];

  // ---- biasAdd(y, b, rows, ld, relu) ----
  {
    const fn = new Func(mod.func([i32, i32, i32, i32, i32], [], 'biasAdd'));
    const [y, b, rows, ld, relu] = [0, 1, 2, 3, 4];
    const v = fn.local(ValType.v128);
    const zero = fn.f(0);
    fn.setBody(
      ifThen(
        get(relu),
        // max(v, 0) as "v > 0 ? v : 0": NaN and −0 give 0, as TypeScript's loop
        rowLoop(fn, rows, ld, (row, j) => [set(v, F.add(loadAt(y, row, j), load(b, j))), storeAt(y, row, j, V.and(get(v), F.gt(get(v), zero)))]),
        rowLoop(fn, rows, ld, (row, j) => storeAt(y, row, j, F.add(loadAt(y, row, j), load(b, j)))),
      ),
    );
  }

  // ---- activationBackward(gp, g, y, gb, rows, ld, relu, wantGb) ----
  {
    const fn = new Func(mod.func([i32, i32, i32, i32, i32, i32, i32, i32], [], 'activationBackward'));
    const [gp, g, y, gb, rows, ld, relu, wantGb] = [0, 1, 2, 3, 4, 5, 6, 7];
    const [gv, yv, vLo, vHi] = [0, 1, 2, 3].map(() => fn.local(ValType.v128));
    const one = fn.d(1);
    // tanh: v = g·(1 − y·y) in float64 (y·y is exact, as in TypeScript); relu: v = y > 0 ? g : 0.
    const half = (lane: (a: Code) => Code, out: number): Code => set(out, D.mul(lane(get(gv)), D.sub(one, D.mul(lane(get(yv)), lane(get(yv))))));
    fn.setBody(
      rowLoop(fn, rows, ld, (row, j) => [
        set(gv, loadAt(g, row, j)),
        set(yv, loadAt(y, row, j)),
        ifThen(
          get(relu),
          [
            set(vLo, V.and(get(gv), F.gt(get(yv), fn.f(0)))),
            storeAt(gp, row, j, get(vLo)),
            ifThen(get(wantGb), store(gb, j, F.add(load(gb, j), get(vLo)))),
          ],
          [
            half(D.promoteLow, vLo),
            half(D.promoteHigh, vHi),
            storeAt(gp, row, j, D.demote2(get(vLo), get(vHi))),
            // gb += v with v unrounded, as TypeScript's gb[j] += v
            ifThen(get(wantGb), store(gb, j, D.demote2(D.add(D.promoteLow(load(gb, j)), get(vLo)), D.add(D.promoteHigh(load(gb, j)), get(vHi))))),
          ],
        ),
      ]),
    );
  }

  // ---- columnSums(gb, g, rows, ld) ----
  {
    const fn = new Func(mod.func([i32, i32, i32, i32], [], 'columnSums'));
    const [gb, g, rows, ld] = [0, 1, 2, 3];
    fn.setBody(rowLoop(fn, rows, ld, (row, j) => store(gb, j, F.add(load(gb, j), loadAt(g, row, j)))));
  }

  // ---- scaleRows(out, s, d, rows, ld) ----
  {
    const fn = new Func(mod.func([i32, i32, i32, i32, i32], [], 'scaleRows'));
    const [out, sPtr, d, rows, ld] = [0, 1, 2, 3, 4];
    const sv = fn.local(ValType.v128);
    fn.setBody(
      rowLoop(fn, rows, ld, (row, j, r) => [
        set(sv, [add(get(sPtr), [get(r), i32Const(4), Op.i32_mul]), v128.load32Splat()]),
        storeAt(out, row, j, F.mul(get(sv), loadAt(d, row, j))),
      ]),
    );
  }

  return mod.toBytes();
}
