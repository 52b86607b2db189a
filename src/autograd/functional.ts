import { Tensor } from "../tensor/tensor.js";
import { enableGrad, gradients, isGradEnabled, record } from "./engine.js";

type Fn = (...args: Tensor[]) => Tensor;

export interface GradOptions<A extends number | number[]> {
  /** Which arguments to differentiate with respect to, as in JAX (default 0). */
  argnums?: A;
}

type Grads<A> = A extends number[] ? Tensor[] : Tensor;

/** Whether `root` depends on a leaf that requires grad other than `targets` (a closed-over weight). */
function dependsOnOthers(root: Tensor, targets: readonly Tensor[]): boolean {
  const goal = new Set(targets);
  const seen = new Set<Tensor>([root]);
  const stack = [root];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (t.node === null) {
      if (t.requiresGrad && !goal.has(t)) return true;
      continue;
    }
    if (goal.has(t)) continue;
    for (const x of t.node.inputs) if (x.requiresGrad && !seen.has(x)) (seen.add(x), stack.push(x));
  }
  return false;
}

/**
 * A function that returns f's value and its gradient with respect to the chosen arguments, and
 * nothing else: no tensor's `.grad` changes, closed-over tensors included (JAX's semantics).
 * @example const [value, dx] = valueAndGrad((x) => x.square().sum())(tensor([1, 2]));
 */
export function valueAndGrad<A extends number | number[] = number>(f: Fn, options: GradOptions<A> = {}) {
  const argnums: number | number[] = options.argnums ?? 0;
  const wanted: number[] = typeof argnums === "number" ? [argnums] : argnums;
  return (...args: Tensor[]): [Tensor, Grads<A>] => {
    for (const i of wanted) {
      if (!(args[i] instanceof Tensor)) throw new Error(`grad: argument ${i} must be a Tensor to differentiate with respect to it`);
    }
    // Whether the results must be differentiable: the caller records a graph and an argument
    // requires grad (an outer grad's input, a parameter), or f closes over such a tensor.
    const recording = isGradEnabled();
    // Each differentiated argument enters f through an identity node of its own: the gradient is
    // taken at that node, so the arguments' own graphs and .grad are not touched, and, when the
    // argument requires grad, the gradient stays connected to it (a gradient of a gradient).
    const inputs = args.map((x, i) => {
      if (!wanted.includes(i)) return x;
      if (recording && x.requiresGrad) return record(x.detach(), "argument", [x], (g) => [g], []);
      const leaf = x.detach();
      leaf.requiresGrad = true;
      return leaf;
    });
    const value = enableGrad(() => f(...inputs));
    if (!(value instanceof Tensor) || value.size !== 1) {
      throw new Error(`grad: f must return a scalar tensor, got ${value instanceof Tensor ? `shape [${value.shape.join(",")}]` : typeof value}`);
    }
    const targets = wanted.map((i) => inputs[i]);
    let grads: Tensor[];
    if (!value.requiresGrad) grads = targets.map((t) => new Tensor(new (t.dtype === "float64" ? Float64Array : Float32Array)(t.size), t.shape));
    else {
      const outer = recording && (wanted.some((i) => args[i].requiresGrad) || dependsOnOthers(value, targets));
      grads = gradients(value, targets, { createGraph: outer }).grads;
      if (!outer) {
        value.requiresGrad = false;
        value.node = null;
      }
    }
    return [value, (typeof argnums === "number" ? grads[0] : grads) as Grads<A>];
  };
}

/**
 * A function that returns the gradient of scalar-valued f, in the style of JAX.
 * @example grad((x) => x.square().sum())(tensor([1, 2]))  // [2, 4]
 */
export function grad<A extends number | number[] = number>(f: Fn, options: GradOptions<A> = {}) {
  const vg = valueAndGrad(f, options);
  return (...args: Tensor[]): Grads<A> => vg(...args)[1];
}
