import { linear, type LinearActivation } from "../autograd/index.js";
import { Random } from "../tensor/random.js";
import { Tensor } from "../tensor/tensor.js";
import { allocateParameter, type DType } from "../tensor/dtype.js";

export interface InitOptions {
  rng?: Random;
  dtype?: DType;
}

/** y = x·Wᵀ + b, with W of shape [out, in] and b of shape [out], as torch.nn.Linear. */
export class Linear {
  weight: Tensor;
  bias: Tensor;

  /** PyTorch's default initialization: W and b uniform in ±1/√in. */
  constructor(readonly inFeatures: number, readonly outFeatures: number, options: InitOptions = {}) {
    const rng = options.rng ?? new Random(0);
    const bound = 1 / Math.sqrt(inFeatures);
    const init = (shape: number[]) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const data = allocateParameter(options.dtype === "float64" ? "float64" : "float32", size);
      for (let i = 0; i < size; i++) data[i] = (2 * rng.uniform() - 1) * bound;
      return new Tensor(data, shape, true);
    };
    this.weight = init([outFeatures, inFeatures]);
    this.bias = init([outFeatures]);
  }

  /** act(x·Wᵀ + b), as one fused op. */
  forward(x: Tensor, activation: LinearActivation = "none"): Tensor {
    if (x.ndim !== 2 || x.shape[1] !== this.inFeatures) {
      throw new Error(`Linear(${this.inFeatures}→${this.outFeatures}): input has shape [${x.shape.join(",")}], expected [batch,${this.inFeatures}]`);
    }
    return linear(x, this.weight, this.bias, activation);
  }
}

export type Activation = "tanh" | "relu";

/** Linear layers with an activation between them (none after the last). */
export class MLP {
  readonly layers: Linear[];

  constructor(readonly sizes: readonly number[], readonly activation: Activation = "tanh", options: InitOptions = {}) {
    if (sizes.length < 2) throw new Error(`MLP: needs at least an input and an output size, got [${sizes.join(",")}]`);
    if (activation !== "tanh" && activation !== "relu") throw new Error(`MLP: unknown activation "${activation}"; use "tanh" or "relu"`);
    const rng = options.rng ?? new Random(0);
    this.layers = sizes.slice(1).map((out, i) => new Linear(sizes[i], out, { ...options, rng }));
  }

  forward(x: Tensor): Tensor {
    this.layers.forEach((layer, i) => (x = layer.forward(x, i < this.layers.length - 1 ? this.activation : "none")));
    return x;
  }

  /** Replaces the tensor of a named parameter (see functionalCall). */
  setParameter(name: string, t: Tensor): void {
    const match = /^layers\.(\d+)\.(weight|bias)$/.exec(name);
    const layer = match ? this.layers[Number(match[1])] : undefined;
    if (!match || !layer) throw new Error(`MLP: no parameter named "${name}"`);
    const old = layer[match[2] as "weight" | "bias"];
    if (old.shape.join() !== t.shape.join()) throw new Error(`MLP: ${name} has shape [${old.shape}], got [${t.shape}]`);
    layer[match[2] as "weight" | "bias"] = t;
  }

  /** Parameters by name, as PyTorch's state_dict: layers.0.weight, layers.0.bias, … */
  namedParameters(prefix = ""): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    this.layers.forEach((layer, i) => {
      out.set(`${prefix}layers.${i}.weight`, layer.weight);
      out.set(`${prefix}layers.${i}.bias`, layer.bias);
    });
    return out;
  }
}

export interface Module {
  namedParameters(): Map<string, Tensor>;
  setParameter(name: string, t: Tensor): void;
}

/**
 * Runs fn with some of the module's parameters replaced by the given tensors, then puts the originals
 * back, as torch.func.functional_call: the way to differentiate or gradcheck with respect to weights.
 * @example gradcheck((w) => functionalCall(model, new Map([["encoder.layers.0.weight", w]]), () => loss()), [w0])
 */
export function functionalCall<T>(module: Module, values: Map<string, Tensor>, fn: () => T): T {
  const saved = module.namedParameters();
  for (const [name, t] of values) module.setParameter(name, t);
  try {
    return fn();
  } finally {
    for (const name of values.keys()) module.setParameter(name, saved.get(name)!);
  }
}
