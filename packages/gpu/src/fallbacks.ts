/**
 * Where an op cannot run as a kernel, declared once. gpu.js kernels compute in f32, so:
 * - float64 tensors stay on the CPU backend (f32 would silently lose precision);
 * - int32 tensors run as f32, which is exact for integers of magnitude below 2^24 (indices, counts,
 *   expert ids); ops whose int32 form is not exact in f32, or that ops never issue on int32, stay on
 *   the CPU (listed below with the reason);
 * - buffers of 2^24 elements or more: gpu.js types every kernel variable as f32 and its WebAssembly
 *   loops index in f32, exact only below 2^24 (measured: wrong elements past 16 777 216).
 */
import type { DType } from '@myriad/core';
import { MAX_KERNEL_ELEMENTS } from './indexing.js';

const FLOAT_ONLY = 'ops cast int32 to float32 before this op, so it has no int32 kernel';

/** int32 ops that run on the CPU backend, and why. Every other op has an int32 kernel. */
export const INT32_ON_CPU: Readonly<Record<string, string>> = {
  // WGSL's f32 division is accurate to 2.5 ulp, not correctly rounded, so trunc(a / b) can land one
  // below an exact quotient (6 / 3 -> 1.9999998 -> 1); ops never divide int32 (a / b is float32).
  'binary.div': 'int32 division (f32 division is not correctly rounded)',
  'binary.pow': `int32 pow (${FLOAT_ONLY})`,
  ...Object.fromEntries(
    ['exp', 'log', 'sqrt', 'tanh', 'sigmoid', 'gelu', 'silu', 'erf', 'reciprocal', 'geluGrad', 'sin', 'cos'].map((op) => [
      `unary.${op}`,
      `int32 ${op} (${FLOAT_ONLY})`,
    ]),
  ),
  matmul: `int32 matmul (${FLOAT_ONLY})`,
  embeddingBag: `int32 embeddingBag (${FLOAT_ONLY})`,
  rowDots: `int32 rowDots (${FLOAT_ONLY})`,
  rowOp: `int32 softmax/logsumexp (${FLOAT_ONLY})`,
  applyUpdate: 'int32 optimizer state (update rules are float arithmetic)',
};

/** Why op `key` on data of `dtype` with these buffer sizes must run on the CPU backend, or null. */
export function fallbackReason(key: string, dtype: DType, sizes: readonly number[]): string | null {
  if (dtype === 'float64') return 'float64 tensors';
  if (dtype === 'int32') {
    const why = INT32_ON_CPU[key] ?? INT32_ON_CPU[key.split('.')[0]!];
    if (why) return why;
  }
  if (sizes.some((s) => s >= MAX_KERNEL_ELEMENTS)) return 'buffers of 2^24 elements or more';
  return null;
}
