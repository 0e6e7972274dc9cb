import { record } from '../autograd.js';
import { ShapeError, fmt } from '../errors.js';
import { contiguousStrides, normalizeDim, shapeSize } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { scalarLike } from './elementwise.js';
import { sumToShape } from './reduce.js';
import { broadcastView, sameBackend, wrap } from './util.js';

/** A contiguous copy that owns its storage (differentiable). */
export function clone(x: Tensor): Tensor {
  const out = wrap(x.backend, x.backend.cast(x, x.dtype), x.shape, x.dtype);
  return record('clone', out, [x], (dy) => [dy]);
}

/** x itself when contiguous, else a contiguous copy. */
export function contiguous(x: Tensor): Tensor {
  return x.isContiguous() ? x : clone(x);
}

/** Writes src (broadcast to x's shape) into x in place; not recorded by autograd. */
export function assign(x: Tensor, src: Tensor | number): void {
  const s = typeof src === 'number' ? scalarLike(src, x) : src;
  sameBackend('assign', x, s);
  const view = broadcastView(s.dtype === x.dtype ? s : wrap(s.backend, s.backend.cast(s, x.dtype), s.shape, x.dtype), x.shape);
  x.backend.copyInto(x, view);
}

/** Resolves one -1 in a target shape. */
function inferShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  const out = [...shape];
  const unknown = out.indexOf(-1);
  if (out.some((d, i) => !Number.isInteger(d) || d < -1 || (d === -1 && i !== unknown))) {
    throw new ShapeError(`${op}: invalid target shape ${fmt(shape)}; expected non-negative integers and at most one -1`);
  }
  if (unknown >= 0) {
    const known = shapeSize(out.filter((_, i) => i !== unknown));
    if (known === 0 || x.size % known !== 0)
      throw new ShapeError(`${op}: cannot reshape ${fmt(x.shape)} (${x.size} elements) to ${fmt(shape)}`);
    out[unknown] = x.size / known;
  }
  if (shapeSize(out) !== x.size)
    throw new ShapeError(`${op}: cannot reshape ${fmt(x.shape)} (${x.size} elements) to ${fmt(shape)} (${shapeSize(out)} elements)`);
  return out;
}

/** Strides for viewing x as `shape` without copying, or null when the layout does not allow it. */
function viewStrides(x: Tensor, shape: readonly number[]): number[] | null {
  if (x.isContiguous()) return contiguousStrides(shape);
  // Match groups of old dims to groups of new dims with equal element counts; each old group must be contiguous within itself.
  const oldDims = x.shape.map((d, i) => [d, x.strides[i]!] as const).filter(([d]) => d !== 1);
  const strides = new Array<number>(shape.length).fill(0);
  let o = 0;
  let n = 0;
  while (n < shape.length) {
    if (shape[n] === 1) {
      strides[n] = 1;
      n++;
      continue;
    }
    if (o >= oldDims.length) return null;
    let oldCount = oldDims[o]![0];
    let newCount = shape[n]!;
    const newStart = n;
    while (oldCount !== newCount) {
      if (oldCount < newCount) {
        o++;
        if (o >= oldDims.length) return null;
        if (oldDims[o - 1]![1] !== oldDims[o]![1] * oldDims[o]![0]) return null;
        oldCount *= oldDims[o]![0];
      } else {
        n++;
        if (n >= shape.length) return null;
        newCount *= shape[n]!;
      }
    }
    // Assign strides to the new dims of this group from the innermost old stride outward.
    let stride = oldDims[o]![1];
    for (let k = n; k >= newStart; k--) {
      strides[k] = stride;
      stride *= shape[k]!;
    }
    o++;
    n++;
  }
  return o === oldDims.length ? strides : null;
}

