import { loadSafetensors, randn, saveSafetensors, sum, tensor, type Tensor } from '@myriad/core';
import { gradCheck } from '@myriad/core/testing';
import { describe, expect, it } from 'vitest';
import type { FeedForward } from '../src/layers/feed-forward.js';
import { MoE } from '../src/routing/moe.js';
import { hashExperts } from '../src/routing/routers.js';

/** A ReLU FeedForward evaluated from its weights: down·relu(up·x + b₁) + b₂. */
function ffRef(ff: FeedForward, x: ArrayLike<number>): number[] {
  const W1 = ff.up.weight.toTypedArray();
  const b1 = ff.up.bias!.toTypedArray();
  const W2 = ff.down.weight.toTypedArray();
  const b2 = ff.down.bias!.toTypedArray();
  const hidden = ff.up.outFeatures;
  const dim = ff.up.inFeatures;
  const out = ff.down.outFeatures;
  const h = Array.from({ length: hidden }, (_, j) =>
    Math.max(0, b1[j]! + Array.from({ length: dim }, (_, c) => W1[j * dim + c]! * x[c]!).reduce((a, b) => a + b, 0)),
  );
  return Array.from({ length: out }, (_, o) => b2[o]! + h.reduce((a, hj, j) => a + W2[o * hidden + j]! * hj, 0));
}

/** Router probabilities softmax(x·Wᵀ) per token. */
function routerProbs(m: MoE, x: Float64Array, tokens: number): number[][] {
  const W = m.router!.weight.toTypedArray();
  return Array.from({ length: tokens }, (_, t) => {
    const logits = Array.from({ length: m.numExperts }, (_, e) =>
      Array.from({ length: m.dim }, (_, c) => W[e * m.dim + c]! * x[t * m.dim + c]!).reduce((a, b) => a + b, 0),
    );
    const mx = Math.max(...logits);
    const z = logits.reduce((a, l) => a + Math.exp(l - mx), 0);
    return logits.map((l) => Math.exp(l - mx) / z);
  });
}

const base = { dim: 4, hidden: 5, numExperts: 4, activation: 'relu' as const, dtype: 'float64' as const };

