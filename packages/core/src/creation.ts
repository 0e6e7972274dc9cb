import { getBackend } from './backend.js';
import { allocTyped, assertDType, dtypeOfTyped, type DType, type TypedArray } from './dtype.js';
import { ShapeError, fmt } from './errors.js';
import { getGlobalRng, Rng } from './random.js';
import { assertShape, shapeSize } from './shape.js';
import { Tensor, type NestedArray } from './tensor.js';

export interface TensorOptions {
  shape?: readonly number[];
  dtype?: DType;
  requiresGrad?: boolean;
}

export interface RandomOptions {
  dtype?: DType;
  requiresGrad?: boolean;
  /** Seed for a private generator; without it the global generator (see manualSeed) is used. */
  seed?: number;
  /** Generator to draw from (overrides seed). */
  rng?: Rng;
}

function fromTyped(data: TypedArray, shape: readonly number[], requiresGrad = false): Tensor {
  const backend = getBackend();
  const t = Tensor._make(backend, backend.fromTypedArray(data), shape, dtypeOfTyped(data));
  if (requiresGrad) t.requiresGrad = true;
  return t;
}

function nestedShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0]!;
  }
  return shape;
}

function flattenNested(data: NestedArray, shape: readonly number[], out: TypedArray): void {
  let k = 0;
  const walk = (node: NestedArray, dim: number, path: number[]): void => {
    if (dim === shape.length) {
      if (typeof node !== 'number') throw new ShapeError(`tensor: ragged nested array at ${JSON.stringify(path)}; expected a number`);
      out[k++] = node;
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[dim]) {
      throw new ShapeError(`tensor: ragged nested array at ${JSON.stringify(path)}; expected length ${shape[dim]} (shape ${fmt(shape)})`);
    }
    node.forEach((child, i) => walk(child, dim + 1, [...path, i]));
  };
  walk(data, 0, []);
}

/**
 * Creates a tensor from a number, nested arrays, or a typed array (`{ shape }` required unless 1-d).
 * dtype defaults to float32 (or the typed array's own type).
 */
export function tensor(data: number | NestedArray | TypedArray | readonly number[], options: TensorOptions = {}): Tensor {
  const { requiresGrad = false } = options;
  if (options.dtype !== undefined) assertDType('tensor', options.dtype);
  if (ArrayBuffer.isView(data)) {
    const typed = data as TypedArray;
    const shape = options.shape ?? [typed.length];
    assertShape('tensor', shape);
    if (shapeSize(shape) !== typed.length)
      throw new ShapeError(`tensor: ${typed.length} values do not fill shape ${fmt(shape)} (${shapeSize(shape)} elements)`);
    const dtype = options.dtype ?? dtypeOfTyped(typed);
    const copy = allocTyped(dtype, typed.length);
    copy.set(typed);
    return fromTyped(copy, shape, requiresGrad);
  }
  const nested = data as NestedArray;
  const inferred = typeof nested === 'number' ? [] : nestedShape(nested);
  const dtype = options.dtype ?? 'float32';
  const out = allocTyped(dtype, shapeSize(inferred));
  if (typeof nested === 'number') out[0] = nested;
  else flattenNested(nested, inferred, out);
  const shape = options.shape ?? inferred;
  assertShape('tensor', shape);
  if (shapeSize(shape) !== out.length) throw new ShapeError(`tensor: ${out.length} values do not fill shape ${fmt(shape)}`);
  return fromTyped(out, shape, requiresGrad);
}

function filled(op: string, shape: readonly number[], value: number, options: Omit<TensorOptions, 'shape'>): Tensor {
  assertShape(op, shape);
  if (options.dtype !== undefined) assertDType(op, options.dtype);
  const dtype = options.dtype ?? 'float32';
  const backend = getBackend();
  const t = Tensor._make(backend, backend.full(dtype, shapeSize(shape), value), shape, dtype);
  if (options.requiresGrad) t.requiresGrad = true;
  return t;
}

/** A tensor filled with `value`. */
export const full = (shape: readonly number[], value: number, options: Omit<TensorOptions, 'shape'> = {}) =>
  filled('full', shape, value, options);
