// The interface through which the trainer reads routing decisions. @myriad/train never imports
// @myriad/nn: any layer that routes tokens to experts (MoE, PKM, PEER) implements core's RoutingSource,
// and a model lists its routing layers through routingLayers().
import type { RoutingSource } from '@myriad/core';

export type { RoutingDecision, RoutingSource } from '@myriad/core';

/** A model whose routing layers the trainer can report on. */
export interface RoutingModel {
  /** (name, layer) for every routing layer, e.g. ['blocks.2.ffw', peer]. */
  routingLayers(): Iterable<[string, RoutingSource]>;
}

/** Whether `model` exposes routing layers. */
export function hasRoutingLayers(model: unknown): model is RoutingModel {
  return typeof (model as Partial<RoutingModel> | null)?.routingLayers === 'function';
}
