// Sorting, composed from topk with k = n: topk is descending with ties to the lower index, so it is a
// stable descending sort; topk of −x is a stable ascending one (ties still keep their order).
import { ShapeError } from '../errors.js';
import { normalizeDim } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { neg } from './elementwise.js';
import { gather, topk } from './indexing.js';
import { reshape } from './movement.js';

/** `{ values, indices }` of x sorted along `dim` (last by default), ascending unless `descending`; stable (equal elements keep their order). Values are differentiable. */
export function sort(x: Tensor, dim = -1, descending = false): { values: Tensor; indices: Tensor } {
  if (x.ndim === 0) {
    const r = sort(reshape(x, [1]), 0, descending);
    return { values: reshape(r.values, []), indices: reshape(r.indices, []) };
  }
  if (typeof descending !== 'boolean') throw new TypeError(`sort: descending must be a boolean, got ${String(descending)}`);
  const d = normalizeDim('sort', dim, x.ndim, x.shape);
  const n = x.shape[d]!;
  if (descending) return topk(x, n, d);
  const { indices } = topk(neg(x), n, d);
  return { values: gather(x, d, indices), indices };
}

/** int32 indices that sort x along `dim` (ascending unless `descending`), stable: `sort(x).indices`. */
export function argsort(x: Tensor, dim = -1, descending = false): Tensor {
  if (x.ndim === 0 && dim !== 0 && dim !== -1) throw new ShapeError(`argsort: dim ${dim} out of range for a scalar`);
  return sort(x, dim, descending).indices;
}
