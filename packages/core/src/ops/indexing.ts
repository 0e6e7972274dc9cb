import { record } from '../autograd.js';
import { promoteTypes } from '../dtype.js';
import { ShapeError, fmt } from '../errors.js';
import { broadcastShapes, normalizeDim } from '../shape.js';
import { SparseGrad } from '../sparse-grad.js';
import type { Tensor } from '../tensor.js';
import { cast, eq, scalarLike, type Operand } from './elementwise.js';
import { reshape, transpose, unsqueeze } from './movement.js';
import { sumToShape } from './reduce.js';
import { broadcastView, iota, requireInt, sameBackend, wrap } from './util.js';

function zerosOf(x: Tensor): Tensor {
  return wrap(x.backend, x.backend.full(x.dtype, x.size, 0), x.shape, x.dtype);
}

/** torch.gather: out[i][j] = x[i][index[i][j]] for dim 1 (likewise for any dim). Output has index's shape. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  requireInt('gather', 'index', index);
  const d = normalizeDim('gather', dim, x.ndim, x.shape);
  if (index.ndim !== x.ndim || index.shape.some((v, i) => i !== d && v > x.shape[i]!)) {
    throw new ShapeError(`gather: index ${fmt(index.shape)} must have x's rank and fit inside x ${fmt(x.shape)} outside dim ${dim}`);
  }
  sameBackend('gather', x, index);
  const out = wrap(x.backend, x.backend.gather(x, d, index), index.shape, x.dtype);
  return record('gather', out, [x], (dy) => [scatterAdd(zerosOf(x), d, index, dy)]);
}

/** Returns x plus src added at the positions index names along dim (torch.scatter_add, out of place). */
export function scatterAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  requireInt('scatterAdd', 'index', index);
  const d = normalizeDim('scatterAdd', dim, x.ndim, x.shape);
  if (index.ndim !== x.ndim || src.ndim !== x.ndim || index.shape.some((v, i) => v !== src.shape[i] || (i !== d && v > x.shape[i]!))) {
    throw new ShapeError(
      `scatterAdd: index ${fmt(index.shape)} and src ${fmt(src.shape)} must have the same shape, fitting x ${fmt(x.shape)} outside dim ${dim}`,
    );
  }
  sameBackend('scatterAdd', x, index, src);
  const S = cast(src, x.dtype);
  const out = wrap(x.backend, x.backend.scatterAdd(x, d, index, S), x.shape, x.dtype);
  return record('scatterAdd', out, [x, S], (dy) => [dy, gather(dy, d, index)]);
}

/**
 * Picks slices of `table` along `dim` by int32 `indices`. Along dim 0 (embedding lookup) indices may
 * have any shape: the output is indices.shape + table.shape[1:], and the gradient of a leaf table is
 * a SparseGrad holding only the looked-up rows.
 */
export function indexSelect(table: Tensor, dim: number, indices: Tensor): Tensor {
  requireInt('indexSelect', 'indices', indices);
  sameBackend('indexSelect', table, indices);
  const d = normalizeDim('indexSelect', dim, table.ndim, table.shape);
  if (d !== 0) {
    if (indices.ndim !== 1) throw new ShapeError(`indexSelect: indices must be 1-d for dim ${dim}, got ${fmt(indices.shape)}`);
    return transpose(indexSelect(transpose(table, 0, d), 0, indices), 0, d);
  }
  const rowShape = table.shape.slice(1);
  const out = wrap(table.backend, table.backend.gatherRows(table, indices), [...indices.shape, ...rowShape], table.dtype);
  return record('indexSelect', out, [table], (dy) => {
    const n = indices.size;
    const flatIdx = reshape(indices, [n]).clone(); // the gradient must not alias the caller's index tensor
    return [new SparseGrad(flatIdx, reshape(dy, [n, ...rowShape]), table.shape)];
  });
}

/**
 * The k largest entries along `dim` (last by default), sorted descending, ties broken toward the lower
 * index: `{ values, indices }` (indices int32). Values are differentiable.
 */
