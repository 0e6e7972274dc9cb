import type { Backend, BinaryOp, ReduceOp, RowOp, Storage, UnaryOp, View } from '../backend.js';
import { registerDefaultBackend } from '../backend.js';
import { allocTyped, type DType, type TypedArray } from '../dtype.js';
import { cpuBufferPool, nextTask } from './buffer-pool.js';
import { contiguousStrides, isContiguousLayout, shapeSize } from '../shape.js';
import { binaryLoops, copyLoop, unaryLoops, unaryLoopsF32 } from './elementwise.js';
import { genericKernels, kernels } from './kernels.js';
import { embeddingBagForward, embeddingBagWeightGrad } from './embedding-bag.js';
import { checkRowIndices } from './expert-mix.js';
import { dropAxis, forEachRow } from './strided.js';
import { uniqueRowsOf } from './unique-rows.js';
import { compileUpdateRule } from '../update-rule.js';

/** CPU storage is the typed array itself. */
function arr(s: Storage): TypedArray {
  return s as TypedArray;
}

function isContiguous(x: View): boolean {
  return isContiguousLayout(x.shape, x.strides);
}

/**
 * The length L for which the view's element i (row-major over its shape) is storage[offset + i % L]:
 * a contiguous run of trailing dims under broadcast (stride-0) leading dims. 1 for a broadcast
 * scalar, the size for a contiguous view; 0 when the view is not of that form.
 */
function repeatLength(x: View): number {
  const { shape, strides } = x;
  let length = 1;
  let d = shape.length - 1;
  for (; d >= 0; d--) {
    if (shape[d] === 1) continue;
    if (strides[d] !== length) break;
    length *= shape[d]!;
  }
  for (; d >= 0; d--) if (shape[d] !== 1 && strides[d] !== 0) return 0;
  return length;
}

/** The view's elements as a contiguous typed array (the storage itself when already contiguous from 0), for use within one call. */
function contiguousData(x: View): TypedArray {
  const data = arr(x.storage);
  const size = shapeSize(x.shape);
  if (isContiguous(x)) return x.offset === 0 && data.length === size ? data : data.subarray(x.offset, x.offset + size);
  return copyView(x, x.dtype);
}

/** A contiguous copy of the view's elements as `dtype`: a pooled storage unless `pooled` is false (for callers that keep it). */
function copyView(x: View, dtype: DType, pooled = true): TypedArray {
  const size = shapeSize(x.shape);
  const src = arr(x.storage);
  const out = pooled ? alloc(dtype, size, false) : allocTyped(dtype, size);
  // Contiguous views copy as one block (a memcpy when the dtype is unchanged).
  if (isContiguous(x)) {
    out.set(src.subarray(x.offset, x.offset + size));
    return out;
  }
  forEachRow(x.shape, [x.strides, contiguousStrides(x.shape)], [x.offset, 0], (o, n, s) =>
    copyLoop(src, o[0]!, s[0]!, out, o[1]!, s[1]!, n),
  );
  return out;
}

/** A storage of `size` elements, zeroed unless `zeroed` is false (then the caller writes every element). */
function alloc(dtype: DType, size: number, zeroed = true): TypedArray {
  return cpuBufferPool.alloc(dtype, size, zeroed);
}

/** The [T, S] row indices of embeddingBag / rowDots, checked against the table's rows, and the table's row width. */
function rowReads(op: string, table: View, indices: View): { T: number; S: number; width: number; idx: Int32Array } {
  const idx = contiguousData(indices) as Int32Array;
  checkRowIndices(op, idx, table.shape[0]!);
  return { T: indices.shape[0]!, S: indices.shape[1]!, width: shapeSize(table.shape.slice(1)), idx };
}

function checkIndex(op: string, i: number, size: number, dim: number): void {
  if (i < 0 || i >= size || !Number.isInteger(i)) {
    throw new RangeError(`${op}: index ${i} out of range for dim ${dim} of size ${size}`);
  }
}

