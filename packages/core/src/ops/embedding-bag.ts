// embeddingBag: weighted sums of table rows, y[t] = Σₛ weights[t,s] · table[indices[t,s]] (PyTorch's
// F.embedding_bag with mode='sum' and per_sample_weights). Product-key memory's value read (Lample et al.
// 2019, eq. 3). On the CPU backend one fused loop reads the chosen rows in place and the table gets a
// coalesced row-sparse gradient; on any other backend it is the composition below (indexSelect +
// matmul), which is also the reference the fused loop is tested against.
import { record } from '../autograd.js';
import { cpuBackend } from '../cpu/cpu-backend.js';
import { embeddingBagForward, embeddingBagWeightGrad } from '../cpu/embedding-bag.js';
import { kernels as cpuKernels } from '../cpu/kernels.js';
import { cpuBufferPool } from '../cpu/buffer-pool.js';
import { ShapeError, fmt } from '../errors.js';
import { shapesEqual } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { indexSelect } from './indexing.js';
import { matmul } from './linalg.js';
import { reshape } from './movement.js';
import { checkRowIndices, hostElements, rowSparseTableGrad, sortSlotsByRow } from './row-sparse.js';
import { requireFloat, requireInt, sameBackend, wrap } from './util.js';

/**
 * y[t] = Σₛ weights[t,s] · table[indices[t,s]]: table [N, D], indices int32 [T, S], weights [T, S] →
 * y [T, D]. Differentiable in table (row-sparse gradient, one row per distinct index) and weights. For
 * a plain sum pass ones as weights.
 * @example embeddingBag(values.weight, slots, softmax(scores, -1)) // PKM's value read
 */
export function embeddingBag(table: Tensor, indices: Tensor, weights: Tensor): Tensor {
  // Both paths check their arguments first (the op's name in every message).
  return table.backend === cpuBackend ? embeddingBagFused(table, indices, weights) : embeddingBagComposed(table, indices, weights);
}

/** embeddingBag's fused CPU loop (tests and benchmarks; embeddingBag takes it on the CPU backend). */
export function embeddingBagFused(table: Tensor, indices: Tensor, weights: Tensor): Tensor {
  const { T, S, D } = checkArgs(table, indices, weights);
  if (table.backend !== cpuBackend) throw new TypeError(`embeddingBagFused: needs tensors on the CPU backend, got ${table.backend.name}`);
  const N = table.shape[0]!;
  const rows = hostElements(table);
  const w = hostElements(weights);
  const idx = hostElements(indices) as Int32Array;
  checkRowIndices('embeddingBag', idx, N);
  const y = cpuBufferPool.alloc(table.dtype, T * D);
  // float32 goes through the kernel seam (WebAssembly SIMD when installed); float64 runs the plain loop.
  if (table.dtype === 'float32')
    cpuKernels.embeddingBagForwardF32(rows as Float32Array, idx, w as Float32Array, T, S, D, y as Float32Array);
  else embeddingBagForward(rows, idx, w, T, S, D, y);
  const out = wrap(cpuBackend, y, [T, D], table.dtype);
  return record('embeddingBag', out, [table, weights], (dy) => {
    // Read from the tensor again, not through a view captured above: a view alone does not keep a pooled storage alive.
    const idx = hostElements(indices) as Int32Array;
    const g = hostElements(dy);
    let dw = null;
    if (weights.requiresGrad) {
      const grad = cpuBufferPool.alloc(table.dtype, T * S);
      if (table.dtype === 'float32')
        cpuKernels.embeddingBagWeightGradF32(rows as Float32Array, idx, g as Float32Array, T, S, D, grad as Float32Array);
      else embeddingBagWeightGrad(rows, idx, g, T, S, D, grad);
      dw = wrap(cpuBackend, grad, [T, S], table.dtype);
    }
    const dtable = table.requiresGrad
      ? rowSparseTableGrad(table, w instanceof Float64Array ? w : Float64Array.from(w), g, S, D, sortSlotsByRow(idx))
      : null;
    return [dtable, dw];
  });
}

/** embeddingBag as indexSelect + a batched matmul (the reference, and what every backend but the CPU runs). */
export function embeddingBagComposed(table: Tensor, indices: Tensor, weights: Tensor): Tensor {
  const { T, S, D } = checkArgs(table, indices, weights);
  const v = indexSelect(table, 0, indices); // [T, S, D], row-sparse gradient
  return reshape(matmul(reshape(weights, [T, 1, S]), v), [T, D]);
}

function checkArgs(table: Tensor, indices: Tensor, weights: Tensor): { T: number; S: number; D: number } {
  requireInt('embeddingBag', 'indices', indices);
  requireFloat('embeddingBag', table);
  sameBackend('embeddingBag', table, indices, weights);
  if (table.ndim !== 2 || indices.ndim !== 2 || weights.ndim !== 2 || !shapesEqual(indices.shape, weights.shape)) {
    throw new ShapeError(
      `embeddingBag: expected table [N, D], indices [T, S] and weights [T, S]; got table ${fmt(table.shape)}, indices ${fmt(indices.shape)}, weights ${fmt(weights.shape)}`,
    );
  }
  if (weights.dtype !== table.dtype)
    throw new TypeError(`embeddingBag: weights are ${weights.dtype} but the table is ${table.dtype}; cast one of them`);
  const [T, S] = indices.shape as [number, number];
  return { T, S, D: table.shape[1]! };
}
