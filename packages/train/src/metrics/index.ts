export { hasRoutingLayers, type RoutingDecision, type RoutingModel, type RoutingSource } from './routing-source.js';
export { RoutingAccumulator, RoutingMonitor, usageAndUnevenness, type RoutingMetrics } from './routing-metrics.js';
