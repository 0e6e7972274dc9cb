import { createGpuBackend } from '@myriad/gpu';

/** Why WebGPU cannot run here (no `webgpu` package, no adapter), or null when it can. */
export async function webgpuUnavailable(): Promise<string | null> {
  let reason: string | null = null;
  const b = await createGpuBackend({ mode: 'webgpu', warn: (m) => (reason = m) });
  return b.mode === 'webgpu' ? null : (reason ?? `mode came up as ${b.mode}`);
}

/** How to get a WebGPU adapter on Debian 12 (what .ci/run does). */
export const VULKAN_INSTALL = 'sudo bash scripts/gpu/install-vulkan.sh (Mesa lavapipe, a software Vulkan driver)';
