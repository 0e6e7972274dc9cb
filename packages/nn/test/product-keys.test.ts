import { Rng, randn, tensor } from '@myriad/core';
import { gradCheck } from '@myriad/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { productKeyTopk } from '@myriad/nn';

/**
 * Brute force, written from the definition: key (i, j) of head h is the concatenation [C_h[i] ; C'_h[j]]
 * of length dimKey; score it against the whole query and sort all N = n² scores.
 */
function bruteForce(
  q: Float64Array,
  keys: Float64Array,
  rows: number,
  heads: number,
  dimKey: number,
  n: number,
  k: number,
  shared: boolean,
) {
  const half = dimKey / 2;
  const out: Array<Array<{ index: number; score: number }>> = [];
  for (let r = 0; r < rows; r++) {
    for (let h = 0; h < heads; h++) {
      const keyBase = shared ? 0 : h * 2 * n * half;
      const all: Array<{ index: number; score: number }> = [];
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const full = [
            ...keys.subarray(keyBase + i * half, keyBase + (i + 1) * half),
            ...keys.subarray(keyBase + n * half + j * half, keyBase + n * half + (j + 1) * half),
          ];
          let s = 0;
          for (let d = 0; d < dimKey; d++) s += q[(r * heads + h) * dimKey + d]! * full[d]!;
          all.push({ index: i * n + j, score: s });
        }
      }
      all.sort((a, b) => b.score - a.score || a.index - b.index);
      out.push(all.slice(0, k));
    }
  }
  return out;
}

describe('productKeyTopk', () => {
  it('equals a brute-force top-k over all numKeys² keys (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          rows: fc.integer({ min: 1, max: 4 }),
          heads: fc.integer({ min: 1, max: 3 }),
          halfDim: fc.integer({ min: 1, max: 4 }),
          n: fc.integer({ min: 1, max: 9 }),
          kFrac: fc.double({ min: 0, max: 1, noNaN: true }),
          shared: fc.boolean(),
          seed: fc.integer({ min: 0, max: 1e6 }),
        }),
        ({ rows, heads, halfDim, n, kFrac, shared, seed }) => {
          const dimKey = 2 * halfDim;
          const k = 1 + Math.min(n - 1, Math.floor(kFrac * n));
          const q = randn([rows, heads, dimKey], { seed, dtype: 'float64' });
          const keys = randn(shared ? [2, n, halfDim] : [heads, 2, n, halfDim], { seed: seed + 1, dtype: 'float64' });
          const { scores, indices } = productKeyTopk(q, keys, k);
          expect(scores.shape).toEqual([rows, heads, k]);
          expect(indices.dtype).toBe('int32');
          const ref = bruteForce(q.data as Float64Array, keys.data as Float64Array, rows, heads, dimKey, n, k, shared);
          const s = scores.toTypedArray();
          const ix = indices.toTypedArray();
          ref.forEach((best, r) => {
            const got = Array.from(ix.subarray(r * k, (r + 1) * k));
            expect(new Set(got)).toEqual(new Set(best.map((b) => b.index)));
            best.forEach((b, j) => expect(s[r * k + j]).toBeCloseTo(b.score, 10));
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('keeps leading dims and computes the index as i·numKeys + j (a hand case)', () => {
    // numKeys 3, dimKey 2, q = [1, 1]: half-scores are the scalar sub-keys themselves.
    const keys = tensor([
      [[0], [5], [1]],
      [[2], [0], [9]],
    ]); // c = [0, 5, 1], c' = [2, 0, 9]
    const q = tensor([1, 1]).reshape([1, 1, 1, 2]);
    const { scores, indices } = productKeyTopk(q, keys, 3);
    expect(indices.shape).toEqual([1, 1, 1, 3]);
    // (1,2) → 5 + 9 = 14, (2,2) → 1 + 9 = 10, (0,2) → 0 + 9 = 9
    expect(Array.from(indices.toTypedArray())).toEqual([1 * 3 + 2, 2 * 3 + 2, 0 * 3 + 2]);
    expect(Array.from(scores.toTypedArray())).toEqual([14, 10, 9]);
  });

  it('retrieved indices cover the whole range [0, N) over many queries', () => {
    const n = 8;
    // Sub-keys in 8 dims, so every sub-key is on the convex hull and can win for some query.
    const q = randn([400, 2, 16], { seed: 3 });
    const keys = randn([2, n, 8], { seed: 4 });
    const seen = new Set(productKeyTopk(q, keys, 4).indices.toTypedArray());
    expect(seen.size).toBe(n * n);
    expect(Math.min(...seen)).toBe(0);
    expect(Math.max(...seen)).toBe(n * n - 1);
  });

  it('is differentiable w.r.t. queries and both sub-key sets through the selected scores', () => {
    const rng = new Rng(7);
    const q = randn([3, 2, 4], { rng, dtype: 'float64' });
    const keys = randn([2, 2, 5, 2], { rng, dtype: 'float64' });
    expect(gradCheck((qq, kk) => productKeyTopk(qq, kk, 3).scores, [q, keys]).ok).toBe(true);
  });

  it('is differentiable with shared keys', () => {
    const rng = new Rng(8);
    const q = randn([2, 3, 6], { rng, dtype: 'float64' });
    const keys = randn([2, 4, 3], { rng, dtype: 'float64' });
    expect(gradCheck((qq, kk) => productKeyTopk(qq, kk, 2).scores, [q, keys]).ok).toBe(true);
  });

  it('rejects bad arguments with clear messages', () => {
    const q = randn([2, 2, 4]);
    expect(() => productKeyTopk(randn([2, 2, 3]), randn([2, 4, 1]), 1)).toThrow(/dimKey must be even.*3/);
    expect(() => productKeyTopk(q, randn([2, 4, 3]), 1)).toThrow(/subKeys \[2,4,3\] must be/);
    expect(() => productKeyTopk(q, randn([3, 2, 4, 2]), 1)).toThrow(/heads=2/);
    expect(() => productKeyTopk(q, randn([2, 4, 2]), 5)).toThrow(/k must be an integer in \[1, numKeys=4\], got 5/);
    expect(() => productKeyTopk(randn([4]), randn([2, 4, 2]), 1)).toThrow(/queries must be/);
  });
});
