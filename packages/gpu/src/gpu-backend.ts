/**
 * `gpuBackend({ mode })`: core's Backend on gpu.js kernels. Every kernel is generated per shape
 * signature and cached (kernels/*). In WebGPU mode data stays in device buffers between kernels and
 * ops only enqueue work (results are read with `await read()`); the synchronous modes (WebAssembly,
 * gpu.js cpu, GL) run each kernel at once. The storage lifecycle lives in runtime.ts; what cannot run
 * as a kernel is declared once in fallbacks.ts and runs on core's CPU backend, with one warning.
 */
import {
  coalesceDims,
  contiguousStrides,
  cpuBackend,
  isContiguousLayout,
  shapeSize,
  type Backend,
  type BinaryOp,
  type DType,
  type ReduceOp,
  type RowOp,
  type Storage,
  type TypedArray,
  type UnaryOp,
  type UpdateRule,
  type View,
} from '@myriad/core';
import { fallbackReason } from './fallbacks.js';
import type { GpuMode } from './gpujs.js';
import { copyWindowSource } from './kernels/copy.js';
import { noProgram, single, type DeviceArray, type ProgramFn } from './kernels/program.js';
import { scanRows } from './kernels/scan.js';
import { BINARY_BODY, UNARY_BODY, mapSource } from './kernels/elementwise.js';
import { gatherSource } from './kernels/gather.js';
import { matmulBlockedSource, matmulSource } from './kernels/matmul.js';
import { logsumexpSource, reduceSource } from './kernels/reduce.js';
import { scatterAlongSource, scatterFlatProgram, scatterKeysSource, scatterRowsProgram, uniqueRowsProgram } from './kernels/scatter.js';
import type { IndexOperand, RowsOperand } from './kernels/scatter.js';
import type { KernelSource, Operand } from './kernels/source.js';
import { topkProgram } from './kernels/topk.js';
import { mergeRowsSource, rowSlotsSource, updateSource, type TableOperand } from './kernels/update.js';
import { Runtime, st, type CpuFn, type OutSpec } from './runtime.js';
import type { GpuStats } from './stats.js';
import { GpuStorage, hostVersion, typedFor } from './storage.js';

/** Up to this many index entries per output line, scatterAdd loops over them directly instead of sorting. */
const SCATTER_ALONG_MAX = 64;

/** Options of `gpuBackend`. */
export interface GpuBackendOptions {
  /** gpu.js mode to pin (default 'webasm', which runs everywhere). */
  readonly mode?: GpuMode;
  /** Where the one-per-reason fallback warnings go (default console.warn). */
  readonly warn?: (message: string) => void;
  /** Compiled kernels kept (least recently used beyond this are destroyed). */
  readonly kernelCacheSize?: number;
  /** Matmul computes four outputs per thread where N is a multiple of 4 (default true; false: one per thread). */
  readonly matmulBlocking?: boolean;
}

/** Live device memory, as counted by the backend. */
export interface GpuMemory {
  /** Storages created and not yet disposed. */
  readonly buffers: number;
  readonly bytes: number;
  /** Compiled kernels in the cache. */
  readonly kernels: number;
}

/** The gpu backend: core's Backend plus memory management, transfer counters and the mode actually obtained. */
export interface GpuBackend extends Backend {
  /** The mode asked for. */
  readonly requestedMode: GpuMode;
  /** The gpu.js mode actually running kernels ('webgpu', 'webasm', 'cpu', 'webgl2', …), or 'cpu-backend' when none could start. */
  readonly mode: string;
  /** The device in words (adapter for WebGPU, CPU model for WebAssembly). */
  readonly device: string;
  /** True when ops only enqueue work (WebGPU): read results with `await t.read()`. */
  readonly async: boolean;
  /** Resolves once the mode is set up (immediately for synchronous modes). */
  readonly ready: Promise<GpuBackend>;
  /** Live storages and compiled kernels. */
  memory(): GpuMemory;
  /** Uploads, downloads (count and bytes), kernel launches and CPU fallbacks since creation or `resetStats()`. */
  stats(): GpuStats;
  /** Sets every counter of `stats()` to zero. */
  resetStats(): void;
  /** Runs `fn`, then releases every storage it created except those reachable from its result or passed to `keep`. */
  tidy<T>(fn: () => T): T;
  /** Marks a tensor (or storage) so the enclosing `tidy` keeps it. */
  keep<T extends { storage: Storage } | Storage>(x: T): T;
  /** Waits for queued device work (WebGPU), then resolves. */
  sync(): Promise<void>;
  /** Destroys all kernels and the gpu.js instance; storages become unusable. */
  destroy(): Promise<void>;
}

