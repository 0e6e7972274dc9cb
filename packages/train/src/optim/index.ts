export {
  Optimizer,
  type BaseHyper,
  type OptimizerStateDict,
  type ParamGroup,
  type ParamGroupInput,
  type ParamsInput,
  type ParamState,
} from './optimizer.js';
export { SGD, type SGDHyper } from './sgd.js';
export { Adam, AdamW, type AdamHyper } from './adam.js';
export { weightDecayGroups, isNoDecayParameter, type HasParameters, type WeightDecayGroupOptions } from './param-groups.js';
export { clipGradNorm, clipGradNormTensor } from './clip.js';
export { warmupCosine, constantLr, type LrSchedule, type WarmupCosineOptions } from './schedule.js';
export type { FloatArray } from './live-data.js';
export { coalesceRows, type CoalescedRows } from './coalesce.js';
