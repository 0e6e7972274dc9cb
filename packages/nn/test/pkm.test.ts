import { SparseGrad, loadSafetensors, randn, saveSafetensors, sum, type Tensor } from '@myriad/core';
import { gradCheck } from '@myriad/core/testing';
import { describe, expect, it } from 'vitest';
import { PKM } from '../src/routing/pkm.js';

/**
 * PKM from Lample et al.'s equations by brute force: per head, score q against every full key
 * [c_i ; c'_j] of that head, keep the k best, softmax, weighted sum of value rows; heads summed.
 * queryNorm 'none', or 'batch' in training mode (batch mean / biased variance per feature, eps 1e-5,
 * weight 1, bias 0 as at init).
 */
function pkmReference(p: PKM, x: Float64Array, tokens: number, batchNorm: boolean): Float64Array {
  const { dim, dimOut, heads, dimKey, numKeys: n, topK: k } = p;
  const Wq = p.query.weight.toTypedArray();
  const K = p.keys.toTypedArray();
  const V = p.values.weight.toTypedArray();
  const half = dimKey / 2;
  const width = heads * dimKey;
  const q = new Float64Array(tokens * width);
  for (let t = 0; t < tokens; t++)
    for (let f = 0; f < width; f++) for (let c = 0; c < dim; c++) q[t * width + f] += Wq[f * dim + c]! * x[t * dim + c]!;
  if (batchNorm) {
    for (let f = 0; f < width; f++) {
      let mu = 0;
      for (let t = 0; t < tokens; t++) mu += q[t * width + f]! / tokens;
      let v = 0;
      for (let t = 0; t < tokens; t++) v += (q[t * width + f]! - mu) ** 2 / tokens;
      for (let t = 0; t < tokens; t++) q[t * width + f] = (q[t * width + f]! - mu) / Math.sqrt(v + 1e-5);
    }
  }
  const y = new Float64Array(tokens * dimOut);
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const qh = q.subarray(t * width + h * dimKey, t * width + (h + 1) * dimKey);
      const base = h * 2 * n * half;
      const all: Array<[number, number]> = [];
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const key = [
            ...K.subarray(base + i * half, base + (i + 1) * half),
            ...K.subarray(base + (n + j) * half, base + (n + j + 1) * half),
          ];
          all.push([i * n + j, key.reduce((s, kv, d) => s + kv * qh[d]!, 0)]);
        }
      }
      all.sort((a, b) => b[1] - a[1]);
      const best = all.slice(0, k);
      const z = best.reduce((s, [, v]) => s + Math.exp(v), 0);
      for (const [e, s] of best) for (let o = 0; o < dimOut; o++) y[t * dimOut + o] += (Math.exp(s) / z) * V[e * dimOut + o]!;
    }
  }
  return y;
}

const small = { dim: 5, dimOut: 3, heads: 2, numKeys: 4, topK: 3, dimKey: 4, dtype: 'float64' as const };

