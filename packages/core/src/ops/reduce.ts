import type { ReduceOp } from '../backend.js';
import { record } from '../autograd.js';
import { normalizeDim, shapeSize, shapesEqual } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { add, cast, div, eq, mul, sqrt, sub } from './elementwise.js';
import { expand, reshape, transpose } from './movement.js';
import { wrap } from './util.js';

/** Sorted, unique, non-negative dims from `dim` (all dims when undefined). */
export function reduceDims(op: string, x: Tensor, dim: number | readonly number[] | undefined): number[] {
  if (dim === undefined) return x.shape.map((_, i) => i);
  const dims = (typeof dim === 'number' ? [dim] : [...dim]).map((d) => normalizeDim(op, d, x.ndim, x.shape));
  const unique = [...new Set(dims)].sort((a, b) => a - b);
  if (unique.length !== dims.length) throw new RangeError(`${op}: repeated dim in ${JSON.stringify(dim)}`);
  return unique;
}

/** x.shape with the reduced dims set to 1 (the keepdim shape). */
function keptShape(x: Tensor, dims: readonly number[]): number[] {
  return x.shape.map((d, i) => (dims.includes(i) ? 1 : d));
}

function reduceRaw(op: ReduceOp, x: Tensor, dims: readonly number[], keepdim: boolean): Tensor {
  // No dims (a 0-d x, or dim []): a fresh copy, never x itself, whose grad node the caller's record() would overwrite.
  let y = dims.length === 0 ? wrap(x.backend, x.backend.cast(x, x.dtype), x.shape, x.dtype) : x;
  // One axis at a time, highest first so lower axis numbers stay valid.
  for (let i = dims.length - 1; i >= 0; i--) {
    const axis = dims[i]!;
    const shape = y.shape.filter((_, k) => k !== axis);
    y = wrap(y.backend, y.backend.reduce(op, y, axis), shape, y.dtype);
  }
  return keepdim ? reshape(y, keptShape(x, dims)) : y;
}

/**
 * Sums `grad` down to `shape`, undoing NumPy broadcasting: leading extra dims and dims where `shape`
 * has 1 are summed. Every binary op's gradient goes through this one helper.
 */
export function sumToShape(grad: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(grad.shape, shape)) return grad;
  const lead = grad.ndim - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < grad.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && grad.shape[i] !== 1)) dims.push(i);
  }
  return reshape(sum(grad, dims, true), shape);
}

/** Sum over `dim` (all dims when omitted). */
export function sum(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  const dims = reduceDims('sum', x, dim);
  const out = reduceRaw('sum', x, dims, keepdim);
  return record('sum', out, [x], (dy) => [expand(reshape(dy, keptShape(x, dims)), x.shape)]);
}

/** Mean over `dim` (all dims when omitted); int32 input gives float32. */
export function mean(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  const dims = reduceDims('mean', x, dim);
  const count = shapeSize(dims.map((d) => x.shape[d]!));
  const X = x.dtype === 'int32' ? cast(x, 'float32') : x;
  return div(sum(X, dims, keepdim), count);
}

/** Options of `variance` and `std`. */
export interface VarianceOptions {
  /** Divide by n − 1 (Bessel's correction, the default, as torch.var) instead of n. */
  unbiased?: boolean;
  /** Keep the reduced dims as size 1. */
  keepdim?: boolean;
}

/**
 * Variance over `dim` (all dims when omitted): Σ(x − mean)² / (n − 1), or / n with `unbiased: false`.
 * Composed of mean, sub, mul and sum, so its gradient is theirs. `x.var()` is the method form.
 */
export function variance(x: Tensor, dim?: number | readonly number[], options: VarianceOptions = {}): Tensor {
  const { unbiased = true, keepdim = false } = options;
  const dims = reduceDims('var', x, dim);
  const n = shapeSize(dims.map((d) => x.shape[d]!));
  const X = x.dtype === 'int32' ? cast(x, 'float32') : x;
  const centered = sub(X, mean(X, dims, true));
  // n − 1 = 0 gives NaN (0/0) for unbiased variance of one element, as PyTorch does.
  return div(sum(mul(centered, centered), dims, keepdim), unbiased ? n - 1 : n);
}

/** Standard deviation over `dim`: √variance (unbiased by default, as torch.std). */
export function std(x: Tensor, dim?: number | readonly number[], options: VarianceOptions = {}): Tensor {
  return sqrt(variance(x, dim, options));
}

function extreme(op: 'max' | 'min', x: Tensor, dim: number | readonly number[] | undefined, keepdim: boolean): Tensor {
  const dims = reduceDims(op, x, dim);
  if (dims.some((d) => x.shape[d] === 0)) throw new RangeError(`${op}: cannot reduce an empty dim of shape [${x.shape.join(',')}]`);
  const out = reduceRaw(op, x, dims, keepdim);
  // Gradient is shared equally among tied extremes (as torch.amax does).
  return record(op, out, [x], (dy) => {
    const kept = keptShape(x, dims);
    const mask = eq(x, reshape(out, kept));
    const count = sum(mask, dims, true);
    return [mul(expand(reshape(div(dy, reshape(count, out.shape)), kept), x.shape), mask)];
  });
}

/** Maximum over `dim` (all dims when omitted). */
export const max = (x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor => extreme('max', x, dim, keepdim);
/** Minimum over `dim` (all dims when omitted). */
export const min = (x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor => extreme('min', x, dim, keepdim);

/** Index (int32) of the maximum along `dim`; over the flattened tensor when `dim` is omitted. First index wins ties. */
export function argmax(x: Tensor, dim?: number, keepdim = false): Tensor {
  if (dim === undefined) {
    const flat = reshape(x, [x.size]);
    return argmax(flat, 0, false);
  }
  const axis = normalizeDim('argmax', dim, x.ndim, x.shape);
  if (x.shape[axis] === 0) throw new RangeError(`argmax: cannot reduce an empty dim of shape [${x.shape.join(',')}]`);
  const shape = x.shape.filter((_, k) => k !== axis);
  const out = wrap(x.backend, x.backend.reduce('argmax', x, axis), shape, 'int32');
  return keepdim ? reshape(out, keptShape(x, [axis])) : out;
}

/**
 * Inclusive prefix sums along `dim` (last by default), like torch.cumsum: out[i] = x[0] + … + x[i].
 * Its gradient is the suffix sum of dy, written as sum(dy) − cumsum(dy) + dy.
 */
export function cumsum(x: Tensor, dim = -1): Tensor {
  const d = normalizeDim('cumsum', dim, Math.max(x.ndim, 1), x.ndim === 0 ? [1] : x.shape);
  if (x.ndim === 0) return cumsum(reshape(x, [1]), 0).reshape([]);
  if (d !== x.ndim - 1) return transpose(cumsum(transpose(x, d, -1), -1), d, -1);
  const out = wrap(x.backend, x.backend.cumsum(x), x.shape, x.dtype);
  if (x.dtype === 'int32') return out;
  return record('cumsum', out, [x], (dy) => [add(sub(sum(dy, -1, true), cumsum(dy, -1)), dy)]);
}
