/**
 * Device setup for each mode: making WebGPU available in Node (the `webgpu` package puts Dawn
 * behind `navigator.gpu`), probing for an adapter, and describing the device in words.
 */
import { GPU, WebGPUContext, type GpuMode, type WebGPUContextObject } from './gpujs.js';

/** Installs `navigator.gpu` from the npm package `webgpu` when running in Node without one. */
async function ensureNavigatorGpu(): Promise<string | null> {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu) return null;
  let mod: { create: (flags: string[]) => unknown; globals: Record<string, unknown> };
  // A specifier in a variable: browser bundlers leave this Node-only package (Dawn) out; a browser
  // without navigator.gpu gets the reason below instead.
  const dawn = 'webgpu';
  try {
    mod = (await import(/* @vite-ignore */ dawn)) as typeof mod;
  } catch (e) {
    return `the optional package 'webgpu' could not be loaded (${(e as Error).message.split('\n')[0]}); install it with \`npm install webgpu@0.6.2\``;
  }
  Object.assign(globalThis, mod.globals);
  const gpu = mod.create([]);
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  Object.defineProperty(g.navigator!, 'gpu', { value: gpu, configurable: true });
  return null;
}

/** Result of preparing a mode: the gpu.js instance, or why it cannot run here. */
export interface ModeSetup {
  readonly gpu: InstanceType<typeof GPU> | null;
  readonly mode: string;
  readonly device: string;
  readonly reason: string | null;
  readonly context: WebGPUContextObject | null;
}

/** The CPU in words: its model and core count from node:os in Node, the core count in a browser. */
function cpuModel(): string {
  // process.getBuiltinModule is synchronous and invisible to browser bundlers (Node >= 20.16).
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const os = proc?.getBuiltinModule?.('node:os') as { cpus(): { model?: string }[] } | undefined;
  if (os) {
    const c = os.cpus();
    return `${c[0]?.model?.trim() ?? 'unknown CPU'} (${c.length} cores)`;
  }
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return cores ? `the browser's CPU (${cores} cores)` : "the browser's CPU";
}

/** Prepares gpu.js for `mode` (async for WebGPU, which needs an adapter); never throws. */
export async function setupMode(mode: GpuMode): Promise<ModeSetup> {
  if (mode === 'webgpu') {
    const missing = await ensureNavigatorGpu();
    if (missing) return { gpu: null, mode: 'cpu-backend', device: cpuModel(), reason: missing, context: null };
    let context: WebGPUContextObject;
    try {
      context = await WebGPUContext.acquire();
    } catch (e) {
      return { gpu: null, mode: 'cpu-backend', device: cpuModel(), reason: `no WebGPU adapter: ${(e as Error).message}`, context: null };
    }
    const info = context.adapter.info ?? {};
    const device = [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' / ') || 'unknown WebGPU adapter';
    return { gpu: new GPU({ mode: 'webgpu' }), mode: 'webgpu', device, reason: null, context };
  }
  return setupSyncMode(mode);
}

/** The WebGL renderer in words (e.g. "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device ...))"), where a browser tells. */
function glRenderer(mode: string): string {
  try {
    const g = globalThis as { OffscreenCanvas?: new (w: number, h: number) => { getContext(kind: string): unknown } };
    if (!g.OffscreenCanvas || (mode !== 'webgl2' && mode !== 'webgl')) return `${mode} context`;
    const gl = new g.OffscreenCanvas(1, 1).getContext(mode) as {
      getParameter(p: number): unknown;
      getExtension(n: string): { UNMASKED_RENDERER_WEBGL: number } | null;
    } | null;
    if (!gl) return `${mode} context`;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    return `${mode}: ${String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : 0x1f01 /* RENDERER */))}`;
  } catch {
    return `${mode} context`;
  }
}

/** Prepares a synchronous mode (everything but WebGPU); never throws. */
export function setupSyncMode(mode: GpuMode): ModeSetup {
  try {
    const gpu = new GPU({ mode });
    // gpu.js's GL kernels all report mode 'gpu'; a pinned GL mode that could not start would have thrown.
    const kernelMode = gpu.Kernel.mode;
    const got = kernelMode === 'gpu' && (mode === 'webgl2' || mode === 'webgl' || mode === 'headlessgl') ? mode : kernelMode;
    const device = got === 'webasm' ? `WebAssembly SIMD on ${cpuModel()}` : got === 'cpu' ? `JavaScript on ${cpuModel()}` : glRenderer(got);
    return { gpu, mode: got, device, reason: null, context: null };
  } catch (e) {
    return {
      gpu: null,
      mode: 'cpu-backend',
      device: cpuModel(),
      reason: `gpu.js mode '${mode}' is unavailable: ${(e as Error).message}`,
      context: null,
    };
  }
}
