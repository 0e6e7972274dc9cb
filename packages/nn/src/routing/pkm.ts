// Product-key memory (Lample et al. 2019, "Large Memory Layers with Product Keys").
// Per head h:  q = queryNorm(W_q·x)ₕ;   I = top-k indices of q·K over N = numKeys² product keys (exact, §3.2)
//              w = softmax(q·K_I)                                   (eq. 2)
//              m(x) = Σ_{i∈I} wᵢ·vᵢ                                  (eq. 3)
// and the heads' outputs are summed (§3.3, multi-head memory).
import { indexSelect, matmul, reshape, softmax, shapeSize, type RoutingDecision, type RoutingSource, type Tensor } from '@myriad/core';
import { Module, param, type InitOptions } from '../module.js';
import { initDType, initRng, normalInit, requireLastDim } from '../init.js';
import { Embedding } from '../layers/embedding.js';
import { Linear } from '../layers/linear.js';
import type { BatchNorm1d } from '../layers/batch-norm.js';
import type { LayerNorm } from '../layers/layer-norm.js';
import { productKeyTopk } from './product-keys.js';
import { createQueryNorm, normalizeQueries, type QueryNorm } from './query-network.js';
import { checkProductKeyOptions, routingDecision } from './routing-decision.js';

export interface PKMOptions extends InitOptions {
  dim: number;
  /** Size of the value rows (default dim). */
  dimOut?: number;
  /** Retrieval heads, each with its own keys (default 4). */
  heads?: number;
  /** Sub-keys per half: the memory has numKeys² slots. */
  numKeys: number;
  /** Slots read per head (default 32). */
  topK?: number;
  /** Query size per head, even (default 128). */
  dimKey?: number;
  /** Default 'batch'. */
  queryNorm?: QueryNorm;
}

/** Product-key memory layer: x [..., dim] → [..., dimOut], reading topK of numKeys² value rows per head. */
export class PKM extends Module implements RoutingSource {
  /** `query.weight` [heads·dimKey, dim], no bias. */
  query: Linear;
  /** BatchNorm1d(heads·dimKey) | LayerNorm(dimKey) | null. */
  queryNorm: BatchNorm1d | LayerNorm | null;
  /** Sub-keys [heads, 2, numKeys, dimKey/2]: key (i, j) of head h is [keys[h,0,i] ; keys[h,1,j]]. */
  keys: Tensor;
  /** `values.weight` [numKeys², dimOut]; gradients are row-sparse. */
  values: Embedding;
  /** Indices and softmax weights of the last forward, [tokens, heads, topK]. */
  lastRouting: RoutingDecision | null = null;

  readonly dim: number;
  readonly dimOut: number;
  readonly heads: number;
  readonly numKeys: number;
  readonly numExperts: number;
  readonly topK: number;
  readonly dimKey: number;

  /**
   * A memory of numKeys² rows. Init for unit scale: keys N(0, 2/dimKey), so each half-score q₁·cᵢ has
   * unit variance for unit-variance queries; values as `valueStd` below.
   */
  constructor(options: PKMOptions) {
    super();
    const { dim, dimOut = dim, heads = 4, numKeys, topK = 32, dimKey = 128, queryNorm = 'batch' } = options;
    checkProductKeyOptions('PKM', { dim, dimOut, heads, numKeys, topK, dimKey });
    this.dim = dim;
    this.dimOut = dimOut;
    this.heads = heads;
    this.numKeys = numKeys;
    this.numExperts = numKeys * numKeys;
    this.topK = topK;
    this.dimKey = dimKey;
    const rng = initRng(options);
    const dtype = initDType(options);
    this.query = new Linear(dim, heads * dimKey, { bias: false, rng, dtype });
    this.queryNorm = createQueryNorm('PKM', queryNorm, heads, dimKey, dtype);
    this.keys = param(normalInit([heads, 2, numKeys, dimKey / 2], Math.sqrt(2 / dimKey), rng, dtype));
    this.values = new Embedding(this.numExperts, dimOut, { std: valueStd(heads, topK), rng, dtype });
  }

  /** x [..., dim] → [..., dimOut]. */
  forward(x: Tensor): Tensor {
    const { dim, heads, dimKey, topK: k } = this;
    requireLastDim('PKM.forward', x, 'dim', dim);
    const lead = x.shape.slice(0, -1);
    const tokens = shapeSize(lead);
    const q = normalizeQueries(this.queryNorm, this.query.forward(reshape(x, [tokens, dim])), heads, dimKey); // [T, H, dk]
    const { scores, indices } = productKeyTopk(q, this.keys, k); // [T, H, k]
    const w = softmax(scores, -1); // eq. 2
    const v = indexSelect(this.values.weight, 0, reshape(indices, [tokens, heads * k])); // [T, H·k, dimOut], sparse grad
    const y = matmul(reshape(w, [tokens, 1, heads * k]), v); // eq. 3, summed over heads: [T, 1, dimOut]
    this.lastRouting = routingDecision(indices, w, tokens, heads, k);
    return reshape(y, [...lead, this.dimOut]);
  }
}

/**
 * Value std for unit-scale output: with near-uniform softmax weights (1/k each) y sums heads·k rows
 * weighted 1/k, so Var(y) = σ²·heads/k and σ = √(k/heads).
 */
function valueStd(heads: number, topK: number): number {
  return Math.sqrt(topK / heads);
}
