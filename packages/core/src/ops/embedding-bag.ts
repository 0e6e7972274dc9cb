// embeddingBag: weighted sums of table rows, y[t] = Σₛ weights[t,s] · table[indices[t,s]] (PyTorch's
// F.embedding_bag with mode='sum' and per_sample_weights). Product-key memory's value read (Lample et al.
// 2019, eq. 3). Its adjoint, rowDots (z[t,s] = table[indices[t,s]] · x[t]), lives here too: each is the
// other's gradient, and expertMix is one of each (PEER's σ(uᵢᵀx) and Σ gᵢ·σ(·)·vᵢ).
// On the CPU backend fused loops read the chosen rows in place and the table gets a coalesced row-sparse
// gradient; on other backends the backend's embeddingBag / rowDots kernels read the rows in place and the
// table gets an uncoalesced row-sparse gradient (one row per slot, as indexSelect's). The compositions
// below (indexSelect + matmul) are the reference both are tested against.
import { record } from '../autograd.js';
import { cpuBackend } from '../cpu/cpu-backend.js';
import type { TypedArray } from '../dtype.js';
import { ShapeError, fmt } from '../errors.js';
import { SparseGrad } from '../sparse-grad.js';
import { shapesEqual } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { indexSelect } from './indexing.js';
import { matmul } from './linalg.js';
import { mul } from './elementwise.js';
import { reshape, unsqueeze } from './movement.js';
import { hostElements, rowSparseTableGrad, sortSlotsByRow } from './row-sparse.js';
import { requireFloat, requireInt, sameBackend, wrap } from './util.js';

/**
 * y[t] = Σₛ weights[t,s] · table[indices[t,s]]: table [N, D], indices int32 [T, S], weights [T, S] →
 * y [T, D]. Differentiable in table (row-sparse gradient, one row per distinct index) and weights. For
 * a plain sum pass ones as weights.
 * @example embeddingBag(values.weight, slots, softmax(scores, -1)) // PKM's value read
 */
export function embeddingBag(table: Tensor, indices: Tensor, weights: Tensor): Tensor {
  // Both paths check their arguments first (the op's name in every message).
  return table.backend === cpuBackend ? embeddingBagFused(table, indices, weights) : embeddingBagRows(table, indices, weights);
}

/** embeddingBag on a backend other than the CPU: its embeddingBag kernel forward, rowDots for the weights' gradient. */
function embeddingBagRows(table: Tensor, indices: Tensor, weights: Tensor): Tensor {
  const { T, D } = checkArgs(table, indices, weights);
  const b = table.backend;
  const out = wrap(b, b.embeddingBag(table, indices, weights), [T, D], table.dtype);
  return record('embeddingBag', out, [table, weights], (dy) => [
    table.requiresGrad ? slotRowsGrad(table, indices, weights, dy) : null,
    weights.requiresGrad ? rowDots(table, indices, dy) : null,
  ]);
}

/**
 * rowDots(table, indices, x)[t,s] = table[indices[t,s]] · x[t]: table [N, D], indices int32 [T, S],
 * x [T, D] → [T, S]. Dot products of the chosen rows with each token's vector, rows read in place
 * (embeddingBag's adjoint: the gradient of its weights). Differentiable in table (row-sparse gradient)
 * and x.
 * @example rowDots(down.weight, experts, x) // PEER's uᵢᵀx before the activation
 */
export function rowDots(table: Tensor, indices: Tensor, x: Tensor): Tensor {
  const { T, S, D } = checkRowDotsArgs(table, indices, x);
  const b = table.backend;
  if (b !== cpuBackend) {
    const out = wrap(b, b.rowDots(table, indices, x), [T, S], table.dtype);
    return record('rowDots', out, [table, x], (dz) => [
      table.requiresGrad ? slotRowsGrad(table, indices, dz, x) : null,
      x.requiresGrad ? embeddingBag(table, indices, dz) : null,
    ]);
  }
  const out = wrap(cpuBackend, cpuBackend.rowDots(table, indices, x), [T, S], table.dtype);
  return record('rowDots', out, [table, x], (dz) => {
    const dtable = table.requiresGrad
      ? rowSparseTableGrad(table, float64(hostElements(dz)), hostElements(x), S, D, sortSlotsByRow(hostElements(indices) as Int32Array))
      : null;
    return [dtable, x.requiresGrad ? embeddingBag(table, indices, dz) : null];
  });
}

