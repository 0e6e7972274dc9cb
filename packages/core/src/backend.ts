import type { DType, TypedArray } from './dtype.js';
import type { UpdateRule } from './update-rule.js';

/** Backend-owned memory. The CPU backend uses typed arrays; device backends use their own handles. */
export type Storage = object;

/**
 * A strided window onto storage: element (i0, i1, ...) lives at
 * `offset + i0*strides[0] + i1*strides[1] + ...`. Tensors are views; kernels read views and write
 * fresh contiguous storage.
 */
export interface View {
  readonly storage: Storage;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
}

/**
 * Elementwise unary ops. All but the last are forward ops; `geluGrad` (Φ(x) + x·φ(x), GELU's
 * derivative) is used only by gelu's backward, kept as one kernel because composing it from erf, exp
 * and arithmetic would cost a device backend eight launches per GELU backward.
 */
export const UNARY_OPS = [
  'neg',
  'exp',
  'log',
  'sqrt',
  'abs',
  'tanh',
  'sigmoid',
  'relu',
  'gelu',
  'silu',
  'erf',
  'sign',
  'square',
  'reciprocal',
  'sin',
  'cos',
  'geluGrad',
] as const;
/** Elementwise binary ops; comparisons give 0/1 in the operands' dtype. */
export const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
/** Reductions of one axis: sum / max / min keep x's dtype; argmax gives int32 indices (first on ties). */
export const REDUCE_OPS = ['sum', 'max', 'min', 'argmax'] as const;
/** Ops over the last axis: softmax / logSoftmax keep the shape; logsumexp removes the axis. */
export const ROW_OPS = ['softmax', 'logSoftmax', 'logsumexp'] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];
export type BinaryOp = (typeof BINARY_OPS)[number];
export type ReduceOp = (typeof REDUCE_OPS)[number];
export type RowOp = (typeof ROW_OPS)[number];

/**
 * The primitive kernels every backend provides: this interface is the whole list of what a new
 * backend implements (`name` and 22 methods; the op-name lists above are the cases of unary, binary,
 * reduce and rowOp). Inputs are views (any strides, any offset); outputs are new contiguous storage.
 * Ops in `ops/` check shapes and dtypes before calling in, so kernels may assume valid arguments.
 * Gradients are written in terms of ops, so a backend never implements them. The conformance suite
 * (`@myriad/core/testing`, `runBackendConformance`) checks every method and op name against the CPU backend.
 *
 * | group                 | methods                                                                     |
 * |-----------------------|-----------------------------------------------------------------------------|
 * | storage               | fromTypedArray, full, readSync, read, hostData, dispose                     |
 * | copies                | cast (also the plain contiguous copy: `cast(x, x.dtype)`), copyInto         |
 * | elementwise           | unary, binary, where                                                        |
 * | reductions and matmul | reduce (argmax included), matmul, rowOp, cumsum                             |
 * | indexing              | topk, gather, scatterAdd (any dim, any index shape)                         |
 * | row tables            | gatherRows, scatterAddRows, uniqueRows: the row-sparse (embedding) path;    |
 * |                       | embeddingBag, rowDots: weighted sums and dot products of rows read in place |
 * | training              | applyUpdate (an optimizer's UpdateRule on its state tables)                 |
 *
 * gather / scatterAdd and gatherRows / scatterAddRows overlap in what they can express, and are kept
 * apart on purpose: the row forms move whole rows of a [rows, width] table by one index per row (a
 * memcpy per row on the CPU; one sort of n keys, not n·width, on a device) and skip index −1, which
 * the static-size row-sparse gradients of a device need.
 */
export interface Backend {
  readonly name: string;
  /** Wraps (without copying) or uploads a typed array as storage. */
  fromTypedArray(data: TypedArray): Storage;
  /** Storage of `size` elements all equal to `value` (zeros, ones, scalars of ops); never a host upload on a device. */
  full(dtype: DType, size: number, value: number): Storage;
  /** Contiguous copy of a view's elements; throws where the backend cannot answer synchronously. */
  readSync(x: View): TypedArray;
  /** Contiguous copy of a view's elements, waiting for queued device work. */
  read(x: View): Promise<TypedArray>;
  /**
   * The live typed array behind storage, where the backend keeps data in host memory (CPU), else null.
   * The CPU backend reuses the buffers of collected storages: use views of it only while the storage
   * (its tensor) is alive, or take `Tensor.data`, which keeps the array out of reuse.
   */
  hostData(storage: Storage): TypedArray | null;
  /** Releases storage (no-op for garbage-collected memory). */
  dispose(storage: Storage): void;

