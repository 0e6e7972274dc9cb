// Product-key retrieval (Lample et al. 2019, "Large Memory Layers with Product Keys", §3.2).
// A key of the N = n² memory is the concatenation of two sub-keys, K_ij = [c_i ; c'_j], so for a
// query q = [q₁ ; q₂] its score splits: q·K_ij = q₁·c_i + q₂·c'_j. The top-k of all N sums therefore
// lies among the k² pairs built from the top-k of each half (a pair outside them is beaten by at
// least k pairs inside), which makes this exact at O(√N) cost instead of O(N).
//
// On the CPU backend the retrieval is one op: the sub-key scores and both top-k run on scratch buffers
// handed back to the pool at once, the final top-k walks the k² candidate sums best first without
// forming them (only the k winners per query survive), and the backward is sparse — a winner's
// gradient reaches one sub-key of each half, so it costs O(k·dimKey) per query (embeddingBag's fused
// kernels: weighted sub-key rows for the queries, per-row sums for the sub-keys) where the composed
// ops' backward scatters into dense [rows, numKeys] score gradients and multiplies them back (two dense
// matmuls per half). On any other backend it is the composition below, which is also the reference
// the fused path is tested against.
import { record } from '../autograd.js';
import { cpuBufferPool } from '../cpu/buffer-pool.js';
import { cpuBackend } from '../cpu/cpu-backend.js';
import { embeddingBagForward } from '../cpu/embedding-bag.js';
import { expertTableGrad, sortSlotsByRow } from '../cpu/expert-mix.js';
import { genericKernels, kernels as cpuKernels } from '../cpu/kernels.js';
import { allFinite, topPairSums } from '../cpu/top-pair-sums.js';
import { ShapeError, fmt } from '../errors.js';
import { shapeSize } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { add, mul } from './elementwise.js';
import { gather, topk } from './indexing.js';
import { matmul } from './linalg.js';
import { permute, reshape, slice, transpose, unsqueeze } from './movement.js';
import { hostElements } from './row-sparse.js';
import { requireFloat, sameBackend, wrap } from './util.js';

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
 * `[2, numKeys, dimKey/2]` (shared by all heads, as PEER). Expert index = i·numKeys + j; ties go to
 * the lower candidate (as topk's). On the CPU backend one fused op with a sparse backward; elsewhere
 * the composed ops (matmul, topk, add, gather).
 * @example const { scores, indices } = productKeyTopk(queries, subKeys, 16) // PEER's retrieval
 */
export function productKeyTopk(queries: Tensor, subKeys: Tensor, k: number): ProductKeyTopk {
  return queries.backend === cpuBackend ? productKeyTopkFused(queries, subKeys, k) : productKeyTopkComposed(queries, subKeys, k);
}

interface Dims {
  lead: number[];
  rows: number;
  heads: number;
  dimKey: number;
  half: number;
  numKeys: number;
  shared: boolean;
}

function checkArgs(queries: Tensor, subKeys: Tensor, k: number): Dims {
  requireFloat('productKeyTopk', queries);
  requireFloat('productKeyTopk', subKeys);
  sameBackend('productKeyTopk', queries, subKeys);
  if (queries.ndim < 2) throw new ShapeError(`productKeyTopk: queries must be [...lead, heads, dimKey], got ${fmt(queries.shape)}`);
  if (queries.dtype !== subKeys.dtype) {
    throw new TypeError(`productKeyTopk: queries are ${queries.dtype} but subKeys are ${subKeys.dtype}; cast one to the other`);
  }
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
  return { lead, rows: shapeSize(lead), heads, dimKey, half, numKeys, shared };
}

/** productKeyTopk written with the ops (the reference, and what every backend but the CPU runs). */
export function productKeyTopkComposed(queries: Tensor, subKeys: Tensor, k: number): ProductKeyTopk {
  const { lead, rows, heads, dimKey, half, numKeys, shared } = checkArgs(queries, subKeys, k);
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

/**
 * productKeyTopk's fused CPU op (tests and benchmarks; productKeyTopk takes it on the CPU backend).
 * Its forward gives the composed ops' numbers bit for bit (the same matmul and top-k kernels on the same
 * layouts, the candidate sums rounded as the add op does); its backward sums the same terms sparsely.
 */
export function productKeyTopkFused(queries: Tensor, subKeys: Tensor, k: number): ProductKeyTopk {
  const dims = checkArgs(queries, subKeys, k);
  if (queries.backend !== cpuBackend) {
    throw new TypeError(`productKeyTopkFused: needs tensors on the CPU backend, got ${queries.backend.name}`);
  }
  const { lead, rows, heads, half, numKeys: n } = dims;
  const dtype = queries.dtype;
  const R = rows * heads; // one retrieval per (row, head), in that order
  const f32 = dtype === 'float32';
  const mm = f32 ? (cpuKernels.matmulF32 as typeof genericKernels.matmul) : genericKernels.matmul;
  const top = f32 ? (cpuKernels.topkRowsF32 as typeof genericKernels.topkRows) : genericKernels.topkRows;
  const q = hostElements(queries);
  const c = hostElements(subKeys);
  const since = cpuBufferPool.mark();
  const scores = cpuBufferPool.alloc(dtype, R * n, false);
  const halfTop = [0, 1].map(() => ({ values: cpuBufferPool.alloc(dtype, R * k, false), indices: new Int32Array(R * k) }));
  for (let w = 0; w < 2; w++) {
    // Scores of half w for every retrieval. Shared keys: one [R, half]·[half, n] product, rows in (row,
    // head) order. Per-head keys: one product per head, its rows at h·rows… (the composed ops' batched
    // layout), so retrieval (r, h) is row h·rows + r of `scores` and of the top-k below.
    scores.fill(0); // the kernels add to their output
    if (dims.shared) mm(q, w * half, 2 * half, 1, c, w * n * half, 1, half, scores, 0, R, n, half);
    else {
      for (let h = 0; h < heads; h++) {
        mm(q, h * 2 * half + w * half, heads * 2 * half, 1, c, (h * 2 + w) * n * half, 1, half, scores, h * rows * n, rows, n, half);
      }
    }
    top(scores, R, n, k, halfTop[w]!.values, halfTop[w]!.indices);
  }
  // The k best of the k² candidate sums per retrieval, rounded as the add op rounds them: a best-first
  // walk over the two sorted lists (cpu/top-pair-sums.ts), or — when a score is not finite — the grid
  // itself and a topk over it, as the composed ops do.
  const at = (r: number, h: number): number => (dims.shared ? r * heads + h : h * rows + r);
  const [v1, v2] = [halfTop[0]!.values, halfTop[1]!.values];
  const best = cpuBufferPool.alloc(dtype, R * k, false);
  const bestAt = new Int32Array(R * k);
  if (allFinite(v1, 0, R * k) && allFinite(v2, 0, R * k)) {
    for (let r = 0; r < rows; r++)
      for (let h = 0; h < heads; h++) topPairSums(v1, v2, at(r, h) * k, k, f32, best, bestAt, (r * heads + h) * k);
  } else {
    const kk = k * k;
    const candidates = cpuBufferPool.alloc(dtype, R * kk, false);
    for (let r = 0; r < rows; r++) {
      for (let h = 0; h < heads; h++) {
        const src = at(r, h) * k;
        const dst = (r * heads + h) * kk;
        for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) candidates[dst + a * k + b] = v1[src + a]! + v2[src + b]!;
      }
    }
    top(candidates, R, kk, k, best, bestAt);
    cpuBufferPool.release(candidates, since);
  }
  // Each winner's sub-key row of either half in subKeys seen as [rows of half] (what the backward
  // reads and scatters to), and its expert index.
  const keyRows = [new Int32Array(R * k), new Int32Array(R * k)] as const;
  const ids = cpuBufferPool.alloc('int32', R * k, false) as Int32Array;
  for (let r = 0; r < rows; r++) {
    for (let h = 0; h < heads; h++) {
      const o = (r * heads + h) * k;
      const src = at(r, h) * k;
      const base1 = (dims.shared ? 0 : 2 * h) * n;
      const base2 = base1 + n;
      for (let j = 0; j < k; j++) {
        const cand = bestAt[o + j]!;
        const i1 = halfTop[0]!.indices[src + ((cand / k) | 0)]!;
        const i2 = halfTop[1]!.indices[src + (cand % k)]!;
        keyRows[0][o + j] = base1 + i1;
        keyRows[1][o + j] = base2 + i2;
        ids[o + j] = i1 * n + i2;
      }
    }
  }
  // The scratch is dead: back to the pool now, not when the collector finds it.
  for (const a of [scores, halfTop[0]!.values, halfTop[1]!.values]) cpuBufferPool.release(a, since);
  const shape = [...lead, heads, k];
  const out = wrap(cpuBackend, best, shape, dtype);
  const indices = wrap(cpuBackend, ids, shape, 'int32');
  record('productKeyTopk', out, [queries, subKeys], (dy) => {
    // Read from the tensors again, not through views captured above: a view alone does not keep a pooled storage alive.
    const [qs, cs, g] = [hostElements(queries), hostElements(subKeys), hostElements(dy)];
    const dk = 2 * half;
    const mark = cpuBufferPool.mark();
    const dq = queries.requiresGrad ? cpuBufferPool.alloc(dtype, R * dk, false) : null;
    const dc = subKeys.requiresGrad ? cpuBufferPool.alloc(dtype, subKeys.size) : null;
    const part = cpuBufferPool.alloc(dtype, R * half, false);
    const coef = dc ? Float64Array.from(g) : null;
    for (let w = 0; w < 2; w++) {
      // Winner j of retrieval p scores q_w[p]·C[row] in half w, so ∂/∂q_w[p] = Σⱼ g[p,j]·C[row]: an
      // embeddingBag of the sub-key rows with the score gradients as weights (fused kernel, fixed order).
      if (dq) {
        part.fill(0);
        if (f32) cpuKernels.embeddingBagForwardF32(cs as Float32Array, keyRows[w], g as Float32Array, R, k, half, part as Float32Array);
        else embeddingBagForward(cs, keyRows[w], g, R, k, half, part);
        for (let p = 0; p < R; p++) dq.set(part.subarray(p * half, (p + 1) * half), p * dk + w * half);
      }
      // ∂/∂C[row] = Σ g[p,j]·q_w[p] over the winners that used the row: that embeddingBag's table
      // gradient (per distinct row in slot order), laid into the dense sub-key gradient.
      if (dc && coef) {
        for (let p = 0; p < R; p++) part.set(qs.subarray(p * dk + w * half, p * dk + w * half + half), p * half);
        const sorted = sortSlotsByRow(keyRows[w]);
        const t = f32
          ? cpuKernels.expertTableGradF32(coef, part as Float32Array, k, half, sorted)
          : expertTableGrad(coef, part, k, half, sorted, (size) => cpuBufferPool.alloc(dtype, size, false));
        for (let u = 0; u < t.rows.length; u++) dc.set(t.values.subarray(u * half, (u + 1) * half), t.rows[u]! * half);
        cpuBufferPool.release(t.values, mark);
      }
    }
    cpuBufferPool.release(part, mark);
    return [dq ? wrap(cpuBackend, dq, queries.shape, dtype) : null, dc ? wrap(cpuBackend, dc, subKeys.shape, dtype) : null];
  });
  return { scores: out, indices };
}
