// Helpers shared by the routing layers: hyperparameter checks of product-key layers and the
// bookkeeping of the last routing decision.
import type { Tensor } from '@myriad/core';
import type { RoutingDecision } from '../module.js';
import { requirePositiveInt } from '../init.js';

/** Checks the product-key hyperparameters common to PKM and PEER, naming the layer and the bad value. */
export function checkProductKeyOptions(layer: string, o: { dim: number; dimOut: number; heads: number; numKeys: number; topK: number; dimKey: number }): void {
  requirePositiveInt(layer, 'dim', o.dim);
  requirePositiveInt(layer, 'dimOut', o.dimOut);
  requirePositiveInt(layer, 'heads', o.heads);
  requirePositiveInt(layer, 'dimKey', o.dimKey);
  if (o.dimKey % 2 !== 0) throw new RangeError(`${layer}: dimKey must be even (the query splits into two halves of dimKey/2), got ${o.dimKey}`);
  requirePositiveInt(layer, 'numKeys', o.numKeys);
  requirePositiveInt(layer, 'topK', o.topK);
  if (o.topK > o.numKeys) {
    throw new RangeError(`${layer}: topK (${o.topK}) must be <= numKeys (${o.numKeys}, the sub-keys per half): product-key search takes the top-k of each half`);
  }
}

/** √numExperts, or a RangeError when numExperts is not a perfect square. */
export function sqrtExperts(layer: string, numExperts: number): number {
  requirePositiveInt(layer, 'numExperts', numExperts);
  const n = Math.round(Math.sqrt(numExperts));
  if (n * n !== numExperts) {
    const f = Math.floor(Math.sqrt(numExperts));
    throw new RangeError(`${layer}: numExperts must be a perfect square (numKeys² product keys), got ${numExperts} (nearest: ${f * f} or ${(f + 1) * (f + 1)})`);
  }
  return n;
}

/** A RoutingDecision [tokens, heads, k] from retrieved indices and the gates they were weighted by. */
export function routingDecision(indices: Tensor, gates: Tensor, tokens: number, heads: number, k: number): RoutingDecision {
  const scores = gates.toTypedArray();
  return {
    indices: indices.toTypedArray() as Int32Array,
    scores: scores instanceof Int32Array ? Float64Array.from(scores) : scores,
    tokens,
    heads,
    k,
  };
}

/**
 * z′ᵢ = Σ_tokens gᵢ of a routing decision (gate mass per expert, 0 where never selected): the
 * quantity the PEER paper's usage and KL-unevenness metrics are computed from (DESIGN.md, Metrics).
 */
export function gateMass(decision: RoutingDecision, numExperts: number): Float64Array {
  const idx = decision.indices instanceof Int32Array ? decision.indices : (decision.indices.toTypedArray() as Int32Array);
  const g = decision.scores instanceof Float32Array || decision.scores instanceof Float64Array ? decision.scores : decision.scores.toTypedArray();
  const expected = decision.tokens * decision.heads * decision.k;
  if (idx.length !== expected || g.length !== expected) {
    throw new RangeError(`gateMass: tokens·heads·k = ${expected}, but got ${idx.length} indices and ${g.length} scores`);
  }
  const z = new Float64Array(numExperts);
  for (let i = 0; i < idx.length; i++) {
    const e = idx[i]!;
    if (e < 0) continue;
    if (e >= numExperts) throw new RangeError(`gateMass: expert index ${e} at position ${i} is >= numExperts ${numExperts}`);
    z[e] = z[e]! + g[i]!;
  }
  return z;
}
