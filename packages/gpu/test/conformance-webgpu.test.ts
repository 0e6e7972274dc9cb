// The core conformance suite on gpu.js's WebGPU mode (Node + the `webgpu` package's Dawn). On CI this
// runs on Mesa's software Vulkan adapter (scripts/gpu/install-vulkan.sh); where no adapter exists the
// suite is skipped with a printed reason, never silently.
import { runBackendConformance } from '@myriad/core/testing';
import { createGpuBackend } from '@myriad/gpu';
import { describe, it } from 'vitest';
import { webgpuUnavailable } from './webgpu-probe.js';
import { TOLERANCES, failOnUnexpectedFallback } from './tolerances.js';

const reason = await webgpuUnavailable();
if (reason) {
  console.warn(`[@myriad/gpu] SKIPPING the webgpu conformance suite: ${reason}. Install a Vulkan driver with \`bash scripts/gpu/install-vulkan.sh\` (Debian 12) to run it.`);
  describe.skip(`backend conformance: gpu (webgpu) — skipped: ${reason}`, () => {
    it('needs a WebGPU adapter', () => {});
  });
} else {
  // Two runs per property and float32 only: each new shape compiles a WGSL shader (~0.1 s on the
  // software adapter); int32 ops run on the CPU backend in every mode and are covered by the webasm suite.
  runBackendConformance('gpu (webgpu)', () => createGpuBackend({ mode: 'webgpu', warn: failOnUnexpectedFallback }), { numRuns: 2, dtypes: ['float32'], tolerances: TOLERANCES });
}
