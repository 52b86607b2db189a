// A tiny WebAssembly binary emitter: named opcodes, LEB128 helpers, and a
// module builder. Code is written as nested arrays of bytes (`Code`), which
// `flatten` turns into the final byte stream. Only what the kernels need is
// here. The format, as far as it is used: a module is the magic "\0asm" and
// the version 1 (little-endian u32), then sections in increasing id order, each
// an id byte, its size in bytes (unsigned LEB128) and its contents; integers are
// LEB128, a vector is its length then its items, and a function's code is its
// size, its locals as (count, type) runs, then its instructions, ended by 0x0b.

/** Bytes, or nested lists of bytes; nesting is only for readability. */
export type Code = number | readonly Code[];

export function flatten(code: Code, out: number[] = []): number[] {
  if (typeof code === 'number') out.push(code);
  else for (const c of code) flatten(c, out);
  return out;
}

/** Unsigned LEB128. */
export function uleb(value: number): number[] {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`uleb: bad value ${value}`);
  const bytes: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

/** Signed LEB128 (32-bit range). */
export function sleb(value: number): number[] {
  if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 32) {
    throw new RangeError(`sleb: bad value ${value}`);
  }
  value |= 0;
  const bytes: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}

/** A length-prefixed vector of already-encoded items. */
function vec(items: readonly Code[]): number[] {
  return [...uleb(items.length), ...flatten(items)];
}

export const ValType = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b } as const;
export type ValType = (typeof ValType)[keyof typeof ValType];

/** Core opcodes (one byte each). */
export const Op = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  select: 0x1b,
  local_get: 0x20,
  local_set: 0x21,
  local_tee: 0x22,
  i32_load: 0x28,
  i64_load: 0x29,
  f32_load: 0x2a,
  i32_store: 0x36,
  i64_store: 0x37,
  f32_store: 0x38,
  i32_const: 0x41,
  i32_eqz: 0x45,
  i32_eq: 0x46,
  i32_ne: 0x47,
  i32_lt_s: 0x48,
  i32_lt_u: 0x49,
  i32_gt_s: 0x4a,
  i32_gt_u: 0x4b,
  i32_le_s: 0x4c,
  i32_le_u: 0x4d,
  i32_ge_s: 0x4e,
  i32_ge_u: 0x4f,
  i32_ctz: 0x68,
  i32_add: 0x6a,
  i32_sub: 0x6b,
  i32_mul: 0x6c,
  i32_div_u: 0x6e,
  i32_and: 0x71,
  i32_or: 0x72,
  i32_shl: 0x74,
  i32_shr_u: 0x76,
  f32_add: 0x92,
  f32_mul: 0x94,
  /** Prefix for the bulk-memory ops below (memory.copy / memory.fill). */
  prefix_fc: 0xfc,
  /** Prefix for SIMD ops (SimdOp). */
  prefix_simd: 0xfd,
} as const;

/** 0xFC-prefixed opcodes. */
export const BulkOp = { memory_copy: 0x0a, memory_fill: 0x0b } as const;

/** 0xFD-prefixed SIMD128 opcodes (encoded as u32 LEB128 after the prefix). */
export const SimdOp = {
  v128_load: 0x00,
  v128_load32_splat: 0x09,
  v128_store: 0x0b,
  v128_const: 0x0c,
  i8x16_shuffle: 0x0d,
  f32x4_splat: 0x13,
  f32x4_extract_lane: 0x1f,
  i32x4_eq: 0x37,
  f32x4_eq: 0x41,
  v128_or: 0x50,
  i32x4_all_true: 0xa3,
  i32x4_bitmask: 0xa4,
  f32x4_add: 0xe4,
  f32x4_mul: 0xe6,
  /** Relaxed SIMD: a·b + c, fused or not as the engine chooses (always the same way on one engine). */
  f32x4_relaxed_madd: 0x105,
} as const;

export const BlockType = { empty: 0x40 } as const;

// ---- instruction helpers ---------------------------------------------------

export const i32Const = (v: number): Code => [Op.i32_const, sleb(v)];
export const localGet = (l: number): Code => [Op.local_get, uleb(l)];
export const localSet = (l: number): Code => [Op.local_set, uleb(l)];
export const localTee = (l: number): Code => [Op.local_tee, uleb(l)];
export const br = (depth: number): Code => [Op.br, uleb(depth)];
export const brIf = (depth: number): Code => [Op.br_if, uleb(depth)];
export const call = (fn: number): Code => [Op.call, uleb(fn)];

/** memarg = alignment exponent + constant byte offset. */
const memarg = (alignLog2: number, offset: number): Code => [uleb(alignLog2), uleb(offset)];
export const mem = {
  i32Load: (offset = 0): Code => [Op.i32_load, memarg(2, offset)],
  i64Load: (offset = 0): Code => [Op.i64_load, memarg(3, offset)],
  f32Load: (offset = 0): Code => [Op.f32_load, memarg(2, offset)],
  i32Store: (offset = 0): Code => [Op.i32_store, memarg(2, offset)],
  i64Store: (offset = 0): Code => [Op.i64_store, memarg(3, offset)],
  f32Store: (offset = 0): Code => [Op.f32_store, memarg(2, offset)],
  /** memory.copy: [dst, src, len] -> [] */
  copy: (): Code => [Op.prefix_fc, uleb(BulkOp.memory_copy), 0x00, 0x00],
  /** memory.fill: [dst, byte, len] -> [] */
  fill: (): Code => [Op.prefix_fc, uleb(BulkOp.memory_fill), 0x00],
};

