// Drivers of embeddingBag in WebAssembly SIMD (float32; the plain loops are in cpu/embedding-bag.ts).
// They reuse the fused expert mix's row kernels and its row plan (expert-mix.ts: the whole table in
// WebAssembly memory when it has no more rows than the call has slots, else the chosen rows staged per
// block of tokens): `expertRowMix` forms each token's weighted row sum (the forward) or `expertRowDots`
// each slot's dot with the token's output gradient (the weights' gradient), split over threads by
// token. Every output element is one thread's sum in a fixed order, so the results are the same bits
// whatever the thread count.
import { checkRowIndices } from '../expert-mix.js';
import type { WasmContext } from './context.js';
import { MAX_BYTES, loadRows, planRows, rowPass } from './expert-mix.js';
import { Layout } from './runtime.js';

/**
 * One pass of `kind` over T tokens of S chosen rows (width D) of `table`: `input` has `inPer`
 * floats per token, `out` gets `outPer` floats per token. False, having done nothing, for empty
 * shapes or when out of WebAssembly memory. Indices are checked (a RangeError names the slot).
 */
function rowPassAll(
  ctx: WasmContext,
  kind: 'mix' | 'dots',
  table: Float32Array,
  idx: Int32Array,
  T: number,
  S: number,
  D: number,
  input: Float32Array,
  inPer: number,
  out: Float32Array,
  outPer: number,
): boolean {
  if (T * S * D === 0) return false;
  checkRowIndices('embeddingBag', idx, table.length / D);
  const lay = new Layout();
  const inAddr = lay.take(T * inPer * 4);
  const outAddr = lay.take(T * outPer * 4);
  const src = planRows(lay, [table], [D], T, S);
  const rt = ctx.rt;
  if (lay.end > MAX_BYTES || !rt.ensure(lay.end)) return false;
  const mem = rt.f32;
  mem.set(input.subarray(0, T * inPer), inAddr >> 2);
  loadRows(mem, rt.i32, src, idx);
  for (let t0 = 0; t0 < T; t0 += src.block) {
    const n = Math.min(src.block, T - t0);
    rowPass(ctx, src, kind, table, D, idx, S, t0, n, inAddr + t0 * inPer * 4, outAddr + t0 * outPer * 4);
  }
  out.set(mem.subarray(outAddr >> 2, (outAddr >> 2) + T * outPer));
  return true;
}

/** As embeddingBagForward on float32: out [T, D] = Σₛ w[t,s] · table[idx[t,s]]; false when it did nothing. */
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
  return rowPassAll(ctx, 'mix', table, idx, T, S, D, w, S, out, D);
}

/** As embeddingBagWeightGrad on float32: dw [T, S] = table[idx[t,s]] · dy[t]; false when it did nothing. */
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
  return rowPassAll(ctx, 'dots', table, idx, T, S, D, dy, D, dw, S);
}
