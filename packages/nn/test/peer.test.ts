import { SparseGrad, loadSafetensors, randn, saveSafetensors, sum, tensor, type Tensor } from '@myriad/core';
import { gradCheck } from '@myriad/core/testing';
import { describe, expect, it } from 'vitest';
import { FeedForward } from '../src/layers/feed-forward.js';
import { PEER } from '../src/routing/peer.js';

const ACTS: Record<string, (z: number) => number> = {
  relu: (z) => Math.max(z, 0),
  tanh: Math.tanh,
  silu: (z) => z / (1 + Math.exp(-z)),
  gelu: (z) => 0.5 * z * (1 + erfSeries(z / Math.SQRT2)),
};

/** erf by its Maclaurin series (plenty for the |z| < 4 seen here, in float64). */
function erfSeries(z: number): number {
  let term = z;
  let total = z;
  for (let n = 1; n < 80; n++) {
    term *= (-z * z) / n;
    total += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * total;
}

/**
 * PEER from the paper's formulas, by brute force over all N experts: key (i, j) = [c_i ; c'_j];
 * per head, the k best q·K; g = softmax or sigmoid; y = Σ_h Σ_i g_i·act(u_i·x)·v_i. queryNorm 'none'.
 */
function peerReference(p: PEER, x: Float64Array, tokens: number): { y: Float64Array; experts: number[][] } {
  const { dim, dimOut, heads, dimKey, numKeys: n, topK: k } = p;
  const Wq = p.query.weight.toTypedArray();
  const C = p.keys.toTypedArray();
  const U = p.down.weight.toTypedArray();
  const V = p.up.weight.toTypedArray();
  const half = dimKey / 2;
  const act = ACTS[p.activation]!;
  const y = new Float64Array(tokens * dimOut);
  const experts: number[][] = [];
  for (let t = 0; t < tokens; t++) {
    const xt = x.subarray(t * dim, (t + 1) * dim);
    for (let h = 0; h < heads; h++) {
      const q = new Float64Array(dimKey);
      for (let d = 0; d < dimKey; d++) for (let c = 0; c < dim; c++) q[d] += Wq[(h * dimKey + d) * dim + c]! * xt[c]!;
      const all: Array<[number, number]> = [];
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let d = 0; d < half; d++) s += q[d]! * C[i * half + d]! + q[half + d]! * C[(n + j) * half + d]!;
          all.push([i * n + j, s]);
        }
      }
      all.sort((a, b) => b[1] - a[1]);
      const best = all.slice(0, k);
      experts.push(best.map(([e]) => e));
      const m = best[0]![1];
      const z = best.reduce((acc, [, s]) => acc + Math.exp(s - m), 0);
      for (const [e, s] of best) {
        const g = p.scoreFn === 'softmax' ? Math.exp(s - m) / z : 1 / (1 + Math.exp(-s));
        let pre = 0;
        for (let c = 0; c < dim; c++) pre += U[e * dim + c]! * xt[c]!;
        const a = g * act(pre);
        for (let o = 0; o < dimOut; o++) y[t * dimOut + o] += a * V[e * dimOut + o]!;
      }
    }
  }
  return { y, experts };
}

const small = { dim: 6, dimOut: 5, heads: 3, numExperts: 25, topK: 3, dimKey: 4, queryNorm: 'none' as const, dtype: 'float64' as const };

