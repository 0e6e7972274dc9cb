// The route view's engine (src/engine/route.ts) in Node, without a browser: small MoE and PEER layers
// from @myriad/nn run a forward, route.ts builds the route of each token, and every number is checked
// against values this file computes on its own, in float64, from the layer's weights and the routing
// rules as the papers state them: router probabilities from the logits, top-k by p + bias, capacity
// drops slot by slot (GShard), expert choice's top-c tokens per expert, the hash router's fixed picks,
// and PEER's exact top-k over all N = n² product keys with sigmoid gates (brute force, not the
// product-key shortcut route.ts and the layer use). routeAgrees must also hold against lastRouting.
import { describe, expect, it } from 'vitest';
import { tensor, type Tensor } from '@myriad/core';
import { MoE, PEER, hashExperts, type MoEOptions } from '@myriad/nn';
import type { MoERoute, ProductKeyRoute } from '../src/protocol.js';
import { layerRoutingOf, moeRoute, productKeyRoute, routeAgrees } from '../src/engine/route.js';

const DIM = 8;
const T = 12;

/** A fixed pseudo-random input [1, T, DIM] (mulberry32), the same on every run. */
function input(seed: number, tokens = T, dim = DIM): Tensor {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const data = Float32Array.from({ length: tokens * dim }, () => 2 * next() - 1);
  return tensor(data, { shape: [1, tokens, dim] });
}

const values = (t: Tensor): number[] => Array.from(t.data as Float32Array);

/** p = softmax(x·Wᵀ) per token, in float64, from the router's weight [E, dim]. */
function routerProbs(x: Tensor, weight: Tensor, E: number): number[][] {
  const xs = values(x);
  const w = values(weight);
  const dim = w.length / E;
  return Array.from({ length: xs.length / dim }, (_, t) => {
    const logits = Array.from({ length: E }, (_, e) => {
      let s = 0;
      for (let d = 0; d < dim; d++) s += xs[t * dim + d]! * w[e * dim + d]!;
      return s;
    });
    const m = Math.max(...logits);
    const ex = logits.map((l) => Math.exp(l - m));
    const z = ex.reduce((a, b) => a + b, 0);
    return ex.map((v) => v / z);
  });
}

/** Indices of the k largest scores, largest first (ties: lower index first). */
function topIndices(scores: readonly number[], k: number): number[] {
  return scores
    .map((s, i) => [s, i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, i]) => i);
}

/** Capacity drops as GShard: every token's first choice before any second choice, then token order. */
function capacityKeeps(picks: number[][], E: number, capacity: number): boolean[][] {
  const load = new Array<number>(E).fill(0);
  const keep = picks.map((p) => p.map(() => false));
  const k = picks[0]!.length;
  for (let s = 0; s < k; s++)
    for (let t = 0; t < picks.length; t++) {
      const e = picks[t]![s]!;
      if (load[e]! < capacity) {
        load[e]!++;
        keep[t]![s] = true;
      }
    }
  return keep;
}

function moeLayer(options: Partial<MoEOptions>): MoE {
  const layer = new MoE({ dim: DIM, hidden: 16, numExperts: 4, seed: 7, ...options });
  // Eval mode, as the lab's route view: the balancing bias stays as it is during the forward.
  layer.eval();
  return layer;
}

/** Checks route.ts's route of every token against `expected` (experts → gates; dropped experts). */
async function expectRoutes(
  layer: MoE,
  x: Tensor,
  ids: Int32Array,
  expected: { chosen: Map<number, number>; dropped: number[] }[],
  probs: number[][] | null,
): Promise<MoERoute[]> {
  const routes: MoERoute[] = [];
  for (let t = 0; t < T; t++) {
    const route = await moeRoute(layer, x, ids, t);
    routes.push(route);
    if (probs) route.probs!.forEach((p, e) => expect(p).toBeCloseTo(probs[t]![e]!, 6));
    else expect(route.probs).toBeNull();
    const mine = [...expected[t]!.chosen].sort((a, b) => a[0] - b[0]);
    const theirs = route.chosen.map((c) => [c.expert, c.gate] as const).sort((a, b) => a[0] - b[0]);
    expect(
      theirs.map(([e]) => e),
      `token ${t}'s experts`,
    ).toEqual(mine.map(([e]) => e));
    theirs.forEach(([, g], i) => expect(g).toBeCloseTo(mine[i]![1], 6));
    expect([...route.droppedSlots].sort(), `token ${t}'s dropped experts`).toEqual([...expected[t]!.dropped].sort());
    const recorded = await layerRoutingOf(layer, t);
    expect(recorded).not.toBeNull();
    expect(routeAgrees(route, recorded!), `token ${t} agrees with lastRouting`).toBe(true);
  }
  return routes;
}

