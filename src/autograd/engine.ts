import { allocate } from "../tensor/dtype.js";
import { fmt, sameShape } from "../tensor/shape.js";
import { Tensor, type GradNode } from "../tensor/tensor.js";

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

/** Attach to `out` how to send its gradient back to `inputs`, when any of them requires grad. */
export function record(out: Tensor, op: string, inputs: readonly Tensor[], backward: GradNode["backward"]): Tensor {
  if (disabled === 0 && inputs.some((t) => t.requiresGrad)) {
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

function castLike(g: Tensor, like: Tensor): Tensor {
  if (g.dtype === like.dtype) return g;
  const data = allocate(like.dtype, g.size);
  data.set(g.data);
  return new Tensor(data, g.shape);
}

function accumulate(prev: Tensor | undefined | null, g: Tensor): Tensor {
  if (!prev) return g;
  const out = allocate(prev.dtype, prev.size);
  const a = prev.data;
  const b = g.data;
  for (let i = 0; i < out.length; i++) out[i] = a[i] + b[i];
  return new Tensor(out, prev.shape);
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

  const grads = new Map<Tensor, Tensor>([[root, castLike(gradient, root)]]);
  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      grads.delete(t);
      const node = t.node;
      if (node === null) {
        if (g) t.grad = accumulate(t.grad, g);
        continue;
      }
      t.node = freed(node.op);
      if (!g) continue;
      const inputGrads = node.backward(g);
      node.inputs.forEach((input, k) => {
        const gi = inputGrads[k];
        if (gi && input.requiresGrad) {
          if (!sameShape(gi.shape, input.shape)) {
            throw new Error(`backward: "${node.op}" produced a gradient of shape ${fmt(gi.shape)} for an input of shape ${fmt(input.shape)}`);
          }
          grads.set(input, accumulate(grads.get(input), castLike(gi, input)));
        }
      });
    }
  });
}
