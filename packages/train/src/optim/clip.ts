// Gradient clipping by global L2 norm (torch.nn.utils.clip_grad_norm_), sparse gradients included.
import { SparseGrad, type Tensor } from '@myriad/core';
import { liveData } from './live-data.js';

// A gradient's live storage, or null when it is a strided view (then it is copied first).
function ownedData(g: Tensor): Float32Array | Float64Array | null {
  const data = liveData(g);
  return data instanceof Int32Array ? null : data;
}

/**
 * Scales all gradients of `params` by min(1, maxNorm / (‖g‖₂ + 1e-6)), where ‖g‖₂ is the norm of all
 * gradients together, and returns ‖g‖₂ before clipping. Row-sparse gradients are coalesced first (so
 * repeated rows count once, summed) and stay sparse. A non-finite norm is returned and nothing is scaled.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new RangeError(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  const arrays: Array<Float32Array | Float64Array> = [];
  for (const p of params) {
    let g = p.grad;
    if (g === null) continue;
    if (g instanceof SparseGrad) {
      g = g.coalesce();
      let values = ownedData(g.values);
      if (!values) {
        g = new SparseGrad(g.indices, g.values.contiguous().clone(), g.shape);
        values = ownedData(g.values)!;
      }
      p.grad = g;
      arrays.push(values);
    } else {
      let data = ownedData(g);
      if (!data) {
        p.grad = g = g.contiguous().clone();
        data = ownedData(g)!;
      }
      arrays.push(data);
    }
  }
  let sumSq = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) sumSq += a[i]! * a[i]!;
  const norm = Math.sqrt(sumSq);
  if (!Number.isFinite(norm)) return norm;
  const scale = maxNorm / (norm + 1e-6);
  if (scale < 1) for (const a of arrays) for (let i = 0; i < a.length; i++) a[i] = a[i]! * scale;
  return norm;
}
