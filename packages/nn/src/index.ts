// @myriad/nn: the Module system and layers (Linear, Embedding, norms, attention, FeedForward, TransformerLM) and routing layers.
export {
  Module,
  param,
  buffer,
  isParameter,
  isBuffer,
  type InitOptions,
  type LoadStateDictOptions,
  type LoadStateDictResult,
} from './module.js';
export type { RoutingArrays, RoutingDecision, RoutingSource } from '@myriad/core';
export { initRng, initDType, uniformInit, normalInit, constantInit, linearBound, requirePositiveInt } from './init.js';
export * from './layers/index.js';
export * from './routing/index.js';