/** Same elements in a new shape (one dim may be -1). A view when the layout allows, else a copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const target = inferShape('reshape', x, shape);
  const strides = viewStrides(x, target);
  const out = strides ? x._view(target, strides, x.offset) : wrap(x.backend, x.backend.cast(x, x.dtype), target, x.dtype);
  return record('reshape', out, [x], (dy) => [reshape(dy, x.shape)]);
}

/** Reorders dims: output dim i is input dim dims[i]. A view. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.ndim)
    throw new ShapeError(`permute: got ${dims.length} dims ${JSON.stringify(dims)} for a ${x.ndim}-d tensor ${fmt(x.shape)}`);
  const p = dims.map((d) => normalizeDim('permute', d, x.ndim, x.shape));
  if (new Set(p).size !== p.length) throw new ShapeError(`permute: dims ${JSON.stringify(dims)} are not a permutation of 0..${x.ndim - 1}`);
  const out = x._view(
    p.map((d) => x.shape[d]!),
    p.map((d) => x.strides[d]!),
    x.offset,
  );
  const inverse = new Array<number>(p.length);
  p.forEach((d, i) => (inverse[d] = i));
  return record('permute', out, [x], (dy) => [permute(dy, inverse)]);
}

/** Swaps two dims (the last two by default). A view. */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  if (x.ndim < 2 && dim0 === -2 && dim1 === -1) throw new ShapeError(`transpose: needs at least 2 dims, got ${fmt(x.shape)}`);
  const a = normalizeDim('transpose', dim0, x.ndim, x.shape);
  const b = normalizeDim('transpose', dim1, x.ndim, x.shape);
  const dims = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permute(x, dims);
}

/** Broadcasts size-1 dims (and new leading dims) to `shape` without copying; -1 keeps a dim. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  if (shape.length < x.ndim) throw new ShapeError(`expand: target ${fmt(shape)} has fewer dims than ${fmt(x.shape)}`);
  const lead = shape.length - x.ndim;
  const target = shape.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead]! : d));
  target.forEach((d, i) => {
    const from = i >= lead ? x.shape[i - lead]! : 1;
    if (!Number.isInteger(d) || d < 0 || (from !== 1 && from !== d)) {
      throw new ShapeError(`expand: cannot expand ${fmt(x.shape)} to ${fmt(shape)} (dim ${i}: ${from} -> ${d}; only size-1 dims expand)`);
    }
  });
  const out = broadcastView(x, target);
  if (out === x) return x;
  return record('expand', out, [x], (dy) => [sumToShape(dy, x.shape)]);
}

/** Elements [start, end) along `dim` (Python-style negative and clamped bounds). A view. */
export function slice(x: Tensor, dim: number, start = 0, end?: number): Tensor {
  const d = normalizeDim('slice', dim, x.ndim, x.shape);
  const n = x.shape[d]!;
  const clampIndex = (i: number) => Math.min(Math.max(i < 0 ? i + n : i, 0), n);
  if (!Number.isInteger(start) || (end !== undefined && !Number.isInteger(end)))
    throw new RangeError(`slice: start/end must be integers, got ${start}, ${end}`);
  const s = clampIndex(start);
  const e = Math.max(s, clampIndex(end ?? n));
  const shape = x.shape.map((v, i) => (i === d ? e - s : v));
  const out = x._view(shape, x.strides, x.offset + s * x.strides[d]!);
  return record('slice', out, [x], (dy) => {
    // Gradient: dy placed back into a zero tensor of the input's shape.
    const g = wrap(dy.backend, dy.backend.full(dy.dtype, x.size, 0), x.shape, dy.dtype);
    dy.backend.copyInto(g._view(shape, g.strides, s * g.strides[d]!), dy);
    return [g];
  });
}

/** Inserts a size-1 dim at `dim` (a view). */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normalizeDim('unsqueeze', dim, x.ndim + 1);
  const shape = [...x.shape];
  shape.splice(d, 0, 1);
  return reshape(x, shape);
}

/** Removes `dim` if it has size 1, or every size-1 dim when `dim` is omitted. */
export function squeeze(x: Tensor, dim?: number): Tensor {
  if (dim === undefined)
    return reshape(
      x,
      x.shape.filter((d) => d !== 1),
    );
  const d = normalizeDim('squeeze', dim, x.ndim, x.shape);
  if (x.shape[d] !== 1) return x;
  return reshape(
    x,
    x.shape.filter((_, i) => i !== d),
  );
}

