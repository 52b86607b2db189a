// Side-by-side timing on a shared machine: contenders take turns, one sample each per round (in a
// new order each round), so that a burst of load from elsewhere lands on all of them
// rather than on whichever ran during it; each reports the median of its samples.
import { median } from "../timing.js";

/** Something to time. `run` does `reps` calls back to back and returns the elapsed milliseconds, timed where the work runs (e.g. inside a child process). */
export interface Contender {
  readonly name: string;
  run(reps: number): number | Promise<number>;
  /** Untimed, before each warmup call and each sample (e.g. selecting a tfjs backend). */
  before?(): void | Promise<void>;
  /** Caps on this contender for a slow case: at most `samples` samples, `warmup` calls before them. */
  readonly limits?: { samples?: number; warmup?: number };
}

export interface Schedule {
  /** Samples per contender when its budget allows. */
  rounds: number;
  /** Samples per contender whatever the budget (unless its `limits` say fewer). */
  minSamples: number;
  /** Target length of one sample: fast calls are repeated to reach it. */
  sampleMs: number;
  /** Warmup per contender (JIT tiers, allocations): calls until this much time has passed, and at least `minWarmup` calls. */
  warmupMs: number;
  minWarmup?: number;
  /** Time per contender: slow contenders get fewer samples (down to minSamples). */
  budgetMs: number;
}

export interface Timing {
  /** Median milliseconds per call. */
  ms: number;
  /** Samples taken, and calls in each. */
  samples: number;
  reps: number;
  /** Fastest and slowest sample, ms per call. */
  min: number;
  max: number;
}

async function once(c: Contender, reps: number): Promise<number> {
  if (c.before) await c.before();
  return (await c.run(reps)) / reps;
}

/** Times every contender per `schedule`, interleaved; returns the timings by name. */
export async function sideBySide(contenders: Contender[], schedule: Schedule): Promise<Record<string, Timing>> {
  const plans = [];
  for (const c of contenders) {
    // Warmup, and the per-call estimate that sets the calls per sample and the number of samples.
    const maxWarmup = c.limits?.warmup ?? Infinity;
    let perCall = NaN;
    const minWarmup = schedule.minWarmup ?? 1;
    for (let calls = 0, spent = 0; calls < maxWarmup && (calls < minWarmup || spent < schedule.warmupMs); calls++) {
      perCall = await once(c, 1);
      spent += perCall;
    }
    const reps = Number.isFinite(perCall) ? Math.max(1, Math.round(schedule.sampleMs / perCall)) : 1;
    const affordable = Number.isFinite(perCall) ? Math.floor(schedule.budgetMs / (reps * perCall)) : schedule.minSamples;
    const samples = Math.min(c.limits?.samples ?? Infinity, Math.max(schedule.minSamples, Math.min(schedule.rounds, affordable)));
    plans.push({ c, reps, samples, times: [] as number[] });
  }
  const rounds = Math.max(...plans.map((p) => p.samples));
  const order = plans.map((_, i) => i);
  let seed = 1;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let r = 0; r < rounds; r++) {
    // A fresh order each round, so that no contender always follows the same one (whose garbage it
    // would collect, whose data would have evicted its own from the caches).
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const i of order) {
      const p = plans[i];
      // Spread a contender's samples evenly over the rounds.
      if (Math.floor(((r + 1) * p.samples) / rounds) > Math.floor((r * p.samples) / rounds)) p.times.push(await once(p.c, p.reps));
    }
  }
  const out: Record<string, Timing> = {};
  for (const p of plans) out[p.c.name] = { ms: median(p.times), samples: p.times.length, reps: p.reps, min: Math.min(...p.times), max: Math.max(...p.times) };
  return out;
}
