// Plain-loop float64 references written from the formulas, independent of the tensor ops under test.
import type { Tensor } from '@myriad/core';
import type { CausalSelfAttention, Linear } from '@myriad/nn';

/** y = x·Wᵀ + b by loops over rows of x [N, in]. */
export function referenceLinear(lin: Linear, x: Tensor): number[] {
  const X = x.toTypedArray();
  const W = lin.weight.toTypedArray();
  const b = lin.bias?.toTypedArray();
  const { inFeatures: I, outFeatures: O } = lin;
  const n = X.length / I;
  const out: number[] = [];
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < O; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < I; i++) s += W[o * I + i]! * X[r * I + i]!;
      out.push(s);
    }
  }
  return out;
}

/** Plain-loop causal multi-head attention in float64, from the layer's own weights. */
export function referenceAttention(attn: CausalSelfAttention, x: Tensor): number[] {
  const [B, T, D] = x.shape as [number, number, number];
  const H = attn.heads;
  const hd = D / H;
  const X = x.toTypedArray();
  const Wqkv = attn.qkv.weight.toTypedArray();
  const bqkv = attn.qkv.bias!.toTypedArray();
  const Wo = attn.out.weight.toTypedArray();
  const bo = attn.out.bias!.toTypedArray();
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    const qkv: number[][] = [];
    for (let t = 0; t < T; t++) {
      const row: number[] = [];
      for (let o = 0; o < 3 * D; o++) {
        let s = bqkv[o]!;
        for (let i = 0; i < D; i++) s += Wqkv[o * D + i]! * X[(b * T + t) * D + i]!;
        row.push(s);
      }
      qkv.push(row);
    }
    for (let t = 0; t < T; t++) {
      const merged = new Array<number>(D).fill(0);
      for (let h = 0; h < H; h++) {
        const scores: number[] = [];
        for (let u = 0; u <= t; u++) {
          let s = 0;
          for (let j = 0; j < hd; j++) s += qkv[t]![h * hd + j]! * qkv[u]![D + h * hd + j]!;
          scores.push(s / Math.sqrt(hd));
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, c) => a + c, 0);
        for (let u = 0; u <= t; u++) for (let j = 0; j < hd; j++) merged[h * hd + j]! += (e[u]! / z) * qkv[u]![2 * D + h * hd + j]!;
      }
      for (let o = 0; o < D; o++) {
        let s = bo[o]!;
        for (let i = 0; i < D; i++) s += Wo[o * D + i]! * merged[i]!;
        out.push(s);
      }
    }
  }
  return out;
}