/** Merges dims startDim..endDim into one. */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normalizeDim('flatten', startDim, x.ndim, x.shape);
  const e = normalizeDim('flatten', endDim, x.ndim, x.shape);
  if (s > e) throw new RangeError(`flatten: startDim ${startDim} comes after endDim ${endDim} for ${fmt(x.shape)}`);
  return reshape(x, [...x.shape.slice(0, s), shapeSize(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

/** Joins tensors along an existing dim; all other dims must match. */
export function concat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new ShapeError('concat: expected at least one tensor');
  const first = tensors[0]!;
  const d = normalizeDim('concat', dim, first.ndim, first.shape);
  const backend = sameBackend('concat', ...tensors);
  for (const t of tensors) {
    if (t.ndim !== first.ndim || t.shape.some((v, i) => i !== d && v !== first.shape[i])) {
      throw new ShapeError(`concat: shapes ${tensors.map((u) => fmt(u.shape)).join(', ')} differ outside dim ${dim}`);
    }
    if (t.dtype !== first.dtype) throw new TypeError(`concat: dtypes differ (${first.dtype} vs ${t.dtype})`);
  }
  const total = tensors.reduce((s, t) => s + t.shape[d]!, 0);
  const shape = first.shape.map((v, i) => (i === d ? total : v));
  const out = wrap(backend, backend.full(first.dtype, shapeSize(shape), 0), shape, first.dtype);
  const starts: number[] = [];
  let at = 0;
  for (const t of tensors) {
    starts.push(at);
    if (t.size > 0) backend.copyInto(out._view(t.shape, out.strides, at * out.strides[d]!), t);
    at += t.shape[d]!;
  }
  return record('concat', out, tensors, (dy) => tensors.map((t, i) => slice(dy, d, starts[i]!, starts[i]! + t.shape[d]!)));
}

/** Stacks same-shaped tensors along a new dim. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new ShapeError('stack: expected at least one tensor');
  const first = tensors[0]!;
  for (const t of tensors) {
    if (t.ndim !== first.ndim || t.shape.some((v, i) => v !== first.shape[i])) {
      throw new ShapeError(`stack: all tensors must have the same shape, got ${tensors.map((u) => fmt(u.shape)).join(', ')}`);
    }
  }
  const d = normalizeDim('stack', dim, first.ndim + 1);
  return concat(
    tensors.map((t) => unsqueeze(t, d)),
    d,
  );
}

/** PyTorch's name for `concat`. */
export const cat = concat;

/**
 * Splits x along `dim` into views (torch.split): pieces of `sizeOrSections` elements (the last may be
 * smaller) when it is a number, or of exactly the listed sizes, which must sum to the dim's size.
 */
export function split(x: Tensor, sizeOrSections: number | readonly number[], dim = 0): Tensor[] {
  const d = normalizeDim('split', dim, x.ndim, x.shape);
  const n = x.shape[d]!;
  let sizes: number[];
  if (typeof sizeOrSections === 'number') {
    if (!Number.isInteger(sizeOrSections) || sizeOrSections <= 0)
      throw new RangeError(`split: size ${sizeOrSections} must be a positive integer`);
    sizes = [];
    for (let at = 0; at < n; at += sizeOrSections) sizes.push(Math.min(sizeOrSections, n - at));
    if (n === 0) sizes = [0];
  } else {
    sizes = [...sizeOrSections];
    const total = sizes.reduce((a, b) => a + b, 0);
    if (sizes.some((s) => !Number.isInteger(s) || s < 0) || total !== n) {
      throw new ShapeError(
        `split: sections ${JSON.stringify(sizes)} must be non-negative integers summing to ${n} (dim ${dim} of ${fmt(x.shape)}), got sum ${total}`,
      );
    }
  }
  const out: Tensor[] = [];
  let at = 0;
  for (const s of sizes) {
    out.push(slice(x, d, at, at + s));
    at += s;
  }
  return out;
}

/** Splits x along `dim` into `chunks` views of ⌈n / chunks⌉ elements (torch.chunk: the last may be smaller, and fewer pieces may come back). */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  if (!Number.isInteger(chunks) || chunks <= 0) throw new RangeError(`chunk: chunks ${chunks} must be a positive integer`);
  const d = normalizeDim('chunk', dim, x.ndim, x.shape);
  const n = x.shape[d]!;
  return split(x, Math.max(1, Math.ceil(n / chunks)), d);
}
