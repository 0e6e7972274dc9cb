// Typed access to the parts of gpu.js (CommonJS, no ESM build) that the backend uses. One default
// import serves Node and browsers: Node loads src/index.js (an object of classes); bundlers follow
// gpu.js's "browser" field to dist/gpu-browser.js (the GPU class carrying the same classes as
// statics). Both expose GPU, WebGPUContext and WebGPUBufferResult, so nothing here needs node:.
import gpujsModule from 'gpu.js';

/** The gpu.js modes this package can pin, as a runtime list (e.g. to check a --gpu-mode flag). */
export const GPU_MODES = ['gpu', 'webgl2', 'webgl', 'headlessgl', 'webgpu', 'webasm', 'cpu'] as const;

/** The gpu.js modes this package can pin. */
export type GpuMode = (typeof GPU_MODES)[number];

/** The few WebGPU objects we touch directly (structural, so @webgpu/types is not needed to typecheck). */
interface DeviceBuffer {
  readonly size: number;
  destroy(): void;
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}
interface Device {
  createBuffer(desc: { size: number; usage: number; mappedAtCreation?: boolean }): DeviceBuffer;
  createCommandEncoder(): {
    copyBufferToBuffer(src: DeviceBuffer, so: number, dst: DeviceBuffer, d: number, n: number): void;
    finish(): unknown;
  };
  readonly queue: {
    writeBuffer(b: DeviceBuffer, offset: number, data: ArrayBufferView): void;
    submit(cmds: unknown[]): void;
    onSubmittedWorkDone(): Promise<void>;
  };
}
export interface WebGPUContextObject {
  readonly device: Device;
  readonly adapter: { readonly info?: { vendor?: string; architecture?: string; device?: string; description?: string } };
  readonly isLost: boolean;
}

/** A device buffer handle returned by a gpu.js WebGPU kernel in pipeline mode. */
export interface WebGPUBufferResult {
  readonly buffer: DeviceBuffer;
  readonly output: number[];
  readonly context: WebGPUContextObject;
  delete(): void;
}

/** The callable gpu.js kernel ("run shortcut"). */
export interface KernelRun {
  (...args: unknown[]): unknown;
  destroy(removeCanvasReferences?: boolean): void;
  readonly kernel: { constructor: { mode: string }; fallbackReason?: string };
}

interface GpuInstance {
  readonly Kernel: { mode: string };
  createKernel(source: string, settings: Record<string, unknown>): KernelRun;
  destroy(): Promise<void>;
}

interface GpuClass {
  new (settings: { mode: string }): GpuInstance;
  readonly isWebGPUSupported: boolean;
  readonly isHeadlessGLSupported: boolean;
  readonly isWebGL2Supported: boolean;
  readonly isWebAssemblySupported: boolean;
  isWebGPUAvailable(): Promise<boolean>;
}

const gpujs = gpujsModule as unknown as {
  GPU: GpuClass;
  WebGPUContext: { acquire(): Promise<WebGPUContextObject> };
  WebGPUBufferResult: new (settings: {
    buffer: DeviceBuffer;
    output: number[];
    context: WebGPUContextObject;
    kernel: null;
  }) => WebGPUBufferResult;
};
/** gpu.js's GPU class. */
export const GPU: GpuClass = gpujs.GPU;

/** gpu.js's shared WebGPU device (one per process, like its kernels use). */
export const WebGPUContext = gpujs.WebGPUContext;

/** gpu.js's pipeline handle class, so buffers we upload ourselves bind like kernel outputs. */
export const WebGPUBufferResultClass = gpujs.WebGPUBufferResult;
