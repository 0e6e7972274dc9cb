// Central-difference gradient check in float64: compares autograd gradients of a scalar function
// against (f(θ+h) − f(θ−h)) / 2h for every element of every input tensor.
import { noGrad, SparseGrad, type Tensor } from '@myriad/core';

export interface GradCheckResult {
  /** Largest |analytic − numeric| / max(1, |numeric|) over all checked elements. */
  maxError: number;
  /** Where it occurred, e.g. "weight[3]". */
  where: string;
}

/**
 * Checks d f / d t for each named float64 tensor `t` (leaves with requiresGrad). `f` must rebuild
 * the graph from the current tensor values on every call.
 */
export function gradCheck(f: () => Tensor, inputs: Record<string, Tensor>, h = 1e-6): GradCheckResult {
  for (const [name, t] of Object.entries(inputs)) {
    if (t.dtype !== 'float64') throw new TypeError(`gradCheck: ${name} must be float64, got ${t.dtype}`);
    t.grad = null;
  }
  f().backward();
  let maxError = 0;
  let where = '';
  for (const [name, t] of Object.entries(inputs)) {
    const g = t.grad instanceof SparseGrad ? t.grad.toDense() : t.grad;
    const analytic = g === null ? new Float64Array(t.size) : g.toTypedArray();
    const data = t.data;
    for (let i = 0; i < t.size; i++) {
      const orig = data[i]!;
      data[i] = orig + h;
      const plus = noGrad(() => f().item());
      data[i] = orig - h;
      const minus = noGrad(() => f().item());
      data[i] = orig;
      const numeric = (plus - minus) / (2 * h);
      const err = Math.abs(analytic[i]! - numeric) / Math.max(1, Math.abs(numeric));
      if (err > maxError) {
        maxError = err;
        where = `${name}[${i}]`;
      }
    }
  }
  return { maxError, where };
}

/** A fixed pseudo-random float64 weighting so that sum(w ⊙ y) exercises every output element differently. */
export function probe(shape: readonly number[], seed = 7): Float64Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}