function operand(x: View): Operand {
  return { strides: x.strides, offset: x.offset };
}

/** A contiguous view over a whole storage. */
function viewOf(storage: GpuStorage, shape: readonly number[], dtype: DType): View {
  return { storage, shape, strides: contiguousStrides(shape), offset: 0, dtype };
}

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

/** Folds the dims after the first into one (row stride, column stride), or null when they do not fold. */
function asRows(x: View): RowsOperand | null {
  const { shape, strides } = coalesceDims(x.shape.slice(1), [x.strides.slice(1)]);
  if (shape.length > 1) return null;
  const rowStride = x.shape.length === 0 ? 0 : (x.strides[0] ?? 0);
  return { offset: x.offset, rowStride, colStride: shape.length === 0 ? 1 : strides[0]![0]! };
}

class GpuBackendImpl implements GpuBackend {
  readonly ready: Promise<GpuBackend>;
  private readonly rt: Runtime;
  private readonly blockedMatmul: boolean;

  constructor(opts: GpuBackendOptions) {
    this.rt = new Runtime(opts.mode ?? 'webasm', opts.warn ?? ((m) => console.warn(m)), opts.kernelCacheSize ?? 256);
    this.blockedMatmul = opts.matmulBlocking ?? true;
    this.ready = this.rt.ready.then(() => this);
  }

  get name(): string {
    return `gpu:${this.mode}`;
  }
  get requestedMode(): GpuMode {
    return this.rt.requestedMode;
  }
  get mode(): string {
    return this.rt.mode;
  }
  get device(): string {
    return this.rt.setup ? this.rt.setup.device : 'pending';
  }
  get async(): boolean {
    return this.rt.async;
  }

  // ---------------------------------------------------------------- running ops

  /** Runs an op's program, or its CPU version where the fallback table says so. */
  private op(
    key: string,
    dtype: DType,
    inputs: readonly View[],
    outs: readonly OutSpec[],
    program: () => ProgramFn,
    cpu: CpuFn,
  ): GpuStorage[] {
    const reason = fallbackReason(key, dtype, [...inputs.map((v) => st(v).size), ...outs.map((o) => o.size)]);
    return this.rt.exec(key, reason, inputs, outs, reason ? noProgram : program(), cpu);
  }

  /** An op of one kernel and one output. */
  private one(
    key: string,
    dtype: DType,
    inputs: readonly View[],
    out: OutSpec,
    src: () => KernelSource,
    cpu: (h: View[]) => TypedArray,
  ): GpuStorage {
    return this.op(
      key,
      dtype,
      inputs,
      [out],
      () => single(src()),
      (h) => [cpu(h)],
    )[0]!;
  }

  /** A contiguous copy of x (a kernel), as a view. */
  private contiguous(x: View): View {
    return viewOf(this.cast(x, x.dtype) as GpuStorage, x.shape, x.dtype);
  }

  private free(...views: View[]): void {
    for (const v of views) this.rt.dispose(st(v));
  }

  // ---------------------------------------------------------------- Backend: memory

  fromTypedArray(data: TypedArray): Storage {
    const dtype: DType = data instanceof Float32Array ? 'float32' : data instanceof Int32Array ? 'int32' : 'float64';
    return this.rt.make(dtype, data.length, hostVersion(data), true);
  }