export function topk(x: Tensor, k: number, dim = -1): { values: Tensor; indices: Tensor } {
  if (x.ndim === 0) throw new ShapeError('topk: needs at least 1 dim, got a scalar');
  const d = normalizeDim('topk', dim, x.ndim, x.shape);
  const n = x.shape[d]!;
  if (!Number.isInteger(k) || k < 0 || k > n) {
    throw new RangeError(`topk: k=${k} must be an integer in [0, ${n}] (size of dim ${dim} in ${fmt(x.shape)})`);
  }
  if (d !== x.ndim - 1) {
    const r = topk(transpose(x, d, -1), k, -1);
    return { values: transpose(r.values, d, -1), indices: transpose(r.indices, d, -1).contiguous() };
  }
  const outShape = [...x.shape.slice(0, -1), k];
  const r = x.backend.topk(x, k);
  const indices = wrap(x.backend, r.indices, outShape, 'int32');
  const values = wrap(x.backend, r.values, outShape, x.dtype);
  record('topk', values, [x], (dy) => [scatterAdd(zerosOf(x), d, indices, dy)]);
  return { values, indices };
}

/** Elementwise `cond ? a : b` with broadcasting (cond: any dtype, non-zero is true). */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const like = typeof a === 'number' ? (typeof b === 'number' ? null : b) : a;
  const A0 = typeof a === 'number' ? (like ? scalarLike(a, like) : scalarLike(a, cast(cond, 'float32'))) : a;
  const B0 = typeof b === 'number' ? scalarLike(b, A0) : b;
  const dtype = promoteTypes(A0.dtype, B0.dtype);
  const A = cast(A0, dtype);
  const B = cast(B0, dtype);
  sameBackend('where', cond, A, B);
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, A.shape), B.shape);
  const out = wrap(A.backend, A.backend.where(broadcastView(cond, shape), broadcastView(A, shape), broadcastView(B, shape)), shape, dtype);
  const zero = scalarLike(0, out);
  return record('where', out, [A, B], (dy) => [
    A.requiresGrad ? sumToShape(where(cond, dy, zero), A.shape) : null,
    B.requiresGrad ? sumToShape(where(cond, zero, dy), B.shape) : null,
  ]);
}

/** x with `value` wherever mask is non-zero (mask broadcasts to x). */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  const shape = broadcastShapes('maskedFill', x.shape, mask.shape);
  if (shape.length !== x.ndim || shape.some((v, i) => v !== x.shape[i])) {
    throw new ShapeError(`maskedFill: mask ${fmt(mask.shape)} must broadcast to x ${fmt(x.shape)}`);
  }
  return where(mask, value, x);
}

/**
 * One-hot encoding (torch.nn.functional.one_hot): int32 `indices` of any shape give int32
 * indices.shape + [numClasses] with a 1 at each index. Without `numClasses`, max(indices) + 1 (read
 * back to the host). Indices are range-checked where they can be read without a device round trip.
 */
export function oneHot(indices: Tensor, numClasses?: number): Tensor {
  requireInt('oneHot', 'indices', indices);
  const readable = indices.backend.hostData(indices.storage) !== null;
  let classes = numClasses;
  if (classes === undefined) {
    let top = -1;
    for (const v of indices.toTypedArray()) top = Math.max(top, v);
    classes = top + 1;
  }
  if (!Number.isInteger(classes) || classes < 0) throw new RangeError(`oneHot: numClasses must be a non-negative integer, got ${classes}`);
  if (readable) {
    const v = indices.toTypedArray();
    for (let i = 0; i < v.length; i++) {
      if (v[i]! < 0 || v[i]! >= classes)
        throw new RangeError(
          `oneHot: index ${v[i]} at flat index ${i} out of range for ${classes} classes; expected 0 <= index < ${classes}`,
        );
    }
  }
  return eq(unsqueeze(indices, -1), iota(indices.backend, classes));
}
