/**
 * The indexing methods of the gpu backend: topk, gather and scatterAdd (any dim, any index shape).
 */
import { contiguousStrides, cpuBackend, isContiguousLayout, shapeSize, type Storage, type TypedArray, type View } from '@myriad/core';
import { fallbackReason } from '../fallbacks.js';
import { gatherSource } from '../kernels/gather.js';
import { noProgram, type ProgramFn } from '../kernels/program.js';
import { scatterAlongSource, scatterFlatProgram, scatterKeysSource } from '../kernels/scatter.js';
import { sortedLength } from '../kernels/sort.js';
import type { KernelSource } from '../kernels/source.js';
import { topkProgram } from '../kernels/topk.js';
import type { OpRunner } from '../op-runner.js';
import { operand, viewOf } from '../views.js';
import type { CpuFn, OutSpec } from '../runtime.js';
import { cast } from './copies.js';

/** Up to this many index entries per output line, scatterAdd loops over them directly instead of sorting. */
const SCATTER_ALONG_MAX = 64;

/** scatterAdd's flat targets on the host (what scatterKeysSource computes), for its CPU fallback. */
function scatterKeys(xShape: readonly number[], dim: number, index: View): TypedArray {
  const idx = cpuBackend.readSync(index);
  const xs = contiguousStrides(xShape);
  const is = contiguousStrides(index.shape);
  const keys = new Float32Array(idx.length);
  for (let e = 0; e < idx.length; e++) {
    let key = 0;
    for (let d = 0; d < is.length; d++) key += (d === dim ? idx[e]! : Math.floor(e / is[d]!) % index.shape[d]!) * xs[d]!;
    keys[e] = idx[e]! < 0 ? -1 : key;
  }
  return keys;
}

/** Backend.topk along the last axis: values and int32 indices, best first. */
export function topk(run: OpRunner, x: View, k: number): { values: Storage; indices: Storage } {
  const nd = x.shape.length;
  const n = x.shape[nd - 1]!;
  const rowShape = x.shape.slice(0, nd - 1);
  const rows = shapeSize(rowShape);
  const cpu: CpuFn = ([h]) => {
    const r = cpuBackend.topk(h!, k);
    return [r.values as TypedArray, r.indices as TypedArray];
  };
  // Rows must not alias (stride 0): each row's sort is laid out as its own block.
  const aliased = x.strides.slice(0, nd - 1).some((s, d) => s === 0 && x.shape[d]! > 1);
  const xv = aliased && rows * k > 0 ? run.contiguous(x) : x;
  const [values, indices] = run.op(
    'topk',
    x.dtype,
    [xv],
    [
      { dtype: x.dtype, size: rows * k },
      { dtype: 'int32', size: rows * k },
    ],
    () => topkProgram(rowShape, n, k, { strides: xv.strides.slice(0, nd - 1), offset: xv.offset }, xv.strides[nd - 1]!),
    cpu,
    [rows * sortedLength(n)], // the bitonic network sorts rows padded to a power of two
  );
  if (xv !== x) run.free(xv);
  return { values: values!, indices: indices! };
}

/** Backend.gather along `dim`. */
export function gather(run: OpRunner, x: View, dim: number, index: View): Storage {
  const size = shapeSize(index.shape);
  if (!run.async) run.checkIndices('gather', index, x.shape[dim]!, dim);
  const xs = x.strides.map((s, d) => (d === dim ? 0 : s));
  const src = (): KernelSource => gatherSource(index.shape, { strides: xs, offset: x.offset }, operand(index), x.strides[dim]!);
  const cpu = ([hx, hi]: View[]): TypedArray => cpuBackend.gather(hx!, dim, hi!) as TypedArray;
  return run.one('gather', x.dtype, [x, index], { dtype: x.dtype, size }, src, cpu);
}

/** Backend.scatterAdd: x plus src added at index along `dim`: a direct loop for few entries a line, else keys and a segmented sum. */
export function scatterAdd(run: OpRunner, x: View, dim: number, index: View, src: View): Storage {
  const size = shapeSize(x.shape);
  const n = shapeSize(index.shape);
  const cpu: CpuFn = ([hx, hi, hs]) => [cpuBackend.scatterAdd(hx!, dim, hi!, hs!) as TypedArray];
  if (n === 0 || size === 0) return cast(run, x, x.dtype);
  const out: OutSpec = { dtype: x.dtype, size };
  const k = index.shape[dim]!;
  const direct = k <= SCATTER_ALONG_MAX && index.shape.every((d, e) => e === dim || d === x.shape[e]);
  // The sort path sorts the n keys padded to a power of two; the direct loop sorts nothing.
  if (fallbackReason('scatterAdd', x.dtype, [size, direct ? n : sortedLength(n)])) {
    return run.op('scatterAdd', x.dtype, [x, index, src], [out], () => noProgram, cpu)[0]!;
  }
  if (!run.async) run.checkIndices('scatterAdd', index, x.shape[dim]!, dim);
  if (direct) {
    // Few entries per output line (top-k / gather backwards): a direct loop beats a sort.
    const lineStrides = (v: View): number[] => v.strides.map((s, e) => (e === dim ? 0 : s));
    const src0 = (): KernelSource =>
      scatterAlongSource(
        x.shape,
        dim,
        k,
        operand(x),
        { strides: lineStrides(index), offset: index.offset, dimStride: index.strides[dim]! },
        { strides: lineStrides(src), offset: src.offset, dimStride: src.strides[dim]! },
      );
    return run.one('scatterAdd', x.dtype, [x, index, src], out, src0, (h) => cpu(h)[0]!);
  }
  // Each source element's flat target in x's contiguous layout (−1: skipped), then a segmented sum.
  // The CPU versions below run only if a kernel fails: keys as the CPU would number them, then the op.
  const keySrc = (): KernelSource => scatterKeysSource(x.shape, dim, index.shape, operand(index));
  const keyOut: OutSpec = { dtype: 'float32', size: n };
  const keyStorage = run.one('scatterAdd', 'float32', [index], keyOut, keySrc, ([hi]) => scatterKeys(x.shape, dim, hi!));
  const keys = viewOf(keyStorage, [n], 'float32');
  const flatSrc = isContiguousLayout(src.shape, src.strides) && src.offset === 0 ? src : run.contiguous(src);
  const program = (): ProgramFn => scatterFlatProgram(x.shape, x.strides, x.offset, n);
  const result = run.op('scatterAdd', x.dtype, [x, keys, flatSrc], [out], program, ([hx, hk, hs]) => {
    const acc = cpuBackend.readSync(hx!) as TypedArray;
    const k = cpuBackend.readSync(hk!);
    const v = cpuBackend.readSync(hs!);
    for (let p = 0; p < n; p++) if (k[p]! >= 0) acc[k[p]!] = acc[k[p]!]! + v[p]!;
    return [acc];
  })[0]!;
  run.free(keys);
  if (flatSrc !== src) run.free(flatSrc);
  return result;
}