/** The reference backend: TypeScript loops on typed arrays, hot loops behind the `kernels` seam. */
export const cpuBackend: Backend = {
  name: 'cpu',

  fromTypedArray: (data) => data,
  full: (dtype, size, value) => {
    const out = alloc(dtype, size);
    if (value !== 0) out.fill(value);
    return out;
  },
  // A copy the caller owns, never a pooled buffer: users may keep a subarray of it and drop the rest.
  readSync: (x) => copyView(x, x.dtype, false),
  // Resolves in a later task, as a device's read does: a loop that awaits its loss each step lets
  // finalizers run, which return the step's buffers to the pool.
  read: async (x) => {
    const out = cpuBackend.readSync(x);
    await nextTask();
    return out;
  },
  hostData: (s) => arr(s),
  dispose: () => {},

  cast: (x, dtype) => copyView(x, dtype),

  copyInto(dst, src) {
    const d = arr(dst.storage);
    const s = arr(src.storage);
    if (isContiguous(dst) && isContiguous(src)) {
      const n = shapeSize(dst.shape);
      d.set(s.subarray(src.offset, src.offset + n), dst.offset);
      return;
    }
    forEachRow(dst.shape, [src.strides, dst.strides], [src.offset, dst.offset], (o, n, st) =>
      copyLoop(s, o[0]!, st[0]!, d, o[1]!, st[1]!, n),
    );
  },

  unary(op: UnaryOp, x) {
    const n = shapeSize(x.shape);
    const out = alloc(x.dtype, n, false);
    const src = arr(x.storage);
    if (x.dtype === 'float32' && isContiguous(x)) {
      kernels.unaryF32(op, src as Float32Array, x.offset, out as Float32Array, 0, n);
      return out;
    }
    const loop = (x.dtype === 'float64' ? unaryLoops : unaryLoopsF32)[op];
    forEachRow(x.shape, [x.strides, contiguousStrides(x.shape)], [x.offset, 0], (o, n, s) => loop(src, o[0]!, s[0]!, out, o[1]!, s[1]!, n));
    return out;
  },

  binary(op: BinaryOp, a, b) {
    const n = shapeSize(a.shape);
    const out = alloc(a.dtype, n, false);
    const da = arr(a.storage);
    const db = arr(b.storage);
    if (a.dtype === 'float32' && b.dtype === 'float32' && n > 0) {
      // Contiguous, scalar or repeated-row operands (same-shape ops, bias adds, scaling) in one run.
      const la = repeatLength(a);
      const lb = la > 0 ? repeatLength(b) : 0;
      if (lb > 0) {
        kernels.binaryF32(op, da as Float32Array, a.offset, la, db as Float32Array, b.offset, lb, out as Float32Array, 0, n);
        return out;
      }
    }
    const loop = binaryLoops[op];
    forEachRow(a.shape, [a.strides, b.strides, contiguousStrides(a.shape)], [a.offset, b.offset, 0], (o, n, s) =>
      loop(da, o[0]!, s[0]!, db, o[1]!, s[1]!, out, o[2]!, s[2]!, n),
    );
    return out;
  },

  where(cond, a, b) {
    const out = alloc(a.dtype, shapeSize(a.shape), false);
    const dc = arr(cond.storage);
    const da = arr(a.storage);
    const db = arr(b.storage);
    forEachRow(
      a.shape,
      [cond.strides, a.strides, b.strides, contiguousStrides(a.shape)],
      [cond.offset, a.offset, b.offset, 0],
      (o, n, s) => {
        let oc = o[0]!,
          oa = o[1]!,
          ob = o[2]!,
          oo = o[3]!;
        const sc = s[0]!,
          sa = s[1]!,
          sb = s[2]!,
          so = s[3]!;
        for (let i = 0; i < n; i++, oc += sc, oa += sa, ob += sb, oo += so) out[oo] = dc[oc] !== 0 ? da[oa]! : db[ob]!;
      },
    );
    return out;
  },

  reduce(op: ReduceOp, x, axis) {
    if (op === 'argmax') return argmaxAlong(x, axis);
    const outShape = dropAxis(x.shape, axis);
    const out = alloc(x.dtype, shapeSize(outShape));
    const src = arr(x.storage);
    const len = x.shape[axis]!;
    const step = x.strides[axis]!;
    if (op === 'sum' && x.dtype !== 'int32' && isContiguous(x)) {
      // [outer, len, inner] with rows read contiguously; the same float64 sums as the loop below.
      const outer = shapeSize(x.shape.slice(0, axis));
      const inner = shapeSize(x.shape.slice(axis + 1));
      (x.dtype === 'float32' ? kernels.sumAxisF32 : genericKernels.sumAxis)(
        src as Float32Array,
        x.offset,
        outer,
        len,
        inner,
        out as Float32Array,
      );
      return out;
    }
    const init = op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity;
    forEachRow(outShape, [dropAxis(x.strides, axis), contiguousStrides(outShape)], [x.offset, 0], (o, n, s) => {
      let xo = o[0]!;
      let oo = o[1]!;
      for (let i = 0; i < n; i++, xo += s[0]!, oo += s[1]!) {
        let acc = init;
        let p = xo;
        if (op === 'sum') for (let r = 0; r < len; r++, p += step) acc += src[p]!;
        else if (op === 'max')
          for (let r = 0; r < len; r++, p += step) {
            const v = src[p]!;
            if (v > acc || v !== v) acc = v;
          }
        else
          for (let r = 0; r < len; r++, p += step) {
            const v = src[p]!;
            if (v < acc || v !== v) acc = v;
          }
        out[oo] = acc;
      }
    });
    return out;
  },

  matmul(a, b) {
    const nd = a.shape.length;
    const M = a.shape[nd - 2]!;
    const K = a.shape[nd - 1]!;
    const N = b.shape[nd - 1]!;
    const batchShape = a.shape.slice(0, nd - 2);
    const out = alloc(a.dtype, shapeSize(batchShape) * M * N);
    const da = arr(a.storage);
    const db = arr(b.storage);
    const [ars, acs] = [a.strides[nd - 2]!, a.strides[nd - 1]!];
    const [brs, bcs] = [b.strides[nd - 2]!, b.strides[nd - 1]!];
    const mm = a.dtype === 'float32' ? (kernels.matmulF32 as typeof genericKernels.matmul) : genericKernels.matmul;
    if (batchShape.length === 0) {
      mm(da, a.offset, ars, acs, db, b.offset, brs, bcs, out, 0, M, N, K);
      return out;
    }
    // One product per batch element; batch offsets come from the (possibly broadcast) batch strides.
    // forEachRow may merge batch dims, so it walks them and the loop below covers each row.
    const outBatchStrides = contiguousStrides(batchShape).map((s) => s * M * N);
    forEachRow(
      batchShape,
      [a.strides.slice(0, nd - 2), b.strides.slice(0, nd - 2), outBatchStrides],
      [a.offset, b.offset, 0],
      (o, n, s) => {
        for (let i = 0; i < n; i++) mm(da, o[0]! + i * s[0]!, ars, acs, db, o[1]! + i * s[1]!, brs, bcs, out, o[2]! + i * s[2]!, M, N, K);
      },
    );
    return out;
  },

  rowOp(op: RowOp, x) {
    const nd = x.shape.length;
    const n = x.shape[nd - 1]!;
    const rows = shapeSize(x.shape.slice(0, nd - 1));
    const out = alloc(x.dtype, op === 'logsumexp' ? rows : rows * n, false);
    if (n === 0) {
      // Empty rows: softmax outputs are empty, logsumexp of nothing is log(0).
      if (op === 'logsumexp') out.fill(-Infinity);
      return out;
    }
    const src = contiguousData(x);
    const f32 = x.dtype === 'float32';
    if (op === 'softmax') (f32 ? kernels.softmaxRowsF32 : genericKernels.softmaxRows)(src as Float32Array, rows, n, out as Float32Array);
    else if (op === 'logSoftmax')
      (f32 ? kernels.logSoftmaxRowsF32 : genericKernels.logSoftmaxRows)(src as Float32Array, rows, n, out as Float32Array);
    else (f32 ? kernels.logsumexpRowsF32 : genericKernels.logsumexpRows)(src as Float32Array, rows, n, out as Float32Array);
    return out;
  },

  topk(x, k) {
    const nd = x.shape.length;
    const n = x.shape[nd - 1]!;
    const rows = n === 0 ? 0 : shapeSize(x.shape) / n;
    const src = contiguousData(x);
    const values = alloc(x.dtype, rows * k, false);
    const indices = new Int32Array(rows * k);
    const topk = x.dtype === 'float32' ? kernels.topkRowsF32 : genericKernels.topkRows;
    topk(src as Float32Array, rows, n, k, values as Float32Array, indices);
    return { values, indices };
  },

  gather(x, dim, index) {
    const out = alloc(x.dtype, shapeSize(index.shape), false);
    const src = arr(x.storage);
    const idx = arr(index.storage);
    const size = x.shape[dim]!;
    const dimStride = x.strides[dim]!;
    // Walk index's shape; x is addressed with its own strides except along dim, where index decides.
    const xStrides = x.strides.map((s, d) => (d === dim ? 0 : s));
    forEachRow(index.shape, [index.strides, xStrides, contiguousStrides(index.shape)], [index.offset, x.offset, 0], (o, n, s) => {
      let io = o[0]!,
        xo = o[1]!,
        oo = o[2]!;
      for (let i = 0; i < n; i++, io += s[0]!, xo += s[1]!, oo += s[2]!) {
        const j = idx[io]!;
        checkIndex('gather', j, size, dim);
        out[oo] = src[xo + j * dimStride]!;
      }
    });
    return out;
  },

  scatterAdd(x, dim, index, src) {
    const out = copyView(x, x.dtype);
    const outStrides = contiguousStrides(x.shape);
    const idx = arr(index.storage);
    const s = arr(src.storage);
    const size = x.shape[dim]!;
    const dimStride = outStrides[dim]!;
    const oStrides = outStrides.map((st, d) => (d === dim ? 0 : st));
    forEachRow(index.shape, [index.strides, src.strides, oStrides], [index.offset, src.offset, 0], (o, n, st) => {
      let io = o[0]!,
        so = o[1]!,
        oo = o[2]!;
      for (let i = 0; i < n; i++, io += st[0]!, so += st[1]!, oo += st[2]!) {
        const j = idx[io]!;
        checkIndex('scatterAdd', j, size, dim);
        out[oo + j * dimStride] += s[so]!;
      }
    });
    return out;
  },

  gatherRows(table, indices) {
    const rows = table.shape[0]!;
    const width = shapeSize(table.shape.slice(1));
    const idx = contiguousData(indices) as Int32Array;
    for (let i = 0; i < idx.length; i++) checkIndex('indexSelect', idx[i]!, rows, 0);
    const data = contiguousData(table);
    const out = alloc(table.dtype, idx.length * width, false);
    (table.dtype === 'float32' ? kernels.gatherRowsF32 : genericKernels.gatherRows)(data as Float32Array, width, idx, out as Float32Array);
    return out;
  },

  scatterAddRows(rows, indices, src) {
    let idx = contiguousData(indices) as Int32Array;
    const width = shapeSize(src.shape.slice(1));
    let values = contiguousData(src);
    if (idx.includes(-1)) {
      // Empty slots (−1, from static-size coalescing) add nothing: drop them before the kernel.
      const keep: number[] = [];
      for (let i = 0; i < idx.length; i++) if (idx[i] !== -1) keep.push(i);
      const packed = alloc(src.dtype, keep.length * width, false);
      keep.forEach((i, j) => packed.set(values.subarray(i * width, (i + 1) * width), j * width));
      idx = Int32Array.from(keep, (i) => idx[i]!);
      values = packed;
    }
    for (let i = 0; i < idx.length; i++) checkIndex('scatterAddRows', idx[i]!, rows, 0);
    const out = alloc(src.dtype, rows * width);
    (src.dtype === 'float32' ? kernels.scatterAddRowsF32 : genericKernels.scatterAddRows)(
      out as Float32Array,
      width,
      idx,
      values as Float32Array,
    );
    return out;
  },

  embeddingBag(table, indices, weights) {
    const { T, S, width, idx } = rowReads('embeddingBag', table, indices);
    const data = contiguousData(table);
    const w = contiguousData(weights);
    const out = alloc(table.dtype, T * width);
    if (table.dtype === 'float32')
      kernels.embeddingBagForwardF32(data as Float32Array, idx, w as Float32Array, T, S, width, out as Float32Array);
    else embeddingBagForward(data, idx, w, T, S, width, out);
    return out;
  },

  rowDots(table, indices, x) {
    const { T, S, width, idx } = rowReads('rowDots', table, indices);
    const data = contiguousData(table);
    const xs = contiguousData(x);
    const out = alloc(table.dtype, T * S, false);
    if (table.dtype === 'float32')
      kernels.embeddingBagWeightGradF32(data as Float32Array, idx, xs as Float32Array, T, S, width, out as Float32Array);
    else embeddingBagWeightGrad(data, idx, xs, T, S, width, out);
    return out;
  },

  cumsum(x) {
    const out = copyView(x, x.dtype);
    const n = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1]!;
    for (let r = 0; r + n <= out.length && n > 0; r += n) {
      for (let i = r + 1; i < r + n; i++) out[i] = out[i]! + out[i - 1]!;
    }
    return out;
  },

  uniqueRows(indices, src) {
    const idx = contiguousData(indices) as Int32Array;
    const width = shapeSize(src.shape.slice(1));
    for (let i = 0; i < idx.length; i++) if (idx[i] !== -1) checkIndex('uniqueRows', idx[i]!, 2 ** 31 - 1, 0);
    const r = uniqueRowsOf(idx, contiguousData(src), width, src.dtype);
    return { indices: r.indices, values: r.values };
  },

  applyUpdate(rule, state, grad, rowIndex, scalars) {
    const update = compileUpdateRule(rule);
    const tables = state.map((v) => copyView(v, v.dtype));
    const g = contiguousData(grad);
    if (rowIndex === null) {
      update(tables, g, scalars, 0, 0, tables[0]!.length);
      return tables;
    }
    const rows = state[0]!.shape[0]!;
    const width = rows === 0 ? 0 : tables[0]!.length / rows;
    const idx = contiguousData(rowIndex) as Int32Array;
    for (let u = 0; u < idx.length; u++) {
      const r = idx[u]!;
      if (r === -1) continue;
      checkIndex('applyUpdate', r, rows, 0);
      update(tables, g, scalars, r * width, u * width, width);
    }
    return tables;
  },
};

registerDefaultBackend(() => cpuBackend);

/** Index (int32) of the largest element along `axis`, first on ties (a NaN counts as the largest). */
function argmaxAlong(x: View, axis: number): Int32Array {
  const outShape = dropAxis(x.shape, axis);
  const out = new Int32Array(shapeSize(outShape));
  const src = arr(x.storage);
  const len = x.shape[axis]!;
  const step = x.strides[axis]!;
  forEachRow(outShape, [dropAxis(x.strides, axis), contiguousStrides(outShape)], [x.offset, 0], (o, n, s) => {
    let xo = o[0]!;
    let oo = o[1]!;
    for (let i = 0; i < n; i++, xo += s[0]!, oo += s[1]!) {
      let best = -Infinity;
      let bi = 0;
      for (let r = 0, p = xo; r < len; r++, p += step) {
        const v = src[p]!;
        if (v > best || (v !== v && best === best)) {
          best = v;
          bi = r;
        }
      }
      out[oo] = bi;
    }
  });
  return out;
}
