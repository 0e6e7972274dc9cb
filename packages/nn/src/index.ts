// @myriad/nn: the Module system and layers (Linear, Embedding, norms, attention, FeedForward, TransformerLM) and routing layers.
export {
  Module,
  param,
  buffer,
  isParameter,
  isBuffer,
  isRoutingSource,
  type InitOptions,
  type LoadStateDictOptions,
  type LoadStateDictResult,
  type RoutingDecision,
  type RoutingSource,
} from './module.js';
export { initRng, initDType, uniformInit, normalInit, constantInit, linearBound, requirePositiveInt } from './init.js';
export * from './layers/index.js';
export * from './routing/index.js';
