// Helpers shared by the routing layers: hyperparameter checks of product-key layers and the
// bookkeeping of the last routing decision.
import type { Tensor } from '@myriad/core';
import type { RoutingArrays, RoutingDecision } from '@myriad/core';
import { requirePositiveInt } from '../init.js';

/** Checks the product-key hyperparameters common to PKM and PEER, naming the layer and the bad value. */
export function checkProductKeyOptions(
  layer: string,
  o: { dim: number; dimOut: number; heads: number; numKeys: number; topK: number; dimKey: number },
): void {
  requirePositiveInt(layer, 'dim', o.dim);
  requirePositiveInt(layer, 'dimOut', o.dimOut);
  requirePositiveInt(layer, 'heads', o.heads);
  requirePositiveInt(layer, 'dimKey', o.dimKey);
  if (o.dimKey % 2 !== 0)
    throw new RangeError(`${layer}: dimKey must be even (the query splits into two halves of dimKey/2), got ${o.dimKey}`);
  requirePositiveInt(layer, 'numKeys', o.numKeys);
  requirePositiveInt(layer, 'topK', o.topK);
  if (o.topK > o.numKeys) {
    throw new RangeError(
      `${layer}: topK (${o.topK}) must be <= numKeys (${o.numKeys}, the sub-keys per half): product-key search takes the top-k of each half`,
    );
  }
}

/** √numExperts, or a RangeError when numExperts is not a perfect square. */
export function sqrtExperts(layer: string, numExperts: number): number {
  requirePositiveInt(layer, 'numExperts', numExperts);
  const n = Math.round(Math.sqrt(numExperts));
  if (n * n !== numExperts) {
    const f = Math.floor(Math.sqrt(numExperts));
    throw new RangeError(
      `${layer}: numExperts must be a perfect square (numKeys² product keys), got ${numExperts} (nearest: ${f * f} or ${(f + 1) * (f + 1)})`,
    );
  }
  return n;
}

/**
 * The routing decision a layer records each forward pass (`lastRouting` of MoE, PKM and PEER). The
 * index and gate tensors stay (detached) on the backend that computed them, so recording a decision
 * costs a training step no transfer; host copies are made when first asked for:
 * - `await decision.read()` works on every backend (it waits for device work);
 * - `decision.indices` / `decision.scores` read synchronously, which the CPU backend and the gpu
 *   backend's synchronous modes (webasm, webgl2, headlessgl) can do; on an asynchronous backend
 *   (WebGPU) they throw an Error naming the backend and pointing to `read()`;
 * - `decision.tensors` gives the tensors themselves (metrics sum them on the device).
 */
export class LazyRoutingDecision implements RoutingDecision {
  private hostIndices: Int32Array | null = null;
  private hostScores: Float32Array | Float64Array | null = null;
  /** The decision as tensors on their backend: int32 indices and float gates, [tokens, heads, k]. */
  readonly tensors: { readonly indices: Tensor; readonly scores: Tensor };

  constructor(
    indices: Tensor,
    scores: Tensor,
    readonly tokens: number,
    readonly heads: number,
    readonly k: number,
  ) {
    this.tensors = { indices: indices.detach(), scores: scores.detach() };
  }

  /** Expert index per (token, head, slot), row-major; −1 marks an empty slot. Synchronous: throws on an asynchronous backend (WebGPU), use read(). */
  get indices(): Int32Array {
    this.hostIndices ??= Int32Array.from(this.readSync('indices', this.tensors.indices));
    return this.hostIndices;
  }

  /** Gate per (token, head, slot), row-major. Synchronous: throws on an asynchronous backend (WebGPU), use read(). */
  get scores(): Float32Array | Float64Array {
    this.hostScores ??= floats(this.readSync('scores', this.tensors.scores));
    return this.hostScores;
  }

  /** Host copies of indices and scores, waiting for device work (every backend). */
  async read(): Promise<RoutingArrays> {
    this.hostIndices ??= Int32Array.from(await this.tensors.indices.read());
    this.hostScores ??= floats(await this.tensors.scores.read());
    return { indices: this.hostIndices, scores: this.hostScores };
  }

  private readSync(what: 'indices' | 'scores', t: Tensor): ArrayLike<number> {
    try {
      return t.toTypedArray();
    } catch (e) {
      throw new Error(
        `lastRouting.${what}: the ${t.backend.name} backend cannot read synchronously; use \`const { indices, scores } = await lastRouting.read()\` (${e instanceof Error ? e.message : String(e)})`,
        { cause: e },
      );
    }
  }
}

function floats(a: ArrayLike<number>): Float32Array | Float64Array {
  return a instanceof Float64Array || a instanceof Float32Array ? a : Float64Array.from(a);
}

/** A routing decision [tokens, heads, k] from retrieved indices and the gates they were weighted by (nothing is read back). */
export function routingDecision(indices: Tensor, gates: Tensor, tokens: number, heads: number, k: number): LazyRoutingDecision {
  return new LazyRoutingDecision(indices, gates, tokens, heads, k);
}

/**
 * z′ᵢ = Σ_tokens gᵢ of a routing decision (gate mass per expert, 0 where never selected): the
 * quantity the PEER paper's usage and KL-unevenness metrics are computed from (docs/train.md, routing metrics).
 */
export function gateMass(decision: RoutingDecision, numExperts: number): Float64Array {
  const { indices: idx, scores: g } = decision;
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