describe('PKM', () => {
  for (const queryNorm of ['none', 'batch'] as const) {
    it(`matches a brute-force reference of Lample et al.'s equations (queryNorm ${queryNorm})`, () => {
      const p = new PKM({ ...small, queryNorm, seed: 1 });
      const x = randn([3, 2, 5], { seed: 2, dtype: 'float64' });
      const y = p.forward(x);
      expect(y.shape).toEqual([3, 2, 3]);
      const ref = pkmReference(p, x.data as Float64Array, 6, queryNorm === 'batch');
      const got = y.toTypedArray();
      ref.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 9));
      const r = p.lastRouting!;
      expect([r.tokens, r.heads, r.k]).toEqual([6, 2, 3]);
    });
  }

  it('passes a float64 gradient check w.r.t. input, query, keys and values', () => {
    for (const queryNorm of ['none', 'layer'] as const) {
      const p = new PKM({ ...small, queryNorm, seed: 3 });
      const fn = (x: Tensor, wq: Tensor, keys: Tensor, values: Tensor): Tensor => {
        p.query.weight = wq;
        p.keys = keys;
        p.values.weight = values;
        return p.forward(x);
      };
      const r = gradCheck(fn, [randn([4, 5], { seed: 4, dtype: 'float64' }), p.query.weight, p.keys, p.values.weight], {
        throwOnFail: false,
      });
      expect(r.message).toBe('');
    }
  });

  it('gives the value table a row-sparse gradient on the retrieved rows only', () => {
    const p = new PKM({ dim: 8, heads: 3, numKeys: 32, topK: 4, dimKey: 6, seed: 5 });
    sum(p.forward(randn([6, 8], { seed: 6 }))).backward();
    const g = p.values.weight.grad as SparseGrad;
    expect(g).toBeInstanceOf(SparseGrad);
    // Coalesced on the CPU backend (embeddingBag): one ascending row per distinct retrieved slot.
    const retrieved = [...new Set(p.lastRouting!.indices)].sort((a, b) => a - b);
    expect(g.coalesced).toBe(true);
    expect(Array.from(g.indices.toTypedArray())).toEqual(retrieved);
    expect((p.keys.grad as Tensor).toTypedArray().some((v) => v !== 0)).toBe(true);
  });

  it('keeps unit output scale at init for unit-variance inputs', () => {
    const p = new PKM({ dim: 64, heads: 4, numKeys: 32, topK: 16, dimKey: 32, seed: 7 });
    const y = p.forward(randn([256, 64], { seed: 8 })).toTypedArray();
    const rms = Math.sqrt(Array.from(y).reduce((s, v) => s + v * v, 0) / y.length);
    expect(rms).toBeGreaterThan(0.6);
    expect(rms).toBeLessThan(1.6);
  });

  it('round-trips its state dict through safetensors under the documented names', () => {
    const p = new PKM({ dim: 5, heads: 2, numKeys: 4, topK: 2, dimKey: 4, queryNorm: 'layer', seed: 1 });
    const dict = p.stateDict();
    expect(Object.keys(dict).sort()).toEqual(['keys', 'query.weight', 'queryNorm.bias', 'queryNorm.weight', 'values.weight']);
    expect(dict['keys']!.shape).toEqual([2, 2, 4, 2]);
    expect(dict['values.weight']!.shape).toEqual([16, 5]);
    expect(dict['query.weight']!.shape).toEqual([8, 5]);
    const x = randn([3, 5], { seed: 2 });
    const q = new PKM({ dim: 5, heads: 2, numKeys: 4, topK: 2, dimKey: 4, queryNorm: 'layer', seed: 50 });
    q.loadStateDict(loadSafetensors(saveSafetensors(dict)));
    expect(Array.from(q.forward(x).toTypedArray())).toEqual(Array.from(p.forward(x).toTypedArray()));
  });

  it('rejects bad hyperparameters and inputs with clear messages', () => {
    const ok = { dim: 8, numKeys: 8, topK: 4, dimKey: 8 };
    expect(() => new PKM({ ...ok, dimKey: 5 })).toThrow(/PKM: dimKey must be even.*5/);
    expect(() => new PKM({ ...ok, topK: 9 })).toThrow(/PKM: topK \(9\) must be <= numKeys \(8/);
    expect(() => new PKM({ ...ok, numKeys: 0 })).toThrow(/PKM: numKeys must be a positive integer, got 0/);
    expect(() => new PKM({ ...ok, dimOut: 2.5 })).toThrow(/PKM: dimOut must be a positive integer, got 2.5/);
    expect(() => new PKM({ ...ok, queryNorm: 'rms' as never })).toThrow(/PKM: unknown queryNorm 'rms'/);
    expect(() => new PKM(ok).forward(randn([2, 3]))).toThrow(/PKM.forward: input \[2, 3\] must end in dim = 8/);
    expect(() => new PKM(ok).forward(randn([1, 8]))).toThrow(/BatchNorm1d.*more than 1 value per feature/);
  });
});
