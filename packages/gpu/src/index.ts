// @myriad/gpu: core's Backend on gpu.js kernels (WebGPU, WebGL, WebAssembly, JavaScript).
export { gpuBackend, createGpuBackend, type GpuBackend, type GpuBackendOptions, type GpuMemory } from './gpu-backend.js';
export type { GpuMode } from './gpujs.js';
export { MAX_KERNEL_ELEMENTS } from './indexing.js';
