import { allocate } from "../tensor/dtype.js";
import { Tensor } from "../tensor/tensor.js";
import { backward } from "./engine.js";

type Fn = (...args: Tensor[]) => Tensor;

export interface GradOptions<A extends number | number[]> {
  /** Which arguments to differentiate with respect to, as in JAX (default 0). */
  argnums?: A;
}

type Grads<A> = A extends number[] ? Tensor[] : Tensor;

/**
 * A function that returns f's value and its gradient with respect to the chosen arguments.
 * @example const [value, dx] = valueAndGrad((x) => x.square().sum())(tensor([1, 2]));
 */
export function valueAndGrad<A extends number | number[] = number>(f: Fn, options: GradOptions<A> = {}) {
  const argnums: number | number[] = options.argnums ?? 0;
  const wanted: number[] = typeof argnums === "number" ? [argnums] : argnums;
  return (...args: Tensor[]): [Tensor, Grads<A>] => {
    for (const i of wanted) {
      if (!(args[i] instanceof Tensor)) throw new Error(`grad: argument ${i} must be a Tensor to differentiate with respect to it`);
    }
    // Fresh leaves that share the callers' data, so their own .grad is never touched.
    const inputs = args.map((x, i) => (wanted.includes(i) ? new Tensor(x.data, x.shape, true) : x));
    const value = f(...inputs);
    if (!(value instanceof Tensor) || value.size !== 1) {
      throw new Error(`grad: f must return a scalar tensor, got ${value instanceof Tensor ? `shape [${value.shape.join(",")}]` : typeof value}`);
    }
    if (value.requiresGrad) backward(value);
    const grads = wanted.map((i) => inputs[i].grad ?? new Tensor(allocate(inputs[i].dtype, inputs[i].size), inputs[i].shape));
    value.requiresGrad = false;
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
