import { ShapeError, fmt } from './errors.js';
import { Tensor } from './tensor.js';
import { shapeSize, shapesEqual } from './shape.js';

/**
 * A row-sparse gradient of a [rows, ...rowShape] table: row `indices[i]` receives `values[i]`.
 * Produced by indexSelect / embedding lookups from a leaf table, so a backward pass over a 10^6-row
 * table costs O(touched rows). Indices may repeat until `coalesce()` sums duplicates.
 */
export class SparseGrad {
  constructor(
    /** int32 [nnz] row indices. */
    readonly indices: Tensor,
    /** [nnz, ...rowShape] row values. */
    readonly values: Tensor,
    /** Shape of the dense gradient this stands for. */
    readonly shape: readonly number[],
  ) {
    if (indices.dtype !== 'int32' || indices.ndim !== 1) throw new TypeError(`SparseGrad: indices must be int32 [nnz], got ${indices.dtype} ${fmt(indices.shape)}`);
    if (values.ndim !== shape.length || values.shape[0] !== indices.shape[0] || values.shape.slice(1).some((d, i) => d !== shape[i + 1])) {
      throw new ShapeError(`SparseGrad: values ${fmt(values.shape)} do not fit indices [${indices.shape[0]}] and table shape ${fmt(shape)}`);
    }
  }

  get dtype() {
    return this.values.dtype;
  }

  /** Number of (possibly repeated) rows stored. */
  get nnz(): number {
    return this.indices.shape[0]!;
  }

  /** The dense gradient (allocates the whole table: for tests and small tables). */
  toDense(): Tensor {
    const rows = this.shape[0]!;
    const width = shapeSize(this.shape.slice(1));
    const values = this.values.reshape([this.nnz, width]);
    const storage = values.backend.scatterAddRows(rows, this.indices, values);
    return Tensor._make(values.backend, storage, this.shape, this.values.dtype);
  }

  /** The same gradient with unique, ascending row indices (duplicate rows summed). */
  coalesce(): SparseGrad {
    const idx = this.indices.toTypedArray() as Int32Array;
    const width = shapeSize(this.shape.slice(1));
    const n = idx.length;
    // One native numeric sort of packed keys row·n + position (exact below 2^53): rows ascending,
    // duplicates in their original order, so sums match a dense scatter-add.
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = idx[i]! * n + i;
    keys.sort();
    const unique: number[] = [];
    const slot = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const row = Math.floor(keys[i]! / n);
      if (unique.length === 0 || unique[unique.length - 1] !== row) unique.push(row);
      slot[keys[i]! - row * n] = unique.length - 1;
    }
    const values = this.values.reshape([this.nnz, width]);
    const backend = values.backend;
    const summed = backend.scatterAddRows(unique.length, Tensor._make(backend, backend.fromTypedArray(slot), [slot.length], 'int32'), values);
    const uniqueIdx = Int32Array.from(unique);
    return new SparseGrad(
      Tensor._make(backend, backend.fromTypedArray(uniqueIdx), [unique.length], 'int32'),
      Tensor._make(backend, summed, [unique.length, ...this.shape.slice(1)], this.values.dtype),
      this.shape,
    );
  }

  /** Sum with another sparse gradient of the same table (concatenates rows; coalesce later). */
  addSparse(other: SparseGrad): SparseGrad {
    if (!shapesEqual(other.shape, this.shape)) {
      throw new ShapeError(`SparseGrad.add: table shapes differ: ${fmt(this.shape)} vs ${fmt(other.shape)}`);
    }
    return new SparseGrad(this.indices.concat([other.indices], 0), this.values.concat([other.values], 0), this.shape);
  }

  /** A copy that shares no storage with tensors of the graph. */
  clone(): SparseGrad {
    return new SparseGrad(this.indices.clone(), this.values.clone(), this.shape);
  }
}
