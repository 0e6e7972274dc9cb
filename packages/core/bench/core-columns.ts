// The "Myriad (wasm)" column of core.bench.ts: the WebAssembly kernels when this checkout has them
// (packages/core/src/cpu/wasm) and the machine runs WebAssembly SIMD, else null and the column is
// left empty. Loaded dynamically so the suite still runs without that directory.
import type { CpuKernels } from '@myriad/core';

/** The WebAssembly kernel table, the thread count they use, and a way to stop their workers. */
export interface WasmColumn {
  kernels: Partial<CpuKernels>;
  threads: number;
  close(): Promise<void>;
}

/** Loads the WebAssembly kernels without installing them, or returns null where there are none. */
export async function loadWasmKernels(): Promise<WasmColumn | null> {
  if (process.env.MYRIAD_CPU_KERNELS === 'js') return null;
  let install: { wasmKernels?: () => Partial<CpuKernels> | null };
  let context: { getWasmContext?: () => { maxThreads: number; warmWorkers(): Promise<number>; close(): Promise<void> } | null };
  try {
    install = await import('../src/cpu/wasm/install.js');
    context = await import('../src/cpu/wasm/context.js');
  } catch {
    return null;
  }
  const kernels = install.wasmKernels?.() ?? null;
  const ctx = context.getWasmContext?.() ?? null;
  if (!kernels || !ctx) return null;
  const threads = await ctx.warmWorkers();
  return { kernels, threads, close: () => ctx.close() };
}
