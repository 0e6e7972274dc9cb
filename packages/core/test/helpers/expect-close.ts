// Elementwise comparison of two tensors for the fused-vs-composed tests: |a − b| ≤ tol·(1 + |b|).
import { expect } from 'vitest';
import type { Tensor } from '../../src/index.js';

/** Fails naming `what`, the index and both values at the first element out of tolerance. */
export function expectClose(a: Tensor | null, b: Tensor | null, tol: number, what: string): void {
  expect(a, what).not.toBeNull();
  const A = a!.toTypedArray();
  const B = b!.toTypedArray();
  expect(A.length, what).toBe(B.length);
  for (let i = 0; i < A.length; i++)
    expect(Math.abs(A[i]! - B[i]!), `${what}[${i}]: ${A[i]} vs ${B[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(B[i]!)));
}
