import { createGpuBackend } from '@myriad/gpu';

/** Why WebGPU cannot run here (no `webgpu` package, no adapter), or null when it can. */
export async function webgpuUnavailable(): Promise<string | null> {
  let reason: string | null = null;
  const b = await createGpuBackend({ mode: 'webgpu', warn: (m) => (reason = m) });
  return b.mode === 'webgpu' ? null : (reason ?? `mode came up as ${b.mode}`);
}
