// Picks the compute backend inside the worker: the CPU backend with WebAssembly SIMD kernels, or
// gpu.js on WebGL2 / WebGPU. A GPU mode that cannot start falls back to the CPU and says why.
import { cpuBackend, installWasmKernelsAsync, setBackend, startWasmThreads } from '@myriad/core';
import type { BackendChoice } from '../spec.js';

export interface ActiveBackend {
  choice: BackendChoice;
  /** What runs the kernels, in words ("CPU + WebAssembly SIMD", "WebGL2 (gpu.js)", ...). */
  name: string;
  device: string;
  /** Why the backend differs from the one asked for, or what it falls back on; null when all is as asked. */
  note: string | null;
  /** True when results must be read with `await t.read()` (WebGPU). */
  async: boolean;
}

let wasm: Promise<boolean> | null = null;
const cores = (): number => (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;

async function useCpu(choice: BackendChoice, note: string | null): Promise<ActiveBackend> {
  setBackend(cpuBackend);
  wasm ??= installWasmKernelsAsync().catch(() => false);
  const simd = await wasm;
  // Where the page is cross-origin isolated the kernels' pool runs on Web Workers; wait for them so
  // the first step already uses every thread, and say how many run.
  const threads = simd ? await startWasmThreads().catch(() => null) : null;
  const device =
    threads && threads.ready > 1
      ? `${threads.ready} CPU threads (the worker + ${threads.ready - 1} Web Worker${threads.ready > 2 ? 's' : ''})`
      : `1 of ${cores()} CPU threads (the worker)`; // why only one: the page's note says
  return {
    choice,
    name: simd ? 'CPU + WebAssembly SIMD' : 'CPU (plain JavaScript: this browser lacks WebAssembly SIMD)',
    device,
    note,
    async: false,
  };
}

/** gpu.js's reason a mode did not start, in a sentence for the page (its first clause; no "@myriad/gpu:" prefix). */
function plainReason(warning: string): string {
  const w = warning.replace(/^@myriad\/gpu: /, '').replace(/; every op runs on the CPU backend$/, '');
  if (/no WebGPU adapter|no adapter/i.test(w))
    return 'the browser has no WebGPU adapter to give (no usable GPU, WebGPU switched off, or a headless browser without one)';
  if (/navigator\.gpu|WebGPU is not (available|supported)|optional package 'webgpu'/i.test(w))
    return 'this browser has no WebGPU (navigator.gpu is missing)';
  return w.split(/(?<=\.) /)[0]!.replace(/\.$/, '');
}

/** Switches core to the chosen backend; never throws (an unavailable GPU mode falls back to the CPU). */
export async function selectBackend(choice: BackendChoice, warnings: string[]): Promise<ActiveBackend> {
  if (choice === 'cpu') return useCpu('cpu', null);
  const label = choice === 'webgl2' ? 'WebGL2' : 'WebGPU';
  let gpu: typeof import('@myriad/gpu');
  try {
    gpu = await import('@myriad/gpu');
  } catch (e) {
    return useCpu(choice, `${label} unavailable: @myriad/gpu failed to load (${(e as Error).message}); running on the CPU backend instead`);
  }
  try {
    // gpu.js's synchronous modes compile a kernel per op and argument sizes; a training step, the
    // evaluation and the route probe together need several hundred. With the default cache of 256 the
    // probe evicted the step's kernels and the next step compiled them all again (13 s on SwiftShader).
    const backend = await gpu.createGpuBackend({ mode: choice, warn: (m) => warnings.push(m), kernelCacheSize: 4096 });
    if (backend.mode !== choice) {
      const why = warnings.find((w) => w.includes('every op runs on the CPU')) ?? `gpu.js started in mode '${backend.mode}'`;
      await backend.destroy().catch(() => undefined);
      return useCpu(
        choice,
        `${label} is unavailable here: ${plainReason(why)}. The model runs on the CPU backend instead; it trains the same, only slower.`,
      );
    }
    setBackend(backend);
    return { choice, name: `${label} (gpu.js)`, device: backend.device, note: null, async: backend.async };
  } catch (e) {
    return useCpu(choice, `${label} could not start (${(e as Error).message}). The model runs on the CPU backend instead.`);
  }
}
