import { ShapeError, fmt } from './errors.js';
import { Tensor } from './tensor.js';
import { shapeSize, shapesEqual } from './shape.js';
import { cpuBackend } from './cpu/cpu-backend.js';

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
    /** True when the indices are already distinct and ascending (then `coalesce()` returns this). */
    readonly coalesced = false,
  ) {
    if (indices.dtype !== 'int32' || indices.ndim !== 1)
      throw new TypeError(`SparseGrad: indices must be int32 [nnz], got ${indices.dtype} ${fmt(indices.shape)}`);
    if (values.ndim !== shape.length || values.shape[0] !== indices.shape[0] || values.shape.slice(1).some((d, i) => d !== shape[i + 1])) {
      throw new ShapeError(
        `SparseGrad: values ${fmt(values.shape)} do not fit indices [${indices.shape[0]}] and table shape ${fmt(shape)}`,
      );
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

  /**
   * The same gradient with unique, ascending row indices (duplicate rows summed in their original
   * order). On a backend that keeps data on the host the result has exactly the distinct rows; on a
   * device it keeps the static size nnz, with the distinct rows first and −1 / zero rows after them
   * (every consumer skips −1), so nothing is read back to count them.
   */
  coalesce(): SparseGrad {
    if (this.coalesced) return this;
    const width = shapeSize(this.shape.slice(1));
    const values = this.values.reshape([this.nnz, width]);
    const backend = values.backend;
    const r = backend.uniqueRows(this.indices, values);
    // Only the CPU backend trims to the exact count (a free look at host memory); elsewhere reading the
    // count would be a transfer, so the static size stays.
    const hostIdx = backend === cpuBackend ? backend.hostData(r.indices) : null;
    let count = this.nnz;
    if (hostIdx !== null) {
      count = hostIdx.indexOf(-1);
      if (count === -1) count = this.nnz;
    }
    const indices = Tensor._make(backend, r.indices, [this.nnz], 'int32');
    const summed = Tensor._make(backend, r.values, [this.nnz, ...this.shape.slice(1)], this.values.dtype);
    if (count === this.nnz) return new SparseGrad(indices, summed, this.shape, true);
    return new SparseGrad(indices.slice(0, 0, count).clone(), summed.slice(0, 0, count).clone(), this.shape, true);
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
    return new SparseGrad(this.indices.clone(), this.values.clone(), this.shape, this.coalesced);
  }
}
