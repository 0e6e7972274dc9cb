import { describe, expect, it } from 'vitest';
import { RoutingAccumulator, RoutingMonitor, hasRoutingLayers, usageAndUnevenness, type RoutingSource } from '../src/metrics/index.js';

describe('usageAndUnevenness', () => {
  it('matches hand-computed values', () => {
    // z = [1/4, 1/4, 0, 1/2]: usage 3/4; KL = log 4 + 2·¼·log ¼ + ½·log ½ = ½·log 2
    const r = usageAndUnevenness([1, 1, 0, 2]);
    expect(r.usage).toBe(0.75);
    expect(r.unevenness).toBeCloseTo(0.5 * Math.log(2), 14);
  });

  it('is 0 for uniform routing and log N when one expert takes everything', () => {
    expect(usageAndUnevenness([3, 3, 3, 3, 3]).unevenness).toBeCloseTo(0, 14);
    const one = usageAndUnevenness([0, 0, 7, 0, 0, 0, 0, 0]);
    expect(one.usage).toBe(1 / 8);
    expect(one.unevenness).toBeCloseTo(Math.log(8), 14);
  });

  it('reports no usage and NaN unevenness for an empty window, and refuses negative gates', () => {
    const r = usageAndUnevenness([0, 0]);
    expect(r.usage).toBe(0);
    expect(r.unevenness).toBeNaN();
    expect(() => usageAndUnevenness([1, -1])).toThrow(/expert 1 is -1/);
  });
});

describe('RoutingAccumulator', () => {
  it('sums gate scores per expert over tokens and heads ([tokens, heads, k] layout)', () => {
    const acc = new RoutingAccumulator(4);
    // 2 tokens, 2 heads, k = 2
    acc.add({
      tokens: 2,
      heads: 2,
      k: 2,
      indices: Int32Array.from([0, 1, 1, 2, 0, -1, 3, 1]),
      scores: Float64Array.from([0.5, 0.5, 0.25, 0.75, 1, 0, 0.5, 0.5]),
    });
    expect(Array.from(acc.gateMass)).toEqual([1.5, 1.25, 0.75, 0.5]);
    const z = [1.5 / 4, 1.25 / 4, 0.75 / 4, 0.5 / 4];
    const r = acc.result();
    expect(r.usage).toBe(1);
    expect(r.unevenness).toBeCloseTo(Math.log(4) + z.reduce((s, v) => s + v * Math.log(v), 0), 14);
    expect(r.tokens).toBe(2);
    expect(r.droppedFraction).toBeNull();
  });

  it('weights dropped fractions by tokens', () => {
    const acc = new RoutingAccumulator(2);
    const d = (tokens: number) => ({ tokens, heads: 1, k: 1, indices: new Int32Array(tokens), scores: new Float32Array(tokens).fill(1) });
    acc.add(d(10), 0.5);
    acc.add(d(30), 0.1);
    expect(acc.result().droppedFraction).toBeCloseTo((5 + 3) / 40, 14);
    expect(acc.result().usage).toBe(0.5);
  });

  it('checks the layout and expert range', () => {
    const acc = new RoutingAccumulator(2);
    expect(() => acc.add({ tokens: 2, heads: 1, k: 2, indices: new Int32Array(3), scores: new Float32Array(4) })).toThrow(
      /tokens·heads·k = 2·1·2 = 4, but got 3 indices and 4 scores/,
    );
    expect(() => acc.add({ tokens: 1, heads: 1, k: 1, indices: Int32Array.from([2]), scores: Float32Array.from([1]) })).toThrow(
      /expert index 2/,
    );
  });
});

describe('RoutingMonitor', () => {
  it('accumulates each layer over a window and resets', () => {
    const layer: { lastRouting: RoutingSource['lastRouting']; numExperts: number; droppedFraction: number } = {
      lastRouting: null,
      numExperts: 3,
      droppedFraction: 0.25,
    };
    const model = { routingLayers: (): Iterable<[string, RoutingSource]> => [['blocks.1.ffw', layer]] };
    expect(hasRoutingLayers(model)).toBe(true);
    expect(hasRoutingLayers({ parameters: () => [] })).toBe(false);
    const mon = new RoutingMonitor(model);
    mon.observe(); // nothing routed yet
    layer.lastRouting = { tokens: 1, heads: 1, k: 1, indices: Int32Array.from([2]), scores: Float32Array.from([1]) };
    mon.observe();
    mon.observe();
    const r = mon.results()['blocks.1.ffw']!;
    expect(r.tokens).toBe(2);
    expect(r.usage).toBeCloseTo(1 / 3, 14);
    expect(r.unevenness).toBeCloseTo(Math.log(3), 14);
    expect(r.droppedFraction).toBe(0.25);
    mon.reset();
    expect(mon.results()['blocks.1.ffw']!.tokens).toBe(0);
  });
});
