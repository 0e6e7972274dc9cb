/**
 * `gpuBackend({ mode })`: core's Backend on gpu.js kernels. Every kernel is generated per shape
 * signature and cached (kernels/*). In WebGPU mode data stays in device buffers between kernels and
 * ops only enqueue work (results are read with `await read()`); the synchronous modes (WebAssembly,
 * gpu.js cpu, GL) run each kernel at once. The storage lifecycle lives in runtime.ts; what cannot run
 * as a kernel is declared once in fallbacks.ts and runs on core's CPU backend, with one warning.
 * This file is the seam's table of methods: storage here, each other group of backend.ts's header in
 * methods/<group>.ts, written against op-runner.ts (program or CPU fallback, contiguous copies).
 */
import type { Backend, BinaryOp, DType, ReduceOp, RowOp, Storage, TypedArray, UnaryOp, UpdateRule, View } from '@myriad/core';
import type { GpuMode } from './gpujs.js';
import * as copies from './methods/copies.js';
import * as elementwise from './methods/elementwise.js';
import * as indexing from './methods/indexing.js';
import * as reductions from './methods/reduce.js';
import * as rowTables from './methods/row-tables.js';
import * as training from './methods/training.js';
import { OpRunner } from './op-runner.js';
import { Runtime } from './runtime.js';
import type { GpuStats } from './stats.js';
import { GpuStorage, hostVersion } from './storage.js';

/** Options of `gpuBackend`. */
export interface GpuBackendOptions {
  /** gpu.js mode to pin (default 'webasm', which runs everywhere). */
  readonly mode?: GpuMode;
  /** Where the one-per-reason fallback warnings go (default console.warn). */
  readonly warn?: (message: string) => void;
  /**
   * Compiled kernels kept (default 1024; least recently used beyond this are destroyed). A training
   * step must fit: the soak benchmark's one-block TransformerLM with PEER uses 267 kernels on WebGPU
   * and 251 on WebAssembly, and a loop over more kernels than this recompiles every one of them each
   * step (a warning says so).
   */
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

class GpuBackendImpl implements GpuBackend {
  readonly ready: Promise<GpuBackend>;
  private readonly rt: Runtime;
  private readonly run: OpRunner;
  private readonly blockedMatmul: boolean;

  constructor(opts: GpuBackendOptions) {
    this.rt = new Runtime(opts.mode ?? 'webasm', opts.warn ?? ((m) => console.warn(m)), opts.kernelCacheSize ?? 1024);
    this.run = new OpRunner(this.rt);
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

  // ---------------------------------------------------------------- Backend: storage (and the GpuBackend extras)

  fromTypedArray(data: TypedArray): Storage {
    const dtype: DType = data instanceof Float32Array ? 'float32' : data instanceof Int32Array ? 'int32' : 'float64';
    return this.rt.make(dtype, data.length, hostVersion(data), true);
  }

  full(dtype: DType, size: number, value: number): Storage {
    return this.run.full(dtype, size, value);
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

  // ---------------------------------------------------------------- Backend: copies (methods/copies.ts)

  cast(x: View, dtype: DType): Storage {
    return copies.cast(this.run, x, dtype);
  }
  copyInto(dst: View, src: View): void {
    copies.copyInto(this.run, dst, src);
  }

  // ---------------------------------------------------------------- Backend: elementwise (methods/elementwise.ts)

  unary(op: UnaryOp, x: View): Storage {
    return elementwise.unary(this.run, op, x);
  }
  binary(op: BinaryOp, a: View, b: View): Storage {
    return elementwise.binary(this.run, op, a, b);
  }
  where(cond: View, a: View, b: View): Storage {
    return elementwise.where(this.run, cond, a, b);
  }

  // ---------------------------------------------------------------- Backend: reductions and matmul (methods/reduce.ts)

  reduce(op: ReduceOp, x: View, axis: number): Storage {
    return reductions.reduce(this.run, op, x, axis);
  }
  matmul(a: View, b: View): Storage {
    return reductions.matmul(this.run, a, b, this.blockedMatmul);
  }
  rowOp(op: RowOp, x: View): Storage {
    return reductions.rowOp(this.run, op, x);
  }
  cumsum(x: View): Storage {
    return reductions.cumsum(this.run, x);
  }

  // ---------------------------------------------------------------- Backend: indexing (methods/indexing.ts)

  topk(x: View, k: number): { values: Storage; indices: Storage } {
    return indexing.topk(this.run, x, k);
  }
  gather(x: View, dim: number, index: View): Storage {
    return indexing.gather(this.run, x, dim, index);
  }
  scatterAdd(x: View, dim: number, index: View, src: View): Storage {
    return indexing.scatterAdd(this.run, x, dim, index, src);
  }

  // ---------------------------------------------------------------- Backend: row tables (methods/row-tables.ts)

  gatherRows(table: View, indices: View): Storage {
    return rowTables.gatherRows(this.run, table, indices);
  }
  scatterAddRows(rows: number, indices: View, src: View): Storage {
    return rowTables.scatterAddRows(this.run, rows, indices, src);
  }
  uniqueRows(indices: View, src: View): { indices: Storage; values: Storage } {
    return rowTables.uniqueRows(this.run, indices, src);
  }
  embeddingBag(table: View, indices: View, weights: View): Storage {
    return rowTables.embeddingBag(this.run, table, indices, weights);
  }
  rowDots(table: View, indices: View, x: View): Storage {
    return rowTables.rowDots(this.run, table, indices, x);
  }

  // ---------------------------------------------------------------- Backend: training (methods/training.ts)

  applyUpdate(rule: UpdateRule, state: readonly View[], grad: View, rowIndex: View | null, scalars: readonly number[]): Storage[] {
    return training.applyUpdate(this.run, rule, state, grad, rowIndex, scalars);
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
