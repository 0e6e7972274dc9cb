/**
 * The reductions and matmul of the gpu backend: reduce over one axis, matmul (blocked four outputs a thread
 * where it can), the row ops (log-sum-exp kernel, then a map) and cumsum (a scan over rows).
 */
import { cpuBackend, shapeSize, type ReduceOp, type RowOp, type Storage, type TypedArray, type View } from '@myriad/core';
import { mapSource } from '../kernels/elementwise.js';
import { matmulBlockedSource, matmulSource } from '../kernels/matmul.js';
import type { DeviceArray } from '../kernels/program.js';
import { logsumexpSource, reduceSource } from '../kernels/reduce.js';
import { scanRows } from '../kernels/scan.js';
import type { KernelSource, Operand } from '../kernels/source.js';
import type { OpRunner } from '../op-runner.js';
import { operand } from '../views.js';
import type { OutSpec } from '../runtime.js';
import { cast } from './copies.js';

/** Backend.reduce over one axis (an empty axis runs on the CPU). */
export function reduce(run: OpRunner, op: ReduceOp, x: View, axis: number): Storage {
  const outShape = x.shape.filter((_, d) => d !== axis);
  const out: OutSpec = { dtype: op === 'argmax' ? 'int32' : x.dtype, size: shapeSize(outShape) };
  const len = x.shape[axis]!;
  const cpu = ([h]: View[]): TypedArray => cpuBackend.reduce(op, h!, axis) as TypedArray;
  if (len === 0) return run.rt.onCpu(op, 'an empty axis', [x], [out], (h) => [cpu(h)])[0]!;
  const strides = x.strides.filter((_, d) => d !== axis);
  const src = (): KernelSource => reduceSource(op, outShape, { strides, offset: x.offset }, len, x.strides[axis]!);
  return run.one(`reduce.${op}`, x.dtype, [x], out, src, cpu);
}

/** Backend.matmul: [..., M, K] @ [..., K, N]; `blocked` computes four outputs a thread where N is a multiple of 4. */
export function matmul(run: OpRunner, a: View, b: View, blocked: boolean): Storage {
  const nd = a.shape.length;
  const M = a.shape[nd - 2]!,
    K = a.shape[nd - 1]!,
    N = b.shape[nd - 1]!;
  const batch = a.shape.slice(0, nd - 2);
  const size = shapeSize(batch) * M * N;
  if (K === 0) return run.full(a.dtype, size, 0);
  const rows = (x: View): Operand & { rowStride: number; colStride: number } => ({
    strides: x.strides.slice(0, nd - 2),
    offset: x.offset,
    rowStride: x.strides[nd - 2]!,
    colStride: x.strides[nd - 1]!,
  });
  // Four outputs per thread where rows split into fours (the output keeps the plain layout).
  const build = N % 4 === 0 && blocked ? matmulBlockedSource : matmulSource;
  return run.one(
    'matmul',
    a.dtype,
    [a, b],
    { dtype: a.dtype, size },
    () => build(batch, M, N, K, rows(a), rows(b)),
    ([ha, hb]) => cpuBackend.matmul(ha!, hb!) as TypedArray,
  );
}

/** Backend.rowOp over the last axis. */
export function rowOp(run: OpRunner, op: RowOp, x: View): Storage {
  const nd = x.shape.length;
  const n = x.shape[nd - 1]!;
  const rowShape = x.shape.slice(0, nd - 1);
  const rows = shapeSize(rowShape);
  const size = op === 'logsumexp' ? rows : rows * n;
  const cpu = ([h]: View[]): TypedArray => cpuBackend.rowOp(op, h!) as TypedArray;
  if (n === 0) return run.rt.onCpu(op, 'an empty axis', [x], [{ dtype: x.dtype, size }], (h) => [cpu(h)])[0]!;
  // Two kernels: per-row log-sum-exp, then an elementwise map reading it with stride 0 along the row.
  const rowsOf = { strides: x.strides.slice(0, nd - 1), offset: x.offset };
  const lseSrc = (): KernelSource => logsumexpSource(rowShape, rowsOf, n, x.strides[nd - 1]!);
  const lseStrides = [...rowShape.map((_, d) => shapeSize(rowShape.slice(d + 1))), 0];
  const body = op === 'softmax' ? 'const r = Math.exp(v0 - v1);' : 'const r = v0 - v1;';
  return run.op(
    'rowOp',
    x.dtype,
    [x],
    [{ dtype: x.dtype, size }],
    () =>
      function* ([xa], ctx) {
        const lse: DeviceArray = yield { src: lseSrc(), args: [xa!] };
        if (op === 'logsumexp') return [lse];
        const map = mapSource(op, body, x.shape, [operand(x), { strides: lseStrides, offset: 0 }]);
        const out: DeviceArray = yield { src: map, args: [xa!, lse] };
        ctx.free(lse);
        return [out];
      },
    (h) => [cpu(h)],
  )[0]!;
}

/** Backend.cumsum along the last axis. */
export function cumsum(run: OpRunner, x: View): Storage {
  const size = shapeSize(x.shape);
  const n = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1]!;
  if (n <= 1 || size === 0) return cast(run, x, x.dtype);
  const rowShape = x.shape.slice(0, -1);
  return run.op(
    'cumsum',
    x.dtype,
    [x],
    [{ dtype: x.dtype, size }],
    () =>
      function* ([xa], ctx) {
        return [yield* scanRows(rowShape, n, operand(x), xa!, ctx)];
      },
    ([h]) => [cpuBackend.cumsum(h!) as TypedArray],
  )[0]!;
}
