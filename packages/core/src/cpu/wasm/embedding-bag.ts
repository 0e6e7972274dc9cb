// Drivers of embeddingBag in WebAssembly SIMD (float32; the plain loops are in cpu/embedding-bag.ts).
// They reuse the fused expert mix's row kernels (expert-mix-module.ts): for a block of tokens the
// chosen table rows are copied into the small staging buffer, then `expertRowMix` forms each token's
// weighted row sum (the forward) or `expertRowDots` each slot's dot with the token's output gradient
// (the weights' gradient), split over threads by token. Every output element is one thread's sum in
// a fixed order, so the results are the same bits whatever the thread count.
import type { WasmContext } from './context.js';
import { MAX_BYTES, runSplit, stageRows, tokensPerBlock } from './expert-mix.js';
import { Layout } from './runtime.js';

/**
 * As embeddingBagForward on float32: out [T, D] = Σₛ w[t,s] · table[idx[t,s]] (indices in range).
 * Returns false, having done nothing, for empty shapes or when out of WebAssembly memory.
 */
export function embeddingBagForwardWasm(
  ctx: WasmContext,
  table: Float32Array,
  idx: Int32Array,
  w: Float32Array,
  T: number,
  S: number,
  D: number,
  out: Float32Array,
): boolean {
  if (T * S * D === 0) return false;
  const tc = tokensPerBlock(T, S, D);
  const lay = new Layout();
  const wAddr = lay.take(T * S * 4);
  const yAddr = lay.take(T * D * 4);
  const stage = lay.take(tc * S * D * 4);
  const rt = ctx.rt;
  if (lay.end > MAX_BYTES || !rt.ensure(lay.end)) return false;
  const mem = rt.f32;
  mem.set(w.subarray(0, T * S), wAddr >> 2);
  for (let t0 = 0; t0 < T; t0 += tc) {
    const n = Math.min(tc, T - t0);
    const p0 = t0 * S;
    stageRows(mem, stage, table, D, idx, p0, p0 + n * S);
    runSplit(ctx, 'expertRowMix', [stage, wAddr + p0 * 4, yAddr + t0 * D * 4, S, D, 0, n], 5, n, n * S * D);
  }
  out.set(mem.subarray(yAddr >> 2, (yAddr >> 2) + T * D));
  return true;
}

/**
 * As embeddingBagWeightGrad on float32: dw [T, S] = table[idx[t,s]] · dy[t] (indices in range).
 * Returns false, having done nothing, for empty shapes or when out of WebAssembly memory.
 */
export function embeddingBagWeightGradWasm(
  ctx: WasmContext,
  table: Float32Array,
  idx: Int32Array,
  dy: Float32Array,
  T: number,
  S: number,
  D: number,
  dw: Float32Array,
): boolean {
  if (T * S * D === 0) return false;
  const tc = tokensPerBlock(T, S, D);
  const lay = new Layout();
  const dyAddr = lay.take(T * D * 4);
  const dwAddr = lay.take(T * S * 4);
  const stage = lay.take(tc * S * D * 4);
  const rt = ctx.rt;
  if (lay.end > MAX_BYTES || !rt.ensure(lay.end)) return false;
  const mem = rt.f32;
  mem.set(dy.subarray(0, T * D), dyAddr >> 2);
  for (let t0 = 0; t0 < T; t0 += tc) {
    const n = Math.min(tc, T - t0);
    const p0 = t0 * S;
    stageRows(mem, stage, table, D, idx, p0, p0 + n * S);
    runSplit(ctx, 'expertRowDots', [stage, dyAddr + t0 * D * 4, dwAddr + p0 * 4, S, D, 0, n], 5, n, n * S * D);
  }
  dw.set(mem.subarray(dwAddr >> 2, (dwAddr >> 2) + T * S));
  return true;
}
