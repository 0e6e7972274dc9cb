import { afterEach, describe, expect, it } from 'vitest';
import { jsKernels, kernels, resetKernels } from '../src/cpu/kernels.js';
import { installWasmKernels, installWasmKernelsAsync } from '../src/cpu/wasm/install.js';

describe('installWasmKernels', () => {
  const saved = process.env.MYRIAD_CPU_KERNELS;
  afterEach(() => {
    if (saved === undefined) delete process.env.MYRIAD_CPU_KERNELS;
    else process.env.MYRIAD_CPU_KERNELS = saved;
    resetKernels();
  });

  it('keeps the plain kernels when MYRIAD_CPU_KERNELS=js', () => {
    process.env.MYRIAD_CPU_KERNELS = 'js';
    expect(installWasmKernels()).toBe(false);
    expect(kernels.matmulF32).toBe(jsKernels.matmulF32);
  });

  it('replaces matmul, topk and the softmax family, and the seam still computes the same product', () => {
    delete process.env.MYRIAD_CPU_KERNELS;
    expect(installWasmKernels()).toBe(true);
    for (const name of ['matmulF32', 'topkRowsF32', 'softmaxRowsF32', 'logSoftmaxRowsF32', 'logsumexpRowsF32'] as const) {
      expect(kernels[name]).not.toBe(jsKernels[name]);
    }
    // A product below the WebAssembly threshold and one above it, both through the seam.
    for (const n of [3, 40]) {
      const a = Float32Array.from({ length: n * n }, (_, i) => (i % 7) - 3);
      const b = Float32Array.from({ length: n * n }, (_, i) => (i % 5) - 2);
      const w = new Float32Array(n * n),
        j = new Float32Array(n * n);
      kernels.matmulF32(a, 0, n, 1, b, 0, 1, n, w, 0, n, n, n);
      jsKernels.matmulF32(a, 0, n, 1, b, 0, 1, n, j, 0, n, n, n);
      expect(w).toEqual(j); // small integers: both sums are exact
    }
  });

  it('installs asynchronously too (the browser main-thread path)', async () => {
    delete process.env.MYRIAD_CPU_KERNELS;
    expect(await installWasmKernelsAsync()).toBe(true);
    const v = new Float32Array(2),
      i = new Int32Array(2);
    kernels.topkRowsF32(new Float32Array([1, 5, 3]), 1, 3, 2, v, i);
    expect(Array.from(i)).toEqual([1, 2]);
  });
});
