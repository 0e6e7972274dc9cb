// What PKM and PEER share: the resolved config, a query network over the input, product sub-keys and
// the last routing decision. A subclass adds what the retrieved indices select (value rows, experts)
// and its forward, which starts with `retrieve(x)`: eq. 1 of both papers, the top-k keys per head.
import { productKeyTopk, reshape, shapeSize, type Rng, type RoutingSource, type Tensor } from '@myriad/core';
import { Module, param } from '../module.js';
import { normalInit, requireLastDim } from '../init.js';
import { Linear } from '../layers/linear.js';
import type { BatchNorm1d } from '../layers/batch-norm.js';
import type { LayerNorm } from '../layers/layer-norm.js';
import { createQueryNorm, normalizeQueries, type QueryNorm } from './query-network.js';
import type { LazyRoutingDecision } from './routing-decision.js';

/** The hyperparameters every product-key layer has, resolved. */
export interface ProductKeyConfig {
  dim: number;
  dimOut: number;
  heads: number;
  /** Sub-keys per half. */
  numKeys: number;
  /** numKeys²: the experts (memory slots) a key indexes. */
  numExperts: number;
  topK: number;
  dimKey: number;
  queryNorm: QueryNorm;
}

/** What `retrieve` found for x [..., dim]: its leading dims, x as [tokens, dim], and each head's top-k keys [tokens, heads, topK]. */
interface Retrieval {
  lead: number[];
  tokens: number;
  xf: Tensor;
  scores: Tensor;
  indices: Tensor;
}

/** Base of the product-key routing layers: x [..., dim] → [..., dimOut] through the top-k of numKeys² keys per head. */
export abstract class ProductKeyLayer<C extends ProductKeyConfig> extends Module implements RoutingSource {
  /** `query.weight` [heads·dimKey, dim], no bias. */
  query: Linear;
  /** BatchNorm1d(heads·dimKey) | LayerNorm(dimKey) | null. */
  queryNorm: BatchNorm1d | LayerNorm | null;
  /** Product sub-keys, N(0, 2/dimKey) at init so each half-score has unit variance for unit-variance queries. */
  keys: Tensor;
  /** Indices and gates of the last forward, [tokens, heads, topK] (`await lastRouting.read()` on any backend). */
  lastRouting: LazyRoutingDecision | null = null;
  /** The resolved options. */
  readonly config: Readonly<C>;

  /** Draws query.weight, then the sub-keys of `keyShape`, from `rng`. */
  protected constructor(
    private readonly layerName: string,
    config: Readonly<C>,
    keyShape: readonly number[],
    rng: Rng,
    dtype: 'float32' | 'float64',
  ) {
    super();
    const { dim, heads, dimKey } = config;
    this.config = config;
    this.query = new Linear(dim, heads * dimKey, { bias: false, rng, dtype });
    this.queryNorm = createQueryNorm(layerName, config.queryNorm, heads, dimKey, dtype);
    this.keys = param(normalInit(keyShape, Math.sqrt(2 / dimKey), rng, dtype));
  }

  // The config's values under the names the layers have always had.
  get dim(): number {
    return this.config.dim;
  }
  get dimOut(): number {
    return this.config.dimOut;
  }
  get heads(): number {
    return this.config.heads;
  }
  get numKeys(): number {
    return this.config.numKeys;
  }
  get numExperts(): number {
    return this.config.numExperts;
  }
  get topK(): number {
    return this.config.topK;
  }
  get dimKey(): number {
    return this.config.dimKey;
  }

  /** Checks x [..., dim], normalises its queries and finds each head's top-k keys (exact, product-key search). */
  protected retrieve(x: Tensor): Retrieval {
    const { dim, heads, dimKey, topK } = this.config;
    requireLastDim(`${this.layerName}.forward`, x, 'dim', dim);
    const lead = x.shape.slice(0, -1);
    const tokens = shapeSize(lead);
    const xf = reshape(x, [tokens, dim]);
    const q = normalizeQueries(this.queryNorm, this.query.forward(xf), heads, dimKey); // [T, H, dk]
    return { lead, tokens, xf, ...productKeyTopk(q, this.keys, topK) };
  }
}
