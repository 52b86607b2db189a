import { allocate, dtypeOf, type Data } from "../tensor/dtype.js";
import { fmt, sameShape } from "../tensor/shape.js";
import { Tensor, astype, dense, zeros, type GradNode } from "../tensor/tensor.js";
import { add, cast } from "./elementwise.js";
import { clone } from "./shape.js";

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

/** Run f recording a graph even inside noGrad (what grad() needs to differentiate f). */
export function enableGrad<T>(f: () => T): T {
  const outer = disabled;
  disabled = 0;
  try {
    return f();
  } finally {
    disabled = outer;
  }
}

export function isGradEnabled(): boolean {
  return disabled === 0;
}

function anyRequiresGrad(inputs: readonly Tensor[]): boolean {
  for (let i = 0; i < inputs.length; i++) if (inputs[i].requiresGrad) return true;
  return false;
}

/**
 * Attach to `out` how to send its gradient back to `inputs`, when any of them requires grad.
 * `saved` lists the tensors the backward reads (by default the inputs; pass [] when it reads none,
 * and add `out` when it reads the result): their storages' versions are recorded now, and
 * backward() refuses to run this op's backward if one has been written in place since.
 */
export function record(out: Tensor, op: string, inputs: readonly Tensor[], backward: GradNode["backward"], saved: readonly Tensor[] = inputs): Tensor {
  if (disabled === 0 && anyRequiresGrad(inputs)) {
    out.requiresGrad = true;
    out.node = saved.length === 0 ? { op, inputs, backward } : { op, inputs, backward, saved, versions: saved.map((t) => t.storage.version) };
  }
  return out;
}

/** Throws when a tensor the node saved was written in place after the op ran. */
function checkVersions(node: GradNode): void {
  const { saved, versions } = node;
  if (saved === undefined || versions === undefined) return;
  for (let i = 0; i < saved.length; i++) {
    const now = saved[i].storage.version;
    if (now !== versions[i]) {
      throw new Error(
        `backward: a tensor of shape ${fmt(saved[i].shape)} that "${node.op}" saved for its gradient was modified in place after "${node.op}" ran ` +
          `(its storage's version was ${versions[i]}, now ${now}: an optimizer step, loadParameters or assign()); ` +
          `run the forward pass again after the update, or give "${node.op}" a copy (x.clone()) of the tensor you write into`,
      );
    }
  }
}

/** What a node becomes once backward() has run it: any further use says so. */
interface FreedNode extends GradNode {
  readonly freed: true;
}

function freed(op: string): FreedNode {
  return {
    op,
    inputs: [],
    freed: true,
    backward() {
      throw freedError(op);
    },
  };
}

function freedError(op: string): Error {
  return new Error(`backward: the graph through "${op}" was freed by an earlier backward(); recompute the forward pass, or pass { retainGraph: true } to the earlier one`);
}

/** prev + g as a new tensor, or a copy of g when there is no prev: never an alias of either. */
function accumulate(prev: Tensor | undefined | null, g: Tensor): Tensor {
  const out = allocate(g.dtype, g.size);
  const b = dense(g);
  if (!prev) {
    out.set(b);
  } else {
    const a = dense(prev);
    for (let i = 0, n = out.length; i < n; i++) out[i] = a[i] + b[i];
  }
  return new Tensor(out, g.shape);
}

