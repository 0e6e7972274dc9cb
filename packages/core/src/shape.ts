import { ShapeError, fmt } from './errors.js';

/** Number of elements of a shape (1 for a scalar `[]`). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a contiguous tensor of `shape`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** Whether a view with these strides walks its elements row-major without gaps (size-1 dims ignored). */
export function isContiguousLayout(shape: readonly number[], strides: readonly number[]): boolean {
  const expected = contiguousStrides(shape);
  for (let i = 0; i < shape.length; i++) if (shape[i] !== 1 && strides[i] !== expected[i]) return false;
  return true;
}

/** Resolves a possibly negative `dim` against `ndim`, throwing a RangeError that names the op. */
export function normalizeDim(op: string, dim: number, ndim: number, shape?: readonly number[]): number {
  const d = dim < 0 ? dim + ndim : dim;
  if (!Number.isInteger(dim) || d < 0 || d >= ndim) {
    const on = shape ? ` for shape ${fmt(shape)}` : ` for a ${ndim}-d tensor`;
    throw new RangeError(`${op}: dim ${dim} out of range${on}; expected an integer in [${-ndim}, ${ndim - 1}]`);
  }
  return d;
}

/** Checks a shape is a list of non-negative integers. */
export function assertShape(op: string, shape: readonly number[]): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShapeError(`${op}: invalid shape ${JSON.stringify(shape)}; expected non-negative integers`);
  }
}

/** NumPy broadcasting of two shapes; throws a ShapeError naming the op when they are incompatible. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: shapes ${fmt(a)} and ${fmt(b)} cannot be broadcast (dim ${i - n}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Whether two shapes are the same list of dims. */
export function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
