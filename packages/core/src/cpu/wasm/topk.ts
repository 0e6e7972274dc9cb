// The top-k driver: copies rows into WebAssembly memory, runs topkRows (split over threads by rows
// for large inputs; each row is independent, so the split never changes a result) and copies the
// values and indices out.
import type { WasmContext } from './context.js';
import type { Round } from './pool.js';
import { Layout } from './runtime.js';

/**
 * Top-k of each contiguous row of x ([rows, n]), as topkRowsJs: values descending, ties to the
 * lower index, NaN first. Returns false, having done nothing, when the scratch would exceed 2 GiB.
 */
export function topkWasm(
  ctx: WasmContext,
  x: Float32Array,
  rows: number,
  n: number,
  k: number,
  values: Float32Array,
  indices: Int32Array,
): boolean {
  if (rows === 0 || k === 0) return true;
  const lay = new Layout();
  const xAddr = lay.take(rows * n * 4);
  const vAddr = lay.take(rows * k * 4);
  const iAddr = lay.take(rows * k * 4);
  const rt = ctx.rt;
  if (lay.end > 2 ** 31 || !rt.ensure(lay.end)) return false;
  rt.f32.set(x.subarray(0, rows * n), xAddr >> 2);
  // A scan costs about n operations per row; rows go in blocks of at least 64 Ki elements.
  const threads = rows > 1 ? ctx.threadsFor(rows * n * 2) : 1;
  if (threads === 1) {
    rt.exports.topkRows(xAddr, rows, n, k, vAddr, iAddr);
  } else {
    const step = Math.max(1, Math.ceil(65536 / n), Math.ceil(rows / (4 * threads)));
    const round: Round = { fn: 'topkRowsRange', args: [], split: { arg: 5, total: rows, step } };
    for (let t = 0; t < threads; t++) round.args.push([xAddr, n, k, vAddr, iAddr, 0, rows]);
    ctx.run([round], threads);
  }
  values.set(rt.f32.subarray(vAddr >> 2, (vAddr >> 2) + rows * k));
  indices.set(rt.i32.subarray(iAddr >> 2, (iAddr >> 2) + rows * k));
  return true;
}
