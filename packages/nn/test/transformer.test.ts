import { describe, expect, it } from 'vitest';
import { SparseGrad, crossEntropy, tensor, type Tensor } from '@myriad/core';
import { FeedForward, Linear, Module, RMSNorm, TransformerLM, param, type FeedForwardContext } from '@myriad/nn';
import { gradCheck } from './helpers/grad-check.js';

const small = (extra: Partial<ConstructorParameters<typeof TransformerLM>[0]> = {}) =>
  new TransformerLM({ vocabSize: 11, dim: 8, depth: 2, heads: 2, contextLength: 8, seed: 1, ...extra });
const ids = (rows: number[][]) => tensor(rows, { dtype: 'int32' });

describe('TransformerLM', () => {
  it('maps ids [B, T] to logits [B, T, V] under nanoGPT-style names', () => {
    const m = small();
    expect(
      m.forward(
        ids([
          [1, 2, 3],
          [4, 5, 6],
        ]),
      ).shape,
    ).toEqual([2, 3, 11]);
    const keys = Object.keys(m.stateDict());
    expect(keys.slice(0, 6)).toEqual([
      'tokenEmbedding.weight',
      'positionEmbedding.weight',
      'blocks.0.ln1.weight',
      'blocks.0.ln1.bias',
      'blocks.0.attn.qkv.weight',
      'blocks.0.attn.qkv.bias',
    ]);
    expect(keys).toContain('blocks.1.ffw.up.weight');
    expect(keys).toContain('blocks.1.ffw.down.bias');
    expect(keys.slice(-3)).toEqual(['norm.weight', 'norm.bias', 'head.weight']);
    expect(m.stateDict()['blocks.0.attn.qkv.weight']!.shape).toEqual([24, 8]);
  });

  it('is causal: changing a future token leaves earlier logits unchanged', () => {
    const m = small();
    const a = m.forward(ids([[1, 2, 3, 4, 5]])).toArray() as number[][][];
    const b = m.forward(ids([[1, 2, 3, 9, 5]])).toArray() as number[][][];
    for (let t = 0; t < 3; t++) expect(b[0]![t]).toEqual(a[0]![t]);
    expect(b[0]![3]).not.toEqual(a[0]![3]);
    expect(b[0]![4]).not.toEqual(a[0]![4]);
  });

  it('ties the head to the token embedding (one tensor, counted once, gradients from both uses)', () => {
    const tied = small();
    const untied = small({ tieWeights: false });
    expect(tied.head.weight).toBe(tied.tokenEmbedding.weight);
    expect(tied.stateDict()['head.weight']).toBe(tied.stateDict()['tokenEmbedding.weight']);
    expect(untied.head.weight).not.toBe(untied.tokenEmbedding.weight);
    expect(untied.numParameters() - tied.numParameters()).toBe(11 * 8);
    expect(Array.from(tied.namedParameters(), ([n]) => n)).not.toContain('head.weight');
    tied.tokenEmbedding.weight.data[3 * 8] = 5; // a write through one name is seen through the other
    expect(tied.head.weight.toTypedArray()[3 * 8]).toBe(5);
    tied.loss(ids([[1, 2]]), ids([[2, 3]])).backward();
    const g = tied.tokenEmbedding.weight.grad;
    expect(g).not.toBeNull();
    // The head's gradient is dense (every vocabulary row gets some), plus the sparse lookup rows.
    const dense = (g as Tensor).toTypedArray();
    expect(dense.slice(10 * 8, 11 * 8).some((v) => v !== 0)).toBe(true);
  });

  it('loss is the mean next-token cross-entropy, plus the auxiliary losses of the submodules', () => {
    const m = small();
    const x = ids([
      [1, 2, 3],
      [3, 2, 1],
    ]);
    const y = ids([
      [2, 3, 4],
      [2, 1, 0],
    ]);
    expect(m.loss(x, y).item()).toBeCloseTo(crossEntropy(m.forward(x), y).item(), 6);

    class WithAux extends Module {
      inner: FeedForward;
      w = param(tensor([0.25]));
      seen: Tensor | undefined;
      constructor() {
        super();
        this.inner = new FeedForward({ dim: 8, hidden: 8, seed: 2 });
      }
      forward(x: Tensor, context?: FeedForwardContext): Tensor {
        this.seen = context?.tokenIds;
        return this.inner.forward(x);
      }
      auxLoss(): Tensor {
        return this.w.mul(2);
      }
    }
    const withAux = small({ ffw: () => new WithAux() });
    const ce = withAux.loss(x, y, { aux: false }).item();
    expect(withAux.loss(x, y).item()).toBeCloseTo(ce + 2 * 0.5, 5); // two blocks, 0.5 each
    expect((withAux.blocks[0]!.ffw as WithAux).seen!.toArray()).toEqual(x.toArray());
    withAux.loss(x, y).backward();
    expect(((withAux.blocks[1]!.ffw as WithAux).w.grad as Tensor).toArray()).toEqual([2]);
  });

  it('takes any feed-forward per layer', () => {
    const m = small({ ffw: (l) => (l === 0 ? new FeedForward({ dim: 8, hidden: 3, seed: 0 }) : new RMSNorm(8)) });
    expect(m.blocks[0]!.ffw).toBeInstanceOf(FeedForward);
    expect(Object.keys(m.stateDict())).toContain('blocks.1.ffw.weight');
    expect(m.forward(ids([[1]])).shape).toEqual([1, 1, 11]);
    const bad = small({ ffw: () => new Linear(8, 4) });
    expect(() => bad.forward(ids([[1]]))).toThrow(/ffw returned \[1, 1, 4\] for input \[1, 1, 8\]/);
  });

  it('gradients of every parameter match finite differences (float64, tiny model)', () => {
    const m = new TransformerLM({
      vocabSize: 5,
      dim: 4,
      depth: 1,
      heads: 2,
      contextLength: 3,
      seed: 3,
      dtype: 'float64',
      tieWeights: true,
    });
    const x = ids([[0, 3, 4]]);
    const y = ids([[3, 4, 1]]);
    const r = gradCheck(() => m.loss(x, y), Object.fromEntries(m.namedParameters()));
    expect(r.maxError, r.where).toBeLessThan(1e-6);
  });

  it('generate is deterministic for a seed, greedy at temperature 0 and honours topK', () => {
    const m = small();
    const prompt = ids([[1, 2, 3]]);
    const a = m.generate(prompt, { maxNewTokens: 12, seed: 7, topK: 4 });
    expect(a.shape).toEqual([1, 15]);
    expect(a.toArray()).toEqual(m.generate(prompt, { maxNewTokens: 12, seed: 7, topK: 4 }).toArray());
    expect((a.toArray() as number[][])[0]!.slice(0, 3)).toEqual([1, 2, 3]);
    // Greedy: each new token is the argmax of the model's logits at the previous position.
    const g = m.generate(tensor([1, 2, 3], { dtype: 'int32' }), { maxNewTokens: 10, temperature: 0 });
    expect(g.shape).toEqual([13]); // context 8 is exceeded: generation crops the window
    const seq = Array.from(g.toTypedArray());
    for (let t = 3; t < 13; t++) {
      const ctx = seq.slice(Math.max(0, t - 8), t);
      const logits = m.forward(ids([ctx])).toArray() as number[][][];
      const last = logits[0]![ctx.length - 1]!;
      expect(seq[t]).toBe(last.indexOf(Math.max(...last)));
    }
    expect(m.generate(prompt, { maxNewTokens: 10, topK: 1, seed: 3 }).toArray()).toEqual(
      m.generate(prompt, { maxNewTokens: 10, temperature: 0 }).toArray(),
    );
    // topK = 2: every sampled token is one of the two most likely at its step.
    const s = Array.from(
      m.generate(tensor([5], { dtype: 'int32' }), { maxNewTokens: 6, topK: 2, seed: 11, temperature: 5 }).toTypedArray(),
    );
    for (let t = 1; t < s.length; t++) {
      const ctx = s.slice(Math.max(0, t - 8), t);
      const last = (m.forward(ids([ctx])).toArray() as number[][][])[0]![ctx.length - 1]!;
      const top2 = [...last].sort((p, q) => q - p).slice(0, 2);
      expect(top2).toContain(last[s[t]!]);
    }
    expect(m.training).toBe(true);
  });

  it('samples in proportion to softmax(logits / temperature)', () => {
    const m = new TransformerLM({ vocabSize: 3, dim: 4, depth: 1, heads: 1, contextLength: 2, seed: 5 });
    const prompt = ids(Array.from({ length: 400 }, () => [1]));
    const out = m.generate(prompt, { maxNewTokens: 1, seed: 1 }).toArray() as number[][];
    const counts = [0, 0, 0];
    for (const row of out) counts[row[1]!]!++;
    const logits = (m.forward(ids([[1]])).toArray() as number[][][])[0]![0]!;
    const z = logits.reduce((s, v) => s + Math.exp(v), 0);
    logits.forEach((v, i) => expect(Math.abs(counts[i]! / 400 - Math.exp(v) / z)).toBeLessThan(0.08));
  });

  it('smoke: plain SGD learns a periodic sequence (sparse embedding grads applied row-wise)', () => {
    const m = new TransformerLM({ vocabSize: 5, dim: 16, depth: 1, heads: 2, contextLength: 8, seed: 4, tieWeights: false });
    const seq = Array.from({ length: 9 }, (_, i) => [0, 3, 1, 4][i % 4]!);
    const x = ids([seq.slice(0, 8)]);
    const y = ids([seq.slice(1, 9)]);
    const sgd = (lr: number) => {
      for (const p of m.parameters()) {
        const g = p.grad;
        if (g === null) continue;
        const w = p.data;
        if (g instanceof SparseGrad) {
          const c = g.coalesce();
          const rows = c.indices.toTypedArray();
          const vals = c.values.toTypedArray();
          const width = p.size / p.shape[0]!;
          rows.forEach((r, i) => {
            for (let j = 0; j < width; j++) w[r * width + j]! -= lr * vals[i * width + j]!;
          });
        } else {
          const gv = g.toTypedArray();
          for (let i = 0; i < w.length; i++) w[i]! -= lr * gv[i]!;
        }
      }
      m.zeroGrad();
    };
    const first = m.loss(x, y).item();
    let last = first;
    for (let step = 0; step < 60; step++) {
      const l = m.loss(x, y);
      last = l.item();
      l.backward();
      sgd(0.3);
    }
    expect(first).toBeGreaterThan(1.3);
    expect(last).toBeLessThan(0.2);
  });

  it('reports hyperparameter and input errors clearly', () => {
    expect(() => small({ dim: 9, heads: 2 })).toThrow(/TransformerLM: dim 9 is not divisible by heads 2/);
    expect(() => small({ depth: 0 })).toThrow(/depth must be a positive integer, got 0/);
    expect(() => small({ dropout: 1 })).toThrow(/dropout must be in \[0, 1\)/);
    const m = small();
    expect(() => m.forward(ids([[1, 2, 3, 4, 5, 6, 7, 8, 9]]))).toThrow(/sequence length 9 must be in \[1, contextLength = 8\]/);
    expect(() => m.forward(tensor([[1, 2]]))).toThrow(/ids must be int32 \[batch, time\], got float32 \[1, 2\]/);
    expect(() => m.forward(ids([[1, 11]]))).toThrow(/id 11 at flat index 1 is outside \[0, 11\)/);
    expect(() => m.loss(ids([[1, 2]]), ids([[1]]))).toThrow(/targets \[1, 1\] must match ids \[1, 2\]/);
    expect(() => m.generate(ids([[1]]), { maxNewTokens: 1, topK: 12 })).toThrow(/topK must be an integer in \[1, vocabSize = 11\], got 12/);
  });
});
