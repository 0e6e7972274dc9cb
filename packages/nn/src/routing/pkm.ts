// Product-key memory (Lample et al. 2019, "Large Memory Layers with Product Keys").
// Per head h:  q = queryNorm(W_q·x)ₕ;   I = top-k indices of q·K over N = numKeys² product keys (exact, §3.2)
//              w = softmax(q·K_I)                                   (eq. 2)
//              m(x) = Σ_{i∈I} wᵢ·vᵢ                                  (eq. 3)
// and the heads' outputs are summed (§3.3, multi-head memory).
import { embeddingBag, reshape, softmax, type Tensor } from '@myriad/core';
import type { InitOptions } from '../module.js';
import { initDType, initRng } from '../init.js';
import { Embedding } from '../layers/embedding.js';
import { checkQueryNorm, type QueryNorm } from './query-network.js';
import { checkProductKeyOptions, routingDecision } from './routing-decision.js';
import { ProductKeyLayer, type ProductKeyConfig } from './product-key-layer.js';

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

/** PKM's options resolved once: defaults filled in, values checked. */
export type PKMConfig = ProductKeyConfig;

/** The defaults of `PKMOptions` applied and every value checked (a RangeError names the bad one). */
export function resolvePKMOptions(options: PKMOptions): Readonly<PKMConfig> {
  const { dim, dimOut = dim, heads = 4, numKeys, topK = 32, dimKey = 128, queryNorm = 'batch' } = options;
  checkProductKeyOptions('PKM', { dim, dimOut, heads, numKeys, topK, dimKey });
  checkQueryNorm('PKM', queryNorm);
  return Object.freeze({ dim, dimOut, heads, numKeys, numExperts: numKeys * numKeys, topK, dimKey, queryNorm });
}

/** Product-key memory layer: x [..., dim] → [..., dimOut], reading topK of numKeys² value rows per head. */
export class PKM extends ProductKeyLayer<PKMConfig> {
  // query, queryNorm, keys [heads, 2, numKeys, dimKey/2] (key (i, j) of head h is [keys[h,0,i] ; keys[h,1,j]]),
  // config and lastRouting (softmax weights): ProductKeyLayer.
  /** `values.weight` [numKeys², dimOut]; gradients are row-sparse. */
  values: Embedding;

  /** A memory of numKeys² rows, initialised for unit-scale output (keys: see ProductKeyLayer; values: `valueStd`). */
  constructor(options: PKMOptions) {
    const config = resolvePKMOptions(options);
    const { heads, numKeys, dimKey } = config;
    const rng = initRng(options);
    const dtype = initDType(options);
    super('PKM', config, [heads, 2, numKeys, dimKey / 2], rng, dtype);
    this.values = new Embedding(config.numExperts, config.dimOut, { std: valueStd(heads, config.topK), rng, dtype });
  }

  /** x [..., dim] → [..., dimOut]. */
  forward(x: Tensor): Tensor {
    const { dimOut, heads, topK: k } = this.config;
    const { lead, tokens, scores, indices } = this.retrieve(x); // [T, H, k]
    const w = softmax(scores, -1); // eq. 2
    // eq. 3, summed over heads: core's embeddingBag reads the chosen value rows in place (a fused loop
    // on the CPU, one kernel on the gpu backend) and gives the values a row-sparse gradient.
    const slots = heads * k;
    const y = embeddingBag(this.values.weight, reshape(indices, [tokens, slots]), reshape(w, [tokens, slots])); // [T, dimOut]
    this.lastRouting = routingDecision(indices, w, tokens, heads, k);
    return reshape(y, [...lead, dimOut]);
  }
}

/**
 * Value std for unit-scale output: with near-uniform softmax weights (1/k each) y sums heads·k rows
 * weighted 1/k, so Var(y) = σ²·heads/k and σ = √(k/heads).
 */
function valueStd(heads: number, topK: number): number {
  return Math.sqrt(topK / heads);
}
