// Product-key retrieval (Lample et al. 2019, "Large Memory Layers with Product Keys", §3.2).
// A key of the N = n² memory is the concatenation of two sub-keys, K_ij = [c_i ; c'_j], so for a
// query q = [q₁ ; q₂] its score splits: q·K_ij = q₁·c_i + q₂·c'_j. The top-k of all N sums therefore
// lies among the k² pairs built from the top-k of each half (a pair outside them is beaten by at
// least k pairs inside), which makes this exact at O(√N) cost instead of O(N).
import {
  ShapeError,
  type Tensor,
  add,
  formatShape as fmt,
  shapeSize,
  gather,
  matmul,
  mul,
  permute,
  reshape,
  slice,
  topk,
  transpose,
  unsqueeze,
} from '@myriad/core';

/** Result of `productKeyTopk`: scores and expert indices, both `[...lead, heads, k]`, best first. */
export interface ProductKeyTopk {
  /** q·K of each retrieved key, descending; differentiable w.r.t. the queries and the sub-keys. */
  scores: Tensor;
  /** int32 expert index i·numKeys + j of each retrieved key. */
  indices: Tensor;
}

/**
 * Exact top-k over numKeys² product keys, per head. `queries` is `[...lead, heads, dimKey]`;
 * `subKeys` is `[heads, 2, numKeys, dimKey/2]` (one key set per head, as PKM) or
 * `[2, numKeys, dimKey/2]` (shared by all heads, as PEER). Expert index = i·numKeys + j.
 */
export function productKeyTopk(queries: Tensor, subKeys: Tensor, k: number): ProductKeyTopk {
  if (queries.ndim < 2) throw new ShapeError(`productKeyTopk: queries must be [...lead, heads, dimKey], got ${fmt(queries.shape)}`);
  const heads = queries.shape[queries.ndim - 2]!;
  const dimKey = queries.shape[queries.ndim - 1]!;
  const shared = subKeys.ndim === 3;
  const half = dimKey / 2;
  if (dimKey % 2 !== 0) throw new RangeError(`productKeyTopk: dimKey must be even to split the query in two halves, got ${dimKey}`);
  const expected = shared ? [2, -1, half] : [heads, 2, -1, half];
  if ((subKeys.ndim !== 3 && subKeys.ndim !== 4) || subKeys.shape.some((d, i) => expected[i] !== -1 && d !== expected[i])) {
    throw new ShapeError(
      `productKeyTopk: subKeys ${fmt(subKeys.shape)} must be [heads=${heads}, 2, numKeys, ${half}] or [2, numKeys, ${half}] for queries ${fmt(queries.shape)}`,
    );
  }
  const numKeys = subKeys.shape[subKeys.ndim - 2]!;
  if (!Number.isInteger(k) || k < 1 || k > numKeys) {
    throw new RangeError(`productKeyTopk: k must be an integer in [1, numKeys=${numKeys}], got ${k}`);
  }
  const lead = queries.shape.slice(0, -2);
  const rows = shapeSize(lead);
  const q = reshape(queries, [rows, heads, dimKey]);
  const q1 = slice(q, -1, 0, half);
  const q2 = slice(q, -1, half);

  // Sub-key scores s₁ = q₁·Cᵀ and s₂ = q₂·C′ᵀ, each [rows, heads, numKeys].
  const halfScores = (qh: Tensor, which: number): Tensor => {
    if (shared) {
      const c = reshape(slice(subKeys, 0, which, which + 1), [numKeys, half]);
      return reshape(matmul(reshape(qh, [rows * heads, half]), transpose(c)), [rows, heads, numKeys]);
    }
    const c = reshape(slice(subKeys, 1, which, which + 1), [heads, numKeys, half]);
    return permute(matmul(permute(qh, [1, 0, 2]), transpose(c)), [1, 0, 2]);
  };
  const t1 = topk(halfScores(q1, 0), k);
  const t2 = topk(halfScores(q2, 1), k);
  // The k² candidate sums s₁[a] + s₂[b], then their top-k.
  const candidates = reshape(add(unsqueeze(t1.values, -1), unsqueeze(t2.values, -2)), [rows, heads, k * k]);
  const best = topk(candidates, k);

  // Expert index of candidate c = a·k + b is i₁[a]·numKeys + i₂[b]: build the k² ids the same way as the
  // sums and pick the winners' with a gather, so the mapping stays on the backend (no host read).
  const candidateIds = reshape(add(unsqueeze(mul(t1.indices, numKeys), -1), unsqueeze(t2.indices, -2)), [rows, heads, k * k]);
  const ids = gather(candidateIds, -1, best.indices);
  const shape = [...lead, heads, k];
  return { scores: reshape(best.values, shape), indices: reshape(ids, shape) };
}
