import type { Backend, Storage } from '../backend.js';
import type { DType } from '../dtype.js';
import { ShapeError, fmt } from '../errors.js';
import { Tensor } from '../tensor.js';
import { shapesEqual } from '../shape.js';

/** Wraps fresh contiguous storage as a tensor. */
export function wrap(backend: Backend, storage: Storage, shape: readonly number[], dtype: DType): Tensor {
  return Tensor._make(backend, storage, shape, dtype);
}

/** A stride-0 view of `t` broadcast to `shape` (no autograd: kernel input only). */
export function broadcastView(t: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(t.shape, shape)) return t;
  const lead = shape.length - t.shape.length;
  const strides = shape.map((d, i) => {
    const j = i - lead;
    if (j < 0) return 0;
    const td = t.shape[j]!;
    if (td === d) return t.strides[j]!;
    if (td === 1) return 0;
    throw new ShapeError(`broadcast: cannot broadcast ${fmt(t.shape)} to ${fmt(shape)}`);
  });
  return t._view(shape, strides, t.offset);
}

/** Checks all tensors live on one backend. */
export function sameBackend(op: string, ...ts: Tensor[]): Backend {
  const b = ts[0]!.backend;
  for (const t of ts) {
    if (t.backend !== b) throw new Error(`${op}: tensors live on different backends (${b.name} and ${t.backend.name}); move them first`);
  }
  return b;
}

export function requireFloat(op: string, t: Tensor): void {
  if (t.dtype === 'int32') throw new TypeError(`${op}: expected a float tensor, got int32 ${fmt(t.shape)}`);
}

export function requireInt(op: string, what: string, t: Tensor): void {
  if (t.dtype !== 'int32') throw new TypeError(`${op}: ${what} must be int32, got ${t.dtype} ${fmt(t.shape)}`);
}

/** int32 [0, 1, …, n−1] made on `backend` by kernels (a prefix sum of ones), so no host upload. */
export function iota(backend: Backend, n: number): Tensor {
  const ones = wrap(backend, backend.full('int32', n, 1), [n], 'int32');
  const counts = wrap(backend, backend.cumsum(ones), [n], 'int32');
  return wrap(backend, backend.binary('sub', counts, ones), [n], 'int32');
}