function float64(a: TypedArray): Float64Array {
  return a instanceof Float64Array ? a : Float64Array.from(a);
}

/** rowDots as indexSelect + a batched matmul (the reference). */
export function rowDotsComposed(table: Tensor, indices: Tensor, x: Tensor): Tensor {
  const { T, S } = checkRowDotsArgs(table, indices, x);
  return reshape(matmul(indexSelect(table, 0, indices), unsqueeze(x, -1)), [T, S]);
}

/** The table's row-sparse gradient when slot (t, s) adds coef[t,s] · src[t] to row indices[t,s]: one row per slot, uncoalesced. */
function slotRowsGrad(table: Tensor, indices: Tensor, coef: Tensor, src: Tensor): SparseGrad {
  const [T, S] = indices.shape as [number, number];
  const D = src.shape[1]!;
  const rows = mul(reshape(coef, [T, S, 1]), reshape(src, [T, 1, D])); // [T, S, D]
  const flatIdx = reshape(indices, [T * S]).clone(); // the gradient must not alias the caller's index tensor
  return new SparseGrad(flatIdx, reshape(rows, [T * S, D]), table.shape);
}

/** embeddingBag's fused CPU loop (tests and benchmarks; embeddingBag takes it on the CPU backend). */
export function embeddingBagFused(table: Tensor, indices: Tensor, weights: Tensor): Tensor {
  const { T, S, D } = checkArgs(table, indices, weights);
  if (table.backend !== cpuBackend) throw new TypeError(`embeddingBagFused: needs tensors on the CPU backend, got ${table.backend.name}`);
  // float32 goes through the kernel seam (WebAssembly SIMD when installed); float64 runs the plain loop.
  const out = wrap(cpuBackend, cpuBackend.embeddingBag(table, indices, weights), [T, D], table.dtype);
  return record('embeddingBag', out, [table, weights], (dy) => {
    // Read from the tensors again, not through views captured above: a view alone does not keep a pooled storage alive.
    const dtable = table.requiresGrad
      ? rowSparseTableGrad(
          table,
          float64(hostElements(weights)),
          hostElements(dy),
          S,
          D,
          sortSlotsByRow(hostElements(indices) as Int32Array),
        )
      : null;
    return [dtable, weights.requiresGrad ? rowDots(table, indices, dy) : null];
  });
}

/** embeddingBag as indexSelect + a batched matmul (the reference, and what every backend but the CPU runs). */
export function embeddingBagComposed(table: Tensor, indices: Tensor, weights: Tensor): Tensor {
  const { T, S, D } = checkArgs(table, indices, weights);
  const v = indexSelect(table, 0, indices); // [T, S, D], row-sparse gradient
  return reshape(matmul(reshape(weights, [T, 1, S]), v), [T, D]);
}

function checkRowDotsArgs(table: Tensor, indices: Tensor, x: Tensor): { T: number; S: number; D: number } {
  requireInt('rowDots', 'indices', indices);
  requireFloat('rowDots', table);
  sameBackend('rowDots', table, indices, x);
  if (table.ndim !== 2 || indices.ndim !== 2 || x.ndim !== 2 || x.shape[0] !== indices.shape[0] || x.shape[1] !== table.shape[1]) {
    throw new ShapeError(
      `rowDots: expected table [N, D], indices [T, S] and x [T, D]; got table ${fmt(table.shape)}, indices ${fmt(indices.shape)}, x ${fmt(x.shape)}`,
    );
  }
  if (x.dtype !== table.dtype) throw new TypeError(`rowDots: x is ${x.dtype} but the table is ${table.dtype}; cast one of them`);
  const [T, S] = indices.shape as [number, number];
  return { T, S, D: table.shape[1]! };
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
