// @myriad/core: tensors, ops, reverse-mode autograd, the CPU backend, seeded randomness, safetensors.
import './cpu/cpu-backend.js';
import { installWasmKernels } from './cpu/wasm/install.js';

// WebAssembly SIMD kernels replace the plain-TypeScript hot loops where the runtime supports them
// (set MYRIAD_CPU_KERNELS=js to keep the plain ones); results are property-tested to match.
installWasmKernels();

export { Tensor, type NestedArray } from './tensor.js';
export { SparseGrad } from './sparse-grad.js';
export { noGrad, isGradEnabled, setCheckNumerics, getCheckNumerics, type GradNode, type InputGrad } from './autograd.js';
export { type DType, type TypedArray, promoteTypes } from './dtype.js';
export { ShapeError, fmt as formatShape } from './errors.js';
export { broadcastShapes, contiguousStrides, isContiguousLayout, shapeSize, shapesEqual } from './shape.js';
export { coalesce as coalesceDims } from './cpu/strided.js';
export { Rng, manualSeed, getGlobalRng, getRngState, setRngState } from './random.js';
export {
  type Backend,
  type Storage,
  type View,
  type UnaryOp,
  type BinaryOp,
  type ReduceOp,
  type RowOp,
  setBackend,
  getBackend,
} from './backend.js';
export type { RoutingArrays, RoutingDecision, RoutingSource } from './routing.js';
export { type UpdateRule, type CompiledUpdate, compileUpdateRule, checkUpdateRule } from './update-rule.js';
export { cpuBackend } from './cpu/cpu-backend.js';
export { BufferPool, cpuBufferPool, nextTask, type BufferPoolLimits, type BufferPoolStats } from './cpu/buffer-pool.js';
export { sortRowPositions } from './cpu/unique-rows.js';
export { kernels as cpuKernels, installKernels, resetKernels, jsKernels, type CpuKernels } from './cpu/kernels.js';
export {
  installWasmKernels,
  installWasmKernelsAsync,
  wasmKernels,
  wasmThreads,
  startWasmThreads,
  type WasmThreads,
} from './cpu/wasm/install.js';
export {
  tensor,
  zeros,
  ones,
  full,
  zerosLike,
  onesLike,
  arange,
  linspace,
  rand,
  randn,
  randint,
  type TensorOptions,
  type RandomOptions,
} from './creation.js';
export * from './ops/elementwise.js';
export { sum, mean, max, min, argmax, cumsum, variance, std, sumToShape, type VarianceOptions } from './ops/reduce.js';
export {
  reshape,
  permute,
  transpose,
  expand,
  slice,
  unsqueeze,
  squeeze,
  flatten,
  concat,
  cat,
  stack,
  split,
  chunk,
  clone,
  contiguous,
} from './ops/movement.js';
export { matmul } from './ops/linalg.js';
export { gather, scatterAdd, indexSelect, topk, where, maskedFill, oneHot } from './ops/indexing.js';
export { expertMix, type ExpertActivation } from './ops/expert-mix.js';
export { embeddingBag, rowDots } from './ops/embedding-bag.js';
export { productKeyTopk, type ProductKeyTopk } from './ops/product-key-topk.js';
export { sort, argsort } from './ops/sort.js';
export { tril, triu } from './ops/triangular.js';
export {
  mseLoss,
  l1Loss,
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  type Reduction,
  type LossOptions,
  type BCEWithLogitsOptions,
} from './ops/losses.js';
export { toBackend, toBackendAsync, isBackend } from './ops/device.js';
export { formatTensor } from './format.js';
export {
  softmax,
  logSoftmax,
  logsumexp,
  crossEntropy,
  layerNorm,
  dropout,
  type CrossEntropyOptions,
  type DropoutOptions,
} from './ops/nn.js';
export * from './io/safetensors.js';
export * from './io/safetensors-file.js';
