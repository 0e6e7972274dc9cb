import { cpuBackend, resetKernels } from '@myriad/core';
import { runBackendConformance } from '@myriad/core/testing';
import { beforeAll } from 'vitest';

// Sanity run of the conformance suite on the CPU backend itself, with the plain TypeScript kernels
// installed (the reference path). conformance-kernels.test.ts covers the faster kernel path.
beforeAll(() => resetKernels());
runBackendConformance('cpu (js kernels)', () => cpuBackend, { dtypes: ['float32', 'float64', 'int32'], numRuns: 8 });
