// The route of one token, recomputed step by step from the layer's own weights: for PKM/PEER the
// query halves, each half's top-k sub-keys, the k×k candidate grid and its winners, the gates and each
// head's contribution (the PEER paper's Figure 2); for MoE the router's probabilities, picks, gates
// and capacity drops. The result is checked against what the layer itself recorded (lastRouting).
import {
  add,
  indexSelect,
  matmul,
  noGrad,
  permute,
  reshape,
  sigmoid,
  slice,
  softmax,
  tensor,
  topk,
  transpose,
  unsqueeze,
  type RoutingArrays,
  type Tensor,
} from '@myriad/core';
import { BatchNorm1d, LayerNorm, MoE, PEER, PKM, activationFn, expertCapacity, hashExperts } from '@myriad/nn';
import type { MoERoute, ProductKeyHead, ProductKeyRoute, Winner } from '../protocol.js';
import type { RoutingLayer } from './model.js';

/** Reads a tensor on any backend (WebGPU answers asynchronously). */
export async function readArray(t: Tensor): Promise<Float64Array | Float32Array | Int32Array> {
  return (await t.read()) as Float64Array | Float32Array | Int32Array;
}

/** lastRouting's indices / scores as host arrays, on any backend (WebGPU answers only through read()). */
export async function routingArrays(
  layer: RoutingLayer,
): Promise<{ indices: Int32Array; scores: Float32Array | Float64Array; tokens: number; heads: number; k: number } | null> {
  const r = layer.lastRouting;
  if (!r) return null;
  // The layers record a LazyRoutingDecision: read() copies its tensors to the host on every backend,
  // where the synchronous indices/scores getters throw on WebGPU. A plain object of arrays has none.
  const lazy = r as { read?: () => Promise<RoutingArrays> };
  const { indices, scores } = typeof lazy.read === 'function' ? await lazy.read() : r;
  return { indices, scores, tokens: r.tokens, heads: r.heads, k: r.k };
}

/** The layer's record for token `t`: experts and gates per head (empty slots, −1, left out). */
export async function layerRoutingOf(layer: RoutingLayer, t: number): Promise<{ experts: number[][]; gates: number[][] } | null> {
  const r = await routingArrays(layer);
  if (!r || t >= r.tokens) return null;
  const experts: number[][] = [];
  const gates: number[][] = [];
  for (let h = 0; h < r.heads; h++) {
    const e: number[] = [];
    const g: number[] = [];
    for (let s = 0; s < r.k; s++) {
      const i = (t * r.heads + h) * r.k + s;
      if (r.indices[i]! < 0) continue;
      e.push(r.indices[i]!);
      g.push(r.scores[i]!);
    }
    experts.push(e);
    gates.push(g);
  }
  return { experts, gates };
}

function queries(layer: PKM | PEER, xf: Tensor): Tensor {
  const T = xf.shape[0]!;
  const raw = layer.query.forward(xf);
  const norm = layer.queryNorm;
  // As the layer's normalizeQueries: BatchNorm over heads·dimKey, LayerNorm per head's query.
  if (norm instanceof BatchNorm1d) return reshape(norm.forward(raw), [T, layer.heads, layer.dimKey]);
  const perHead = reshape(raw, [T, layer.heads, layer.dimKey]);
  return norm instanceof LayerNorm ? norm.forward(perHead) : perHead;
}

