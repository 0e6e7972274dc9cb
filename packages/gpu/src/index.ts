// @myriad/gpu: core's Backend on gpu.js kernels (WebGPU, WebGL, WebAssembly, JavaScript).
export { gpuBackend, createGpuBackend, type GpuBackend, type GpuBackendOptions, type GpuMemory } from './gpu-backend.js';
export type { GpuStats } from './stats.js';
export { INT32_ON_CPU } from './fallbacks.js';
export type { GpuMode } from './gpujs.js';
export { GPU_MODES } from './gpujs.js';
export { MAX_KERNEL_ELEMENTS } from './indexing.js';
