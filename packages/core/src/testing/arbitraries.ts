import fc from 'fast-check';
import { tensor, type DType, type Tensor } from '../index.js';
import { shapeSize } from '../shape.js';

export interface ShapeOptions {
  /** Fewest dims (default 0: scalars included). */
  minRank?: number;
  /** Most dims (default 4). */
  maxRank?: number;
  /** Smallest dim size (default 1; 0 allows empty tensors). */
  minDim?: number;
  /** Largest dim size (default 5). */
  maxDim?: number;
}

/** Shapes as arrays of dim sizes. */
export function arbShape(options: ShapeOptions = {}): fc.Arbitrary<number[]> {
  const { minRank = 0, maxRank = 4, minDim = 1, maxDim = 5 } = options;
  return fc.array(fc.integer({ min: minDim, max: maxDim }), { minLength: minRank, maxLength: maxRank });
}

/**
 * `count` shapes that broadcast together (NumPy rules): a common shape with, per operand, some
 * leading dims dropped and some dims replaced by 1.
 */
export function arbBroadcastShapeList(count: number, options: ShapeOptions = {}): fc.Arbitrary<number[][]> {
  return arbShape(options).chain((full) =>
    fc.array(
      fc
        .tuple(fc.integer({ min: 0, max: full.length }), fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }))
        .map(([drop, ones]) => full.map((d, i) => (ones[i] ? 1 : d)).slice(drop)),
      { minLength: count, maxLength: count },
    ),
  );
}

/** Pairs of shapes that broadcast together, including size-1 dims and rank differences. */
export function arbBroadcastShapes(options: ShapeOptions = {}): fc.Arbitrary<[number[], number[]]> {
  return arbBroadcastShapeList(2, options).map(([a, b]) => [a!, b!]);
}

export interface ValueOptions {
  dtype?: DType;
  /** Smallest value (default -1; for int32 default -10). */
  min?: number;
  /** Largest value (default 1; for int32 default 10). */
  max?: number;
  /** Pairwise distinct values, at least (max − min)/(64·size) apart (for max/topk/sort gradients). */
  distinct?: boolean;
  /** Keep values at least `margin` away from these points (kinks such as 0 for relu/abs). */
  avoid?: readonly number[];
  /** Distance kept from `avoid` points (default 1e-2·(max − min)). */
  margin?: number;
}

export interface ArbTensorOptions extends ValueOptions {
  /** A fixed shape, an arbitrary of shapes, or shape options (default arbShape()). */
  shape?: readonly number[] | fc.Arbitrary<number[]> | ShapeOptions;
  /** Mark the tensor requiresGrad. */
  requiresGrad?: boolean;
}

function pushAway(v: number, avoid: readonly number[], margin: number, min: number, max: number): number {
  for (const p of avoid) {
    if (Math.abs(v - p) < margin) {
      const up = p + margin;
      const down = p - margin;
      v = v >= p ? (up <= max ? up : down) : down >= min ? down : up;
    }
  }
  return v;
}

/** Values for `size` elements as a plain number array. */
export function arbValues(size: number, options: ValueOptions = {}): fc.Arbitrary<number[]> {
  const dtype = options.dtype ?? 'float32';
  const isInt = dtype === 'int32';
  const min = options.min ?? (isInt ? -10 : -1);
  const max = options.max ?? (isInt ? 10 : 1);
  if (isInt) {
    if (options.distinct) return fc.uniqueArray(fc.integer({ min, max }), { minLength: size, maxLength: size });
    return fc.array(fc.integer({ min, max }), { minLength: size, maxLength: size });
  }
  const avoid = options.avoid ?? [];
  const margin = options.margin ?? 1e-2 * (max - min);
  let values: fc.Arbitrary<number[]>;
  if (options.distinct) {
    // A fine grid, filtered (not pushed) away from `avoid`, so values stay distinct.
    const steps = Math.max(64 * size, 1);
    const grid = fc
      .integer({ min: 0, max: steps })
      .map((k) => min + ((max - min) * k) / steps)
      .filter((v) => avoid.every((p) => Math.abs(v - p) >= margin));
    values = fc.uniqueArray(grid, { minLength: size, maxLength: size });
  } else {
    values = fc
      .array(fc.double({ min, max, noNaN: true, noDefaultInfinity: true }), { minLength: size, maxLength: size })
      .map((vs) => vs.map((v) => pushAway(Object.is(v, -0) ? 0 : v, avoid, margin, min, max)));
  }
  if (dtype === 'float32') values = values.map((vs) => vs.map(Math.fround));
  return values;
}

function shapeArb(shape: ArbTensorOptions['shape']): fc.Arbitrary<number[]> {
  if (shape === undefined) return arbShape();
  if (Array.isArray(shape)) return fc.constant([...(shape as readonly number[])]);
  if (shape instanceof fc.Arbitrary) return shape as fc.Arbitrary<number[]>;
  return arbShape(shape as ShapeOptions);
}

/** Tensors on the current backend with values from `arbValues` (float32 in [-1, 1] by default). */
export function arbTensor(options: ArbTensorOptions = {}): fc.Arbitrary<Tensor> {
  const dtype = options.dtype ?? 'float32';
  return shapeArb(options.shape).chain((shape) => {
    return arbValues(shapeSize(shape), options).map((values) =>
      tensor(values, { shape, dtype, requiresGrad: options.requiresGrad ?? false }),
    );
  });
}

export interface TensorPairOptions extends ValueOptions, ShapeOptions {
  /** Broadcast-compatible shapes (default true); false gives equal shapes. */
  broadcast?: boolean;
}

/** Two tensors whose shapes broadcast together (or are equal with `broadcast: false`). */
export function arbTensorPair(options: TensorPairOptions = {}): fc.Arbitrary<[Tensor, Tensor]> {
  const shapes = options.broadcast === false ? arbShape(options).map((s) => [s, s] as [number[], number[]]) : arbBroadcastShapes(options);
  return shapes.chain(([sa, sb]) => fc.tuple(arbTensor({ ...options, shape: sa }), arbTensor({ ...options, shape: sb })));
}

export interface MatmulShapeOptions {
  /** Largest M, K, N (default 6). */
  maxDim?: number;
  /** Most batch dims (default 2); batch dims broadcast (size 1 or missing on either side). */
  maxBatchRank?: number;
  /** Allow 1-d operands (default true). */
  vectors?: boolean;
}

/** Operand shapes for matmul: [...batchA, M, K] and [...batchB, K, N] with broadcasting batches, or 1-d vectors. */
export function arbMatmulShapes(options: MatmulShapeOptions = {}): fc.Arbitrary<[number[], number[]]> {
  const { maxDim = 6, maxBatchRank = 2, vectors = true } = options;
  const dim = fc.integer({ min: 1, max: maxDim });
  return fc
    .record({
      m: dim,
      k: dim,
      n: dim,
      batch: arbBroadcastShapes({ maxRank: maxBatchRank, maxDim: 3 }),
      aVec: vectors ? fc.boolean() : fc.constant(false),
      bVec: vectors ? fc.boolean() : fc.constant(false),
    })
    .map(({ m, k, n, batch: [ba, bb], aVec, bVec }) => [aVec ? [k] : [...ba, m, k], bVec ? [k] : [...bb, k, n]]);
}
