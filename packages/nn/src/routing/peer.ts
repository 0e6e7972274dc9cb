// PEER, Parameter Efficient Expert Retrieval (He 2024, "Mixture of A Million Experts").
// N = numKeys² singleton experts eᵢ(x) = σ(uᵢᵀx)·vᵢ, one hidden neuron each: uᵢ = down[i], vᵢ = up[i].
// Per head h:  qₕ = queryNorm(W_q·x)ₕ
//              I = top-k indices of qₕ·K over the product keys K (shared by all heads)   (eq. 1)
//              g = scoreFn(qₕ·K_I)   (softmax or sigmoid over the k scores)             (eq. 2)
//              fₕ(x) = Σ_{i∈I} gᵢ·eᵢ(x)                                                 (eq. 3)
// y = Σₕ fₕ(x) (eq. 4). With topK = 1 and softmax, g = 1: an MLP of `heads` hidden neurons.
import { expertMix, reshape, sigmoid, softmax, type Tensor } from '@myriad/core';
import type { InitOptions } from '../module.js';
import { initDType, initRng } from '../init.js';
import { Embedding } from '../layers/embedding.js';
import { activationFn, type Activation } from '../layers/feed-forward.js';
import { checkQueryNorm, type QueryNorm } from './query-network.js';
import { checkProductKeyOptions, routingDecision, sqrtExperts } from './routing-decision.js';
import { ProductKeyLayer, type ProductKeyConfig } from './product-key-layer.js';

/** How a head turns its k retrieval scores into gates. */
export type ScoreFn = 'softmax' | 'sigmoid';

export interface PEEROptions extends InitOptions {
  dim: number;
  /** Output size (default dim). */
  dimOut?: number;
  /** Retrieval heads sharing one set of product keys (default 8). */
  heads?: number;
  /** Number of singleton experts, a perfect square (numKeys² product keys). */
  numExperts: number;
  /** Experts per head (default 16). */
  topK?: number;
  /** Query size per head, even (default 128). */
  dimKey?: number;
  /** Default 'batch'. */
  queryNorm?: QueryNorm;
  /** Activation σ of the expert's hidden neuron (default 'gelu', exact). */
  activation?: Activation;
  /** Default 'softmax'. */
  scoreFn?: ScoreFn;
}

/** PEER's options resolved once: defaults filled in, values checked, numKeys = √numExperts. */
export interface PEERConfig extends ProductKeyConfig {
  activation: Activation;
  scoreFn: ScoreFn;
}

/** The defaults of `PEEROptions` applied and every value checked (a RangeError names the bad one). */
export function resolvePEEROptions(options: PEEROptions): Readonly<PEERConfig> {
  const {
    dim,
    dimOut = dim,
    heads = 8,
    numExperts,
    topK = 16,
    dimKey = 128,
    queryNorm = 'batch',
    activation = 'gelu',
    scoreFn = 'softmax',
  } = options;
  const numKeys = sqrtExperts('PEER', numExperts);
  checkProductKeyOptions('PEER', { dim, dimOut, heads, numKeys, topK, dimKey });
  if (scoreFn !== 'softmax' && scoreFn !== 'sigmoid')
    throw new RangeError(`PEER: unknown scoreFn '${String(scoreFn)}'; expected softmax or sigmoid`);
  activationFn(activation, 'PEER'); // throws naming the valid activations
  checkQueryNorm('PEER', queryNorm);
  return Object.freeze({ dim, dimOut, heads, numExperts, numKeys, topK, dimKey, queryNorm, activation, scoreFn });
}

/** Mean of act(z)² for z ~ N(0, 1): the second moment a unit-variance pre-activation keeps. */
const ACT_SECOND_MOMENT: Readonly<Record<Activation, number>> = { gelu: 0.4252, relu: 0.5, silu: 0.3557, tanh: 0.3943 };

/** PEER layer: x [..., dim] → [..., dimOut], each head mixing topK of numExperts single-neuron experts. */
export class PEER extends ProductKeyLayer<PEERConfig> {
  // query, queryNorm, keys [2, numKeys, dimKey/2] (shared by all heads), config and lastRouting: ProductKeyLayer.
  /** `down.weight` [numExperts, dim]: uᵢ, the expert's input weights (row-sparse gradient). */
  down: Embedding;
  /** `up.weight` [numExperts, dimOut]: vᵢ, the expert's output weights (row-sparse gradient). */
  up: Embedding;

  /**
   * Init for unit scale (the paper leaves it open): keys N(0, 2/dimKey), so a half-score has unit
   * variance for unit queries; down N(0, 1/dim), so uᵢᵀx has unit variance for unit x; up N(0, s²)
   * with s² = 1 / (heads · E[act(z)²] · Σg²), where Σg² over a head's k gates is 1/k for softmax
   * (near-uniform at init) and k for sigmoid (top-k scores are large, g ≈ 1). Then Var(y) ≈ Var(x).
   */
  constructor(options: PEEROptions) {
    const config = resolvePEEROptions(options);
    const { dim, dimOut, heads, numExperts, numKeys, topK, dimKey, activation, scoreFn } = config;
    const rng = initRng(options);
    const dtype = initDType(options);
    super('PEER', config, [2, numKeys, dimKey / 2], rng, dtype);
    this.down = new Embedding(numExperts, dim, { std: 1 / Math.sqrt(dim), rng, dtype });
    const gateSquares = scoreFn === 'softmax' ? 1 / topK : topK;
    this.up = new Embedding(numExperts, dimOut, { std: 1 / Math.sqrt(heads * ACT_SECOND_MOMENT[activation] * gateSquares), rng, dtype });
  }

  get activation(): Activation {
    return this.config.activation;
  }
  get scoreFn(): ScoreFn {
    return this.config.scoreFn;
  }

  /** x [..., dim] → [..., dimOut]. */
  forward(x: Tensor): Tensor {
    const { dimOut, heads, topK: k, scoreFn } = this.config;
    const { lead, tokens, xf, scores, indices } = this.retrieve(x); // eq. 1: [T, H, k]
    const g = scoreFn === 'softmax' ? softmax(scores, -1) : sigmoid(scores); // eq. 2
    const experts = reshape(indices, [tokens, heads * k]);
    const y = this.mixExperts(xf, experts, reshape(g, [tokens, heads * k])); // eqs. 3–4, Σₕ Σᵢ gᵢ·σ(uᵢᵀx)·vᵢ: [T, dimOut]
    this.lastRouting = routingDecision(indices, g, tokens, heads, k);
    return reshape(y, [...lead, dimOut]);
  }

  /**
   * Σᵢ gᵢ·σ(uᵢᵀx)·vᵢ over each token's chosen experts (uᵢ = down[i], vᵢ = up[i]): core's expertMix, one
   * fused pass on the CPU backend that never copies the chosen rows; rowDots + embeddingBag kernels,
   * which read the rows in place too, on other backends.
   */
  protected mixExperts(xf: Tensor, experts: Tensor, gates: Tensor): Tensor {
    return expertMix(xf, this.down.weight, this.up.weight, experts, gates, this.config.activation);
  }
}
