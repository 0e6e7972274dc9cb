import type { Tolerance } from '@myriad/core/testing';

/**
 * Stated tolerances of the gpu kernels against the CPU reference (float32 in, float32 out). Default
 * (rtol 1e-4, atol 1e-5) holds for most kernels; these differ for a reason:
 * - matmul/ops: K-term sums accumulate in a different order (and WGSL may fuse multiply-adds).
 * - erf/gelu: Abramowitz–Stegun 7.1.26 erf, |error| < 1.5e-7 absolute.
 * - exp/tanh/sigmoid/silu/pow/rowOp: GPU transcendental functions are accurate to a few ulp, not
 *   correctly rounded.
 */
export const TOLERANCES: Record<string, Tolerance> = {
  matmul: { rtol: 1e-4, atol: 1e-4 },
  'unary.erf': { atol: 1e-6 },
  'unary.gelu': { atol: 1e-6 },
  'unary.tanh': { atol: 1e-6 },
  'unary.exp': { rtol: 2e-4 },
  'binary.pow': { rtol: 2e-4, atol: 1e-5 },
  rowOp: { rtol: 2e-4, atol: 1e-5 },
  ops: { rtol: 1e-3, atol: 1e-4 },
};

/** Warning hook for the suites: every op the conformance suite issues has a kernel, so any CPU fallback fails the test. */
export function failOnUnexpectedFallback(message: string): void {
  throw new Error(`unexpected CPU fallback: ${message}`);
}
