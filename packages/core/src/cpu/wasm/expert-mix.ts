// Drivers of the fused expert mix in WebAssembly SIMD (float32; the plain loops are in cpu/expert-mix.ts).
// The tables stay in their JS arrays: for a block of tokens the chosen rows of one table are copied into
// a small staging buffer in WebAssembly memory (about 2 MiB, so it is still in cache when the kernel
// reads it), the f32x4 dots or weighted row sums run over it, split over threads by token, and the next
// block reuses the buffer; nothing of size [T, S, D] is ever allocated. The activation runs here in JS on
// the [T, S] pre-activations between the two passes, with the same σ and σ' as the plain loops. Table
// gradients are written per distinct row (grouped by sortSlotsByRow), split over threads by row, in
// blocks copied out as they finish. Every output element is one thread's sum in a fixed order, so the
// results are the same bits whatever the thread count.
import { activationPair, checkRowIndices, type ExpertActivation } from '../expert-mix.js';
import { cpuBufferPool } from '../buffer-pool.js';
import type { WasmContext } from './context.js';
import type { Round } from './pool.js';
import { Layout } from './runtime.js';

/** Bytes of chosen rows staged per pass (one table's rows for a block of tokens). */
const STAGE_BYTES = 1 << 21;
/** Bytes of table-gradient rows computed per job before they are copied out. */
const TABLE_BLOCK_BYTES = 1 << 22;
export const MAX_BYTES = 2 ** 31;

type RowFn = 'expertRowDots' | 'expertRowMix' | 'expertTableRows';

/**
 * Runs `fn` over [0, total) of its split argument `arg`, about four blocks a thread; `work` (multiply-adds
 * of this job) decides the threads as for every kernel, so small staged blocks stay on this thread.
 */
export function runSplit(ctx: WasmContext, fn: RowFn, args: number[], arg: number, total: number, work: number): void {
  const used = total > 1 ? ctx.threadsFor(work) : 1;
  const round: Round = { fn, args: [], split: { arg, total, step: Math.max(1, Math.ceil(total / (4 * used))) } };
  for (let t = 0; t < used; t++) round.args.push(args.slice());
  ctx.run([round], used);
}

/** Copies table rows idx[p0..p1) (width W) one after another into WebAssembly memory at byte `at`. */
export function stageRows(mem: Float32Array, at: number, table: Float32Array, W: number, idx: Int32Array, p0: number, p1: number): void {
  let o = at >> 2;
  for (let p = p0; p < p1; p++, o += W) {
    const e = idx[p]! * W;
    mem.set(table.subarray(e, e + W), o);
  }
}

/** Tokens per staged block: at least one, at most T. */
export function tokensPerBlock(T: number, S: number, W: number): number {
  return Math.max(1, Math.min(T, Math.floor(STAGE_BYTES / Math.max(1, S * W * 4))));
}

/**
 * As expertMixForward (cpu/expert-mix.ts) on float32: y [T, Do] and z [T, S]. Returns false, having
 * done nothing, for empty shapes or when the scratch would exceed 2 GiB (the caller runs the plain loop).
 */
export function expertMixForwardWasm(
  ctx: WasmContext,
  x: Float32Array,
  down: Float32Array,
  up: Float32Array,
  idx: Int32Array,
  gates: Float32Array,
  T: number,
  S: number,
  D: number,
  Do: number,
  act: ExpertActivation,
  y: Float32Array,
  z: Float32Array,
): boolean {
  if (T * S * D * Do === 0) return false;
  checkRowIndices('expertMix', idx, Math.min(down.length / D, up.length / Do));
  const tc = tokensPerBlock(T, S, Math.max(D, Do));
  const lay = new Layout();
  const xAddr = lay.take(T * D * 4);
  const zAddr = lay.take(T * S * 4);
  const aAddr = lay.take(T * S * 4);
  const yAddr = lay.take(T * Do * 4);
  const stage = lay.take(tc * S * Math.max(D, Do) * 4);
  const rt = ctx.rt;
  if (lay.end > MAX_BYTES || !rt.ensure(lay.end)) return false;
  const mem = rt.f32;
  mem.set(x.subarray(0, T * D), xAddr >> 2);
  const { f } = activationPair(act, true);
  const zb = zAddr >> 2;
  const ab = aAddr >> 2;
  for (let t0 = 0; t0 < T; t0 += tc) {
    const n = Math.min(tc, T - t0);
    const p0 = t0 * S;
    const p1 = p0 + n * S;
    stageRows(mem, stage, down, D, idx, p0, p1);
    runSplit(ctx, 'expertRowDots', [stage, xAddr + t0 * D * 4, zAddr + p0 * 4, S, D, 0, n], 5, n, n * S * D);
    for (let p = p0; p < p1; p++) {
      const zp = mem[zb + p]!;
      z[p] = zp;
      mem[ab + p] = gates[p]! * f(zp);
    }
    stageRows(mem, stage, up, Do, idx, p0, p1);
    runSplit(ctx, 'expertRowMix', [stage, aAddr + p0 * 4, yAddr + t0 * Do * 4, S, Do, 0, n], 5, n, n * S * Do);
  }
  y.set(mem.subarray(yAddr >> 2, (yAddr >> 2) + T * Do));
  return true;
}

