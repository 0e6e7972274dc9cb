// Drivers of the fused expert mix in WebAssembly SIMD (float32; the plain loops are in cpu/expert-mix.ts).
// The tables stay in their JS arrays: for a block of tokens the chosen rows of one table are copied into
// a small staging buffer in WebAssembly memory (about 2 MiB, so it is still in cache when the kernel
// reads it), the f32x4 dots or weighted row sums run over it, split over threads by token, and the next
// block reuses the buffer; nothing of size [T, S, D] is ever allocated. A table with no more rows than
// the call has slots (N ≤ T·S, e.g. the demo's 4096 experts against 65 536 slots) is cheaper to copy
// whole, in one sequential pass, than row by row: then the kernels' ...At variants read its rows in
// place. The activation runs here in JS on the [T, S] pre-activations between the two passes, with the
// same σ and σ' as the plain loops. Table gradients are written per distinct row (grouped by
// sortSlotsByRow), split over threads by row, in blocks copied out as they finish. Every output element
// is one thread's sum in a fixed order, so the results are the same bits whatever the thread count.
import { activationPair, checkRowIndices, type ExpertActivation } from '../expert-mix.js';
import { cpuBufferPool } from '../buffer-pool.js';
import { copyRows } from '../rows.js';
import type { WasmContext } from './context.js';
import type { Round } from './pool.js';
import { Layout } from './runtime.js';

/** Bytes of chosen rows staged per pass (one table's rows for a block of tokens). */
const STAGE_BYTES = 1 << 21;
/** Bytes of table-gradient rows computed per job before they are copied out. */
const TABLE_BLOCK_BYTES = 1 << 22;
export const MAX_BYTES = 2 ** 31;

type RowFn = 'expertRowDots' | 'expertRowMix' | 'expertRowDotsAt' | 'expertRowMixAt' | 'expertTableRows';

/**
 * Runs `fn` over [0, total) of its split argument `arg`, about four blocks a thread; `work` (multiply-adds
 * of this job) decides the threads as for every kernel, so small staged blocks stay on this thread.
 */
function runSplit(ctx: WasmContext, fn: RowFn, args: number[], arg: number, total: number, work: number): void {
  const used = total > 1 ? ctx.threadsFor(work) : 1;
  const round: Round = { fn, args: [], split: { arg, total, step: Math.max(1, Math.ceil(total / (4 * used))) } };
  for (let t = 0; t < used; t++) round.args.push(args.slice());
  ctx.run([round], used);
}

/** Copies table rows idx[p0..p1) (width W) one after another into WebAssembly memory at byte `at`. */
function stageRows(mem: Float32Array, at: number, table: Float32Array, W: number, idx: Int32Array, p0: number, p1: number): void {
  copyRows(table, W, idx, p0, p1, mem, at >> 2);
}

/** Tokens per staged block: at least one, at most T. */
function tokensPerBlock(T: number, S: number, W: number): number {
  return Math.max(1, Math.min(T, Math.floor(STAGE_BYTES / Math.max(1, S * W * 4))));
}

/** Largest total of whole tables copied into WebAssembly memory for one call; beyond it rows are staged. */
const WHOLE_MAX_BYTES = 1 << 28;

/** For tests: false makes every call stage its rows block by block (the results are the same bits). */
export const wholeTables = { enabled: true };

/**
 * Where one call's passes read the chosen rows of its tables: the whole tables copied into WebAssembly
 * memory (`at` their addresses, `idx` the slots' indices there), or staged per block of `block` tokens.
 */
interface RowSource {
  whole: boolean;
  block: number;
  stage: number;
  idx: number;
  at: Map<Float32Array, number>;
}

/**
 * Reserves what `tables` (with widths `widths`) need for T tokens of S slots: whole when every table has
 * at most T·S rows (its copy costs no more than staging its rows, and is sequential) and together they
 * take at most 256 MiB, else a stage.
 */
export function planRows(lay: Layout, tables: readonly Float32Array[], widths: readonly number[], T: number, S: number): RowSource {
  const W = Math.max(...widths);
  const distinct = [...new Set(tables)]; // expertMix may pass one table as both down and up
  const wholeBytes = 4 * distinct.reduce((n, t) => n + t.length, 0);
  const whole = wholeTables.enabled && wholeBytes <= WHOLE_MAX_BYTES && tables.every((t, i) => t.length / widths[i]! <= T * S);
  if (!whole) {
    const block = tokensPerBlock(T, S, W);
    return { whole, block, stage: lay.take(block * S * W * 4), idx: -1, at: new Map() };
  }
  const at = new Map(distinct.map((t) => [t, lay.take(t.length * 4)]));
  return { whole, block: T, stage: -1, idx: lay.take(T * S * 4), at };
}

