// The axis-sum driver: copies a contiguous [outer, len, inner] f32 block into WebAssembly memory,
// sums the middle axis with f64 accumulators (sumAxisCols) and rounds the sums into `out` once.
// Only inner > 1 (column sums, e.g. bias gradients) comes here; row sums stay in the plain kernel.
import type { WasmContext } from './context.js';
import { Layout } from './runtime.js';

/**
 * out[o*inner + j] = Σ_r x[offset + (o*len + r)*inner + j], bit-identical to sumAxisJs. Returns
 * false, having done nothing, for inner = 1 or when the scratch would exceed 2 GiB.
 */
export function sumAxisWasm(
  ctx: WasmContext,
  x: Float32Array,
  offset: number,
  outer: number,
  len: number,
  inner: number,
  out: Float32Array,
): boolean {
  if (inner <= 1) return false;
  const block = len * inner;
  const lay = new Layout();
  const xAddr = lay.take(outer * block * 4);
  const sAddr = lay.take(outer * inner * 8);
  const rt = ctx.rt;
  if (lay.end > 2 ** 31 || !rt.ensure(lay.end)) return false;
  rt.f32.set(x.subarray(offset, offset + outer * block), xAddr >> 2);
  for (let o = 0; o < outer; o++) rt.exports.sumAxisCols(xAddr + o * block * 4, len, inner, sAddr + o * inner * 8, 0, inner);
  out.set(new Float64Array(rt.memory.buffer, sAddr, outer * inner));
  return true;
}
