// Routing plumbing over a module tree, as free functions (Module itself knows nothing about experts):
// which submodules route tokens (for @myriad/train's routing metrics) and the sum of their auxiliary
// (load-balancing) losses.
import { add, type RoutingSource, type Tensor } from '@myriad/core';
import type { Module } from '../module.js';

/** Whether `m` exposes routing decisions (MoE, PKM, PEER): it has `lastRouting` and `numExperts`. */
export function isRoutingSource(m: unknown): m is RoutingSource {
  return typeof m === 'object' && m !== null && 'lastRouting' in m && 'numExperts' in m;
}

/** [name, layer] for every submodule of `model` (itself included) that records routing decisions. */
export function* routingLayers(model: Module): Generator<[string, RoutingSource & Module]> {
  for (const [name, m] of model.namedModules()) {
    if (isRoutingSource(m)) yield [name, m];
  }
}

/**
 * Sum of `auxLoss()` over the submodules of `model` (not itself) that define it and have a loss from
 * their last forward pass (MoE load balancing), or null when none has.
 */
export function collectAuxLoss(model: Module): Tensor | null {
  let total: Tensor | null = null;
  for (const [, m] of model.namedModules()) {
    if (m === model) continue;
    const fn = (m as { auxLoss?: unknown }).auxLoss;
    if (typeof fn !== 'function') continue;
    const l = (fn as () => Tensor | null).call(m);
    if (l !== null && l !== undefined) total = total === null ? l : add(total, l);
  }
  return total;
}