describe('MoE', () => {
  it("'topk' matches Σ gate·expert(x) with gates renormalised over the top-k, plus shared experts", () => {
    const m = new MoE({ ...base, topK: 2, numShared: 1, seed: 1 });
    const x = randn([2, 3, 4], { seed: 2, dtype: 'float64' });
    const y = m.forward(x).toTypedArray();
    const xs = x.data as Float64Array;
    routerProbs(m, xs, 6).forEach((p, t) => {
      const order = p
        .map((v, e) => [v, e] as const)
        .sort((a, b) => b[0] - a[0])
        .slice(0, 2);
      const norm = order[0]![0] + order[1]![0];
      const xt = xs.subarray(t * 4, t * 4 + 4);
      const ref = ffRef(m.shared[0]!, xt);
      for (const [pe, e] of order) ffRef(m.experts[e]!, xt).forEach((v, o) => (ref[o]! += (pe / norm) * v));
      ref.forEach((v, o) => expect(y[t * 4 + o]).toBeCloseTo(v, 10));
      expect(Array.from(m.lastRouting!.indices.subarray(t * 2, t * 2 + 2))).toEqual(order.map(([, e]) => e));
    });
  });

  it('runs each expert once per forward over all of its tokens (grouped dispatch, not per token)', () => {
    const m = new MoE({ ...base, topK: 2, seed: 3 });
    const calls: number[][] = m.experts.map(() => []);
    m.experts.forEach((ex, e) => {
      const f = ex.forward.bind(ex);
      ex.forward = (x: Tensor) => (calls[e]!.push(x.shape[0]!), f(x));
    });
    m.forward(randn([16, 4], { seed: 4, dtype: 'float64' }));
    const load = new Array<number>(4).fill(0);
    for (const e of m.lastRouting!.indices) load[e]++;
    calls.forEach((c, e) => expect(c).toEqual(load[e]! > 0 ? [load[e]] : []));
  });

  it('Switch (topK 1, finite capacity) drops overflow in token order, counts it, and gives dropped tokens zero', () => {
    const m = new MoE({ ...base, topK: 1, capacityFactor: 0.5, normalizeTopK: false, seed: 5 });
    // Route every token to expert 2 by making its router row dominate.
    m.router!.weight.assign(
      tensor(
        [
          [0, 0, 0, 0],
          [0, 0, 0, 0],
          [9, 9, 9, 9],
          [0, 0, 0, 0],
        ],
        { dtype: 'float64' },
      ),
    );
    const x = randn([8, 4], { seed: 6, dtype: 'float64' }).abs().add(0.5);
    const y = m.forward(x).toTypedArray();
    const capacity = Math.ceil((0.5 * 8 * 1) / 4); // 1 token per expert
    expect(capacity).toBe(1);
    expect(m.droppedFraction).toBeCloseTo(7 / 8, 12);
    expect(Array.from(m.lastRouting!.indices)).toEqual([2, -1, -1, -1, -1, -1, -1, -1]);
    const p = routerProbs(m, x.data as Float64Array, 8)[0]![2]!;
    ffRef(m.experts[2]!, (x.data as Float64Array).subarray(0, 4)).forEach((v, o) => expect(y[o]).toBeCloseTo(p * v, 10));
    for (let i = 4; i < 32; i++) expect(y[i]).toBe(0);
    expect(m.lastRouting!.scores[1]).toBe(0);
  });

  it("'expert-choice' lets each expert take its top-c tokens by router probability", () => {
    const m = new MoE({ ...base, router: 'expert-choice', capacityFactor: 2, seed: 7 });
    const x = randn([6, 4], { seed: 8, dtype: 'float64' });
    const y = m.forward(x).toTypedArray();
    const xs = x.data as Float64Array;
    const c = Math.ceil((6 * 2) / 4); // 3 tokens per expert
    const p = routerProbs(m, xs, 6);
    const ref = new Float64Array(24);
    const taken = new Set<number>();
    for (let e = 0; e < 4; e++) {
      const best = p
        .map((row, t) => [row[e]!, t] as const)
        .sort((a, b) => b[0] - a[0])
        .slice(0, c);
      for (const [pe, t] of best) {
        taken.add(t);
        ffRef(m.experts[e]!, xs.subarray(t * 4, t * 4 + 4)).forEach((v, o) => (ref[t * 4 + o] += pe * v));
      }
    }
    ref.forEach((v, i) => expect(y[i]).toBeCloseTo(v, 10));
    const r = m.lastRouting!;
    expect([r.tokens, r.heads, r.k]).toEqual([6, 1, 4]);
    expect(r.indices.filter((e) => e >= 0).length).toBe(4 * c);
    expect(m.droppedFraction).toBeCloseTo((6 - taken.size) / 6, 12);
  });

  it("'hash' sends a token id always to the same experts, needs token ids, and matches the reference", () => {
    const m = new MoE({ ...base, router: 'hash', topK: 2, hashSeed: 3, seed: 9 });
    expect(m.router).toBeNull();
    const x = randn([5, 4], { seed: 10, dtype: 'float64' });
    const ids = tensor(Int32Array.from([7, 3, 7, 100, 3]), { dtype: 'int32' });
    const y = m.forward(x, { tokenIds: ids }).toTypedArray();
    const experts = hashExperts([7, 3, 7, 100, 3], 4, 2, 3);
    expect(Array.from(m.lastRouting!.indices)).toEqual(Array.from(experts));
    const pair = (t: number) => Array.from(experts.subarray(t * 2, t * 2 + 2));
    expect(pair(2)).toEqual(pair(0)); // id 7 twice
    expect(pair(4)).toEqual(pair(1)); // id 3 twice
    for (let t = 0; t < 5; t++) expect(pair(t)[0]).not.toBe(pair(t)[1]); // k distinct experts
    const xs = x.data as Float64Array;
    for (let t = 0; t < 5; t++) {
      const ref = [0, 0, 0, 0];
      for (const e of experts.subarray(t * 2, t * 2 + 2))
        ffRef(m.experts[e]!, xs.subarray(t * 4, t * 4 + 4)).forEach((v, o) => (ref[o]! += v / 2));
      ref.forEach((v, o) => expect(y[t * 4 + o]).toBeCloseTo(v, 10));
    }
    expect(() => m.forward(x)).toThrow(/router 'hash' needs token ids: call forward\(x, \{ tokenIds \}\) with int32 ids of shape \[5\]/);
    expect(() => m.forward(x, { tokenIds: tensor([1, 2, 3]) })).toThrow(/tokenIds must be int32 \[5\].*got float32 \[3\]/);
  });

  it('auxLoss = coef·E·Σ fᵢPᵢ + zCoef·mean(logsumexp²): the coefficient under uniform routing, and a hand formula otherwise', () => {
    const m = new MoE({ ...base, topK: 2, balanceLossCoef: 0.01, zLossCoef: 0.001, seed: 11 });
    m.router!.weight.assign(0);
    m.forward(randn([6, 4], { seed: 12, dtype: 'float64' }));
    expect(m.auxLoss()!.item()).toBeCloseTo(0.01 + 0.001 * Math.log(4) ** 2, 12);

    const m2 = new MoE({ ...base, topK: 2, balanceLossCoef: 0.1, zLossCoef: 0.01, seed: 13 });
    const x = randn([6, 4], { seed: 14, dtype: 'float64' });
    m2.forward(x);
    const p = routerProbs(m2, x.data as Float64Array, 6);
    const f = new Array<number>(4).fill(0);
    for (const e of m2.lastRouting!.indices) f[e] += 1 / 12;
    const P = [0, 1, 2, 3].map((e) => p.reduce((a, row) => a + row[e]! / 6, 0));
    const W = m2.router!.weight.toTypedArray();
    const xs = x.data as Float64Array;
    let z = 0;
    for (let t = 0; t < 6; t++) {
      const logits = [0, 1, 2, 3].map((e) => [0, 1, 2, 3].reduce((a, c) => a + W[e * 4 + c]! * xs[t * 4 + c]!, 0));
      z += Math.log(logits.reduce((a, l) => a + Math.exp(l), 0)) ** 2 / 6;
    }
    expect(m2.auxLoss()!.item()).toBeCloseTo(0.1 * 4 * f.reduce((a, fi, i) => a + fi * P[i]!, 0) + 0.01 * z, 12);
    // The loss reaches the router.
    m2.auxLoss()!.backward();
    expect((m2.router!.weight.grad as Tensor).toTypedArray().some((v) => v !== 0)).toBe(true);
    expect(new MoE({ ...base, balance: 'none' }).auxLoss()).toBeNull();
  });

  it("balance 'bias' selects by p + bias, gates by p alone, and moves the bias toward even load in training only", () => {
    const m = new MoE({ ...base, topK: 1, normalizeTopK: false, balance: 'bias', biasUpdateRate: 0.25, seed: 15 });
    expect(m.auxLoss()).toBeNull();
    m.expertBias!.assign(tensor([0, 0, 0, 5], { dtype: 'float64' })); // expert 3 wins every selection
    const x = randn([8, 4], { seed: 16, dtype: 'float64' });
    m.eval();
    m.forward(x);
    expect(Array.from(m.expertBias!.toTypedArray())).toEqual([0, 0, 0, 5]); // eval: no update
    expect(new Set(m.lastRouting!.indices)).toEqual(new Set([3]));
    const p = routerProbs(m, x.data as Float64Array, 8);
    m.lastRouting!.scores.forEach((g, t) => expect(g).toBeCloseTo(p[t]![3]!, 12));
    m.train();
    m.forward(x);
    // Loads [0, 0, 0, 8], mean 2: underloaded experts +0.25, the overloaded one −0.25.
    expect(Array.from(m.expertBias!.toTypedArray())).toEqual([0.25, 0.25, 0.25, 4.75]);
    expect(Object.keys(m.stateDict())).toContain('expertBias');
  });

  it('passes a float64 gradient check w.r.t. input, router and expert weights', () => {
    const m = new MoE({ ...base, activation: 'gelu', topK: 2, numShared: 1, seed: 17 });
    const fn = (x: Tensor, wr: Tensor, w1: Tensor, w2: Tensor, ws: Tensor): Tensor => {
      m.router!.weight = wr;
      m.experts[0]!.up.weight = w1;
      m.experts[1]!.down.weight = w2;
      m.shared[0]!.up.weight = ws;
      const y = m.forward(x);
      return sum(y)
        .add(m.auxLoss()!.mul(10))
        .reshape([1])
        .concat([y.reshape([-1])]);
    };
    const r = gradCheck(
      fn,
      [
        randn([5, 4], { seed: 18, dtype: 'float64' }),
        m.router!.weight,
        m.experts[0]!.up.weight,
        m.experts[1]!.down.weight,
        m.shared[0]!.up.weight,
      ],
      { throwOnFail: false },
    );
    expect(r.message).toBe('');
  });

  it("'expert-choice' passes a float64 gradient check w.r.t. input, router and expert weights", () => {
    const m = new MoE({ ...base, activation: 'gelu', router: 'expert-choice', capacityFactor: 1.5, seed: 21 });
    const fn = (x: Tensor, wr: Tensor, w1: Tensor, w2: Tensor): Tensor => {
      m.router!.weight = wr;
      m.experts[0]!.up.weight = w1;
      m.experts[1]!.down.weight = w2;
      return m.forward(x).reshape([-1]);
    };
    const r = gradCheck(
      fn,
      [randn([5, 4], { seed: 22, dtype: 'float64' }), m.router!.weight, m.experts[0]!.up.weight, m.experts[1]!.down.weight],
      { throwOnFail: false },
    );
    expect(r.message).toBe('');
  });

  it('round-trips its state dict through safetensors under the documented names', () => {
    const m = new MoE({ dim: 4, hidden: 3, numExperts: 3, topK: 1, numShared: 1, seed: 19 });
    const names = Object.keys(m.stateDict());
    expect(names).toContain('router.weight');
    expect(names).toContain('experts.2.up.weight');
    expect(names).toContain('shared.0.down.bias');
    expect(m.stateDict()['router.weight']!.shape).toEqual([3, 4]);
    const x = randn([5, 4], { seed: 20 });
    const m2 = new MoE({ dim: 4, hidden: 3, numExperts: 3, topK: 1, numShared: 1, seed: 77 });
    m2.loadStateDict(loadSafetensors(saveSafetensors(m.stateDict())));
    expect(Array.from(m2.forward(x).toTypedArray())).toEqual(Array.from(m.forward(x).toTypedArray()));
  });

  it('rejects bad hyperparameters and inputs with clear messages', () => {
    const ok = { dim: 4, hidden: 8, numExperts: 4 };
    expect(() => new MoE({ ...ok, topK: 5 })).toThrow(/MoE: topK must be an integer in \[1, numExperts=4\], got 5/);
    expect(() => new MoE({ ...ok, numExperts: 0 })).toThrow(/MoE: numExperts must be a positive integer, got 0/);
    expect(() => new MoE({ ...ok, router: 'random' as never })).toThrow(/MoE: unknown router 'random'/);
    expect(() => new MoE({ ...ok, balance: 'aux' as never })).toThrow(/MoE: unknown balance 'aux'/);
    expect(() => new MoE({ ...ok, capacityFactor: 0 })).toThrow(/capacityFactor must be > 0/);
    expect(() => new MoE({ ...ok, router: 'hash', balance: 'bias' })).toThrow(/balance 'bias' needs router 'topk'/);
    expect(() => new MoE({ ...ok, router: 'expert-choice', balance: 'loss' })).toThrow(/balanced by construction/);
    expect(() => new MoE({ ...ok, numShared: -1 })).toThrow(/numShared must be a non-negative integer, got -1/);
    expect(() => new MoE({ ...ok, zLossCoef: -1 })).toThrow(/zLossCoef must be a finite number >= 0, got -1/);
    expect(() => new MoE(ok).forward(randn([2, 5]))).toThrow(/MoE.forward: input \[2, 5\] must end in dim = 4/);
  });
});
