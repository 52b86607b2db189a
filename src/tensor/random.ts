/**
 * A seeded pseudo-random generator: xoshiro128** (Blackman & Vigna) seeded through splitmix32.
 * It uses only 32-bit integer arithmetic (Math.imul, shifts), so a seed gives the same stream
 * in every JavaScript engine. Uniforms take the top 24 bits (exact in float32 and float64);
 * normals come from the Box–Muller transform, one pair per two uniforms.
 */
export interface RandomState {
  s: number[];
  spare: number | null;
}

export class Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null = null;

  constructor(seed = 0) {
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1), a multiple of 2⁻²⁴. */
  uniform(): number {
    return (this.nextUint32() >>> 8) / 16777216;
  }

  /** Standard normal, by Box–Muller. */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log stays finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: any }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = Math.floor(((this.nextUint32() / 4294967296) * (i + 1)));
      const t = array[i];
      array[i] = array[j];
      array[j] = t;
    }
    return array;
  }

  /** The full generator state, for checkpoints. */
  getState(): RandomState {
    return { s: [this.s0, this.s1, this.s2, this.s3], spare: this.spare };
  }

  /** Restores a state from `getState` (the words signed or unsigned); throws, changing nothing, on an invalid one. */
  setState(state: RandomState): void {
    const bad = randomStateProblem(state);
    if (bad !== undefined) throw new Error(`Random.setState: ${bad}`);
    [this.s0, this.s1, this.s2, this.s3] = state.s.map((v) => v | 0);
    this.spare = state.spare;
  }
}

/** A value in an error message: its JSON, cut at 60 characters. */
export const shownValue = (v: unknown): string => {
  const json = String(JSON.stringify(v));
  return json.length > 60 ? `${json.slice(0, 60)}…` : json;
};

/**
 * What is wrong with `state` as a RandomState, or undefined: `s` must be 4 32-bit integers (signed or
 * unsigned), not all zero (xoshiro's one fixed point), and `spare` null or a finite number. `name`
 * prefixes the field in the message.
 */
export function randomStateProblem(state: unknown, name = "state"): string | undefined {
  if (typeof state !== "object" || state === null || Array.isArray(state)) return `${name} must be an object { s, spare }, got ${shownValue(state)}`;
  const { s, spare } = state as { s?: unknown; spare?: unknown };
  if (!Array.isArray(s) || s.length !== 4 || !s.every((v) => Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 32) || s.every((v) => (v | 0) === 0)) {
    return `${name}.s must be 4 32-bit integers, not all zero, got ${shownValue(s)}`;
  }
  if (spare !== null && !Number.isFinite(spare)) return `${name}.spare must be null or a finite number, got ${shownValue(spare)}`;
  return undefined;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