/** Copies what `src` reads from up front (the whole tables and the indices; nothing when staging). */
export function loadRows(mem: Float32Array, i32: Int32Array, src: RowSource, idx: Int32Array): void {
  if (!src.whole) return;
  for (const [t, addr] of src.at) mem.set(t, addr >> 2);
  i32.set(idx, src.idx >> 2);
}

/**
 * One pass over tokens [t0, t0 + n): `dots` → out[t·S+s] = row(t,s)·vec[t]; `mix` → out[t] = Σₛ
 * vec[t·S+s]·row(t,s), rows of `table` (width W) chosen by idx; vec and out addresses already at t0.
 */
export function rowPass(
  ctx: WasmContext,
  src: RowSource,
  kind: 'dots' | 'mix',
  table: Float32Array,
  W: number,
  idx: Int32Array,
  S: number,
  t0: number,
  n: number,
  vec: number,
  out: number,
): void {
  if (src.whole) {
    const fn = kind === 'dots' ? 'expertRowDotsAt' : 'expertRowMixAt';
    runSplit(ctx, fn, [src.at.get(table)!, src.idx + t0 * S * 4, vec, out, S, W, 0, n], 6, n, n * S * W);
    return;
  }
  stageRows(ctx.rt.f32, src.stage, table, W, idx, t0 * S, (t0 + n) * S);
  runSplit(ctx, kind === 'dots' ? 'expertRowDots' : 'expertRowMix', [src.stage, vec, out, S, W, 0, n], 5, n, n * S * W);
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
  const lay = new Layout();
  const xAddr = lay.take(T * D * 4);
  const zAddr = lay.take(T * S * 4);
  const aAddr = lay.take(T * S * 4);
  const yAddr = lay.take(T * Do * 4);
  const src = planRows(lay, [down, up], [D, Do], T, S);
  const rt = ctx.rt;
  if (lay.end > MAX_BYTES || !rt.ensure(lay.end)) return false;
  const mem = rt.f32;
  mem.set(x.subarray(0, T * D), xAddr >> 2);
  loadRows(mem, rt.i32, src, idx);
  const { f } = activationPair(act, true);
  const zb = zAddr >> 2;
  const ab = aAddr >> 2;
  for (let t0 = 0; t0 < T; t0 += src.block) {
    const n = Math.min(src.block, T - t0);
    const p0 = t0 * S;
    const p1 = p0 + n * S;
    rowPass(ctx, src, 'dots', down, D, idx, S, t0, n, xAddr + t0 * D * 4, zAddr + p0 * 4);
    for (let p = p0; p < p1; p++) {
      const zp = mem[zb + p]!;
      z[p] = zp;
      mem[ab + p] = gates[p]! * f(zp);
    }
    rowPass(ctx, src, 'mix', up, Do, idx, S, t0, n, aAddr + p0 * 4, yAddr + t0 * Do * 4);
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
  const lay = new Layout();
  const dyAddr = lay.take(T * Do * 4);
  const aAddr = lay.take(T * S * 4);
  const dzAddr = lay.take(T * S * 4);
  const dxAddr = lay.take(T * D * 4);
  const src = planRows(lay, [down, up], [D, Do], T, S);
  const rt = ctx.rt;
  if (lay.end > MAX_BYTES || !rt.ensure(lay.end)) return false;
  const mem = rt.f32;
  mem.set(dy.subarray(0, T * Do), dyAddr >> 2);
  loadRows(mem, rt.i32, src, idx);
  const { f, df } = activationPair(act, true);
  const ab = aAddr >> 2;
  const dzb = dzAddr >> 2;
  for (let t0 = 0; t0 < T; t0 += src.block) {
    const n = Math.min(src.block, T - t0);
    const p0 = t0 * S;
    const p1 = p0 + n * S;
    rowPass(ctx, src, 'dots', up, Do, idx, S, t0, n, dyAddr + t0 * Do * 4, aAddr + p0 * 4);
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
    rowPass(ctx, src, 'mix', down, D, idx, S, t0, n, dzAddr + p0 * 4, dxAddr + t0 * D * 4);
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
