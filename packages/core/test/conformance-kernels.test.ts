import { cpuBackend, cpuKernels, jsKernels, type CpuKernels } from '@myriad/core';
import { runBackendConformance } from '@myriad/core/testing';
import { describe, it } from 'vitest';
import { installWasmKernels } from '../src/cpu/wasm/install.js';

// The conformance suite on the CPU backend with the fast kernels (WebAssembly SIMD) behind the
// kernel seam, compared against the plain TypeScript kernels. With MYRIAD_CPU_KERNELS=js (or no
// WebAssembly SIMD) nothing is installed and this file reports a skip; conformance-cpu.test.ts
// always covers the plain path.
installWasmKernels();
const replaced = (Object.keys(jsKernels) as (keyof CpuKernels)[]).filter((k) => cpuKernels[k] !== jsKernels[k]);

if (replaced.length > 0) {
  runBackendConformance(`cpu (fast kernels: ${replaced.join(', ')})`, () => cpuBackend, { dtypes: ['float32', 'int32'], numRuns: 12 });
} else {
  describe('backend conformance: cpu fast kernels', () => {
    it.skip('no faster kernels installed (MYRIAD_CPU_KERNELS=js or no WebAssembly SIMD)', () => {});
  });
}