  full(dtype: DType, size: number, value: number): Storage {
    const host = (): TypedArray => {
      const h = typedFor(dtype, size);
      if (value !== 0) h.fill(value);
      return h;
    };
    // Synchronous modes keep kernel data in host memory, so a fill there is the device fill.
    if (!this.async || dtype === 'float64' || size === 0) return this.rt.make(dtype, size, hostVersion(host()), false);
    if (fallbackReason('full', dtype, [size])) return this.rt.make(dtype, size, hostVersion(host()), true);
    if (value === 0) {
      // WebGPU buffers start zeroed: no upload, no kernel.
      const version = this.rt.ready.then(() => (this.rt.noKernels ? hostVersion(host()) : { host: null, dev: this.rt.zeroBuffer(size) }));
      return this.rt.make(dtype, size, version, false);
    }
    const fill: KernelSource = { key: `fill:${size}`, source: 'function(v) { return v; }', output: [size, 1, 1] };
    return this.op(
      'full',
      dtype,
      [],
      [{ dtype, size }],
      () =>
        function* () {
          return [yield { src: fill, args: [value] }];
        },
      () => [host()],
    )[0]!;
  }

  readSync(x: View): TypedArray {
    return this.rt.readViewSync(x);
  }

  read(x: View): Promise<TypedArray> {
    return this.rt.readView(x);
  }

  hostData(storage: Storage): TypedArray | null {
    // Synchronous modes keep data in host memory, so core may read or write it in place (counted as a
    // download); on WebGPU the device copy is the truth and a host write would be lost.
    if (this.async || !(storage instanceof GpuStorage)) return null;
    const host = storage.ready?.host ?? null;
    if (host) this.rt.stats.download(storage.bytes);
    return host;
  }

  dispose(storage: Storage): void {
    if (storage instanceof GpuStorage) this.rt.dispose(storage);
  }

  memory(): GpuMemory {
    return this.rt.memory();
  }

  stats(): GpuStats {
    return this.rt.stats.snapshot();
  }

  resetStats(): void {
    this.rt.stats.reset();
  }

  tidy<T>(fn: () => T): T {
    return this.rt.tidy(fn);
  }

  keep<T extends { storage: Storage } | Storage>(x: T): T {
    const s = x instanceof GpuStorage ? x : (x as { storage?: unknown }).storage;
    if (s instanceof GpuStorage) this.rt.keep(s);
    return x;
  }

  sync(): Promise<void> {
    return this.rt.sync();
  }

  destroy(): Promise<void> {
    return this.rt.destroy();
  }

  // ---------------------------------------------------------------- Backend: elementwise

  cast(x: View, dtype: DType): Storage {
    const size = shapeSize(x.shape);
    const body = dtype === 'int32' && x.dtype !== 'int32' ? 'const r = v0 >= 0.0 ? Math.floor(v0) : -Math.floor(-v0);' : 'const r = v0;';
    const data: DType = x.dtype === 'float64' || dtype === 'float64' ? 'float64' : x.dtype;
    const src = (): KernelSource => mapSource(`cast-${dtype}`, body, x.shape, [operand(x)]);
    return this.one('cast', data, [x], { dtype, size }, src, ([h]) => cpuBackend.cast(h!, dtype) as TypedArray);
  }

