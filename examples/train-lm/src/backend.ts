import type { CliOptions } from './args.js';
import { UsageError } from './parse.js';

/**
 * Switches core to the GPU backend for --backend gpu (the CPU backend is the default). @myriad/gpu is
 * loaded only then (gpu.js takes a moment to load), and --gpu-mode is checked against its GPU_MODES.
 */
export async function selectBackend(options: Pick<CliOptions, 'backend' | 'gpuMode'>): Promise<void> {
  if (options.backend === 'cpu') return;
  const { setBackend } = await import('@myriad/core');
  let gpu: typeof import('@myriad/gpu');
  try {
    gpu = await import('@myriad/gpu');
  } catch (e) {
    throw new UsageError(`--backend gpu: @myriad/gpu could not be loaded (${(e as Error).message})`);
  }
  const mode = gpu.GPU_MODES.find((m) => m === options.gpuMode);
  if (mode === undefined) throw new UsageError(`--gpu-mode must be one of ${gpu.GPU_MODES.join(', ')}; got '${options.gpuMode}'`);
  const backend = await gpu.createGpuBackend({ mode });
  setBackend(backend);
  console.log(`backend: gpu.js mode '${backend.mode}'`);
}
