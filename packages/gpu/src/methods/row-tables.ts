/**
 * The row-table methods of the gpu backend, the row-sparse (embedding) path: gatherRows, scatterAddRows and
 * uniqueRows, which move whole rows of a [rows, width] table by one index a row, and embeddingBag and
 * rowDots, which read the rows an index picks in place (PEER's experts, PKM's values).
 */
import { coalesceDims, cpuBackend, isContiguousLayout, shapeSize, type Storage, type TypedArray, type View } from '@myriad/core';
import { gatherSource } from '../kernels/gather.js';
import { embeddingBagSource, rowDotsSource, type MatrixOperand } from '../kernels/row-reads.js';
import { noProgram, type ProgramFn } from '../kernels/program.js';
import { scatterRowsProgram, uniqueRowsProgram, type IndexOperand, type RowsOperand } from '../kernels/scatter.js';
import { sortedLength } from '../kernels/sort.js';
import type { OpRunner } from '../op-runner.js';
import type { CpuFn, OutSpec } from '../runtime.js';

/** Folds the dims after the first into one (row stride, column stride), or null when they do not fold. */
function asRows(x: View): RowsOperand | null {
  const { shape, strides } = coalesceDims(x.shape.slice(1), [x.strides.slice(1)]);
  if (shape.length > 1) return null;
  const rowStride = x.shape.length === 0 ? 0 : (x.strides[0] ?? 0);
  return { offset: x.offset, rowStride, colStride: shape.length === 0 ? 1 : strides[0]![0]! };
}

/** n indices as a flat operand (a contiguous copy where the view is strided). */
function flatIndex(run: OpRunner, indices: View): { view: View; op: IndexOperand } {
  if (indices.shape.length <= 1) {
    return { view: indices, op: { offset: indices.offset, step: indices.shape.length === 0 ? 1 : indices.strides[0]! } };
  }
  if (isContiguousLayout(indices.shape, indices.strides)) return { view: indices, op: { offset: indices.offset, step: 1 } };
  const c = run.contiguous(indices);
  return { view: c, op: { offset: 0, step: 1 } };
}

/** src as [n, width] rows (a contiguous copy where its trailing dims do not fold). */
function rowsOf(run: OpRunner, src: View): { view: View; op: RowsOperand } {
  const r = asRows(src);
  if (r) return { view: src, op: r };
  const c = run.contiguous(src);
  return { view: c, op: asRows(c)! };
}

/** Backend.gatherRows: rows of table at indices. */
export function gatherRows(run: OpRunner, table: View, indices: View): Storage {
  const width = shapeSize(table.shape.slice(1));
  const n = shapeSize(indices.shape);
  if (!run.async) run.checkIndices('indexSelect', indices, table.shape[0]!, 0);
  const idx = isContiguousLayout(indices.shape, indices.strides) || n === 0 ? indices : run.contiguous(indices);
  const outShape = [n, ...table.shape.slice(1)];
  const ts = [0, ...table.strides.slice(1)];
  const is = [1, ...table.shape.slice(1).map(() => 0)];
  const out = run.one(
    'gatherRows',
    table.dtype,
    [table, idx],
    { dtype: table.dtype, size: n * width },
    () => gatherSource(outShape, { strides: ts, offset: table.offset }, { strides: is, offset: idx.offset }, table.strides[0]!),
    ([ht, hi]) => cpuBackend.gatherRows(ht!, hi!) as TypedArray,
  );
  if (idx !== indices) run.free(idx);
  return out;
}

/** Backend.scatterAddRows: a [rows, width] table of src rows summed at their indices (−1 skipped). */
export function scatterAddRows(run: OpRunner, rows: number, indices: View, src: View): Storage {
  const width = shapeSize(src.shape.slice(1));
  const n = shapeSize(indices.shape);
  if (n === 0 || width === 0 || rows === 0) return run.full(src.dtype, rows * width, 0);
  if (!run.async) run.checkIndices('scatterAddRows', indices, rows, 0, true);
  const idx = flatIndex(run, indices);
  const s = rowsOf(run, src);
  const program = (): ProgramFn => scatterRowsProgram(rows, width, n, idx.op, s.op);
  const cpu: CpuFn = ([hi, hs]) => [cpuBackend.scatterAddRows(rows, hi!, hs!) as TypedArray];
  const outs = [{ dtype: src.dtype, size: rows * width }];
  const out = run.op('scatterAddRows', src.dtype, [idx.view, s.view], outs, program, cpu, [sortedLength(n)])[0]!;
  if (idx.view !== indices) run.free(idx.view);
  if (s.view !== src) run.free(s.view);
  return out;
}