export const simd = (op: number): Code => [Op.prefix_simd, uleb(op)];
export const v128 = {
  // Alignment hints are 4 bytes: packed panels are 16-aligned, but C rows need not be.
  load: (offset = 0): Code => [simd(SimdOp.v128_load), memarg(2, offset)],
  store: (offset = 0): Code => [simd(SimdOp.v128_store), memarg(2, offset)],
  load32Splat: (offset = 0): Code => [simd(SimdOp.v128_load32_splat), memarg(2, offset)],
  const0: (): Code => [simd(SimdOp.v128_const), new Array<number>(16).fill(0)],
  shuffle: (lanes: readonly number[]): Code => [simd(SimdOp.i8x16_shuffle), lanes],
  f32x4Add: (): Code => simd(SimdOp.f32x4_add),
  f32x4Mul: (): Code => simd(SimdOp.f32x4_mul),
  /** [a, b, c] -> a·b + c (relaxed SIMD). */
  f32x4RelaxedMadd: (): Code => simd(SimdOp.f32x4_relaxed_madd),
  f32x4Splat: (): Code => simd(SimdOp.f32x4_splat),
};

// ---- structured control flow ----------------------------------------------

export const block = (body: Code): Code => [Op.block, BlockType.empty, body, Op.end];
export const loop = (body: Code): Code => [Op.loop, BlockType.empty, body, Op.end];
export const ifThen = (cond: Code, then: Code, otherwise?: Code): Code =>
  otherwise === undefined
    ? [cond, Op.if, BlockType.empty, then, Op.end]
    : [cond, Op.if, BlockType.empty, then, Op.else, otherwise, Op.end];

/**
 * `for (i = start; i < end; i += step) body` with signed compares; `end` and
 * `step` are re-evaluated each iteration, so pass locals or constants. Inside
 * `body` (which sits in its own block), `br(0)` continues and `br(2)` breaks.
 */
export const forLoop = (i: number, start: Code, end: Code, step: Code, body: Code): Code => [
  start,
  localSet(i),
  block(
    loop([
      localGet(i), end, Op.i32_ge_s, brIf(1),
      block(body),
      localGet(i), step, Op.i32_add, localSet(i),
      br(0),
    ]),
  ),
];

// ---- module builder ---------------------------------------------------------

export interface FuncDef {
  readonly index: number;
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
  /** Allocates a new local (after the params) and returns its index. */
  local(type: ValType): number;
  /** Sets the function body (without the final `end`). */
  setBody(code: Code): void;
}

interface FuncState {
  def: FuncDef;
  exportName: string | undefined;
  locals: ValType[];
  body: Code | undefined;
}

export interface MemoryImport {
  module: string;
  name: string;
  initialPages: number;
  maximumPages?: number;
  shared?: boolean;
}

export class ModuleBuilder {
  private readonly funcs: FuncState[] = [];
  private memoryImport: MemoryImport | undefined;

  importMemory(desc: MemoryImport): void {
    if (desc.shared && desc.maximumPages === undefined) throw new Error('shared memory needs a maximum');
    this.memoryImport = desc;
  }

  /** Declares a function; its index is known at once so others can `call` it before its body is set. */
  func(params: readonly ValType[], results: readonly ValType[], exportName?: string): FuncDef {
    const state: FuncState = { def: undefined as unknown as FuncDef, exportName, locals: [], body: undefined };
    const index = this.funcs.length;
    state.def = {
      index,
      params,
      results,
      local: (type) => {
        state.locals.push(type);
        return params.length + state.locals.length - 1;
      },
      setBody: (code) => {
        state.body = code;
      },
    };
    this.funcs.push(state);
    return state.def;
  }

  toBytes(): Uint8Array<ArrayBuffer> {
    const section = (id: number, payload: readonly Code[]): number[] => {
      const bytes = vec(payload);
      return [id, ...uleb(bytes.length), ...bytes];
    };
    const utf8 = (s: string): number[] => vec([...new TextEncoder().encode(s)]);

    // Type section: one signature per function (duplicates are harmless).
    const types = this.funcs.map((f) => [0x60, vec(f.def.params), vec(f.def.results)]);
    const imports: Code[] = [];
    if (this.memoryImport) {
      const m = this.memoryImport;
      const flags = (m.maximumPages !== undefined ? 1 : 0) | (m.shared ? 2 : 0);
      const limits = [flags, uleb(m.initialPages), m.maximumPages !== undefined ? uleb(m.maximumPages) : []];
      imports.push([utf8(m.module), utf8(m.name), 0x02, limits]);
    }
    const funcTypes = this.funcs.map((f) => uleb(f.def.index));
    const exports = this.funcs
      .filter((f) => f.exportName !== undefined)
      .map((f) => [utf8(f.exportName as string), 0x00, uleb(f.def.index)]);
    const bodies = this.funcs.map((f) => {
      if (f.body === undefined) throw new Error(`function ${f.def.index} has no body`);
      // Locals are run-length encoded as (count, type) pairs.
      const groups: Code[] = [];
      for (let i = 0; i < f.locals.length; ) {
        let j = i;
        while (f.locals[j] === f.locals[i]) j++; // past the end, undefined ends the run
        groups.push([uleb(j - i), f.locals[i] as number]);
        i = j;
      }
      const body = [...vec(groups), ...flatten(f.body), Op.end];
      return [uleb(body.length), body];
    });

    const bytes = [
      0x00, 0x61, 0x73, 0x6d, // "\0asm"
      0x01, 0x00, 0x00, 0x00, // version 1
      ...section(1, types),
      ...(imports.length ? section(2, imports) : []),
      ...section(3, funcTypes),
      ...section(7, exports),
      ...section(10, bodies),
    ];
    return new Uint8Array(bytes);
  }
}
