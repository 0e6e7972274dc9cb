// Routing metrics of the PEER paper (He 2024, Table 2), over an evaluation window:
//   z'ᵢ = Σ_tokens gᵢ (gate of expert i, 0 where not selected),  z = z'/‖z'‖₁
//   usage = |{i : zᵢ > 0}| / N,   unevenness = KL(z ‖ uniform) = log N + Σᵢ zᵢ log zᵢ
// plus, for MoE with finite capacity, the fraction of tokens dropped.
import { add, cpuBackend, ge, reshape, scatterAdd, where, zeros, type Tensor } from '@myriad/core';
import type { RoutingDecision, RoutingSource } from '@myriad/core';
import type { RoutingModel } from './routing-source.js';

/** Metrics of one routing layer over a window. */
export interface RoutingMetrics {
  /** Fraction of experts that received any gate mass, in [0, 1]. */
  usage: number;
  /** KL(z ‖ uniform) in nats, 0 for perfectly even routing, log N when one expert takes all. */
  unevenness: number;
  /** Fraction of tokens dropped by capacity, or null when the layer does not report it. */
  droppedFraction: number | null;
  /** Tokens observed in the window. */
  tokens: number;
  /** Number of experts N. */
  numExperts: number;
}

/** Usage and KL-from-uniform of the (unnormalised) per-expert gate mass `zPrime`. */
export function usageAndUnevenness(zPrime: ArrayLike<number>): { usage: number; unevenness: number } {
  const n = zPrime.length;
  let total = 0;
  let used = 0;
  for (let i = 0; i < n; i++) {
    const v = zPrime[i]!;
    if (v < 0) throw new RangeError(`usageAndUnevenness: gate mass of expert ${i} is ${v}; gates must be >= 0`);
    total += v;
    if (v > 0) used++;
  }
  if (total === 0) return { usage: 0, unevenness: NaN }; // no routing observed
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const z = zPrime[i]! / total;
    if (z > 0) sum += z * Math.log(z); // 0·log 0 = 0
  }
  return { usage: used / n, unevenness: Math.log(n) + sum };
}

/** z′ of one decision as a [numExperts] tensor on the decision's backend (empty slots, −1, add nothing). */
function gateMassTensor(indices: Tensor, scores: Tensor, numExperts: number): Tensor {
  const idx = reshape(indices, [indices.size]);
  const valid = ge(idx, 0);
  const g = where(valid, reshape(scores, [scores.size]), 0);
  return scatterAdd(zeros([numExperts], { dtype: g.dtype }), 0, where(valid, idx, 0), g);
}

/** Accumulates z' and dropped tokens of one routing layer over a window. */
export class RoutingAccumulator {
  /** z'ᵢ so far (decisions kept on a device are added in when `result()` / `resultAsync()` read them). */
  readonly gateMass: Float64Array;
  private tokens = 0;
  private dropped = 0;
  private droppedTokens = 0;
  /** z′ of decisions that live on a device backend, summed there: read once per window, not per step. */
  private pending: Tensor | null = null;

  /** An empty window over `numExperts` experts. */
  constructor(readonly numExperts: number) {
    if (!Number.isInteger(numExperts) || numExperts < 1)
      throw new RangeError(`RoutingAccumulator: numExperts must be a positive integer, got ${numExperts}`);
    this.gateMass = new Float64Array(numExperts);
  }

  /** Adds one routing decision (and the layer's dropped fraction for it, if known). */
  add(d: RoutingDecision, droppedFraction?: number | null): void {
    const expected = d.tokens * d.heads * d.k;
    // Sizes come from the tensors when present: reading d.indices would copy them to the host.
    const [ni, ns] = d.tensors ? [d.tensors.indices.size, d.tensors.scores.size] : [d.indices.length, d.scores.length];
    if (ni !== expected || ns !== expected) {
      throw new RangeError(
        `RoutingAccumulator.add: tokens·heads·k = ${d.tokens}·${d.heads}·${d.k} = ${expected}, but got ${ni} indices and ${ns} scores`,
      );
    }
    const t = d.tensors;
    if (t !== undefined && t.indices.backend !== cpuBackend) {
      const z = gateMassTensor(t.indices, t.scores, this.numExperts);
      this.pending = this.pending === null ? z : add(this.pending, z);
    } else {
      const { indices, scores } = d;
      const z = this.gateMass;
      for (let i = 0; i < expected; i++) {
        const e = indices[i]!;
        if (e < 0) continue; // empty slot
        if (e >= this.numExperts)
          throw new RangeError(`RoutingAccumulator.add: expert index ${e} at position ${i} is >= numExperts ${this.numExperts}`);
        z[e] = z[e]! + scores[i]!;
      }
    }
    this.tokens += d.tokens;
    if (droppedFraction !== undefined && droppedFraction !== null) {
      this.dropped += droppedFraction * d.tokens;
      this.droppedTokens += d.tokens;
    }
  }

  private fold(pending: ArrayLike<number>): void {
    for (let i = 0; i < this.numExperts; i++) this.gateMass[i] = this.gateMass[i]! + pending[i]!;
    this.pending = null;
  }

  /** The metrics of the window so far (reads device-held gate mass synchronously: use resultAsync on WebGPU). */
  result(): RoutingMetrics {
    if (this.pending) this.fold(this.pending.toTypedArray());
    return this.summary();
  }

  /** The metrics of the window so far, waiting for device work. */
  async resultAsync(): Promise<RoutingMetrics> {
    if (this.pending) this.fold(await this.pending.read());
    return this.summary();
  }

  private summary(): RoutingMetrics {
    return {
      ...usageAndUnevenness(this.gateMass),
      droppedFraction: this.droppedTokens > 0 ? this.dropped / this.droppedTokens : null,
      tokens: this.tokens,
      numExperts: this.numExperts,
    };
  }
}

/** Watches every routing layer of a model: call `observe()` after each forward pass of the window. */
export class RoutingMonitor {
  private readonly layers: Array<[string, RoutingSource, RoutingAccumulator]>;

  /** A monitor over `model.routingLayers()` (listed once, at construction). */
  constructor(model: RoutingModel) {
    this.layers = Array.from(model.routingLayers(), ([name, src]) => [name, src, new RoutingAccumulator(src.numExperts)]);
  }

  /** Number of routing layers watched. */
  get size(): number {
    return this.layers.length;
  }

  /** Starts a new window. */
  reset(): void {
    this.layers.forEach((l) => (l[2] = new RoutingAccumulator(l[1].numExperts)));
  }

  /** Adds each layer's `lastRouting` (layers that have not routed yet are skipped). */
  observe(): void {
    for (const [, src, acc] of this.layers) {
      if (src.lastRouting) acc.add(src.lastRouting, src.droppedFraction);
    }
  }

  /** Metrics per layer name for the current window. */
  results(): Record<string, RoutingMetrics> {
    const out: Record<string, RoutingMetrics> = {};
    for (const [name, , acc] of this.layers) out[name] = acc.result();
    return out;
  }

  /** `results()`, waiting for device work (works on every backend, WebGPU included). */
  async resultsAsync(): Promise<Record<string, RoutingMetrics>> {
    const out: Record<string, RoutingMetrics> = {};
    for (const [name, , acc] of this.layers) out[name] = await acc.resultAsync();
    return out;
  }
}