  copyInto(dst: View, src: View): void {
    const d = st(dst);
    if (!this.async) {
      // Synchronous modes: kernel data lives in host memory, so the window is written in place.
      const host = (v: View): View => this.rt.hostViewOf(v, this.rt.hostSync(v, 'copyInto'));
      cpuBackend.copyInto(host(dst), host(src));
      return;
    }
    const box = copyWindowSource(d.size, dst, src);
    const whole: View = { storage: d, shape: [d.size], strides: [1], offset: 0, dtype: d.dtype };
    const out: OutSpec = { dtype: d.dtype, size: d.size };
    let next: GpuStorage;
    if (box) {
      next = this.one(
        'copyInto',
        d.dtype,
        box.whole ? [src] : [whole, src],
        out,
        () => box.src,
        ([hd, hs]) => {
          const out = (box.whole ? typedFor(d.dtype, d.size) : cpuBackend.cast(hd!, d.dtype)) as TypedArray;
          cpuBackend.copyInto({ ...dst, storage: out }, box.whole ? hd! : hs!);
          return out;
        },
      );
    } else {
      // Any other strided window: written on a host copy, uploaded when next used.
      next = this.rt.onCpu('copyInto', 'a window that is not a box of its storage', [whole, src], [out], ([hd, hs]) => {
        const out = (cpuBackend.cast(hd!, d.dtype) as TypedArray).slice();
        cpuBackend.copyInto({ ...dst, storage: out }, hs!);
        return [out];
      })[0]!;
    }
    this.rt.moveInto(d, next);
  }

  unary(op: UnaryOp, x: View): Storage {
    const size = shapeSize(x.shape);
    const src = (): KernelSource => mapSource(op, `const a = v0; ${UNARY_BODY[op]}`, x.shape, [operand(x)]);
    return this.one(`unary.${op}`, x.dtype, [x], { dtype: x.dtype, size }, src, ([h]) => cpuBackend.unary(op, h!) as TypedArray);
  }

  binary(op: BinaryOp, a: View, b: View): Storage {
    const size = shapeSize(a.shape);
    const src = (): KernelSource => mapSource(op, `const a = v0; const b = v1; ${BINARY_BODY[op]}`, a.shape, [operand(a), operand(b)]);
    const cpu = ([ha, hb]: View[]): TypedArray => cpuBackend.binary(op, ha!, hb!) as TypedArray;
    return this.one(`binary.${op}`, a.dtype, [a, b], { dtype: a.dtype, size }, src, cpu);
  }

  where(cond: View, a: View, b: View): Storage {
    const size = shapeSize(a.shape);
    const src = (): KernelSource => mapSource('where', 'const r = v0 !== 0.0 ? v1 : v2;', a.shape, [operand(cond), operand(a), operand(b)]);
    const cpu = ([hc, ha, hb]: View[]): TypedArray => cpuBackend.where(hc!, ha!, hb!) as TypedArray;
    return this.one('where', a.dtype, [cond, a, b], { dtype: a.dtype, size }, src, cpu);
  }

  // ---------------------------------------------------------------- Backend: reductions and matmul

  reduce(op: ReduceOp, x: View, axis: number): Storage {
    const outShape = x.shape.filter((_, d) => d !== axis);
    const out: OutSpec = { dtype: op === 'argmax' ? 'int32' : x.dtype, size: shapeSize(outShape) };
    const len = x.shape[axis]!;
    const cpu = ([h]: View[]): TypedArray => cpuBackend.reduce(op, h!, axis) as TypedArray;
    if (len === 0) return this.rt.onCpu(op, 'an empty axis', [x], [out], (h) => [cpu(h)])[0]!;
    const strides = x.strides.filter((_, d) => d !== axis);
    const src = (): KernelSource => reduceSource(op, outShape, { strides, offset: x.offset }, len, x.strides[axis]!);
    return this.one(`reduce.${op}`, x.dtype, [x], out, src, cpu);
  }

