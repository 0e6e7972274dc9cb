/**
 * The training method of the gpu backend: applyUpdate, an optimizer's UpdateRule on its state tables (dense,
 * or the rows of rowIndex only: update kernels, then a merge of the updated rows into the old tables).
 */
import { cpuBackend, isContiguousLayout, shapeSize, type Storage, type TypedArray, type UpdateRule, type View } from '@myriad/core';
import type { DeviceArray } from '../kernels/program.js';
import { mergeRowsSource, rowSlotsSource, updateSource, type TableOperand } from '../kernels/update.js';
import type { OpRunner } from '../op-runner.js';
import type { CpuFn } from '../runtime.js';
import { cast } from './copies.js';

/** Backend.applyUpdate: the new state tables after one step of `rule`. */
export function applyUpdate(
  run: OpRunner,
  rule: UpdateRule,
  state: readonly View[],
  grad: View,
  rowIndex: View | null,
  scalars: readonly number[],
): Storage[] {
  const p = state[0]!;
  const size = shapeSize(p.shape);
  const rows = p.shape.length === 0 ? 1 : p.shape[0]!;
  const width = rows === 0 ? 0 : size / rows;
  const dtype = p.dtype;
  const k = state.length;
  const cpu: CpuFn = (h) => cpuBackend.applyUpdate(rule, h.slice(0, k), h[k]!, rowIndex ? h[k + 1]! : null, scalars) as TypedArray[];
  if (scalars.length !== rule.scalars.length) {
    const want = `${rule.scalars.length} scalars (${rule.scalars.join(', ')})`;
    throw new RangeError(`applyUpdate: rule '${rule.name}' takes ${want}, got ${scalars.length}`);
  }
  const nRows = rowIndex ? shapeSize(rowIndex.shape) : 0;
  if (size === 0 || (rowIndex && nRows === 0)) return state.map((v) => cast(run, v, v.dtype));
  const table = (v: View): View => (isContiguousLayout(v.shape, v.strides) ? v : run.contiguous(v));
  const tables = state.map(table);
  const g = table(grad);
  const flatRows = !rowIndex || (rowIndex.offset === 0 && isContiguousLayout(rowIndex.shape, rowIndex.strides));
  const ri = flatRows ? rowIndex : run.contiguous(rowIndex);
  const ops: TableOperand[] = tables.map((t) => ({ offset: t.offset, rowStride: width }));
  const gop: TableOperand = { offset: g.offset, rowStride: width };
  const inputs = ri ? [...tables, g, ri] : [...tables, g];
  const outs = state.map((v) => ({ dtype: v.dtype, size }));
  const out = run.op(
    'applyUpdate',
    dtype,
    inputs,
    outs,
    () =>
      function* (args, ctx) {
        const results: DeviceArray[] = [];
        const slots: DeviceArray | null = ri ? yield { src: rowSlotsSource(rows, nRows), args: [args[k + 1]!] } : null;
        for (let t = 0; t < k; t++) {
          const src = updateSource(rule, t, rows, width, ops, gop, ri ? nRows : null);
          const next: DeviceArray = yield { src, args: [...args, ...scalars] };
          if (slots === null) {
            results.push(next);
          } else {
            results.push(yield { src: mergeRowsSource(rows, width, ops[t]!), args: [slots, next, args[t]!] });
            ctx.free(next);
          }
        }
        if (slots !== null) ctx.free(slots);
        return results;
      },
    cpu,
  );
  // Free the contiguous copies made above (never the caller's views).
  tables.forEach((t, k) => t !== state[k] && run.free(t));
  if (g !== grad) run.free(g);
  if (ri && ri !== rowIndex) run.free(ri);
  return out;
}
