// The routing interfaces, defined once here because both @myriad/nn (whose MoE, PKM and PEER layers
// implement them) and @myriad/train (whose metrics read them) depend on core and not on each other.
import type { Tensor } from './tensor.js';

/** Host copies of a routing decision's indices and gates (see RoutingDecision for the layout). */
export interface RoutingArrays {
  /** Expert per (token, head, slot), row-major; −1 marks an empty slot. */
  readonly indices: Int32Array;
  /** Gate per (token, head, slot), row-major (0 in an empty slot). */
  readonly scores: Float32Array | Float64Array;
}

/**
 * The last routing decision of a layer, laid out [tokens, heads, k] row-major: for token t, head h
 * and slot j, `indices[(t·heads + h)·k + j]` is the expert chosen (−1 for an empty slot, e.g. in
 * expert-choice routing) and `scores[...]` its gate value g (the weight the expert's output gets).
 * A softmax top-k MoE has heads = 1; PKM and PEER have one entry per retrieval head.
 *
 * A plain object of host arrays is a decision. The decisions Myriad's layers record (nn's
 * `LazyRoutingDecision`) keep their tensors on the backend that computed them: there `indices` and
 * `scores` copy to the host on first access (synchronously: on an asynchronous backend such as
 * WebGPU they throw, naming it; use `await decision.read()`).
 */
export interface RoutingDecision extends RoutingArrays {
  readonly tokens: number;
  readonly heads: number;
  readonly k: number;
  /** The same decision as tensors on the backend that computed it, when the layer kept them there. */
  readonly tensors?: { readonly indices: Tensor; readonly scores: Tensor };
}

/** A layer that routes tokens to `numExperts` experts (or memory slots) and keeps its last decision. */
export interface RoutingSource {
  /** The decision of the most recent forward pass, or null before the first one. */
  readonly lastRouting: RoutingDecision | null;
  /** Number of experts N the layer chooses from (numKeys² for PKM / PEER). */
  readonly numExperts: number;
  /** MoE with finite capacity: fraction of token assignments dropped in the last forward pass. */
  readonly droppedFraction?: number | null;
}
