// Function transforms in the style of JAX: grad, valueAndGrad, vjp, jvp, jacrev, jacfwd, hessian,
// hvp and customVjp. Each composes with the others to any order: a transform applied inside another
// one (or inside a graph that backward() will walk) records what it computes.
import { allocate } from "../tensor/dtype.js";

import { Tensor, ones, zeros } from "../tensor/tensor.js";
import { enableGrad, gradients, isGradEnabled, noGrad, record } from "./engine.js";
import { mul } from "./elementwise.js";
import { sum } from "./reduce.js";
import { concat, reshape } from "./shape.js";

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

interface Trace {
  /** f's output, with the graph from the targets. */
  out: Tensor;
  /** The tensors f saw in place of the differentiated arguments. */
  targets: Tensor[];
  /**
   * Whether the results must themselves be differentiable: the caller records a graph and f's
   * output depends on a tensor that requires grad outside this transform (an argument that
   * requires grad, as inside an outer grad, or a closed-over weight).
   */
  nested: boolean;
}

/**
 * Runs f with the chosen arguments replaced by tensors to differentiate at. Each enters f through
 * an identity node of its own, so the arguments' own graphs and `.grad` are never touched, and
 * when an argument requires grad the results stay connected to it (a gradient of a gradient).
 */
function trace(f: Fn, args: Tensor[], wanted: number[], op: string): Trace {
  for (const i of wanted) {
    if (!(args[i] instanceof Tensor)) throw new Error(`${op}: argument ${i} must be a Tensor to differentiate with respect to it`);
  }
  const recording = isGradEnabled();
  const inputs = args.map((x, i) => {
    if (!wanted.includes(i)) return x;
    if (recording && x.requiresGrad) return record(x.detach(), "argument", [x], (g) => [g], []);
    const leaf = x.detach();
    leaf.requiresGrad = true;
    return leaf;
  });
  const out = enableGrad(() => f(...inputs));
  if (!(out instanceof Tensor)) throw new Error(`${op}: f must return a Tensor, got ${typeof out}`);
  const targets = wanted.map((i) => inputs[i]);
  const nested = recording && out.requiresGrad && (wanted.some((i) => args[i].requiresGrad) || dependsOnOthers(out, targets));
  return { out, targets, nested };
}

const zerosLike = (t: Tensor) => zeros(t.shape, { dtype: t.dtype });

/** The pullback of a trace: cotangent ↦ one gradient per target (zeros where out does not depend on it). */
function pullback(tr: Trace, cotangent: Tensor, retain: boolean): Tensor[] {
  if (!tr.out.requiresGrad) return tr.targets.map(zerosLike);
  return gradients(tr.out, tr.targets, { gradient: cotangent, createGraph: tr.nested, retainGraph: retain }).grads;
}

/** The output as the caller sees it: a constant unless the results are to be differentiated further. */
function result(tr: Trace): Tensor {
  return tr.nested ? tr.out : tr.out.detach();
}

const argnumsOf = (argnums: number | number[]) => (typeof argnums === "number" ? [argnums] : argnums);

/**
 * A function that returns f's value and its gradient with respect to the chosen arguments, and
 * nothing else: no tensor's `.grad` changes, closed-over tensors included (JAX's semantics).
 * @example const [value, dx] = valueAndGrad((x) => x.square().sum())(tensor([1, 2]));
 */