/** Figure 2 for token `t` of the context whose layer input was `x` ([1, T, dim] or [T, dim]). */
export async function productKeyRoute(layer: PKM | PEER, x: Tensor, t: number): Promise<ProductKeyRoute> {
  const { heads: H, dimKey, topK: k, numKeys, dim } = layer;
  const half = dimKey / 2;
  const T = x.size / dim;
  const shared = layer instanceof PEER;
  const ops = noGrad(() => {
    const xf = reshape(x, [T, dim]);
    const q = queries(layer, xf); // [T, H, dk]
    const q1 = slice(q, -1, 0, half);
    const q2 = slice(q, -1, half);
    // The same shapes and ops as productKeyTopk, so the scores are bit-for-bit the layer's.
    const halfScores = (qh: Tensor, which: number): Tensor => {
      if (shared) {
        const c = reshape(slice(layer.keys, 0, which, which + 1), [numKeys, half]);
        return reshape(matmul(reshape(qh, [T * H, half]), transpose(c)), [T, H, numKeys]);
      }
      const c = reshape(slice(layer.keys, 1, which, which + 1), [H, numKeys, half]);
      return permute(matmul(permute(qh, [1, 0, 2]), transpose(c)), [1, 0, 2]);
    };
    const t1 = topk(halfScores(q1, 0), k);
    const t2 = topk(halfScores(q2, 1), k);
    const grid = reshape(add(unsqueeze(t1.values, -1), unsqueeze(t2.values, -2)), [T, H, k * k]);
    const best = topk(grid, k);
    const scoreFn = layer instanceof PEER ? layer.scoreFn : 'softmax';
    const gates = scoreFn === 'softmax' ? softmax(best.values, -1) : sigmoid(best.values);
    const xt = reshape(slice(xf, 0, t, t + 1), [dim]);
    return { q, t1, t2, grid, best, gates, xt, scoreFn };
  });
  const [q, i1, v1, i2, v2, grid, bi, bv, g] = await Promise.all([
    readArray(ops.q),
    readArray(ops.t1.indices),
    readArray(ops.t1.values),
    readArray(ops.t2.indices),
    readArray(ops.t2.values),
    readArray(ops.grid),
    readArray(ops.best.indices),
    readArray(ops.best.values),
    readArray(ops.gates),
  ]);
  const headOut: Float64Array[] = [];
  const result: ProductKeyHead[] = [];
  for (let h = 0; h < H; h++) {
    const row = t * H + h;
    const qs = Array.from(q.subarray(row * dimKey, (row + 1) * dimKey));
    const hits = (idx: ArrayLike<number>, val: ArrayLike<number>) =>
      Array.from({ length: k }, (_, s) => ({ key: idx[row * k + s]!, score: val[row * k + s]! }));
    const top1 = hits(i1, v1);
    const top2 = hits(i2, v2);
    const winners: Winner[] = [];
    for (let s = 0; s < k; s++) {
      const c = bi[row * k + s]!;
      const a = Math.floor(c / k);
      const b = c - a * k;
      winners.push({
        a,
        b,
        expert: top1[a]!.key * numKeys + top2[b]!.key,
        score: bv[row * k + s]!,
        gate: g[row * k + s]!,
        activation: null,
      });
    }
    // The head's output: Σ gᵢ·σ(uᵢᵀx)·vᵢ (PEER) or Σ gᵢ·vᵢ (PKM), from the selected rows only.
    const ids = tensor(Int32Array.from(winners.map((w) => w.expert)), { shape: [k], dtype: 'int32' });
    const out = new Float64Array(layer.dimOut);
    if (layer instanceof PEER) {
      const pre = await readArray(noGrad(() => matmul(indexSelect(layer.down.weight, 0, ids), reshape(ops.xt, [dim, 1]))));
      const act = await readArray(noGrad(() => activationFn(layer.activation, 'PEER')(tensor(Float32Array.from(pre), { shape: [k] }))));
      const v = await readArray(noGrad(() => indexSelect(layer.up.weight, 0, ids)));
      winners.forEach((w, s) => {
        w.activation = act[s]!;
        for (let d = 0; d < layer.dimOut; d++) out[d] += w.gate * act[s]! * v[s * layer.dimOut + d]!;
      });
    } else {
      const v = await readArray(noGrad(() => indexSelect(layer.values.weight, 0, ids)));
      winners.forEach((w, s) => {
        for (let d = 0; d < layer.dimOut; d++) out[d] += w.gate * v[s * layer.dimOut + d]!;
      });
    }
    headOut.push(out);
    result.push({
      q1: qs.slice(0, half),
      q2: qs.slice(half),
      top1,
      top2,
      grid: Array.from(grid.subarray(row * k * k, (row + 1) * k * k)),
      winners,
      outputNorm: Math.hypot(...out),
      share: 0,
    });
  }
  const total = new Float64Array(layer.dimOut);
  for (const o of headOut) for (let d = 0; d < o.length; d++) total[d] += o[d]!;
  const totalSq = total.reduce((s, v) => s + v * v, 0);
  result.forEach((r, h) => (r.share = totalSq > 0 ? headOut[h]!.reduce((s, v, d) => s + v * total[d]!, 0) / totalSq : 0));
  return { kind: layer instanceof PEER ? 'peer' : 'pkm', numKeys, k, scoreFn: ops.scoreFn, heads: result };
}

