// The core conformance suite (every Backend kernel and a forward/backward pass, property-tested
// against the CPU backend's reference kernels) on gpu.js's WebAssembly mode, which needs no GPU.
import { runBackendConformance } from '@myriad/core/testing';
import { createGpuBackend } from '@myriad/gpu';
import { TOLERANCES, failOnUnexpectedFallback } from './tolerances.js';

runBackendConformance('gpu (webasm)', () => createGpuBackend({ mode: 'webasm', warn: failOnUnexpectedFallback }), { numRuns: 6, tolerances: TOLERANCES });
