// The core conformance suite (every Backend kernel and a forward/backward pass, property-tested
// against the CPU backend's reference kernels) on gpu.js's WebAssembly mode, which needs no GPU.
import { runBackendConformance } from '@myriad/core/testing';
import { createGpuBackend } from '@myriad/gpu';
import { TOLERANCES, failOnUnexpectedFallback } from './tolerances.js';

const make = (): ReturnType<typeof createGpuBackend> => createGpuBackend({ mode: 'webasm', warn: failOnUnexpectedFallback });
runBackendConformance('gpu (webasm)', make, { numRuns: 6, tolerances: TOLERANCES });