  matmul(a: View, b: View): Storage {
    const nd = a.shape.length;
    const M = a.shape[nd - 2]!,
      K = a.shape[nd - 1]!,
      N = b.shape[nd - 1]!;
    const batch = a.shape.slice(0, nd - 2);
    const size = shapeSize(batch) * M * N;
    if (K === 0) return this.full(a.dtype, size, 0);
    const rows = (x: View): Operand & { rowStride: number; colStride: number } => ({
      strides: x.strides.slice(0, nd - 2),
      offset: x.offset,
      rowStride: x.strides[nd - 2]!,
      colStride: x.strides[nd - 1]!,
    });
    // Four outputs per thread where rows split into fours (the output keeps the plain layout).
    const build = N % 4 === 0 && this.blockedMatmul ? matmulBlockedSource : matmulSource;
    return this.one(
      'matmul',
      a.dtype,
      [a, b],
      { dtype: a.dtype, size },
      () => build(batch, M, N, K, rows(a), rows(b)),
      ([ha, hb]) => cpuBackend.matmul(ha!, hb!) as TypedArray,
    );
  }

  rowOp(op: RowOp, x: View): Storage {
    const nd = x.shape.length;
    const n = x.shape[nd - 1]!;
    const rowShape = x.shape.slice(0, nd - 1);
    const rows = shapeSize(rowShape);
    const size = op === 'logsumexp' ? rows : rows * n;
    const cpu = ([h]: View[]): TypedArray => cpuBackend.rowOp(op, h!) as TypedArray;
    if (n === 0) return this.rt.onCpu(op, 'an empty axis', [x], [{ dtype: x.dtype, size }], (h) => [cpu(h)])[0]!;
    // Two kernels: per-row log-sum-exp, then an elementwise map reading it with stride 0 along the row.
    const rowsOf = { strides: x.strides.slice(0, nd - 1), offset: x.offset };
    const lseSrc = (): KernelSource => logsumexpSource(rowShape, rowsOf, n, x.strides[nd - 1]!);
    const lseStrides = [...rowShape.map((_, d) => shapeSize(rowShape.slice(d + 1))), 0];
    const body = op === 'softmax' ? 'const r = Math.exp(v0 - v1);' : 'const r = v0 - v1;';
    return this.op(
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

  topk(x: View, k: number): { values: Storage; indices: Storage } {
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
    const xv = aliased && rows * k > 0 ? this.contiguous(x) : x;
    const [values, indices] = this.op(
      'topk',
      x.dtype,
      [xv],
      [
        { dtype: x.dtype, size: rows * k },
        { dtype: 'int32', size: rows * k },
      ],
      () => topkProgram(rowShape, n, k, { strides: xv.strides.slice(0, nd - 1), offset: xv.offset }, xv.strides[nd - 1]!),
      cpu,
    );
    if (xv !== x) this.free(xv);
    return { values: values!, indices: indices! };
  }

  // ---------------------------------------------------------------- Backend: indexing

  gather(x: View, dim: number, index: View): Storage {
    const size = shapeSize(index.shape);
    if (!this.async) this.checkIndices('gather', index, x.shape[dim]!, dim);
    const xs = x.strides.map((s, d) => (d === dim ? 0 : s));
    const src = (): KernelSource => gatherSource(index.shape, { strides: xs, offset: x.offset }, operand(index), x.strides[dim]!);
    const cpu = ([hx, hi]: View[]): TypedArray => cpuBackend.gather(hx!, dim, hi!) as TypedArray;
    return this.one('gather', x.dtype, [x, index], { dtype: x.dtype, size }, src, cpu);
  }

  gatherRows(table: View, indices: View): Storage {
    const width = shapeSize(table.shape.slice(1));
    const n = shapeSize(indices.shape);
    if (!this.async) this.checkIndices('indexSelect', indices, table.shape[0]!, 0);
    const idx = isContiguousLayout(indices.shape, indices.strides) || n === 0 ? indices : this.contiguous(indices);
    const outShape = [n, ...table.shape.slice(1)];
    const ts = [0, ...table.strides.slice(1)];
    const is = [1, ...table.shape.slice(1).map(() => 0)];
    const out = this.one(
      'gatherRows',
      table.dtype,
      [table, idx],
      { dtype: table.dtype, size: n * width },
      () => gatherSource(outShape, { strides: ts, offset: table.offset }, { strides: is, offset: idx.offset }, table.strides[0]!),
      ([ht, hi]) => cpuBackend.gatherRows(ht!, hi!) as TypedArray,
    );
    if (idx !== indices) this.free(idx);
    return out;
  }

  /** n indices as a flat operand (a contiguous copy where the view is strided). */
  private flatIndex(indices: View): { view: View; op: IndexOperand } {
    if (indices.shape.length <= 1) {
      return { view: indices, op: { offset: indices.offset, step: indices.shape.length === 0 ? 1 : indices.strides[0]! } };
    }
    if (isContiguousLayout(indices.shape, indices.strides)) return { view: indices, op: { offset: indices.offset, step: 1 } };
    const c = this.contiguous(indices);
    return { view: c, op: { offset: 0, step: 1 } };
  }

  /** src as [n, width] rows (a contiguous copy where its trailing dims do not fold). */
  private rowsOf(src: View): { view: View; op: RowsOperand } {
    const r = asRows(src);
    if (r) return { view: src, op: r };
    const c = this.contiguous(src);
    return { view: c, op: asRows(c)! };
  }

  scatterAdd(x: View, dim: number, index: View, src: View): Storage {
    const size = shapeSize(x.shape);
    const n = shapeSize(index.shape);
    const cpu: CpuFn = ([hx, hi, hs]) => [cpuBackend.scatterAdd(hx!, dim, hi!, hs!) as TypedArray];
    if (n === 0 || size === 0) return this.cast(x, x.dtype);
    const out: OutSpec = { dtype: x.dtype, size };
    if (fallbackReason('scatterAdd', x.dtype, [size, n])) {
      return this.op('scatterAdd', x.dtype, [x, index, src], [out], () => noProgram, cpu)[0]!;
    }
    if (!this.async) this.checkIndices('scatterAdd', index, x.shape[dim]!, dim);
    const k = index.shape[dim]!;
    if (k <= SCATTER_ALONG_MAX && index.shape.every((d, e) => e === dim || d === x.shape[e])) {
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
      return this.one('scatterAdd', x.dtype, [x, index, src], out, src0, (h) => cpu(h)[0]!);
    }
    // Each source element's flat target in x's contiguous layout (−1: skipped), then a segmented sum.
    // The CPU versions below run only if a kernel fails: keys as the CPU would number them, then the op.
    const keySrc = (): KernelSource => scatterKeysSource(x.shape, dim, index.shape, operand(index));
    const keyOut: OutSpec = { dtype: 'float32', size: n };
    const keyStorage = this.one('scatterAdd', 'float32', [index], keyOut, keySrc, ([hi]) => scatterKeys(x.shape, dim, hi!));
    const keys = viewOf(keyStorage, [n], 'float32');
    const flatSrc = isContiguousLayout(src.shape, src.strides) && src.offset === 0 ? src : this.contiguous(src);
    const program = (): ProgramFn => scatterFlatProgram(x.shape, x.strides, x.offset, n);
    const result = this.op('scatterAdd', x.dtype, [x, keys, flatSrc], [out], program, ([hx, hk, hs]) => {
      const acc = cpuBackend.readSync(hx!) as TypedArray;
      const k = cpuBackend.readSync(hk!);
      const v = cpuBackend.readSync(hs!);
      for (let p = 0; p < n; p++) if (k[p]! >= 0) acc[k[p]!] = acc[k[p]!]! + v[p]!;
      return [acc];
    })[0]!;
    this.free(keys);
    if (flatSrc !== src) this.free(flatSrc);
    return result;
  }

  scatterAddRows(rows: number, indices: View, src: View): Storage {
    const width = shapeSize(src.shape.slice(1));
    const n = shapeSize(indices.shape);
    if (n === 0 || width === 0 || rows === 0) return this.full(src.dtype, rows * width, 0);
    if (!this.async) this.checkIndices('scatterAddRows', indices, rows, 0, true);
    const idx = this.flatIndex(indices);
    const s = this.rowsOf(src);
    const program = (): ProgramFn => scatterRowsProgram(rows, width, n, idx.op, s.op);
    const cpu: CpuFn = ([hi, hs]) => [cpuBackend.scatterAddRows(rows, hi!, hs!) as TypedArray];
    const out = this.op('scatterAddRows', src.dtype, [idx.view, s.view], [{ dtype: src.dtype, size: rows * width }], program, cpu)[0]!;
    if (idx.view !== indices) this.free(idx.view);
    if (s.view !== src) this.free(s.view);
    return out;
  }

  cumsum(x: View): Storage {
    const size = shapeSize(x.shape);
    const n = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1]!;
    if (n <= 1 || size === 0) return this.cast(x, x.dtype);
    const rowShape = x.shape.slice(0, -1);
    return this.op(
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

  uniqueRows(indices: View, src: View): { indices: Storage; values: Storage } {
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
      const [i, v] = this.rt.exec('uniqueRows', null, [], outs, noProgram, cpu);
      return { indices: i!, values: v! };
    }
    if (width === 0) {
      const [i, v] = this.rt.onCpu('uniqueRows', 'zero-width rows', [indices, src], outs, cpu);
      return { indices: i!, values: v! };
    }
    const idx = this.flatIndex(indices);
    const s = this.rowsOf(src);
    const [i, v] = this.op('uniqueRows', src.dtype, [idx.view, s.view], outs, () => uniqueRowsProgram(width, n, idx.op, s.op), cpu);
    if (idx.view !== indices) this.free(idx.view);
    if (s.view !== src) this.free(s.view);
    return { indices: i!, values: v! };
  }

  applyUpdate(rule: UpdateRule, state: readonly View[], grad: View, rowIndex: View | null, scalars: readonly number[]): Storage[] {
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
    if (size === 0 || (rowIndex && nRows === 0)) return state.map((v) => this.cast(v, v.dtype));
    const table = (v: View): View => (isContiguousLayout(v.shape, v.strides) ? v : this.contiguous(v));
    const tables = state.map(table);
    const g = table(grad);
    const flatRows = !rowIndex || (rowIndex.offset === 0 && isContiguousLayout(rowIndex.shape, rowIndex.strides));
    const ri = flatRows ? rowIndex : this.contiguous(rowIndex);
    const ops: TableOperand[] = tables.map((t) => ({ offset: t.offset, rowStride: width }));
    const gop: TableOperand = { offset: g.offset, rowStride: width };
    const inputs = ri ? [...tables, g, ri] : [...tables, g];
    const outs = state.map((v) => ({ dtype: v.dtype, size }));
    const out = this.op(
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
    tables.forEach((t, k) => t !== state[k] && this.free(t));
    if (g !== grad) this.free(g);
    if (ri && ri !== rowIndex) this.free(ri);
    return out;
  }

  /** Index bounds, checked on the host where the indices are there to read (synchronous modes; −1 allowed where `empty`). */
  private checkIndices(op: string, index: View, size: number, dim: number, empty = false): void {
    const idx = cpuBackend.readSync(this.rt.hostViewOf(index, this.rt.hostSync(index, op)));
    for (let i = 0; i < idx.length; i++) {
      const j = idx[i]!;
      if (empty && j === -1) continue;
      if (j < 0 || j >= size || !Number.isInteger(j)) throw new RangeError(`${op}: index ${j} out of range for dim ${dim} of size ${size}`);
    }
  }
}

/** Core's Backend on gpu.js in the given mode; WebGPU setup finishes in the background (`await b.ready`). */
export function gpuBackend(options: GpuBackendOptions = {}): GpuBackend {
  return new GpuBackendImpl(options);
}

/** Like `gpuBackend`, resolving once the mode is set up, so `mode` and `device` are final. */
export async function createGpuBackend(options: GpuBackendOptions = {}): Promise<GpuBackend> {
  return gpuBackend(options).ready;
}
