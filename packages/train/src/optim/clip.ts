// Gradient clipping by global L2 norm (torch.nn.utils.clip_grad_norm_), sparse gradients included.
import { SparseGrad, add, cpuBackend, full, minimum, mul, reciprocal, sqrt, square, sum, type Tensor } from '@myriad/core';
import { coalesceRows } from './coalesce.js';
import { gradData, liveData, type FloatArray } from './live-data.js';

function sumSquares(a: FloatArray, start: number, end: number): number {
  let s = 0;
  for (let i = start; i < end; i++) s += a[i]! * a[i]!;
  return s;
}

// The gradient's own storage to scale in place; a strided gradient is first replaced by a copy.
function ownedArray(g: Tensor): { data: FloatArray; copy: Tensor | null } {
  const live = liveData(g);
  if (live && !(live instanceof Int32Array)) return { data: live, copy: null };
  const copy = g.contiguous().clone();
  return { data: liveData(copy) as FloatArray, copy };
}

/**
 * Scales all gradients of `params` by min(1, maxNorm / (‖g‖₂ + 1e-6)), where ‖g‖₂ is the norm of all
 * gradients together, and returns ‖g‖₂ before clipping. For a row-sparse gradient the norm is that of
 * its dense form (repeated rows summed first); scaling is linear, so its stored rows are scaled in
 * place and it stays sparse. A non-finite norm is returned and nothing is scaled.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new RangeError(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  const grads: Array<{ p: Tensor; g: Tensor | SparseGrad }> = [];
  let sumSq = 0;
  for (const p of params) {
    const g = p.grad;
    if (g === null) continue;
    grads.push({ p, g });
    if (g instanceof SparseGrad) {
      const rowSize = g.nnz === 0 ? 0 : g.values.size / g.nnz;
      const c = coalesceRows(g.indices.toTypedArray() as Int32Array, gradData(g.values), rowSize);
      for (const o of c.offsets) sumSq += o >= 0 ? sumSquares(c.values, o, o + rowSize) : sumSquares(c.summed, -o - 1, -o - 1 + rowSize);
    } else {
      const d = gradData(g);
      sumSq += sumSquares(d, 0, d.length);
    }
  }
  const norm = Math.sqrt(sumSq);
  if (!Number.isFinite(norm)) return norm;
  const scale = maxNorm / (norm + 1e-6);
  if (scale >= 1) return norm;
  for (const { p, g } of grads) {
    const target = g instanceof SparseGrad ? g.values : g;
    const { data, copy } = ownedArray(target);
    for (let i = 0; i < data.length; i++) data[i] = data[i]! * scale;
    if (copy) p.grad = g instanceof SparseGrad ? new SparseGrad(g.indices, copy, g.shape) : copy;
  }
  return norm;
}

/** Whether every gradient of `params` is on the CPU backend (other backends keep them on their device). */
function gradsOnHost(params: readonly Tensor[]): boolean {
  return params.every((p) => {
    const g = p.grad;
    if (g === null) return true;
    return (g instanceof SparseGrad ? [g.indices, g.values] : [g]).every((t) => t.backend === cpuBackend);
  });
}

/**
 * `clipGradNorm` that keeps everything on the gradients' backend: returns ‖g‖₂ (before clipping) as a
 * 0-d tensor and scales the gradients by min(1, maxNorm / (‖g‖₂ + 1e-6)) with device ops, reading
 * nothing back. `maxNorm` null only measures the norm. A caller that must know whether the norm is
 * finite (to skip a step) reads this one scalar, e.g. together with the loss.
 */
export function clipGradNormTensor(params: Iterable<Tensor>, maxNorm: number | null): Tensor {
  if (maxNorm !== null && !(maxNorm > 0))
    throw new RangeError(`clipGradNormTensor: maxNorm must be > 0 (or null to only measure), got ${maxNorm}`);
  const list = Array.from(params);
  if (gradsOnHost(list)) {
    // Host memory: the typed-array path above, without materialising anything.
    const norm = maxNorm === null ? clipGradNorm(list, Infinity) : clipGradNorm(list, maxNorm);
    // A fill, not an upload of host data: the backend makes the scalar (in the gradients' dtype).
    const g = list.find((p) => p.grad !== null)?.grad;
    return full([], norm, { dtype: g ? g.dtype : 'float64' });
  }
  let sumSq: Tensor | null = null;
  for (const p of list) {
    let g = p.grad;
    if (g === null) continue;
    // A sparse gradient's norm is that of its dense form: repeated rows are summed first. The
    // coalesced form replaces it (the same gradient), so the optimizer does not coalesce again.
    if (g instanceof SparseGrad) p.grad = g = g.coalesce();
    const term = sum(square(g instanceof SparseGrad ? g.values : g));
    sumSq = sumSq === null ? term : add(sumSq, term);
  }
  if (sumSq === null) return full([], 0);
  const norm = sqrt(sumSq);
  if (maxNorm === null) return norm;
  const scale = minimum(mul(reciprocal(add(norm, 1e-6)), maxNorm), 1);
  for (const p of list) {
    const g = p.grad;
    if (g === null) continue;
    p.grad = g instanceof SparseGrad ? new SparseGrad(g.indices, mul(g.values, scale), g.shape, g.coalesced) : mul(g, scale);
  }
  return norm;
}