/**
 * As expertMixBackward on float32: dx [T, D], dgates [T, S] and the table-gradient coefficients dz and
 * c [T, S]. Returns false, having done nothing, for empty shapes or when out of WebAssembly memory.
 */
export function expertMixBackwardWasm(
  ctx: WasmContext,
  down: Float32Array,
  up: Float32Array,
  idx: Int32Array,
  gates: Float32Array,
  z: Float32Array,
  dy: Float32Array,
  T: number,
  S: number,
  D: number,
  Do: number,
  act: ExpertActivation,
  dx: Float32Array,
  dgates: Float32Array,
  dz: Float64Array,
  c: Float64Array,
): boolean {
  if (T * S * D * Do === 0) return false;
  checkRowIndices('expertMix', idx, Math.min(down.length / D, up.length / Do));
  const tc = tokensPerBlock(T, S, Math.max(D, Do));
  const lay = new Layout();
  const dyAddr = lay.take(T * Do * 4);
  const aAddr = lay.take(T * S * 4);
  const dzAddr = lay.take(T * S * 4);
  const dxAddr = lay.take(T * D * 4);
  const stage = lay.take(tc * S * Math.max(D, Do) * 4);
  const rt = ctx.rt;
  if (lay.end > MAX_BYTES || !rt.ensure(lay.end)) return false;
  const mem = rt.f32;
  mem.set(dy.subarray(0, T * Do), dyAddr >> 2);
  const { f, df } = activationPair(act, true);
  const ab = aAddr >> 2;
  const dzb = dzAddr >> 2;
  for (let t0 = 0; t0 < T; t0 += tc) {
    const n = Math.min(tc, T - t0);
    const p0 = t0 * S;
    const p1 = p0 + n * S;
    stageRows(mem, stage, up, Do, idx, p0, p1);
    runSplit(ctx, 'expertRowDots', [stage, dyAddr + t0 * Do * 4, aAddr + p0 * 4, S, Do, 0, n], 5, n, n * S * Do);
    for (let p = p0; p < p1; p++) {
      const a = mem[ab + p]!; // ∂L/∂(gₚσ(zₚ))
      const zp = z[p]!;
      const h = f(zp);
      const g = gates[p]!;
      dgates[p] = a * h;
      c[p] = g * h;
      const d = a * g * df(zp);
      dz[p] = d;
      mem[dzb + p] = d;
    }
    stageRows(mem, stage, down, D, idx, p0, p1);
    runSplit(ctx, 'expertRowMix', [stage, dzAddr + p0 * 4, dxAddr + t0 * D * 4, S, D, 0, n], 5, n, n * S * D);
  }
  dx.set(mem.subarray(dxAddr >> 2, (dxAddr >> 2) + T * D));
  return true;
}

/**
 * As expertTableGrad on float32: the distinct rows of `sorted` ascending and their summed gradient rows
 * coef[p]·src[⌊p / S⌋] (width W), each row summed by one thread in slot order. Null when out of memory.
 */
export function expertTableGradWasm(
  ctx: WasmContext,
  coef: Float64Array,
  src: Float32Array,
  S: number,
  W: number,
  sorted: { rows: Int32Array; positions: Int32Array },
): { rows: Int32Array; values: Float32Array } | null {
  const { rows, positions } = sorted;
  const n = rows.length;
  let distinct = 0;
  for (let i = 0; i < n; i++) if (i === 0 || rows[i] !== rows[i - 1]) distinct++;
  if (distinct === 0 || W === 0) return null;
  const T = Math.floor(src.length / W);
  const block = Math.max(1, Math.min(distinct, Math.floor(TABLE_BLOCK_BYTES / (W * 4))));
  const lay = new Layout();
  const srcAddr = lay.take(T * W * 4);
  const tokAddr = lay.take(n * 4);
  const coefAddr = lay.take(n * 4);
  const startsAddr = lay.take((distinct + 1) * 4);
  const outAddr = lay.take(block * W * 4);
  const rt = ctx.rt;
  if (lay.end > MAX_BYTES || !rt.ensure(lay.end)) return null;
  const mem = rt.f32;
  const i32 = rt.i32;
  mem.set(src.subarray(0, T * W), srcAddr >> 2);
  const unique = new Int32Array(distinct);
  const tb = tokAddr >> 2;
  const cb = coefAddr >> 2;
  const sb = startsAddr >> 2;
  let u = -1;
  for (let i = 0; i < n; i++) {
    if (i === 0 || rows[i] !== rows[i - 1]) {
      u++;
      unique[u] = rows[i]!;
      i32[sb + u] = i;
    }
    const p = positions[i]!;
    i32[tb + i] = (p / S) | 0;
    mem[cb + i] = coef[p]!;
  }
  i32[sb + distinct] = n;
  const values = cpuBufferPool.alloc('float32', distinct * W, false) as Float32Array;
  const ob = outAddr >> 2;
  for (let u0 = 0; u0 < distinct; u0 += block) {
    const m = Math.min(block, distinct - u0);
    runSplit(
      ctx,
      'expertTableRows',
      [srcAddr, tokAddr, coefAddr, startsAddr + u0 * 4, outAddr, W, 0, m],
      6,
      m,
      (i32[sb + u0 + m]! - i32[sb + u0]!) * W,
    );
    values.set(mem.subarray(ob, ob + m * W), u0 * W);
  }
  return { rows: unique, values };
}
