// The seed model of docs/derivation.md ("The model", seed part 1): decoder f(z) = σ(l(z)), encoder g(x).
import { noGrad } from "../autograd/index.js";
import { MLP, type Activation } from "../nn/layers.js";
import { Random } from "../tensor/random.js";
import { Tensor } from "../tensor/tensor.js";
import { slice } from "../autograd/index.js";
import type { DType } from "../tensor/dtype.js";

export interface VaeConfig {
  /** D, pixels per image (784). */
  inputSize: number;
  /** Hidden units of the one hidden layer of encoder and decoder (the seed's 500). */
  hidden: number;
  /** d, the latent size (2). */
  latent: number;
  /** The encoder's σ²: a fixed number (the seed's 0.01), or "learned" (it outputs a log-variance too). */
  encoderVariance: number | "learned";
  activation: Activation;
}

export const seedConfig: VaeConfig = { inputSize: 784, hidden: 500, latent: 2, encoderVariance: 0.01, activation: "tanh" };

export interface Posterior {
  /** g(x), [B, d]. */
  mean: Tensor;
  /** σ²: the fixed number, or log σ² per dimension [B, d] when learned. */
  variance: number | Tensor;
}

/** Encoder D → H → d (or 2d when the variance is learned), decoder d → H → D logits; tanh between. */
export class VAE {
  readonly config: VaeConfig;
  readonly encoder: MLP;
  readonly decoder: MLP;

  constructor(config: Partial<VaeConfig> = {}, options: { seed?: number; rng?: Random; dtype?: DType } = {}) {
    this.config = { ...seedConfig, ...config };
    const { inputSize: D, hidden: H, latent: d, encoderVariance, activation } = this.config;
    if (encoderVariance !== "learned" && !(typeof encoderVariance === "number" && encoderVariance > 0)) {
      throw new Error(`VAE: encoderVariance must be a positive number or "learned", got ${encoderVariance}`);
    }
    for (const [name, v] of Object.entries({ inputSize: D, hidden: H, latent: d })) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`VAE: ${name} must be a positive integer, got ${v}`);
    }
    const rng = options.rng ?? new Random(options.seed ?? 0);
    const init = { rng, dtype: options.dtype };
    this.encoder = new MLP([D, H, encoderVariance === "learned" ? 2 * d : d], activation, init);
    this.decoder = new MLP([d, H, D], activation, init);
  }

  /** q(z|x) = N(z; g(x), σ²I): g(x) and σ² for a batch x [B, D]. */
  encode(x: Tensor): Posterior {
    const out = this.encoder.forward(x);
    const d = this.config.latent;
    if (this.config.encoderVariance === "learned") return { mean: slice(out, 0, d, 1), variance: slice(out, d, 2 * d, 1) };
    return { mean: out, variance: this.config.encoderVariance };
  }

  /** The logits l(z) [B, D] of p(x|z) = Π_j Bernoulli(x_j; σ(l_j(z))). */
  decodeLogits(z: Tensor): Tensor {
    return this.decoder.forward(z);
  }

  /** f(z) = σ(l(z)), the pixel probabilities, without recording a graph. */
  decode(z: Tensor): Tensor {
    return noGrad(() => this.decodeLogits(z).sigmoid());
  }

  setParameter(name: string, t: Tensor): void {
    const [part, ...rest] = name.split(".");
    if (part !== "encoder" && part !== "decoder") throw new Error(`VAE: no parameter named "${name}"`);
    this[part].setParameter(rest.join("."), t);
  }

  /** Parameters by name, as a PyTorch state_dict: encoder.layers.0.weight, …, decoder.layers.1.bias. */
  namedParameters(): Map<string, Tensor> {
    return new Map([...this.encoder.namedParameters("encoder."), ...this.decoder.namedParameters("decoder.")]);
  }
}