export function valueAndGrad<A extends number | number[] = number>(f: Fn, options: GradOptions<A> = {}) {
  const argnums: number | number[] = options.argnums ?? 0;
  const wanted = argnumsOf(argnums);
  return (...args: Tensor[]): [Tensor, Grads<A>] => {
    const tr = trace(f, args, wanted, "grad");
    if (tr.out.size !== 1) throw new Error(`grad: f must return a scalar tensor, got shape [${tr.out.shape.join(",")}]; use jacrev or vjp for other outputs`);
    const grads = pullback(tr, ones(tr.out.shape, { dtype: tr.out.dtype }), false);
    return [result(tr), (typeof argnums === "number" ? grads[0] : grads) as Grads<A>];
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

/**
 * f's output at the primals and its pullback: cotangent (of the output's shape) ↦ one gradient per
 * primal, uᵀ·J. The pullback can be called any number of times.
 * @example const [y, pull] = vjp((x) => x.square(), x); pull(ones([3]))  // 2x
 */
export function vjp(f: Fn, ...primals: Tensor[]): [Tensor, (cotangent: Tensor) => Tensor[]] {
  const tr = trace(f, primals, primals.map((_, i) => i), "vjp");
  return [result(tr), (cotangent) => pullback(tr, cotangent, true)];
}

/**
 * f's output at the primals and its directional derivative along the tangents, J·v (forward mode),
 * computed as the derivative of the (linear) pullback u ↦ uᵀ·J: a reverse pass that records its
 * graph, then one more reverse pass through it. See the README for why this rather than per-op
 * tangent rules.
 * @example jvp((x) => x.square(), [x], [v])  // [x², 2x·v]
 */
export function jvp(f: Fn, primals: Tensor[], tangents: Tensor[]): [Tensor, Tensor] {
  if (tangents.length !== primals.length) throw new Error(`jvp: ${primals.length} primals but ${tangents.length} tangents`);
  primals.forEach((p, i) => {
    if (!(tangents[i] instanceof Tensor) || tangents[i].shape.join() !== p.shape.join()) {
      throw new Error(`jvp: tangent ${i} must be a Tensor of the primal's shape [${p.shape.join(",")}]`);
    }
  });
  const tr = trace(f, primals, primals.map((_, i) => i), "jvp");
  const { u, pulled } = linearizedPullback(tr);
  if (u === null) return [result(tr), zerosLike(tr.out)];
  // ⟨uᵀJ, v⟩ over the primals the output depends on; it is linear in u, and its gradient in u is J·v.
  const terms = enableGrad(() => pulled.flatMap((g, i) => (g.requiresGrad ? [sum(mul(g, tangents[i]))] : [])));
  if (terms.length === 0) return [result(tr), zerosLike(tr.out)];
  const inner = enableGrad(() => terms.reduce((s, t) => s.add(t)));
  const [tangent] = gradients(inner, [u], { createGraph: tr.nested }).grads;
  return [result(tr), tangent];
}

/**
 * uᵀ·J recorded as a function of a cotangent leaf u (zeros; its value does not matter, the pullback
 * is linear in it): the gradient in u of ⟨uᵀJ, v⟩ is J·v. u is null when the output is a constant.
 */
function linearizedPullback(tr: Trace): { u: Tensor | null; pulled: Tensor[] } {
  if (!tr.out.requiresGrad) return { u: null, pulled: [] };
  const u = zerosLike(tr.out);
  u.requiresGrad = true;
  return { u, pulled: enableGrad(() => gradients(tr.out, tr.targets, { gradient: u, createGraph: true }).grads) };
}

/** The one-hot tensors of a shape, one per element, in row-major order. */
function basis(like: Tensor): Tensor[] {
  return Array.from({ length: like.size }, (_, i) => {
    const e = allocate(like.dtype, like.size);
    e[i] = 1;
    return new Tensor(e, like.shape);
  });
}

/**
 * The Jacobian of f at x by reverse mode, one pullback per output element: shape
 * [...output.shape, ...x.shape]. The better choice when the output is smaller than the input.
 */
export function jacrev(f: (x: Tensor) => Tensor) {
  return (x: Tensor): Tensor => {
    const tr = trace(f, [x], [0], "jacrev");
    const rows = basis(tr.out).map((e) => reshape(pullback(tr, e, true)[0], [1, ...x.shape]));
    return assemble(rows, 0, [...tr.out.shape, ...x.shape], tr.out.dtype);
  };
}

/**
 * The Jacobian of f at x by forward mode, one jvp per input element: shape
 * [...output.shape, ...x.shape]. The better choice when the input is smaller than the output.
 */
export function jacfwd(f: (x: Tensor) => Tensor) {
  return (x: Tensor): Tensor => {
    // One trace and one recorded pullback, then a reverse pass through it per input element.
    const tr = trace(f, [x], [0], "jacfwd");
    const shape = [...tr.out.shape, ...x.shape];
    const { u, pulled } = linearizedPullback(tr);
    if (u === null || !pulled[0].requiresGrad) return zeros(shape, { dtype: tr.out.dtype });
    const columns = basis(x).map((e) => reshape(gradients(pulled[0], [u], { gradient: e, retainGraph: true, createGraph: tr.nested }).grads[0], [tr.out.size, 1]));
    return assemble(columns, 1, shape, tr.out.dtype);
  };
}

function assemble(parts: Tensor[], axis: number, shape: number[], dtype: Tensor["dtype"]): Tensor {
  if (parts.length === 0) return zeros(shape, { dtype });
  return reshape(parts.length === 1 ? parts[0] : concat(parts, axis), shape);
}

/** The Hessian of scalar-valued f at x, shape [...x.shape, ...x.shape]: the Jacobian of its gradient. */
export function hessian(f: (x: Tensor) => Tensor) {
  return (x: Tensor): Tensor => jacrev(grad(f))(x);
}

/** H·v, the Hessian of scalar-valued f at x times v (x's shape), without forming H: ∇⟨∇f(x), v⟩. */
export function hvp(f: (x: Tensor) => Tensor, x: Tensor, v: Tensor): Tensor {
  if (v.shape.join() !== x.shape.join()) throw new Error(`hvp: v has shape [${v.shape.join(",")}], x has shape [${x.shape.join(",")}]`);
  return grad((t: Tensor) => sum(mul(grad(f)(t), v)))(x);
}

/**
 * A differentiable function from a forward and a backward of your own: `forward(...inputs)` gives
 * the output (it runs without recording), and `backward(g, inputs, output)` gives one gradient per
 * input (null for none). The backward is written with the library's ops, so when a higher order is
 * asked for, what it records is differentiated in turn; a backward on detached values is right to
 * first order only (gradcheck with order 2 finds it).
 * @example const cube = customVjp((x) => x.mul(x).mul(x), (g, [x]) => [g.mul(x.square()).mul(3)]);
 */
export function customVjp(forward: (...inputs: Tensor[]) => Tensor, backward: (g: Tensor, inputs: Tensor[], output: Tensor) => (Tensor | null | undefined)[], options: { name?: string } = {}) {
  const name = options.name ?? "customVjp";
  return (...inputs: Tensor[]): Tensor => {
    const computed = noGrad(() => forward(...inputs));
    if (!(computed instanceof Tensor)) throw new Error(`${name}: forward must return a Tensor, got ${typeof computed}`);
    const out = inputs.includes(computed) ? computed.detach() : computed;
    return record(out, name, inputs, (g) => {
      const gs = backward(g, inputs, out);
      if (!Array.isArray(gs) || gs.length !== inputs.length) {
        throw new Error(`${name}: backward must return an array of ${inputs.length} gradients (one per input, null for none), got ${Array.isArray(gs) ? gs.length : typeof gs}`);
      }
      return gs.map((gi, i) => {
        if (gi === null || gi === undefined) return null;
        if (!(gi instanceof Tensor) || gi.shape.join() !== inputs[i].shape.join()) {
          throw new Error(`${name}: backward's gradient ${i} must be a Tensor of shape [${inputs[i].shape.join(",")}], got ${gi instanceof Tensor ? `[${gi.shape.join(",")}]` : typeof gi}`);
        }
        return gi;
      });
    }, [...inputs, out]);
  };
}

