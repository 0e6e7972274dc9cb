import { tensor, type Tensor } from '@myriad/core';
import { describe, expect, it } from 'vitest';
import { LazyRoutingDecision, MoE, PEER, PKM, gateMass, isRoutingSource, Module, routingLayers, type RoutingSource } from '../src/index.js';
import { applyCapacity, expertCapacity, hash32, hashExperts, updateBalanceBias } from '../src/routing/routers.js';
import { groupByExpert } from '../src/routing/dispatch.js';

describe('routing helpers', () => {
  it('expertCapacity is ⌈cf·tokens·k/E⌉ and Infinity without a limit', () => {
    expect(expertCapacity(1.25, 10, 2, 4)).toBe(7); // 6.25 → 7
    expect(expertCapacity(1, 8, 1, 4)).toBe(2);
    expect(expertCapacity(Infinity, 8, 1, 4)).toBe(Infinity);
  });

  it('applyCapacity keeps every first choice before any second choice, then token order', () => {
    // tokens × k = 3 × 2; expert 0 is everyone's first choice, capacity 2.
    const expert = Int32Array.from([0, 1, 0, 1, 0, 1]);
    expect(applyCapacity(expert, 3, 2, 2, 2)).toBe(2);
    expect(Array.from(expert)).toEqual([0, 1, 0, 1, -1, -1]);
    expect(applyCapacity(Int32Array.from([0, 0]), 2, 1, 1, Infinity)).toBe(0);
  });

  it('hash routing is fixed, seeded and spreads ids over all experts', () => {
    expect(hash32(12345, 7)).toBe(hash32(12345, 7));
    expect(hash32(12345, 7)).not.toBe(hash32(12345, 8));
    const ids = Array.from({ length: 4000 }, (_, i) => i);
    const e = hashExperts(ids, 8, 1, 0);
    const load = new Array<number>(8).fill(0);
    for (const x of e) load[x]++;
    for (const l of load) expect(Math.abs(l - 500)).toBeLessThan(100);
    const three = hashExperts(ids.slice(0, 50), 3, 3, 1); // k = E: a permutation per token
    for (let t = 0; t < 50; t++) expect(new Set(three.subarray(t * 3, t * 3 + 3)).size).toBe(3);
  });

  it('updateBalanceBias moves each bias by ±rate toward the mean load', () => {
    const b = Float64Array.from([0, 0, 0]);
    updateBalanceBias(b, [1, 5, 3], 0.5);
    expect(Array.from(b)).toEqual([0.5, -0.5, 0]);
  });

  it("groupByExpert lists each expert's tokens and assignment slots in order, skipping drops", () => {
    const g = groupByExpert(Int32Array.from([1, -1, 0, 1]), Int32Array.from([0, 0, 1, 2]), 3);
    expect(g.map((x) => Array.from(x.tokens))).toEqual([[1], [0, 2], []]);
    expect(g.map((x) => Array.from(x.slots))).toEqual([[2], [0, 3], []]);
  });

  it('gateMass sums gates per expert (z′ of docs/train.md), skipping empty slots, and checks sizes', () => {
    const d = { indices: Int32Array.from([2, 0, -1, 2]), scores: Float32Array.from([0.5, 0.25, 0.9, 0.25]), tokens: 2, heads: 1, k: 2 };
    expect(Array.from(gateMass(d, 3))).toEqual([0.25, 0, 0.75]);
    expect(() => gateMass({ ...d, k: 3 }, 3)).toThrow(/tokens·heads·k = 6, but got 4 indices/);
    expect(() => gateMass(d, 2)).toThrow(/expert index 2 at position 0 is >= numExperts 2/);
    // A decision kept as tensors (what the layers record) gives the same.
    const lazy = new LazyRoutingDecision(tensor(d.indices, { dtype: 'int32' }), tensor(d.scores), 2, 1, 2);
    expect(Array.from(gateMass(lazy, 3))).toEqual([0.25, 0, 0.75]);
  });

  it('every routing layer is a RoutingSource listed by routingLayers() with lastRouting [tokens, heads, k]', () => {
    class Net extends Module {
      moe = new MoE({ dim: 8, hidden: 4, numExperts: 4, seed: 1 });
      pkm = new PKM({ dim: 8, heads: 2, numKeys: 4, topK: 2, dimKey: 4, seed: 2 });
      peer = new PEER({ dim: 8, heads: 2, numExperts: 16, topK: 2, dimKey: 4, seed: 3 });
      forward(): void {}
    }
    const net = new Net();
    const layers = Array.from(routingLayers(net), ([name]) => name);
    expect(layers).toEqual(['moe', 'pkm', 'peer']);
    const x = tensor(
      Float32Array.from({ length: 24 }, (_, i) => Math.sin(i)),
      { shape: [3, 8] },
    );
    for (const [, layer] of routingLayers(net)) {
      const src: RoutingSource = layer;
      expect(isRoutingSource(src)).toBe(true);
      expect(src.lastRouting).toBeNull();
      (layer as unknown as { forward(input: Tensor): unknown }).forward(x);
      const r = src.lastRouting!;
      expect(r.indices.length).toBe(r.tokens * r.heads * r.k);
      expect(r.tokens).toBe(3);
      const z = gateMass(r, src.numExperts);
      expect(z.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    }
  });
});
