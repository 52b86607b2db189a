import { allocate, dtypeOf, type Data } from "../tensor/dtype.js";
import { fmt, sameShape } from "../tensor/shape.js";
import { Tensor, astype, type GradNode } from "../tensor/tensor.js";

let disabled = 0;

/** Run f without recording a graph: results of ops inside do not require grad. */
export function noGrad<T>(f: () => T): T {
  disabled++;
  try {
    return f();
  } finally {
    disabled--;
  }
}

export function isGradEnabled(): boolean {
  return disabled === 0;
}

function anyRequiresGrad(inputs: readonly Tensor[]): boolean {
  for (let i = 0; i < inputs.length; i++) if (inputs[i].requiresGrad) return true;
  return false;
}

/** Attach to `out` how to send its gradient back to `inputs`, when any of them requires grad. */
export function record(out: Tensor, op: string, inputs: readonly Tensor[], backward: GradNode["backward"]): Tensor {
  if (disabled === 0 && anyRequiresGrad(inputs)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward };
  }
  return out;
}

function freed(op: string): GradNode {
  return {
    op,
    inputs: [],
    backward() {
      throw new Error(`backward: the graph through "${op}" was freed by an earlier backward(); recompute the forward pass`);
    },
  };
}

function accumulate(prev: Tensor | undefined | null, g: Tensor): Tensor {
  if (!prev) return g;
  const out = allocate(prev.dtype, prev.size);
  const a = prev.data;
  const b = g.data;
  for (let i = 0, n = out.length; i < n; i++) out[i] = a[i] + b[i];
  return new Tensor(out, prev.shape);
}

// Persistent gradient storage of leaves, as PyTorch's .grad tensors: opted into per leaf (optimizers do
// it for their parameters), so that a training step does not allocate its gradients afresh. When a leaf
// has a buffer, backward() writes the leaf's gradient into it and sets `.grad` to the buffer's tensor,
// and adds into it in place while `.grad` is that tensor; `.grad = null` still means "no gradient".
// Whoever keeps a reference to `.grad` across zeroGrad() sees it overwritten by the next backward().
const buffers = new WeakMap<Tensor, Tensor>();

/**
 * Gives the leaf `t` a persistent gradient buffer (the leaf's size and dtype), or removes it (null).
 * Its contents are unspecified until backward() makes it `t.grad`.
 */
export function setGradBuffer(t: Tensor, buffer: Data | null): void {
  if (buffer === null) {
    buffers.delete(t);
    return;
  }
  if (t.node !== null) throw new Error("setGradBuffer: only leaves (tensors not computed by a recorded op) keep gradients");
  if (buffer.length !== t.size || dtypeOf(buffer) !== t.dtype) {
    throw new Error(`setGradBuffer: a ${t.dtype} tensor of ${t.size} values needs a buffer of the same, got ${dtypeOf(buffer)} × ${buffer.length}`);
  }
  buffers.set(t, new Tensor(buffer, t.shape));
}

/** The leaf's persistent gradient buffer, if it has one. */
export function gradBuffer(t: Tensor): Data | null {
  return buffers.get(t)?.data ?? null;
}

/** Leaves whose buffer an op's backward has been handed during the current backward(). */
let handedOut: Set<Tensor> | null = null;

/**
 * For ops' backward functions: an array to write the gradient of `input` into instead of allocating
 * one: the persistent buffer of a leaf that has no gradient yet, handed out at most once per
 * backward(); otherwise null. The op must fill all of it and return it (as a tensor of input's shape)
 * as that input's gradient.
 */
export function gradDestination(input: Tensor): Data | null {
  if (handedOut === null || input.node !== null || input.grad !== null || !input.requiresGrad) return null;
  const buffer = buffers.get(input);
  if (buffer === undefined || handedOut.has(input)) return null;
  handedOut.add(input);
  return buffer.data;
}

/** t.grad (+)= g, into t's persistent buffer when it has one. */
function accumulateLeaf(t: Tensor, g: Tensor): void {
  const buffer = buffers.get(t);
  const prev = t.grad;
  if (buffer === undefined || (prev !== null && (prev.size !== buffer.size || prev.dtype !== buffer.dtype))) {
    t.grad = accumulate(prev, g);
    return;
  }
  const out = buffer.data;
  const b = g.data;
  if (prev === null) {
    if (b !== out) out.set(b);
  } else {
    // In place when prev is the buffer itself; each element is read before it is written.
    const a = prev.data;
    for (let i = 0, n = out.length; i < n; i++) out[i] = a[i] + b[i];
  }
  t.grad = buffer;
}

/**
 * Reverse-mode sweep from `root`: gradients flow to every leaf that requires grad and add into its
 * `.grad`. The graph is freed as it is walked.
 */
export function backward(root: Tensor, gradient?: Tensor): void {
  if (!root.requiresGrad) {
    throw new Error("backward: this tensor does not require grad; create the inputs with { requiresGrad: true } and compute it outside noGrad()");
  }
  if (gradient === undefined) {
    if (root.size !== 1) {
      throw new Error(`backward: called on a tensor of shape ${fmt(root.shape)} without an upstream gradient; reduce it to a scalar first (e.g. sum() or mean()) or pass backward(gradient)`);
    }
    gradient = new Tensor(allocate(root.dtype, 1).fill(1), root.shape);
  } else if (!sameShape(gradient.shape, root.shape)) {
    throw new Error(`backward: gradient of shape ${fmt(gradient.shape)} does not match the tensor's shape ${fmt(root.shape)}`);
  }

  // Topological order by an iterative depth-first search (graphs can be deeper than the call stack).
  const order: Tensor[] = [];
  const seen = new Set<Tensor>([root]);
  const stack: [Tensor, number][] = [[root, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const inputs = top[0].node?.inputs ?? [];
    if (top[1] < inputs.length) {
      const next = inputs[top[1]++];
      if (next.requiresGrad && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(top[0]);
      stack.pop();
    }
  }

  const grads = new Map<Tensor, Tensor>([[root, astype(gradient, root.dtype)]]);
  const outer = handedOut;
  handedOut = new Set();
  disabled++;
  try {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      grads.delete(t);
      const node = t.node;
      if (node === null) {
        if (g) accumulateLeaf(t, g);
        continue;
      }
      t.node = freed(node.op);
      if (!g) continue;
      const inputGrads = node.backward(g);
      const inputs = node.inputs;
      for (let k = 0; k < inputs.length; k++) {
        const input = inputs[k];
        const gi = inputGrads[k];
        if (gi && input.requiresGrad) {
          if (!sameShape(gi.shape, input.shape)) {
            throw new Error(`backward: "${node.op}" produced a gradient of shape ${fmt(gi.shape)} for an input of shape ${fmt(input.shape)}`);
          }
          grads.set(input, accumulate(grads.get(input), astype(gi, input.dtype)));
        }
      }
    }
  } finally {
    disabled--;
    handedOut = outer;
  }
}