/** The gradient flowing into a tensor, summed over its uses: the first use's gradient is kept as it is. */
function sum2(prev: Tensor | undefined, g: Tensor): Tensor {
  return prev === undefined ? g : accumulate(prev, g);
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

/** t.grad (+)= g, into t's persistent buffer when it has one; `.grad` never aliases another tensor. */
function accumulateLeaf(t: Tensor, g: Tensor): void {
  const buffer = buffers.get(t);
  const prev = t.grad;
  if (buffer === undefined || (prev !== null && (prev.size !== buffer.size || prev.dtype !== buffer.dtype))) {
    t.grad = accumulate(prev, g);
    return;
  }
  const out = buffer.data;
  const b = dense(g);
  if (prev === null) {
    if (b !== out) out.set(b);
  } else {
    // In place when prev is the buffer itself; each element is read before it is written.
    const a = dense(prev);
    for (let i = 0, n = out.length; i < n; i++) out[i] = a[i] + b[i];
  }
  t.grad = buffer;
}

/** During a sweep toward chosen targets (see gradients), the tensors on a path to one of them. */
let wanted: Set<Tensor> | null = null;

/**
 * For ops' backward functions: whether the current sweep needs the gradient of `input`. In
 * backward() that is `input.requiresGrad`; in grad() and gradients(), only tensors on a path to a
 * requested input, so that no work goes into gradients nobody asked for.
 */
export function needsGrad(input: Tensor): boolean {
  return wanted === null ? input.requiresGrad : wanted.has(input);
}

/** Tensors that `root` depends on through recorded ops, inputs before the tensors computed from them. */
function topologicalOrder(root: Tensor): Tensor[] {
  // An iterative depth-first search: graphs can be deeper than the call stack.
  const order: Tensor[] = [];
  const seen = new Set<Tensor>([root]);
  const stack: [Tensor, number][] = [[root, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const node = top[0].node;
    if (node !== null && (node as Partial<FreedNode>).freed) throw freedError(node.op);
    const inputs = node?.inputs ?? [];
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
  return order;
}

function seedGradient(root: Tensor, gradient: Tensor | undefined, op: string): Tensor {
  if (!root.requiresGrad) {
    throw new Error(`${op}: this tensor does not require grad; create the inputs with { requiresGrad: true } and compute it outside noGrad()`);
  }
  if (gradient === undefined) {
    if (root.size !== 1) {
      throw new Error(`${op}: called on a tensor of shape ${fmt(root.shape)} without an upstream gradient; reduce it to a scalar first (e.g. sum() or mean()) or pass backward(gradient)`);
    }
    return new Tensor(allocate(root.dtype, 1).fill(1), root.shape);
  }
  if (!sameShape(gradient.shape, root.shape)) {
    throw new Error(`${op}: gradient of shape ${fmt(gradient.shape)} does not match the tensor's shape ${fmt(root.shape)}`);
  }
  return astype(gradient, root.dtype);
}

/**
 * Runs the backward functions of `order` (reverse topological), from `root`'s gradient. Each
 * gradient that reaches a tensor is handed to `arrive`, and flows on through its node. Only tensors
 * in `relevant` (all, when null) get gradients. Without createGraph the backward functions run as
 * plain kernels; with it they record a graph of their own (the gradients are differentiable).
 * With `free`, the nodes run are freed.
 */
function sweep(order: Tensor[], root: Tensor, seed: Tensor, relevant: Set<Tensor> | null, createGraph: boolean, free: boolean, arrive: (t: Tensor, g: Tensor) => void): void {
  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  const outerWanted = wanted;
  const outerDisabled = disabled;
  wanted = relevant;
  disabled = createGraph ? 0 : disabled + 1;
  try {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      grads.delete(t);
      if (g === undefined) continue;
      arrive(t, g);
      const node = t.node;
      if (node === null) continue;
      if (relevant !== null && !node.inputs.some((x) => relevant.has(x))) continue;
      checkVersions(node);
      if (free) t.node = freed(node.op);
      const inputGrads = node.backward(g);
      const inputs = node.inputs;
      for (let k = 0; k < inputs.length; k++) {
        const input = inputs[k];
        const gi = inputGrads[k];
        if (gi && input.requiresGrad && (relevant === null || relevant.has(input))) {
          if (!sameShape(gi.shape, input.shape)) {
            throw new Error(`backward: "${node.op}" produced a gradient of shape ${fmt(gi.shape)} for an input of shape ${fmt(input.shape)}`);
          }
          const prev = grads.get(input);
          if (createGraph) {
            const gc = cast(gi, input.dtype);
            grads.set(input, prev === undefined ? gc : add(prev, gc));
          } else grads.set(input, sum2(prev, astype(gi, input.dtype)));
        }
      }
    }
  } finally {
    disabled = outerDisabled;
    wanted = outerWanted;
  }
}

export interface BackwardOptions {
  /**
   * Record the backward pass as a graph, so that the gradients are themselves differentiable
   * (PyTorch's create_graph=True). The graph is then kept, not freed.
   */
  createGraph?: boolean;
  /** Keep the graph for another backward pass (implied by createGraph). */
  retainGraph?: boolean;
}

/**
 * Reverse-mode sweep from `root`: gradients flow to every leaf that requires grad and add into its
 * `.grad`. The graph is freed as it is walked, unless `createGraph`.
 */
export function backward(root: Tensor, gradient?: Tensor, options: BackwardOptions = {}): void {
  const createGraph = options.createGraph ?? false;
  const seed = seedGradient(root, gradient, "backward");
  const order = topologicalOrder(root);
  const outer = handedOut;
  handedOut = createGraph ? null : new Set();
  try {
    sweep(order, root, seed, null, createGraph, !(createGraph || (options.retainGraph ?? false)), (t, g) => {
      if (t.node !== null) return;
      if (createGraph) t.grad = t.grad === null ? clone(g) : add(t.grad, g);
      else accumulateLeaf(t, g);
    });
  } finally {
    handedOut = outer;
  }
}

export interface Gradients {
  /** d root / d target for each target (zeros where root does not depend on it); fresh tensors. */
  grads: Tensor[];
}

export interface GradientsOptions extends BackwardOptions {
  /** The upstream gradient (a cotangent of root's shape); default 1 for a scalar root. */
  gradient?: Tensor;
}

/**
 * The gradients of `root` with respect to `targets` only, as torch.autograd.grad: no tensor's
 * `.grad` is touched and no work goes into other gradients. Targets may be leaves or tensors
 * computed by ops. Nodes between the targets and root are freed unless `retainGraph` or
 * `createGraph`; the rest of the graph is left as it is.
 */
export function gradients(root: Tensor, targets: readonly Tensor[], options: GradientsOptions = {}): Gradients {
  const createGraph = options.createGraph ?? false;
  const seed = seedGradient(root, options.gradient, "gradients");
  const order = topologicalOrder(root);
  const goal = new Set(targets);
  const relevant = new Set<Tensor>();
  for (const t of order) {
    if (goal.has(t) || (t.node !== null && t.node.inputs.some((x) => relevant.has(x)))) relevant.add(t);
  }
  const found = new Map<Tensor, Tensor>();
  const outer = handedOut;
  handedOut = null; // no op may write into a leaf's persistent gradient buffer
  try {
    sweep(order, root, seed, relevant, createGraph, !(createGraph || (options.retainGraph ?? false)), (t, g) => {
      if (goal.has(t)) found.set(t, g);
    });
  } finally {
    handedOut = outer;
  }
  const grads = targets.map((t) => {
    const g = found.get(t);
    if (g === undefined) return zeros(t.shape, { dtype: t.dtype });
    return createGraph ? clone(g) : accumulate(null, g);
  });
  return { grads };
}
