// The elementwise driver: copies a contiguous f32 run into WebAssembly memory (padded to whole
// vectors), applies a SIMD transcendental (exp, erf, gelu, tanh, sigmoid, silu), and copies it out.
// Long runs are split over threads; each element is computed alone, so the split never matters.
import type { WasmContext } from './context.js';
import type { Round } from './pool.js';
import { Layout } from './runtime.js';
import { UNARY_EXPORTS, type WasmUnaryOp } from './unary-module.js';

/** Elements per block handed to a thread. */
const BLOCK = 1 << 16;

/** Whether `op` has a WebAssembly version. */
function hasWasmUnary(op: string): op is WasmUnaryOp {
  return Object.prototype.hasOwnProperty.call(UNARY_EXPORTS, op);
}

/**
 * out[outOffset + i] = op(x[xOffset + i]) for i < n. Returns false, having done nothing, for ops
 * without a WebAssembly version or when the scratch would exceed 2 GiB.
 */
export function unaryWasm(
  ctx: WasmContext,
  op: string,
  x: Float32Array,
  xOffset: number,
  out: Float32Array,
  outOffset: number,
  n: number,
): boolean {
  if (!hasWasmUnary(op)) return false;
  if (n === 0) return true;
  const padded = Math.ceil(n / 4) * 4;
  const lay = new Layout();
  const addr = lay.take(padded * 4);
  const rt = ctx.rt;
  if (lay.end > 2 ** 31 || !rt.ensure(lay.end)) return false;
  const mem = rt.f32;
  mem.set(x.subarray(xOffset, xOffset + n), addr >> 2);
  // A transcendental costs roughly 16 multiply-adds per element.
  const threads = ctx.threadsFor(n * 16);
  const round: Round = { fn: UNARY_EXPORTS[op], args: [], split: { arg: 2, total: padded, step: BLOCK } };
  for (let t = 0; t < threads; t++) round.args.push([addr, addr, 0, padded]);
  ctx.run([round], threads);
  out.set(rt.f32.subarray(addr >> 2, (addr >> 2) + n), outOffset);
  return true;
}