describe('routing lab: route.ts against independently computed routes', () => {
  it('MoE top-k with bias balancing, capacity drops and a shared expert', async () => {
    const E = 4;
    const k = 2;
    const layer = moeLayer({ topK: k, balance: 'bias', capacityFactor: 0.5, numShared: 1 });
    // A bias large enough to change picks (it steers the choice only; gates stay p).
    const bias = [0.15, -0.1, 0.05, -0.05];
    (layer.expertBias!.data as Float32Array).set(bias);
    const x = input(1);
    const ids = Int32Array.from({ length: T }, (_, t) => t % 5);
    layer.forward(x);

    const probs = routerProbs(x, layer.router!.weight, E);
    const picks = probs.map((p) =>
      topIndices(
        p.map((v, e) => v + bias[e]!),
        k,
      ),
    );
    const capacity = Math.ceil((0.5 * T * k) / E); // 3
    const keeps = capacityKeeps(picks, E, capacity);
    const expected = picks.map((p, t) => {
      const total = p.reduce((s, e) => s + probs[t]![e]!, 0);
      const chosen = new Map<number, number>();
      const dropped: number[] = [];
      p.forEach((e, s) => (keeps[t]![s] ? chosen.set(e, probs[t]![e]! / total) : dropped.push(e)));
      return { chosen, dropped };
    });
    const droppedCount = expected.reduce((s, r) => s + r.dropped.length, 0);
    // The case is meant to exercise all three: drops, kept picks, and a bias that changes a pick.
    expect(droppedCount).toBeGreaterThan(0);
    expect(probs.some((p, t) => topIndices(p, k).join() !== picks[t]!.join())).toBe(true);

    const routes = await expectRoutes(layer, x, ids, expected, probs);
    for (const r of routes) {
      expect(r.router).toBe('topk');
      expect(r.capacity).toBe(capacity);
      expect(r.numShared).toBe(1);
      expect(r.bias!.map((b) => Number(b.toFixed(6)))).toEqual(bias);
      expect(r.droppedFraction).toBeCloseTo(droppedCount / (T * k), 9);
    }
  });

  it('MoE expert choice: each expert takes its top-c tokens by p', async () => {
    const E = 4;
    const layer = moeLayer({ router: 'expert-choice', balance: 'none', capacityFactor: 1 });
    const x = input(2);
    const ids = new Int32Array(T);
    layer.forward(x);

    const probs = routerProbs(x, layer.router!.weight, E);
    const c = Math.min(T, Math.ceil((1 * T) / E)); // 3 tokens per expert
    const takes = Array.from(
      { length: E },
      (_, e) =>
        new Set(
          topIndices(
            probs.map((p) => p[e]!),
            c,
          ),
        ),
    );
    const expected = probs.map((p, t) => {
      const chosen = new Map<number, number>();
      for (let e = 0; e < E; e++) if (takes[e]!.has(t)) chosen.set(e, p[e]!);
      return { chosen, dropped: [] };
    });
    // Every expert is full, so the experts' slots add up to E·c over the context.
    expect(expected.reduce((s, r) => s + r.chosen.size, 0)).toBe(E * c);

    const routes = await expectRoutes(layer, x, ids, expected, probs);
    for (const r of routes) {
      expect(r.router).toBe('expert-choice');
      expect(r.capacity).toBe(c);
      expect(r.droppedSlots).toEqual([]);
    }
  });

  it('MoE hash router: fixed picks per character id, gates 1/k, capacity drops', async () => {
    const E = 6;
    const k = 2;
    const layer = moeLayer({ router: 'hash', balance: 'none', numExperts: E, topK: k, hashSeed: 3, capacityFactor: 1 });
    const x = input(3);
    const ids = Int32Array.from({ length: T }, (_, t) => [4, 9, 4, 1, 9, 4, 2, 4, 7, 4, 9, 4][t]!);
    layer.forward(x, { tokenIds: tensor(ids, { shape: [1, T], dtype: 'int32' }) });

    // The picks are the hash's by definition; what follows from them (drops, gates) is computed here.
    const hashed = hashExperts(ids, E, k, 3);
    const picks = Array.from({ length: T }, (_, t) => Array.from(hashed.subarray(t * k, (t + 1) * k)));
    for (let t = 0; t < T; t++) {
      expect(new Set(picks[t]).size, 'k distinct experts').toBe(k);
      // The same character always goes to the same experts, wherever it stands.
      const first = ids.indexOf(ids[t]!);
      expect(picks[t]).toEqual(picks[first]);
    }
    const capacity = Math.ceil((1 * T * k) / E); // 4; character 4 (six times) overflows its experts
    const keeps = capacityKeeps(picks, E, capacity);
    const expected = picks.map((p, t) => {
      const chosen = new Map<number, number>();
      const dropped: number[] = [];
      p.forEach((e, s) => (keeps[t]![s] ? chosen.set(e, 1 / k) : dropped.push(e)));
      return { chosen, dropped };
    });
    expect(expected.some((r) => r.dropped.length > 0)).toBe(true);

    const routes = await expectRoutes(layer, x, ids, expected, null);
    for (const r of routes) {
      expect(r.router).toBe('hash');
      expect(r.capacity).toBe(capacity);
    }
  });

  it('PEER with sigmoid gates: the exact top-k of all N product keys, per head', async () => {
    const n = 5;
    const N = n * n;
    const H = 2;
    const k = 3;
    const dimKey = 6;
    const half = dimKey / 2;
    const layer = new PEER({
      dim: DIM,
      numExperts: N,
      heads: H,
      topK: k,
      dimKey,
      queryNorm: 'none',
      activation: 'relu',
      scoreFn: 'sigmoid',
      seed: 11,
    });
    layer.eval();
    const x = input(4);
    layer.forward(x);

    const xs = values(x);
    const wq = values(layer.query.weight); // [H·dimKey, DIM]
    const keys = values(layer.keys); // [2, n, half]: one sub-key set per query half, shared by the heads
    const down = values(layer.down.weight); // [N, DIM]
    const up = values(layer.up.weight); // [N, DIM]
    const dot = (a: number[], ao: number, b: number[], bo: number, len: number) => {
      let s = 0;
      for (let i = 0; i < len; i++) s += a[ao + i]! * b[bo + i]!;
      return s;
    };
    for (let t = 0; t < T; t++) {
      const route: ProductKeyRoute = await productKeyRoute(layer, x, t);
      expect(route.kind).toBe('peer');
      expect(route.scoreFn).toBe('sigmoid');
      expect(route.numKeys).toBe(n);
      expect(route.heads.length).toBe(H);
      const q = Array.from({ length: H * dimKey }, (_, r) => dot(wq, r * DIM, xs, t * DIM, DIM));
      const heads: number[][] = [];
      for (let h = 0; h < H; h++) {
        const head = route.heads[h]!;
        const s1 = Array.from({ length: n }, (_, i) => dot(q, h * dimKey, keys, i * half, half));
        const s2 = Array.from({ length: n }, (_, j) => dot(q, h * dimKey + half, keys, (n + j) * half, half));
        head.q1.forEach((v, i) => expect(v).toBeCloseTo(q[h * dimKey + i]!, 5));
        head.q2.forEach((v, i) => expect(v).toBeCloseTo(q[h * dimKey + half + i]!, 5));
        expect(head.top1.map((s) => s.key)).toEqual(topIndices(s1, k));
        expect(head.top2.map((s) => s.key)).toEqual(topIndices(s2, k));
        // Brute force over all N experts: expert i·n + j scores s1[i] + s2[j].
        const all = Array.from({ length: N }, (_, e) => s1[Math.floor(e / n)]! + s2[e % n]!);
        const best = topIndices(all, k);
        expect(head.winners.map((w) => w.expert)).toEqual(best);
        const f = new Array<number>(DIM).fill(0);
        head.winners.forEach((w, s) => {
          const e = best[s]!;
          expect(w.score).toBeCloseTo(all[e]!, 5);
          const gate = 1 / (1 + Math.exp(-all[e]!));
          expect(w.gate).toBeCloseTo(gate, 5);
          expect(w.a * k + w.b).toBeLessThan(k * k);
          expect(head.top1[w.a]!.key * n + head.top2[w.b]!.key).toBe(e);
          const act = Math.max(0, dot(down, e * DIM, xs, t * DIM, DIM));
          expect(w.activation).toBeCloseTo(act, 5);
          for (let d = 0; d < DIM; d++) f[d] += gate * act * up[e * DIM + d]!;
        });
        expect(head.outputNorm).toBeCloseTo(Math.hypot(...f), 5);
        heads.push(f);
      }
      // Each head's share of the output fₕ·y / ‖y‖², y = Σₕ fₕ: the shares add up to 1.
      const y = heads[0]!.map((_, d) => heads.reduce((s, f) => s + f[d]!, 0));
      const yy = y.reduce((s, v) => s + v * v, 0);
      route.heads.forEach((head, h) => expect(head.share).toBeCloseTo(heads[h]!.reduce((s, v, d) => s + v * y[d]!, 0) / yy, 4));
      const recorded = await layerRoutingOf(layer, t);
      expect(routeAgrees(route, recorded!), `token ${t} agrees with lastRouting`).toBe(true);
    }
  });
});
