// @myriad/core/testing: fast-check arbitraries, allClose and a vitest matcher, gradCheck, and the
// backend conformance suite. Imports fast-check and vitest (optional peer dependencies of core);
// the main @myriad/core entry never imports this module.
export {
  arbShape,
  arbBroadcastShapes,
  arbBroadcastShapeList,
  arbValues,
  arbTensor,
  arbTensorPair,
  arbMatmulShapes,
  type ShapeOptions,
  type ValueOptions,
  type ArbTensorOptions,
  type TensorPairOptions,
  type MatmulShapeOptions,
} from './arbitraries.js';
export { allClose, assertAllClose, type AllCloseReport, type Comparable, type Mismatch, type Tolerance } from './all-close.js';
export { installMatchers } from './matchers.js';
export { gradCheck, type GradCheckOptions, type GradCheckResult, type GradCheckWorst } from './grad-check.js';
export { runBackendConformance, type ConformanceOptions } from './conformance.js';
export { checkKernel, type CheckKernelOptions, type CheckKernelResult, type KernelOutput } from './check-kernel.js';
export { describeWithOptional, optionalSoftwareRequired } from './optional-software.js';