  /** Contiguous copy of `x` converted to `dtype` (`cast(x, x.dtype)` is the plain contiguous copy). */
  cast(x: View, dtype: DType): Storage;
  /** Writes `src` (same shape) into the strided window `dst`, in place. */
  copyInto(dst: View, src: View): void;
  /** Elementwise unary op; the output has x's dtype (ops cast ints to float first where needed). */
  unary(op: UnaryOp, x: View): Storage;
  /** Elementwise binary op; `a` and `b` are already broadcast (stride 0) to `outShape`, same dtype. Comparisons give 0/1 in that dtype. */
  binary(op: BinaryOp, a: View, b: View): Storage;
  /** `cond ? a : b` with all three broadcast to one shape; a and b share a dtype. */
  where(cond: View, a: View, b: View): Storage;
  /** Reduces one axis away (output shape: x.shape without `axis`); 'argmax' gives the int32 index of the largest element, first on ties. */
  reduce(op: ReduceOp, x: View, axis: number): Storage;
  /** Batched matmul: a is [...batch, M, K], b is [...batch, K, N] (batch dims already broadcast); output [...batch, M, N]. */
  matmul(a: View, b: View): Storage;
  /** softmax / logSoftmax along the last axis (same shape), or logsumexp (last axis removed). */
  rowOp(op: RowOp, x: View): Storage;
  /** Top-k along the last axis, descending, ties to the lower index: values (x's dtype) and int32 indices, shape [..., k]. */
  topk(x: View, k: number): { values: Storage; indices: Storage };
  /** torch.gather: out[..i..] = x[..index[..i..] at dim..]; output has index's shape. */
  gather(x: View, dim: number, index: View): Storage;
  /** Returns a copy of x with src added at the positions index points to along dim (torch.scatter_add). */
  scatterAdd(x: View, dim: number, index: View, src: View): Storage;
  /** Rows of a [rows, width] table picked by int32 indices: output [indices.size, width]. */
  gatherRows(table: View, indices: View): Storage;
  /** A zero [rows, width] table with src rows [n, width] added at the given row indices (index −1: skipped). */
  scatterAddRows(rows: number, indices: View, src: View): Storage;
  /**
   * Weighted sums of rows read in place: table [rows, width], indices int32 [T, S], weights [T, S]
   * (table's float dtype) → [T, width], out[t] = Σₛ weights[t,s] · table[indices[t,s]], summed in slot order.
   */
  embeddingBag(table: View, indices: View, weights: View): Storage;
  /**
   * Dot products of rows read in place with one vector per token: table [rows, width], indices int32
   * [T, S], x [T, width] → [T, S], out[t,s] = table[indices[t,s]] · x[t].
   */
  rowDots(table: View, indices: View, x: View): Storage;
  /** Inclusive prefix sum along the last axis (same shape and dtype). */
  cumsum(x: View): Storage;
  /**
   * Coalesces row-sparse data with a static size: `indices` int32 [n] (rows, or −1 for an empty slot),
   * `src` [n, width]. Returns int32 [n] holding the distinct rows ascending, then −1s, and [n, width]
   * holding each distinct row's summed src rows (summed in their original order), then zero rows.
   */
  uniqueRows(indices: View, src: View): { indices: Storage; values: Storage };
  /**
   * Applies an optimizer's update rule to its state tables `state` (parameter first, then moment
   * buffers; all [rows, width], contiguous, one float dtype) and returns their new contents. Dense
   * when `rowIndex` is null (`grad` [rows, width]); lazy when `rowIndex` is given (int32 [n] distinct
   * rows ascending then −1s, as `uniqueRows` makes; `grad` [n, width]): only those rows change and
   * every other element is copied bit for bit. `scalars` are the rule's scalars, in its order.
   */
  applyUpdate(rule: UpdateRule, state: readonly View[], grad: View, rowIndex: View | null, scalars: readonly number[]): Storage[];
}

let current: Backend | null = null;
let defaultFactory: (() => Backend) | null = null;

/** Sets the backend new tensors are created on. */
export function setBackend(backend: Backend): void {
  current = backend;
}

/** The backend new tensors are created on (the CPU backend unless changed). */
export function getBackend(): Backend {
  if (current === null) {
    if (defaultFactory === null) throw new Error('getBackend: no backend registered');
    current = defaultFactory();
  }
  return current;
}

/** @internal Registers the backend used when none was set (the CPU backend registers itself). */
export function registerDefaultBackend(factory: () => Backend): void {
  defaultFactory = factory;
}
