// Routing layers: mixture of experts, product-key memory and PEER, with their retrieval and dispatch.
// Product-key retrieval is core's op (fused on the CPU backend); PKM and PEER use it, and it stays importable from here.
export { productKeyTopk, type ProductKeyTopk } from '@myriad/core';
export {
  MoE,
  resolveMoEOptions,
  type MoEConfig,
  type MoEOptions,
  type MoEForwardOptions,
  type MoERouter,
  type MoEBalance,
  type MoEDispatch,
} from './moe.js';
export { PKM, resolvePKMOptions, type PKMOptions, type PKMConfig } from './pkm.js';
export { PEER, resolvePEEROptions, type PEEROptions, type PEERConfig, type ScoreFn } from './peer.js';
export { ProductKeyLayer, type ProductKeyConfig } from './product-key-layer.js';
export { type QueryNorm } from './query-network.js';
export { combineExperts, groupByExpert, type Assignments, type Expert } from './dispatch.js';
export { expertCapacity, applyCapacity, hashExperts, hash32, updateBalanceBias } from './routers.js';
export { gateMass, LazyRoutingDecision } from './routing-decision.js';
export { isRoutingSource, routingLayers, collectAuxLoss } from './routing-layers.js';
