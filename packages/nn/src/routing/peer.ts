// PEER, Parameter Efficient Expert Retrieval (He 2024, "Mixture of A Million Experts").
// N = numKeys² singleton experts eᵢ(x) = σ(uᵢᵀx)·vᵢ, one hidden neuron each: uᵢ = down[i], vᵢ = up[i].
// Per head h:  qₕ = queryNorm(W_q·x)ₕ
//              I = top-k indices of qₕ·K over the product keys K (shared by all heads)   (eq. 1)
//              g = scoreFn(qₕ·K_I)   (softmax or sigmoid over the k scores)             (eq. 2)
//              fₕ(x) = Σ_{i∈I} gᵢ·eᵢ(x)                                                 (eq. 3)
// y = Σₕ fₕ(x) (eq. 4). With topK = 1 and softmax, g = 1: an MLP of `heads` hidden neurons.
import { expertMix, reshape, sigmoid, softmax, shapeSize, type RoutingDecision, type RoutingSource, type Tensor } from '@myriad/core';
import { Module, param, type InitOptions } from '../module.js';
import { initDType, initRng, normalInit, requireLastDim } from '../init.js';
import { Embedding } from '../layers/embedding.js';
import { Linear } from '../layers/linear.js';
import { activationFn, type Activation } from '../layers/feed-forward.js';
import type { BatchNorm1d } from '../layers/batch-norm.js';
import type { LayerNorm } from '../layers/layer-norm.js';
import { productKeyTopk } from './product-keys.js';
import { createQueryNorm, normalizeQueries, type QueryNorm } from './query-network.js';
import { checkProductKeyOptions, routingDecision, sqrtExperts } from './routing-decision.js';

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

/** Mean of act(z)² for z ~ N(0, 1): the second moment a unit-variance pre-activation keeps. */
const ACT_SECOND_MOMENT: Readonly<Record<Activation, number>> = { gelu: 0.4252, relu: 0.5, silu: 0.3557, tanh: 0.3943 };

/** PEER layer: x [..., dim] → [..., dimOut], each head mixing topK of numExperts single-neuron experts. */
export class PEER extends Module implements RoutingSource {
  /** `query.weight` [heads·dimKey, dim], no bias. */
  query: Linear;
  /** BatchNorm1d(heads·dimKey) | LayerNorm(dimKey) | null. */
  queryNorm: BatchNorm1d | LayerNorm | null;
  /** Product sub-keys [2, numKeys, dimKey/2], shared by all heads. */
  keys: Tensor;
  /** `down.weight` [numExperts, dim]: uᵢ, the expert's input weights (row-sparse gradient). */
  down: Embedding;
  /** `up.weight` [numExperts, dimOut]: vᵢ, the expert's output weights (row-sparse gradient). */
  up: Embedding;
  /** Expert indices and gates of the last forward, [tokens, heads, topK]. */
  lastRouting: RoutingDecision | null = null;

  readonly dim: number;
  readonly dimOut: number;
  readonly heads: number;
  readonly numExperts: number;
  readonly numKeys: number;
  readonly topK: number;
  readonly dimKey: number;
  readonly activation: Activation;
  readonly scoreFn: ScoreFn;

  /**
   * Init for unit scale (the paper leaves it open): keys N(0, 2/dimKey), so a half-score has unit
   * variance for unit queries; down N(0, 1/dim), so uᵢᵀx has unit variance for unit x; up N(0, s²)
   * with s² = 1 / (heads · E[act(z)²] · Σg²), where Σg² over a head's k gates is 1/k for softmax
   * (near-uniform at init) and k for sigmoid (top-k scores are large, g ≈ 1). Then Var(y) ≈ Var(x).
   */
  constructor(options: PEEROptions) {
    super();
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
    this.dim = dim;
    this.dimOut = dimOut;
    this.heads = heads;
    this.numExperts = numExperts;
    this.numKeys = numKeys;
    this.topK = topK;
    this.dimKey = dimKey;
    this.activation = activation;
    this.scoreFn = scoreFn;
    const rng = initRng(options);
    const dtype = initDType(options);
    this.query = new Linear(dim, heads * dimKey, { bias: false, rng, dtype });
    this.queryNorm = createQueryNorm('PEER', queryNorm, heads, dimKey, dtype);
    this.keys = param(normalInit([2, numKeys, dimKey / 2], Math.sqrt(2 / dimKey), rng, dtype));
    this.down = new Embedding(numExperts, dim, { std: 1 / Math.sqrt(dim), rng, dtype });
    const gateSquares = scoreFn === 'softmax' ? 1 / topK : topK;
    this.up = new Embedding(numExperts, dimOut, { std: 1 / Math.sqrt(heads * ACT_SECOND_MOMENT[activation] * gateSquares), rng, dtype });
  }

  /** x [..., dim] → [..., dimOut]. */
  forward(x: Tensor): Tensor {
    const { dim, heads, dimKey, topK: k } = this;
    requireLastDim('PEER.forward', x, 'dim', dim);
    const lead = x.shape.slice(0, -1);
    const tokens = shapeSize(lead);
    const xf = reshape(x, [tokens, dim]);
    const q = normalizeQueries(this.queryNorm, this.query.forward(xf), heads, dimKey); // [T, H, dk]
    const { scores, indices } = productKeyTopk(q, this.keys, k); // eq. 1: [T, H, k]
    const g = this.scoreFn === 'softmax' ? softmax(scores, -1) : sigmoid(scores); // eq. 2
    const experts = reshape(indices, [tokens, heads * k]);
    const y = this.mixExperts(xf, experts, reshape(g, [tokens, heads * k])); // eqs. 3–4, Σₕ Σᵢ gᵢ·σ(uᵢᵀx)·vᵢ: [T, dimOut]
    this.lastRouting = routingDecision(indices, g, tokens, heads, k);
    return reshape(y, [...lead, this.dimOut]);
  }

  /**
   * Σᵢ gᵢ·σ(uᵢᵀx)·vᵢ over each token's chosen experts (uᵢ = down[i], vᵢ = up[i]): core's expertMix, one
   * fused pass on the CPU backend that never copies the chosen rows; indexSelect + matmul elsewhere.
   */
  protected mixExperts(xf: Tensor, experts: Tensor, gates: Tensor): Tensor {
    return expertMix(xf, this.down.weight, this.up.weight, experts, gates, this.activation);
  }
}