describe('PEER', () => {
  for (const [scoreFn, activation] of [
    ['softmax', 'gelu'],
    ['sigmoid', 'relu'],
    ['softmax', 'tanh'],
    ['sigmoid', 'silu'],
  ] as const) {
    it(`matches a brute-force reference of the paper's formulas (${scoreFn}, ${activation})`, () => {
      const p = new PEER({ ...small, scoreFn, activation, seed: 11 });
      const x = randn([2, 4, 6], { seed: 12, dtype: 'float64' });
      const y = p.forward(x);
      expect(y.shape).toEqual([2, 4, 5]);
      const ref = peerReference(p, x.data as Float64Array, 8);
      const got = y.toTypedArray();
      ref.y.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 9));
      // lastRouting holds the same experts per (token, head), best first.
      const r = p.lastRouting!;
      expect([r.tokens, r.heads, r.k]).toEqual([8, 3, 3]);
      expect(Array.from(r.indices)).toEqual(ref.experts.flat());
    });
  }

  it('with topK = 1 equals an MLP of `heads` hidden neurons (the retrieved rows as its weights)', () => {
    const p = new PEER({ ...small, topK: 1, seed: 3 });
    const x = randn([5, 6], { seed: 4, dtype: 'float64' });
    const y = p.forward(x).toTypedArray();
    const idx = p.lastRouting!.indices;
    for (let t = 0; t < 5; t++) {
      const mlp = new FeedForward({ dim: 6, hidden: 3, dimOut: 5, bias: false, dtype: 'float64' });
      const rows = Array.from(idx.subarray(t * 3, t * 3 + 3));
      mlp.up.weight.assign(p.down.weight.indexSelect(0, tensorOf(rows)));
      mlp.down.weight.assign(p.up.weight.indexSelect(0, tensorOf(rows)).transpose(0, 1));
      const ref = mlp.forward(x.slice(0, t, t + 1)).toTypedArray();
      ref.forEach((v, o) => expect(y[t * 5 + o]).toBeCloseTo(v, 12));
    }
  });

  it('passes a float64 gradient check w.r.t. input, query, keys, down and up (queryNorm none, batch, layer)', () => {
    for (const queryNorm of ['none', 'batch', 'layer'] as const) {
      const p = new PEER({ ...small, queryNorm, seed: 5 });
      const x = randn([4, 6], { seed: 6, dtype: 'float64' });
      const fn = (xi: Tensor, wq: Tensor, keys: Tensor, down: Tensor, up: Tensor): Tensor => {
        p.query.weight = wq;
        p.keys = keys;
        p.down.weight = down;
        p.up.weight = up;
        return p.forward(xi);
      };
      const r = gradCheck(fn, [x, p.query.weight, p.keys, p.down.weight, p.up.weight], { throwOnFail: false });
      expect(r.message).toBe('');
      expect(r.ok).toBe(true);
    }
  });

  it('gives down and up row-sparse gradients on the retrieved rows only, and dense ones to query and keys', () => {
    const p = new PEER({ dim: 8, heads: 2, numExperts: 64 * 64, topK: 4, dimKey: 6, queryNorm: 'batch', seed: 9 });
    const x = randn([5, 8], { seed: 10 });
    sum(p.forward(x)).backward();
    const retrieved = new Set(p.lastRouting!.indices);
    for (const table of [p.down.weight, p.up.weight]) {
      const g = table.grad;
      expect(g).toBeInstanceOf(SparseGrad);
      const sg = g as SparseGrad;
      expect(sg.nnz).toBeLessThanOrEqual(5 * 2 * 4); // ≤ tokens · heads · k rows, nothing of size N
      expect(sg.coalesce().nnz).toBe(retrieved.size);
      expect(sg.shape).toEqual(table.shape);
      for (const i of sg.indices.toTypedArray()) expect(retrieved.has(i)).toBe(true);
    }
    const gq = p.query.weight.grad as Tensor;
    const gk = p.keys.grad as Tensor;
    expect(gq.toTypedArray().some((v) => v !== 0)).toBe(true);
    expect(gk.toTypedArray().some((v) => v !== 0)).toBe(true);
  });

  it('keeps unit activation scale at init for unit-variance inputs', () => {
    for (const scoreFn of ['softmax', 'sigmoid'] as const) {
      const p = new PEER({ dim: 64, heads: 4, numExperts: 32 * 32, topK: 8, dimKey: 32, scoreFn, seed: 1 });
      const y = p.forward(randn([256, 64], { seed: 2 })).toTypedArray();
      const rms = Math.sqrt(Array.from(y).reduce((s, v) => s + v * v, 0) / y.length);
      expect(rms).toBeGreaterThan(0.6);
      expect(rms).toBeLessThan(1.6);
    }
  });

  it('records gates that sum to 1 per head under softmax and indices inside [0, N)', () => {
    const p = new PEER({ ...small, seed: 2 });
    p.forward(randn([7, 6], { seed: 3, dtype: 'float64' }));
    const r = p.lastRouting!;
    const g = r.scores;
    for (let i = 0; i < 7 * 3; i++) expect(g.subarray(i * 3, i * 3 + 3).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    for (const e of r.indices) expect(e >= 0 && e < 25).toBe(true);
    expect(p.numExperts).toBe(25);
  });

  it('round-trips its state dict through safetensors under the documented names', () => {
    const p = new PEER({ dim: 6, heads: 2, numExperts: 16, topK: 2, dimKey: 4, seed: 1 });
    const x = randn([6, 6], { seed: 2 });
    p.forward(x); // moves the BatchNorm running statistics
    p.eval();
    const y = p.forward(x).toTypedArray();
    const dict = p.stateDict();
    expect(Object.keys(dict).sort()).toEqual(
      [
        'down.weight',
        'keys',
        'query.weight',
        'queryNorm.bias',
        'queryNorm.runningMean',
        'queryNorm.runningVar',
        'queryNorm.weight',
        'up.weight',
      ].sort(),
    );
    expect(dict['keys']!.shape).toEqual([2, 4, 2]);
    expect(dict['down.weight']!.shape).toEqual([16, 6]);
    const q = new PEER({ dim: 6, heads: 2, numExperts: 16, topK: 2, dimKey: 4, seed: 99 });
    q.loadStateDict(loadSafetensors(saveSafetensors(dict)));
    q.eval();
    expect(Array.from(q.forward(x).toTypedArray())).toEqual(Array.from(y));
  });

  it('rejects bad hyperparameters and inputs with clear messages', () => {
    const ok = { dim: 8, numExperts: 64, topK: 4, dimKey: 8 };
    expect(() => new PEER({ ...ok, numExperts: 1000 })).toThrow(/numExperts must be a perfect square.*1000.*961 or 1024/);
    expect(() => new PEER({ ...ok, dimKey: 7 })).toThrow(/dimKey must be even.*7/);
    expect(() => new PEER({ ...ok, topK: 9 })).toThrow(/topK \(9\) must be <= numKeys \(8/);
    expect(() => new PEER({ ...ok, heads: 0 })).toThrow(/heads must be a positive integer, got 0/);
    expect(() => new PEER({ ...ok, scoreFn: 'relu' as never })).toThrow(/unknown scoreFn 'relu'/);
    expect(() => new PEER({ ...ok, activation: 'swish' as never })).toThrow(/unknown activation 'swish'/);
    expect(() => new PEER({ ...ok, queryNorm: 'group' as never })).toThrow(/unknown queryNorm 'group'/);
    expect(() => new PEER(ok).forward(randn([3, 7]))).toThrow(/PEER.forward: input \[3, 7\] must end in dim = 8/);
  });
});

function tensorOf(rows: number[]): Tensor {
  return tensor(Int32Array.from(rows), { shape: [rows.length], dtype: 'int32' });
}