/** A tensor of zeros. */
export const zeros = (shape: readonly number[], options: Omit<TensorOptions, 'shape'> = {}) => filled('zeros', shape, 0, options);
/** A tensor of ones. */
export const ones = (shape: readonly number[], options: Omit<TensorOptions, 'shape'> = {}) => filled('ones', shape, 1, options);
/** Zeros with t's shape and dtype. */
export const zerosLike = (t: Tensor, options: Omit<TensorOptions, 'shape'> = {}) => full(t.shape, 0, { dtype: t.dtype, ...options });
/** Ones with t's shape and dtype. */
export const onesLike = (t: Tensor, options: Omit<TensorOptions, 'shape'> = {}) => full(t.shape, 1, { dtype: t.dtype, ...options });

/** Values start, start+step, ... below end (`arange(n)` counts 0..n-1). int32 when all arguments are integers. */
export function arange(start: number, end?: number, step = 1, options: Omit<TensorOptions, 'shape'> = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0 || !Number.isFinite(step)) throw new RangeError(`arange: step must be a non-zero finite number, got ${step}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const ints = Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step);
  const out = allocTyped(options.dtype ?? (ints ? 'int32' : 'float32'), n);
  for (let i = 0; i < n; i++) out[i] = start + i * step;
  return fromTyped(out, [n], options.requiresGrad);
}

/**
 * `steps` values evenly spaced from start to end, both included (torch.linspace); float32 unless
 * `dtype` says otherwise. The first half counts up from start and the second down from end, so both
 * ends are exact.
 */
export function linspace(start: number, end: number, steps: number, options: Omit<TensorOptions, 'shape'> = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`linspace: steps must be a non-negative integer, got ${steps}`);
  if (!Number.isFinite(start) || !Number.isFinite(end))
    throw new RangeError(`linspace: start and end must be finite, got ${start}, ${end}`);
  if (options.dtype !== undefined) assertDType('linspace', options.dtype);
  const out = allocTyped(options.dtype ?? 'float32', steps);
  const step = steps > 1 ? (end - start) / (steps - 1) : 0;
  const half = Math.ceil(steps / 2);
  for (let i = 0; i < steps; i++)
    out[i] = i === 0 ? start : i === steps - 1 ? end : i < half ? start + i * step : end - (steps - 1 - i) * step;
  return fromTyped(out, [steps], options.requiresGrad);
}

function rngOf(options: RandomOptions): Rng {
  return options.rng ?? (options.seed !== undefined ? new Rng(options.seed) : getGlobalRng());
}

function randomTensor(op: string, shape: readonly number[], options: RandomOptions, draw: (rng: Rng) => number): Tensor {
  assertShape(op, shape);
  const dtype = options.dtype ?? 'float32';
  if (dtype === 'int32') throw new TypeError(`${op}: dtype must be float32 or float64, got int32 (use randint)`);
  const out = allocTyped(dtype, shapeSize(shape));
  const rng = rngOf(options);
  for (let i = 0; i < out.length; i++) out[i] = draw(rng);
  return fromTyped(out, shape, options.requiresGrad);
}

/** Uniform samples in [0, 1). */
export const rand = (shape: readonly number[], options: RandomOptions = {}) => randomTensor('rand', shape, options, (r) => r.random());
/** Standard normal samples. */
export const randn = (shape: readonly number[], options: RandomOptions = {}) => randomTensor('randn', shape, options, (r) => r.normal());

/** Uniform int32 samples in [low, high). */
export function randint(
  low: number,
  high: number,
  shape: readonly number[],
  options: Omit<RandomOptions, 'dtype' | 'requiresGrad'> = {},
): Tensor {
  assertShape('randint', shape);
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low)
    throw new RangeError(`randint: need integers low < high, got ${low}, ${high}`);
  const out = new Int32Array(shapeSize(shape));
  const rng = rngOf(options);
  for (let i = 0; i < out.length; i++) out[i] = low + rng.int(high - low);
  return fromTyped(out, shape);
}