/** Backend.uniqueRows: the distinct indices, ascending, each with the sum of its src rows. */
export function uniqueRows(run: OpRunner, indices: View, src: View): { indices: Storage; values: Storage } {
  const n = shapeSize(indices.shape);
  const width = shapeSize(src.shape.slice(1));
  const outs: OutSpec[] = [
    { dtype: 'int32', size: n },
    { dtype: src.dtype, size: n * width },
  ];
  const cpu: CpuFn = ([hi, hs]) => {
    const r = cpuBackend.uniqueRows(hi!, hs!);
    return [r.indices as TypedArray, r.values as TypedArray];
  };
  if (n === 0) {
    const [i, v] = run.rt.exec('uniqueRows', null, [], outs, noProgram, cpu);
    return { indices: i!, values: v! };
  }
  if (width === 0) {
    const [i, v] = run.rt.onCpu('uniqueRows', 'zero-width rows', [indices, src], outs, cpu);
    return { indices: i!, values: v! };
  }
  const idx = flatIndex(run, indices);
  const s = rowsOf(run, src);
  const program = (): ProgramFn => uniqueRowsProgram(width, n, idx.op, s.op);
  const [i, v] = run.op('uniqueRows', src.dtype, [idx.view, s.view], outs, program, cpu, [sortedLength(n)]);
  if (idx.view !== indices) run.free(idx.view);
  if (s.view !== src) run.free(s.view);
  return { indices: i!, values: v! };
}

/** A 2-D view as a matrix operand (strides as they are: the kernels read any layout). */
function matrix(v: View): MatrixOperand {
  return { offset: v.offset, rowStride: v.strides[0]!, colStride: v.strides[1]! };
}

/** Backend.embeddingBag: out[t] = Σₛ weights[t,s] · table[indices[t,s]], one thread per output element. */
export function embeddingBag(run: OpRunner, table: View, indices: View, weights: View): Storage {
  const [T, S] = indices.shape as [number, number];
  const width = shapeSize(table.shape.slice(1));
  if (T * S * width === 0) return run.full(table.dtype, T * width, 0);
  if (!run.async) run.checkIndices('embeddingBag', indices, table.shape[0]!, 0);
  const tb = rowsOf(run, table);
  const out = run.one(
    'embeddingBag',
    table.dtype,
    [tb.view, indices, weights],
    { dtype: table.dtype, size: T * width },
    () => embeddingBagSource(T, S, width, tb.op, matrix(indices), matrix(weights)),
    ([ht, hi, hw]) => cpuBackend.embeddingBag(ht!, hi!, hw!) as TypedArray,
  );
  if (tb.view !== table) run.free(tb.view);
  return out;
}

/** Backend.rowDots: out[t,s] = table[indices[t,s]] · x[t], one thread per slot. */
export function rowDots(run: OpRunner, table: View, indices: View, x: View): Storage {
  const [T, S] = indices.shape as [number, number];
  const width = shapeSize(table.shape.slice(1));
  if (T * S === 0 || width === 0) return run.full(table.dtype, T * S, 0);
  if (!run.async) run.checkIndices('rowDots', indices, table.shape[0]!, 0);
  const tb = rowsOf(run, table);
  const out = run.one(
    'rowDots',
    table.dtype,
    [tb.view, indices, x],
    { dtype: table.dtype, size: T * S },
    () => rowDotsSource(T, S, width, tb.op, matrix(indices), matrix(x)),
    ([ht, hi, hx]) => cpuBackend.rowDots(ht!, hi!, hx!) as TypedArray,
  );
  if (tb.view !== table) run.free(tb.view);
  return out;
}
