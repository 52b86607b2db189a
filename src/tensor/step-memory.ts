// Memory for the intermediate values of one training step (activations, their gradients), which a
// step scope reuses from one step to the next instead of allocating new arrays.
//
// Inside `stepScope(f)`, `allocate` takes float32 arrays from the step memory that the thread pool
// registers (setStepMemory): a region of the threads' shared memory, where the kernels read operands
// and write results in place instead of copying them in and out. The next scope gives that region to
// the next step. A tensor made on such an array records the step; any use of it after the next step
// began throws (its values would be that step's): nothing made inside a scope may be used after the
// next one starts. Trainer.step runs its forward and backward passes in one; nothing it returns is
// such a tensor (the parameters, their gradient buffers and the optimizer's moments live elsewhere).
import type { Data } from "./dtype.js";

/** Where a step's arrays come from (the thread pool's region of its memory). */
export interface StepMemory {
  /** A new step: every array of the last one is given back to it. */
  begin(): void;
  /** A zeroed float32 array of `size` values for this step, or null (too small to pay, or no room left). */
  take(size: number): Float32Array | null;
  /** True when `data` lies in this memory's region. */
  owns(data: Data): boolean;
}

let memory: StepMemory | null = null;
/** Inside a scope: the memory its arrays come from. */
let active: StepMemory | null = null;
/** Bumped at each step's start (and when the memory changes): arrays of earlier ones are stale. */
let step = 0;

/** Registers the memory that step scopes take their arrays from, or none (null): scopes then only run f. */
export function setStepMemory(m: StepMemory | null): void {
  step++;
  memory = m;
  active = null;
}

/**
 * Runs `f` as one step: the float32 arrays `allocate` makes inside come from the step memory, and are
 * valid until the next step scope begins. A scope inside a scope is part of it.
 */
export function stepScope<T>(f: () => T): T {
  if (memory === null || active !== null) return f();
  step++;
  memory.begin();
  active = memory;
  try {
    return f();
  } finally {
    active = null;
  }
}

/** For allocate: an array of the current step scope, or null outside one (or when the memory has none). */
export function takeStepArray(size: number): Float32Array | null {
  return active === null ? null : active.take(size);
}

/** The step whose array `data` is (Storage records it), or -1 when it is not a step array. */
export function stepOf(data: Data): number {
  return memory !== null && memory.owns(data) ? step : -1;
}

/** Throws when the step `at` is over and its arrays were given to a later one. */
export function checkStep(at: number, values: number): void {
  if (at !== step) {
    throw new Error(
      `tensor: a tensor of ${values} values was made inside a training step (stepScope, e.g. Trainer.step), whose memory the next step has reused: ` +
        `use it within its step, or keep a copy (x.clone()) made there`,
    );
  }
}
