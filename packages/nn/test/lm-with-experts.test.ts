// TransformerLM with routing feed-forwards: the seams between the model and MoE / PEER (token ids
// reach hash routing, routing layers are listed by name, balancing losses join the loss).
import { describe, expect, it } from 'vitest';
import { tensor } from '@myriad/core';
import { FeedForward, MoE, PEER, TransformerLM } from '@myriad/nn';

const ids = (rows: number[][]) => tensor(rows, { dtype: 'int32' });

describe('TransformerLM with routing layers', () => {
  it('passes token ids to a hash-routed MoE and lists every routing layer by name', () => {
    const m = new TransformerLM({
      vocabSize: 9,
      dim: 8,
      depth: 3,
      heads: 2,
      contextLength: 8,
      seed: 1,
      ffw: (l) =>
        l === 0
          ? new FeedForward({ dim: 8, hidden: 8, seed: 2 })
          : l === 1
            ? new MoE({ dim: 8, hidden: 4, numExperts: 4, topK: 1, router: 'hash', seed: 3 })
            : new PEER({ dim: 8, heads: 2, numExperts: 16, topK: 2, dimKey: 4, seed: 4 }),
    });
    const x = ids([
      [1, 2, 3, 1],
      [4, 4, 0, 8],
    ]);
    expect(m.forward(x).shape).toEqual([2, 4, 9]);
    const layers = Array.from(m.routingLayers(), ([name, layer]) => [name, layer.numExperts]);
    expect(layers).toEqual([
      ['blocks.1.ffw', 4],
      ['blocks.2.ffw', 16],
    ]);
    const hash = m.blocks[1]!.ffw as MoE;
    const decision = hash.lastRouting!;
    expect(decision.tokens).toBe(8);
    // Hash routing depends on the token id only: equal ids (1 at positions 0 and 3) pick the same expert.
    const chosen = Array.from(decision.indices instanceof Int32Array ? decision.indices : decision.indices.toTypedArray());
    expect(chosen[0]).toBe(chosen[3]);
    expect(chosen[4]).toBe(chosen[5]);
  });

  it('adds the MoE balancing loss to the language-model loss and trains the router through it', () => {
    const m = new TransformerLM({
      vocabSize: 9,
      dim: 8,
      depth: 1,
      heads: 2,
      contextLength: 8,
      seed: 1,
      ffw: () => new MoE({ dim: 8, hidden: 4, numExperts: 4, topK: 2, seed: 5 }),
    });
    const x = ids([[1, 2, 3, 4, 5]]);
    const y = ids([[2, 3, 4, 5, 6]]);
    const total = m.loss(x, y).item();
    const ce = m.loss(x, y, { aux: false }).item();
    const aux = (m.blocks[0]!.ffw as MoE).auxLoss()!.item();
    expect(aux).toBeGreaterThan(0);
    expect(total).toBeCloseTo(ce + aux, 5);
    m.loss(x, y).backward();
    expect((m.blocks[0]!.ffw as MoE).router!.weight.grad).not.toBeNull();
  });
});
