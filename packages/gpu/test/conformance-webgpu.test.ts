// The core conformance suite on gpu.js's WebGPU mode (Node + the `webgpu` package's Dawn). On CI this
// runs on Mesa's software Vulkan adapter (scripts/gpu/install-vulkan.sh); where no adapter exists the
// suite is skipped with a printed reason, never silently.
import { describeWithOptional, runBackendConformance } from '@myriad/core/testing';
import { createGpuBackend } from '@myriad/gpu';
import { VULKAN_INSTALL, webgpuUnavailable } from './webgpu-probe.js';
import { TOLERANCES, failOnUnexpectedFallback } from './tolerances.js';

// Two runs per property: each new shape compiles a WGSL shader (~0.1 s on the software adapter).
describeWithOptional('backend conformance: gpu (webgpu)', await webgpuUnavailable(), VULKAN_INSTALL, () => {
  const make = (): ReturnType<typeof createGpuBackend> => createGpuBackend({ mode: 'webgpu', warn: failOnUnexpectedFallback });
  runBackendConformance('gpu (webgpu)', make, { numRuns: 2, dtypes: ['float32', 'int32'], tolerances: TOLERANCES });
});