/** The router's view of token `t`: probabilities, picks, gates, drops (ids: the context's token ids). */
export async function moeRoute(layer: MoE, x: Tensor, ids: Int32Array, t: number, syncReads = true): Promise<MoERoute> {
  const { numExperts: E, dim } = layer;
  const T = x.size / dim;
  const xf = reshape(x, [T, dim]);
  const probsAll = layer.router ? await readArray(noGrad(() => softmax(layer.router!.forward(xf), -1))) : null;
  const probs = probsAll ? Array.from(probsAll.subarray(t * E, (t + 1) * E)) : null;
  const bias = layer.expertBias ? Array.from(await readArray(layer.expertBias)) : null;
  const recorded = await routingArrays(layer);
  const chosen: { expert: number; gate: number }[] = [];
  const droppedSlots: number[] = [];
  let capacity: number | null = null;
  if (layer.routerKind === 'expert-choice') {
    // Each expert takes its top-c tokens of the context by p: does it take token t?
    const c = Math.min(T, expertCapacity(layer.capacityFactor, T, 1, E));
    capacity = c;
    for (let e = 0; e < E; e++) {
      const column = Array.from({ length: T }, (_, s) => probsAll![s * E + e]!);
      const mine = column[t]!;
      const better = column.filter((p, s) => p > mine || (p === mine && s < t)).length;
      if (better < c) chosen.push({ expert: e, gate: mine });
    }
  } else {
    const k = layer.topK;
    let picks: number[];
    let gates: number[];
    if (layer.routerKind === 'hash') {
      picks = Array.from(hashExperts(ids, E, k, layer.hashSeed).subarray(t * k, (t + 1) * k));
      gates = picks.map(() => 1 / k);
    } else {
      const sel = probs!.map((p, e) => p + (bias?.[e] ?? 0));
      picks = sel
        .map((s, e) => [s, e] as const)
        .sort((a, b) => b[0] - a[0] || a[1] - b[1])
        .slice(0, k)
        .map(([, e]) => e);
      gates = picks.map((e) => probs![e]!);
      if (layer.normalizeTopK) {
        const s = gates.reduce((a, b) => a + b, 0);
        gates = gates.map((g) => g / s);
      }
    }
    if (Number.isFinite(layer.capacityFactor)) capacity = expertCapacity(layer.capacityFactor, T, k, E);
    picks.forEach((e, s) => {
      const slot = recorded ? recorded.indices[t * k + s]! : e;
      if (slot < 0) droppedSlots.push(e);
      else chosen.push({ expert: e, gate: gates[s]! });
    });
  }
  return {
    kind: 'moe',
    router: layer.routerKind,
    numExperts: E,
    probs,
    bias,
    chosen,
    droppedSlots,
    numShared: layer.shared.length,
    droppedFraction: syncReads ? layer.droppedFraction : null,
    capacity,
  };
}

/** Whether the recomputed route selects what the layer recorded (experts exactly, gates within 1e-5). */
export function routeAgrees(detail: ProductKeyRoute | MoERoute, recorded: { experts: number[][]; gates: number[][] }): boolean {
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b));
  if (detail.kind === 'moe') {
    const mine = [...detail.chosen].sort((a, b) => a.expert - b.expert);
    const theirs = recorded.experts[0]!.map((e, s) => ({ expert: e, gate: recorded.gates[0]![s]! })).sort((a, b) => a.expert - b.expert);
    return mine.length === theirs.length && mine.every((m, i) => m.expert === theirs[i]!.expert && close(m.gate, theirs[i]!.gate));
  }
  return detail.heads.every((h, hi) => {
    const e = recorded.experts[hi]!;
    const g = recorded.gates[hi]!;
    return h.winners.length === e.length && h.winners.every((w, s) => w.expert === e[s] && close(w.gate, g[s]!));
  });
}
