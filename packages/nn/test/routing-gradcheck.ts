// Central-difference gradient check for the routing-layer tests (float64 leaves, scalar loss).
// Kept local until @myriad/core/testing ships a gradCheck.
import { SparseGrad, type Tensor } from '@myriad/core';

/** Largest |analytic − numeric| / max(1, |numeric|) over every element of every input. */
export function maxGradError(loss: () => Tensor, inputs: readonly Tensor[], eps = 1e-6): number {
  for (const t of inputs) {
    if (t.dtype !== 'float64') throw new TypeError(`maxGradError: inputs must be float64, got ${t.dtype} [${t.shape.join(',')}]`);
    t.grad = null;
  }
  loss().backward();
  let worst = 0;
  for (const t of inputs) {
    const g = t.grad;
    const analytic = g === null ? new Float64Array(t.size) : (g instanceof SparseGrad ? g.toDense() : g).toTypedArray();
    const data = t.data;
    for (let i = 0; i < t.size; i++) {
      const keep = data[i]!;
      data[i] = keep + eps;
      const up = loss().item();
      data[i] = keep - eps;
      const down = loss().item();
      data[i] = keep;
      const numeric = (up - down) / (2 * eps);
      worst = Math.max(worst, Math.abs(analytic[i]! - numeric) / Math.max(1, Math.abs(numeric)));
    }
  }
  return worst;
}
