import { record } from '../autograd.js';
import { promoteTypes } from '../dtype.js';
import { ShapeError, fmt } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { cast } from './elementwise.js';
import { sumToShape } from './reduce.js';
import { reshape, transpose } from './movement.js';
import { broadcastView, sameBackend, wrap } from './util.js';

/**
 * Matrix product with NumPy/PyTorch semantics: 1-D operands are promoted to a row/column and the
 * added dim removed afterwards; leading (batch) dims broadcast. Gradients: dA = dY·Bᵀ, dB = Aᵀ·dY —
 * transposes are stride swaps, which the kernel reads directly.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  sameBackend('matmul', a, b);
  if (a.ndim === 0 || b.ndim === 0)
    throw new ShapeError(`matmul: both operands need at least 1 dim, got ${fmt(a.shape)} @ ${fmt(b.shape)}`);
  const K = a.shape[a.ndim - 1]!;
  const Kb = b.ndim === 1 ? b.shape[0]! : b.shape[b.ndim - 2]!;
  if (K !== Kb) throw new ShapeError(`matmul: inner dimensions differ: ${fmt(a.shape)} @ ${fmt(b.shape)}`);
  if (a.dtype !== b.dtype) {
    const dtype = promoteTypes(a.dtype, b.dtype);
    return matmul(cast(a, dtype), cast(b, dtype));
  }
  if (a.ndim === 1) return reshape(matmul(reshape(a, [1, K]), b), b.ndim === 1 ? [] : [...b.shape.slice(0, -2), b.shape[b.ndim - 1]!]);
  if (b.ndim === 1) return reshape(matmul(a, reshape(b, [K, 1])), a.shape.slice(0, -1));
  return matmul2d(a, b);
}

function matmul2d(a: Tensor, b: Tensor): Tensor {
  const M = a.shape[a.ndim - 2]!;
  const K = a.shape[a.ndim - 1]!;
  const N = b.shape[b.ndim - 1]!;
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  let batch: number[];
  try {
    batch = broadcastShapes('matmul', batchA, batchB);
  } catch {
    throw new ShapeError(`matmul: batch dims ${fmt(batchA)} and ${fmt(batchB)} cannot be broadcast: ${fmt(a.shape)} @ ${fmt(b.shape)}`);
  }
  const av = broadcastView(a, [...batch, M, K]);
  const bv = broadcastView(b, [...batch, K, N]);
  const out = wrap(a.backend, a.backend.matmul(av, bv), [...batch, M, N], a.dtype);
  return record('matmul', out, [a, b], (dy) => [
    a.requiresGrad ? sumToShape(matmul2d(dy, transpose(b)), a.shape) : null,
    b.requiresGrad ? sumToShape(matmul2d(transpose(a), dy), b.shape) : null,
  ]);
}
