import { describe, expect, it } from 'vitest';
import { loadSafetensors, saveSafetensors, tensor, randn, type Tensor } from '@myriad/core';
import { BatchNorm1d, FeedForward, Module, TransformerLM } from '@myriad/nn';

class Tagger extends Module {
  lm = new TransformerLM({ vocabSize: 7, dim: 8, depth: 2, heads: 2, contextLength: 6, seed: 1, tieWeights: false });
  norm = new BatchNorm1d(7);
  forward(ids: Tensor): Tensor {
    return this.norm.forward(this.lm.forward(ids));
  }
}

describe('stateDict through safetensors', () => {
  it('a model saved and loaded into a differently initialised copy gives identical outputs and buffers', () => {
    const a = new Tagger();
    const x = tensor(
      [
        [1, 2, 3, 4],
        [6, 5, 0, 1],
      ],
      { dtype: 'int32' },
    );
    a.forward(x); // training step moves the BatchNorm running statistics
    a.eval();
    const bytes = saveSafetensors(a.stateDict());
    const b = new Tagger();
    b.lm = new TransformerLM({ vocabSize: 7, dim: 8, depth: 2, heads: 2, contextLength: 6, seed: 99, tieWeights: false });
    b.eval();
    expect(b.forward(x).toArray()).not.toEqual(a.forward(x).toArray());
    b.loadStateDict(loadSafetensors(bytes));
    expect(b.forward(x).toArray()).toEqual(a.forward(x).toArray());
    expect(b.norm.runningVar.toArray()).toEqual(a.norm.runningVar.toArray());
    expect(Object.keys(loadSafetensors(bytes)).sort()).toEqual(Object.keys(a.stateDict()).sort());
  });

  it('tied weights survive the round trip and stay tied', () => {
    const a = new TransformerLM({ vocabSize: 5, dim: 4, depth: 1, heads: 1, contextLength: 4, seed: 2 });
    const b = new TransformerLM({ vocabSize: 5, dim: 4, depth: 1, heads: 1, contextLength: 4, seed: 3 });
    b.loadStateDict(loadSafetensors(saveSafetensors(a.stateDict())));
    expect(b.head.weight).toBe(b.tokenEmbedding.weight);
    expect(b.head.weight.toArray()).toEqual(a.head.weight.toArray());
  });

  it('loading a float64 file into float32 parameters converts the values', () => {
    const a = new FeedForward({ dim: 2, hidden: 3, seed: 1, dtype: 'float64' });
    const b = new FeedForward({ dim: 2, hidden: 3, seed: 2 });
    b.loadStateDict(loadSafetensors(saveSafetensors(a.stateDict())));
    expect(b.up.weight.dtype).toBe('float32');
    const x = randn([2, 2], { seed: 1 });
    const ya = Array.from(a.forward(x.to('float64')).toTypedArray());
    Array.from(b.forward(x).toTypedArray()).forEach((v, i) => expect(v).toBeCloseTo(ya[i]!, 5));
  });

  it('a file from another architecture fails strictly, naming the keys', () => {
    const small = new FeedForward({ dim: 2, hidden: 3, seed: 1 });
    const big = new FeedForward({ dim: 2, hidden: 4, seed: 1 });
    expect(() => big.loadStateDict(loadSafetensors(saveSafetensors(small.stateDict())))).toThrow(
      'loadStateDict(FeedForward): wrong shapes: up.weight (got [3, 2], expected [4, 2]), up.bias (got [3], expected [4]), down.weight (got [2, 3], expected [2, 4])',
    );
  });
});
