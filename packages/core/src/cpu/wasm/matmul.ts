// The matmul driver: copies A's and B's spans into WebAssembly memory, packs B (split over threads
// by column panels), multiplies (split by rows, or by column panels when there are few rows), and
// copies the result out. Each output element is the same sequential f32 sum over k whatever the
// split, so the thread count never changes a result.
import type { WasmContext } from './context.js';
import { MR, NR } from './matmul-module.js';
import type { Round } from './pool.js';
import { Layout } from './runtime.js';

/** Depth of a packed k block: a 4×KC panel of A plus an 8×KC panel of B stay in L1. */
const KC = 256;
/** Rows of A packed at once (MC×KC floats stay in L2). */
const MC = 128;

/**
 * out[M,N] = A[M,K] @ B[K,N] with the strided addressing of matmulJs (out is contiguous from
 * outOffset). Returns false, having done nothing, when it cannot run (negative strides, or more
 * than the 2 GiB of WebAssembly memory needed); the caller then uses the plain kernel.
 */
export function matmulWasm(
  ctx: WasmContext,
  a: Float32Array,
  aOffset: number,
  ars: number,
  acs: number,
  b: Float32Array,
  bOffset: number,
  brs: number,
  bcs: number,
  out: Float32Array,
  outOffset: number,
  M: number,
  N: number,
  K: number,
): boolean {
  if (M === 0 || N === 0) return true;
  if (K === 0) {
    out.fill(0, outOffset, outOffset + M * N);
    return true;
  }
  if (ars < 0 || acs < 0 || brs < 0 || bcs < 0) return false;
  const aSpan = (M - 1) * ars + (K - 1) * acs + 1;
  const bSpan = (K - 1) * brs + (N - 1) * bcs + 1;
  const panels = Math.ceil(N / NR);
  const ldc = panels * NR * 4;
  const threads = ctx.threadsFor(M * N * K);
  const lay = new Layout();
  const aAddr = lay.take(aSpan * 4);
  const bAddr = lay.take(bSpan * 4);
  const bpack = lay.take(K * ldc);
  const cAddr = lay.take(Math.ceil(M / MR) * MR * ldc);
  const apack: number[] = [];
  for (let t = 0; t < threads; t++) apack.push(lay.take(MC * KC * 4));
  const rt = ctx.rt;
  if (lay.end > 2 ** 31 || !rt.ensure(lay.end)) return false;
  const mem = rt.f32;
  mem.set(a.subarray(aOffset, aOffset + aSpan), aAddr >> 2);
  mem.set(b.subarray(bOffset, bOffset + bSpan), bAddr >> 2);

  // Blocks handed out to threads: about four per thread, so a thread slowed by other processes
  // takes fewer; never fewer than 8 rows or 2 panels per block.
  const rowTiles = Math.ceil(M / MR);
  const byRows = rowTiles >= 2 * threads || rowTiles >= panels;
  const blocks = 4 * threads;
  const panelStep = Math.max(2, Math.ceil(panels / blocks));
  const pack: Round = {
    fn: 'packBRange',
    args: [],
    split: { arg: 7, total: panels, step: panelStep },
  };
  const multiply: Round = {
    fn: 'matmulRange',
    args: [],
    split: byRows ? { arg: 6, total: M, step: Math.max(2, Math.ceil(rowTiles / blocks)) * MR } : { arg: 8, total: panels, step: panelStep },
  };
  for (let t = 0; t < threads; t++) {
    pack.args.push([bAddr, brs * 4, bcs * 4, N, K, KC, bpack, 0, panels]);
    multiply.args.push([aAddr, ars * 4, acs * 4, bpack, cAddr, ldc, 0, M, 0, panels, K, KC, MC, apack[t]!]);
  }
  ctx.run([pack, multiply], threads);

  const c = rt.f32;
  const cBase = cAddr >> 2;
  if (N === panels * NR) {
    out.set(c.subarray(cBase, cBase + M * N), outOffset);
  } else {
    const pitch = panels * NR;
    for (let i = 0; i < M; i++) out.set(c.subarray(cBase + i * pitch, cBase + i * pitch + N), outOffset + i * N);
  }
  return true;
}
