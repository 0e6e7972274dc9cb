import type { CliOptions } from './args.js';
import { UsageError } from './args.js';

/** Switches core to the GPU backend for --backend gpu (the CPU backend is the default). */
export async function selectBackend(options: CliOptions): Promise<void> {
  if (options.backend === 'cpu') return;
  const { setBackend } = await import('@myriad/core');
  let gpu: typeof import('@myriad/gpu');
  try {
    gpu = await import('@myriad/gpu');
  } catch (e) {
    throw new UsageError(`--backend gpu: @myriad/gpu could not be loaded (${(e as Error).message})`);
  }
  const backend = await gpu.createGpuBackend({ mode: options.gpuMode });
  setBackend(backend);
  console.log(`backend: gpu.js mode '${backend.mode}'`);
}
