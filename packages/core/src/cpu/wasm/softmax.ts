// Drivers for softmax, log-softmax and logsumexp over contiguous rows. The WebAssembly pass finds
// each row's max, exponentiates (a SIMD polynomial exp, within about 2 f32 ulp of Math.exp) and
// sums in f64; Math.log then runs here once per row, so logsumexp matches the JS kernel's formula.
import type { WasmContext } from './context.js';
import type { Round } from './pool.js';
import { Layout } from './runtime.js';

/** Elements per row-block handed to a thread (exp costs about 20 SIMD operations per 4 floats). */
const BLOCK_ELEMENTS = 32768;

// Runs expSumRows over x into scratch; returns [eAddr, statsAddr] or null when out of memory.
function expSum(ctx: WasmContext, x: Float32Array, rows: number, n: number, store: boolean): [number, number] | null {
  const lay = new Layout();
  const xAddr = lay.take(rows * n * 4);
  const statsAddr = lay.take(rows * 16);
  const rt = ctx.rt;
  if (lay.end > 2 ** 31 || !rt.ensure(lay.end)) return null;
  rt.f32.set(x.subarray(0, rows * n), xAddr >> 2);
  // Softmax is written in place over the copy of x.
  const threads = rows > 1 ? ctx.threadsFor(rows * n * 8) : 1;
  const step = Math.max(1, Math.ceil(BLOCK_ELEMENTS / Math.max(1, n)), Math.ceil(rows / (4 * threads)));
  const round: Round = { fn: 'expSumRowsRange', args: [], split: { arg: 5, total: rows, step } };
  for (let t = 0; t < threads; t++) round.args.push([xAddr, n, xAddr, statsAddr, store ? 1 : 0, 0, rows]);
  ctx.run([round], threads);
  return [xAddr, statsAddr];
}

/** Softmax of each row, as softmaxRowsJs; false when the scratch would exceed 2 GiB. */
export function softmaxWasm(ctx: WasmContext, x: Float32Array, rows: number, n: number, out: Float32Array): boolean {
  if (rows === 0 || n === 0) return true;
  const r = expSum(ctx, x, rows, n, true);
  if (!r) return false;
  out.set(ctx.rt.f32.subarray(r[0] >> 2, (r[0] >> 2) + rows * n));
  return true;
}

// Writes m + log(Σe) per row, with the JS kernel's rule for rows whose max is ±inf.
function logsumexpFromStats(stats: Float64Array, rows: number, out: Float32Array | Float64Array): void {
  for (let r = 0; r < rows; r++) {
    const m = stats[2 * r]!;
    out[r] = m === Infinity || m === -Infinity ? m : m + Math.log(stats[2 * r + 1]!);
  }
}

/** log(Σ exp(row)) of each row, as logsumexpRowsJs; false when out of WebAssembly memory. */
export function logsumexpWasm(ctx: WasmContext, x: Float32Array, rows: number, n: number, out: Float32Array): boolean {
  if (rows === 0) return true;
  if (n === 0) {
    out.fill(-Infinity, 0, rows);
    return true;
  }
  const r = expSum(ctx, x, rows, n, false);
  if (!r) return false;
  logsumexpFromStats(new Float64Array(ctx.rt.memory.buffer, r[1], rows * 2), rows, out);
  return true;
}

/** log-softmax of each row (x - logsumexp), as logSoftmaxRowsJs; false when out of memory. */
export function logSoftmaxWasm(ctx: WasmContext, x: Float32Array, rows: number, n: number, out: Float32Array): boolean {
  if (rows === 0 || n === 0) return true;
  const r = expSum(ctx, x, rows, n, false);
  if (!r) return false;
  const lse = new Float64Array(rows);
  logsumexpFromStats(new Float64Array(ctx.rt.memory.buffer, r[1], rows * 2), rows, lse);
  // One subtraction per element in f64, exactly as the JS kernel rounds it.
  for (let row = 0; row < rows; row++) {
    const o = row * n;
    const l = lse[row]!;
    for (let i = 0; i < n; i++) out[o + i] = x[o + i]! - l;
  }
  return true;
}
