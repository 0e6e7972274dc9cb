import { describe, expect, it } from 'vitest';
import { SparseGrad, tensor, randn, type Tensor } from '@myriad/core';
import { BatchNorm1d, CausalSelfAttention, Embedding, FeedForward, LayerNorm, Linear, RMSNorm } from '@myriad/nn';
import { gradCheck, probe } from './helpers/grad-check.js';
import { referenceAttention } from './helpers/reference.js';

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), `element ${i}: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(tol);
};
const flat = (t: Tensor) => Array.from(t.toTypedArray());
/** Σ w ⊙ y for a fixed pseudo-random w: a scalar that depends on every output element. */
const probeLoss = (y: Tensor) => y.mul(tensor(probe(y.shape), { shape: y.shape })).sum();
const f64 = (shape: number[], seed: number) => randn(shape, { seed, dtype: 'float64' });

describe('Linear', () => {
  it('computes x·Wᵀ + b with weight [out, in] over any leading dims', () => {
    const lin = new Linear(2, 3);
    lin.weight.assign(
      tensor([
        [1, 2],
        [3, 4],
        [5, 6],
      ]),
    );
    lin.bias!.assign(tensor([0.5, -1, 0]));
    const y = lin.forward(
      tensor([
        [
          [1, -1],
          [2, 0.5],
        ],
      ]),
    );
    expect(y.shape).toEqual([1, 2, 3]);
    expect(y.toArray()).toEqual([
      [
        [-0.5, -2, -1],
        [3.5, 7, 13],
      ],
    ]);
    expect(new Linear(2, 3, { bias: false }).bias).toBeNull();
  });

  it('initialises U(±1/√in) reproducibly from a seed', () => {
    const a = new Linear(16, 64, { seed: 5 });
    expect(flat(a.weight)).toEqual(flat(new Linear(16, 64, { seed: 5 }).weight));
    expect(flat(a.weight)).not.toEqual(flat(new Linear(16, 64, { seed: 6 }).weight));
    const w = flat(a.weight);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(0.25);
    const variance = w.reduce((s, v) => s + v * v, 0) / w.length;
    expect(variance).toBeGreaterThan((0.25 ** 2 / 3) * 0.8); // U(±b) has variance b²/3
    expect(variance).toBeLessThan((0.25 ** 2 / 3) * 1.2);
    expect(Math.max(...flat(a.bias!).map(Math.abs))).toBeLessThanOrEqual(0.25);
  });

  it('gradients match finite differences', () => {
    const lin = new Linear(3, 2, { seed: 1, dtype: 'float64' });
    const x = f64([2, 2, 3], 2).requiresGrad_();
    const r = gradCheck(() => probeLoss(lin.forward(x)), { weight: lin.weight, bias: lin.bias!, x });
    expect(r.maxError, r.where).toBeLessThan(1e-6);
  });

  it('rejects a wrong input width and bad sizes', () => {
    expect(() => new Linear(3, 2).forward(randn([4, 2]))).toThrow(/Linear.forward: input \[4, 2\] must end in inFeatures = 3/);
    expect(() => new Linear(0, 2)).toThrow(/inFeatures must be a positive integer, got 0/);
  });
});

describe('Embedding', () => {
  it('looks up rows by int32 id, any id shape', () => {
    const emb = new Embedding(4, 2);
    emb.weight.assign(
      tensor([
        [0, 1],
        [2, 3],
        [4, 5],
        [6, 7],
      ]),
    );
    expect(
      emb
        .forward(
          tensor(
            [
              [3, 0],
              [1, 1],
            ],
            { dtype: 'int32' },
          ),
        )
        .toArray(),
    ).toEqual([
      [
        [6, 7],
        [0, 1],
      ],
      [
        [2, 3],
        [2, 3],
      ],
    ]);
  });

  it('gives the table a row-sparse gradient holding only the looked-up rows', () => {
    const emb = new Embedding(100, 3, { seed: 1 });
    const ids = tensor([5, 7, 5], { dtype: 'int32' });
    emb
      .forward(ids)
      .mul(
        tensor([
          [1, 1, 1],
          [2, 2, 2],
          [3, 3, 3],
        ]),
      )
      .sum()
      .backward();
    const g = emb.weight.grad;
    expect(g).toBeInstanceOf(SparseGrad);
    const c = (g as SparseGrad).coalesce();
    expect(flat(c.indices)).toEqual([5, 7]);
    expect(c.values.toArray()).toEqual([
      [4, 4, 4],
      [2, 2, 2],
    ]);
  });

  it('gradients match finite differences', () => {
    const emb = new Embedding(5, 3, { seed: 1, dtype: 'float64' });
    const ids = tensor(
      [
        [1, 4],
        [1, 0],
      ],
      { dtype: 'int32' },
    );
    const r = gradCheck(() => probeLoss(emb.forward(ids)), { weight: emb.weight });
    expect(r.maxError, r.where).toBeLessThan(1e-6);
  });

  it('rejects float ids and ids out of range, naming the id', () => {
    const emb = new Embedding(4, 2);
    expect(() => emb.forward(tensor([1]))).toThrow(/ids must be int32, got float32/);
    expect(() => emb.forward(tensor([1, 4], { dtype: 'int32' }))).toThrow(/id 4 at flat index 1 is outside \[0, 4\)/);
  });
});

describe('LayerNorm and RMSNorm', () => {
  it('LayerNorm: (x − μ)/√(σ² + eps)·w + b with biased variance', () => {
    const ln = new LayerNorm(4);
    ln.weight.assign(tensor([1, 2, 1, 0.5]));
    ln.bias!.assign(tensor([0, 0, 1, 0]));
    const s = Math.sqrt(1.25 + 1e-5); // mean 2.5, variance 1.25
    close(flat(ln.forward(tensor([[1, 2, 3, 4]]))), [-1.5 / s, (2 * -0.5) / s, 0.5 / s + 1, (0.5 * 1.5) / s]);
  });

  it('RMSNorm: x/√(mean(x²) + eps)·w', () => {
    const rms = new RMSNorm(2);
    rms.weight.assign(tensor([1, 3]));
    const r = Math.sqrt(12.5 + 1e-6);
    close(
      flat(
        rms.forward(
          tensor([
            [3, 4],
            [0, 0],
          ]),
        ),
      ),
      [3 / r, 12 / r, 0, 0],
    );
    expect(Object.keys(rms.stateDict())).toEqual(['weight']);
  });

  it('gradients match finite differences', () => {
    const ln = new LayerNorm(4, { dtype: 'float64' });
    ln.weight.assign(f64([4], 1));
    ln.bias!.assign(f64([4], 2));
    const x = f64([3, 4], 3).requiresGrad_();
    const a = gradCheck(() => probeLoss(ln.forward(x)), { weight: ln.weight, bias: ln.bias!, x });
    expect(a.maxError, a.where).toBeLessThan(1e-6);
    const rms = new RMSNorm(4, { dtype: 'float64' });
    rms.weight.assign(f64([4], 4));
    const b = gradCheck(() => probeLoss(rms.forward(x)), { weight: rms.weight, x });
    expect(b.maxError, b.where).toBeLessThan(1e-6);
  });

  it('reject a wrong feature size', () => {
    expect(() => new LayerNorm(3).forward(randn([2, 4]))).toThrow(/LayerNorm.forward: input \[2, 4\] must end in dim = 3/);
    expect(() => new RMSNorm(3).forward(randn([2, 4]))).toThrow(/RMSNorm.forward/);
  });
});

describe('BatchNorm1d', () => {
  // Two features over [2, 3] leading dims = 6 rows.
  const rows = [
    [1, 10],
    [2, 20],
    [3, 0],
    [4, 5],
    [6, -5],
    [2, 0],
  ];
  const x = tensor([rows.slice(0, 3), rows.slice(3)], { dtype: 'float64' });
  const stats = (col: number) => {
    const v = rows.map((r) => r[col]!);
    const mu = v.reduce((a, b) => a + b, 0) / v.length;
    const ss = v.reduce((a, b) => a + (b - mu) ** 2, 0);
    return { mu, biased: ss / v.length, unbiased: ss / (v.length - 1) };
  };

  it('training normalises over all leading dims with the biased variance and updates running stats with momentum 0.1 and the unbiased variance', () => {
    const bn = new BatchNorm1d(2, { dtype: 'float64' });
    bn.weight!.assign(tensor([2, 1]));
    bn.bias!.assign(tensor([0, 1]));
    const y = bn.forward(x);
    expect(y.shape).toEqual([2, 3, 2]);
    const s = [stats(0), stats(1)];
    const expected = rows.flatMap((r) => r.map((v, c) => ((v - s[c]!.mu) / Math.sqrt(s[c]!.biased + 1e-5)) * [2, 1][c]! + [0, 1][c]!));
    close(flat(y), expected, 1e-9);
    close(flat(bn.runningMean), [0.1 * s[0]!.mu, 0.1 * s[1]!.mu], 1e-12);
    close(flat(bn.runningVar), [0.9 + 0.1 * s[0]!.unbiased, 0.9 + 0.1 * s[1]!.unbiased], 1e-12);
    bn.forward(x);
    close(flat(bn.runningMean), [0.19 * s[0]!.mu, 0.19 * s[1]!.mu], 1e-12);
    close(flat(bn.runningVar), [0.81 + 0.19 * s[0]!.unbiased, 0.81 + 0.19 * s[1]!.unbiased], 1e-12);
  });

  it('eval uses the running statistics and leaves them unchanged', () => {
    const bn = new BatchNorm1d(2, { dtype: 'float64' });
    bn.runningMean.assign(tensor([1, -2]));
    bn.runningVar.assign(tensor([4, 0.25]));
    bn.eval();
    const y = bn.forward(tensor([[3, -1]], { dtype: 'float64' })); // one row is fine in eval
    close(flat(y), [2 / Math.sqrt(4 + 1e-5), 1 / Math.sqrt(0.25 + 1e-5)], 1e-12);
    expect(flat(bn.runningMean)).toEqual([1, -2]);
    expect(Object.keys(bn.stateDict())).toEqual(['weight', 'bias', 'runningMean', 'runningVar']);
    expect(Array.from(bn.namedParameters(), ([n]) => n)).toEqual(['weight', 'bias']);
  });

  it('training gradients match finite differences (through the batch statistics)', () => {
    const bn = new BatchNorm1d(3, { dtype: 'float64' });
    bn.weight!.assign(f64([3], 1));
    bn.bias!.assign(f64([3], 2));
    const xin = f64([2, 2, 3], 3).requiresGrad_();
    const r = gradCheck(() => probeLoss(bn.forward(xin)), { weight: bn.weight!, bias: bn.bias!, x: xin });
    expect(r.maxError, r.where).toBeLessThan(1e-6);
  });

  it('rejects a single row in training and a wrong feature size', () => {
    expect(() => new BatchNorm1d(2).forward(randn([1, 2]))).toThrow(/more than 1 value per feature/);
    expect(() => new BatchNorm1d(2).forward(randn([4, 3]))).toThrow(/must end in dim = 2/);
    expect(new BatchNorm1d(2, { affine: false }).parameters()).toEqual([]);
  });
});

describe('FeedForward', () => {
  it('computes down(act(up(x))) with the named activation', () => {
    const ffw = new FeedForward({ dim: 2, hidden: 2, activation: 'relu' });
    ffw.up.weight.assign(
      tensor([
        [1, 0],
        [0, -1],
      ]),
    );
    ffw.up.bias!.assign(tensor([0, 0]));
    ffw.down.weight.assign(
      tensor([
        [1, 2],
        [3, 4],
      ]),
    );
    ffw.down.bias!.assign(tensor([0.5, 0]));
    // up([2, 3]) = [2, −3] → relu [2, 0] → down = [2.5, 6]
    expect(ffw.forward(tensor([[2, 3]])).toArray()).toEqual([[2.5, 6]]);
    const g = new FeedForward({ dim: 1, hidden: 1 });
    g.up.weight.assign(tensor([[1]]));
    g.up.bias!.assign(tensor([0]));
    g.down.weight.assign(tensor([[1]]));
    g.down.bias!.assign(tensor([0]));
    // exact GELU: x·Φ(x); Φ(1) = 0.841344746
    close(flat(g.forward(tensor([[1]]))), [0.841344746], 1e-6);
    expect(Array.from(ffw.namedParameters(), ([n]) => n)).toEqual(['up.weight', 'up.bias', 'down.weight', 'down.bias']);
  });

  it('gradients match finite differences', () => {
    const ffw = new FeedForward({ dim: 3, hidden: 4, dimOut: 2, seed: 1, dtype: 'float64' });
    const x = f64([2, 3], 5).requiresGrad_();
    const params = Object.fromEntries(ffw.namedParameters());
    const r = gradCheck(() => probeLoss(ffw.forward(x)), { ...params, x });
    expect(r.maxError, r.where).toBeLessThan(1e-6);
  });

  it('rejects unknown activations and wrong widths', () => {
    expect(() => new FeedForward({ dim: 2, hidden: 2, activation: 'swish' as 'gelu' })).toThrow(
      /unknown activation 'swish'; expected one of gelu, relu, silu, tanh/,
    );
    expect(() => new FeedForward({ dim: 2, hidden: 2 }).forward(randn([1, 3]))).toThrow(/must end in dim = 2/);
  });
});

describe('CausalSelfAttention', () => {
  it('matches a plain-loop multi-head causal attention', () => {
    const attn = new CausalSelfAttention({ dim: 6, heads: 3, seed: 3, dtype: 'float64' });
    const x = f64([2, 5, 6], 4);
    close(flat(attn.forward(x)), referenceAttention(attn, x), 1e-12);
  });

  it('is causal: changing position t changes no output before t', () => {
    const attn = new CausalSelfAttention({ dim: 4, heads: 2, seed: 1 });
    const x = randn([1, 6, 4], { seed: 2 });
    const x2 = x.clone();
    x2.data[4 * 4 + 1] = 100; // position 4
    const a = attn.forward(x).toArray() as number[][][];
    const b = attn.forward(x2).toArray() as number[][][];
    for (let t = 0; t < 4; t++) expect(b[0]![t]).toEqual(a[0]![t]);
    expect(b[0]![4]).not.toEqual(a[0]![4]);
  });

  it('gradients match finite differences', () => {
    const attn = new CausalSelfAttention({ dim: 4, heads: 2, seed: 5, dtype: 'float64' });
    const x = f64([2, 3, 4], 6).requiresGrad_();
    const params = Object.fromEntries(attn.namedParameters());
    const r = gradCheck(() => probeLoss(attn.forward(x)), { ...params, x });
    expect(r.maxError, r.where).toBeLessThan(1e-6);
  });

  it('dropout is active in training only and reproducible with a seeded generator', async () => {
    const { Rng } = await import('@myriad/core');
    const attn = new CausalSelfAttention({ dim: 4, heads: 2, seed: 1, dropout: 0.5, dropoutRng: new Rng(9) });
    const x = randn([1, 4, 4], { seed: 3 });
    const train1 = flat(attn.forward(x));
    attn.eval();
    const e1 = flat(attn.forward(x));
    expect(flat(attn.forward(x))).toEqual(e1);
    expect(train1).not.toEqual(e1);
    expect(Object.keys(attn.stateDict())).toEqual(['qkv.weight', 'qkv.bias', 'out.weight', 'out.bias']);
  });

  it('rejects dim not divisible by heads and a wrong input rank', () => {
    expect(() => new CausalSelfAttention({ dim: 10, heads: 4 })).toThrow(/dim 10 is not divisible by heads 4/);
    expect(() => new CausalSelfAttention({ dim: 4, heads: 2 }).forward(randn([3, 4]))).toThrow(/must be \[batch, time, dim = 4\]/);
  });
});
