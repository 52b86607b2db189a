import { Tensor } from "../tensor/tensor.js";
import { enableGrad, gradients, isGradEnabled } from "./engine.js";

type Fn = (...args: Tensor[]) => Tensor;

export interface GradOptions<A extends number | number[]> {
  /** Which arguments to differentiate with respect to, as in JAX (default 0). */
  argnums?: A;
}

type Grads<A> = A extends number[] ? Tensor[] : Tensor;

/**
 * Marks a result of grad() that depends on tensors an enclosing computation differentiates with
 * respect to (`dependsOn`): differentiating through it would need gradients of gradients, which
 * are not implemented, so it carries a node that refuses, instead of acting as a constant.
 */
function refuseSecondOrder(t: Tensor, dependsOn: readonly Tensor[], what: string): void {
  t.requiresGrad = true;
  t.node = {
    op: "grad",
    inputs: dependsOn,
    backward() {
      throw new Error(
        `grad: differentiating through ${what} of grad()/valueAndGrad() (a gradient of a gradient) is not supported yet; ` +
          `wrap the inner call in noGrad(() => …) or .detach() its result to use it as a constant`,
      );
    },
  };
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
    // Fresh leaves over the callers' storage, so the arguments' own graphs and .grad are not touched.
    const inputs = args.map((x, i) => {
      if (!wanted.includes(i)) return x;
      const leaf = x.detach();
      leaf.requiresGrad = true;
      return leaf;
    });
    const traced = isGradEnabled(); // whether the caller records a graph that could go through the results
    const value = enableGrad(() => f(...inputs));
    if (!(value instanceof Tensor) || value.size !== 1) {
      throw new Error(`grad: f must return a scalar tensor, got ${value instanceof Tensor ? `shape [${value.shape.join(",")}]` : typeof value}`);
    }
    const targets = wanted.map((i) => inputs[i]);
    let grads: Tensor[];
    let others: Tensor[] = [];
    if (value.requiresGrad) ({ grads, others } = gradients(value, targets));
    else grads = targets.map((t) => new Tensor(new (t.dtype === "float64" ? Float64Array : Float32Array)(t.size), t.shape));
    value.requiresGrad = false;
    value.node = null;
    const outer = [...wanted.map((i) => args[i]).filter((x) => x.requiresGrad), ...others];
    if (outer.length > 0 && traced) {
      refuseSecondOrder(value, outer, "the value");
      for (const g of grads) refuseSecondOrder(g, outer, "a gradient");
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
