// Routing layers: mixture of experts, product-key memory and PEER, with their retrieval and dispatch.
export { productKeyTopk, type ProductKeyTopk } from './product-keys.js';
export { MoE, type MoEOptions, type MoEForwardOptions, type MoERouter, type MoEBalance, type MoEDispatch } from './moe.js';
export { PKM, type PKMOptions } from './pkm.js';
export { PEER, type PEEROptions, type ScoreFn } from './peer.js';
export { type QueryNorm } from './query-network.js';
export { combineExperts, groupByExpert, type Assignments, type Expert } from './dispatch.js';
export { expertCapacity, applyCapacity, hashExperts, hash32, updateBalanceBias } from './routers.js';
export { gateMass, LazyRoutingDecision } from './routing-decision.js';
export { isRoutingSource, routingLayers, collectAuxLoss } from './routing-layers.js';
