/**
 * `gpuBackend({ mode })`: core's Backend on gpu.js kernels. Every kernel is generated per shape
 * signature and cached. In WebGPU mode data stays in device buffers between kernels and ops only
 * enqueue work (results are read with `await read()`); the synchronous modes (WebAssembly, gpu.js
 * cpu, GL) run each kernel at once. Whatever a kernel cannot do runs on core's CPU backend, with one
 * warning per reason.
 */
import { cpuBackend, shapeSize, type Backend, type BinaryOp, type DType, type ReduceOp, type RowOp, type Storage, type TypedArray, type UnaryOp, type UpdateRule, type View } from '@myriad/core';
import { setupMode, setupSyncMode, type ModeSetup } from './device.js';
import type { GpuMode, KernelRun, WebGPUBufferResult, WebGPUContextObject } from './gpujs.js';
import { WebGPUBufferResultClass } from './gpujs.js';
import { MAX_KERNEL_ELEMENTS } from './indexing.js';
import { BINARY_BODY, UNARY_BODY, gatherSource, logsumexpSource, mapSource, matmulSource, reduceSource, topkSource, type KernelSource, type Operand } from './kernels/sources.js';
import { GpuStorage, typedFor, type Version } from './storage.js';

/** Options of `gpuBackend`. */
export interface GpuBackendOptions {
  /** gpu.js mode to pin (default 'webasm', which runs everywhere). */
  readonly mode?: GpuMode;
  /** Where the one-per-reason fallback warnings go (default console.warn). */
  readonly warn?: (message: string) => void;
  /** Compiled kernels kept (least recently used beyond this are destroyed). */
  readonly kernelCacheSize?: number;
}

/** Live device memory, as counted by the backend. */
export interface GpuMemory {
  /** Storages created and not yet disposed. */
  readonly buffers: number;
  readonly bytes: number;
  /** Compiled kernels in the cache. */
  readonly kernels: number;
}

/** The gpu backend: core's Backend plus memory management and the mode actually obtained. */
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
  /** Runs `fn`, then releases every storage it created except those reachable from its result or passed to `keep`. */
  tidy<T>(fn: () => T): T;
  /** Marks a tensor (or storage) so the enclosing `tidy` keeps it. */
  keep<T extends { storage: Storage } | Storage>(x: T): T;
  /** Waits for queued device work (WebGPU), then resolves. */
  sync(): Promise<void>;
  /** Destroys all kernels and the gpu.js instance; storages become unusable. */
  destroy(): Promise<void>;
}

const STORAGE = 0x80, COPY_SRC = 0x04, COPY_DST = 0x08, MAP_READ = 0x01;

function st(v: View): GpuStorage {
  if (!(v.storage instanceof GpuStorage)) throw new TypeError('gpu backend: tensor storage belongs to another backend; move it with tensor(t.toTypedArray()) first');
  return v.storage;
}

function toF32(a: TypedArray): Float32Array {
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

function isContiguous(v: View): boolean {
  let expected = 1;
  for (let d = v.shape.length - 1; d >= 0; d--) {
    if (v.shape[d] !== 1 && v.strides[d] !== expected) return false;
    expected *= v.shape[d]!;
  }
  return true;
}

/** Flattens gpu.js's result (a Float32Array, or rows/layers of subarrays) into one Float32Array. */
function flatResult(out: unknown, size: number): Float32Array {
  if (out instanceof Float32Array) return out.length === size ? out : out.slice(0, size);
  let first: unknown = out;
  while (Array.isArray(first)) first = first[0];
  const row = first as Float32Array;
  if (row.byteOffset === 0 && row.buffer.byteLength >= size * 4) {
    const whole = new Float32Array(row.buffer, 0, size);
    // Rows are views of one buffer on webasm/webgpu; check the last row landed where expected.
    let last: unknown = out;
    while (Array.isArray(last)) last = last[last.length - 1];
    const l = last as Float32Array;
    if (l.buffer === row.buffer && l.byteOffset + l.byteLength === size * 4) return whole;
  }
  const flat = new Float32Array(size);
  let p = 0;
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) for (const y of x) walk(y);
    else { flat.set(x as Float32Array, p); p += (x as Float32Array).length; }
  };
  walk(out);
  return flat;
}

function fromF32(f32: Float32Array, dtype: DType): TypedArray {
  if (dtype === 'float32') return f32;
  if (dtype === 'int32') return Int32Array.from(f32);
  return Float64Array.from(f32);
}

function gpuOutput(o: readonly [number, number, number]): number[] {
  return o[2] > 1 ? [o[0], o[1], o[2]] : o[1] > 1 ? [o[0], o[1]] : [o[0]];
}

class GpuBackendImpl implements GpuBackend {
  readonly requestedMode: GpuMode;
  readonly async: boolean;
  readonly ready: Promise<GpuBackend>;
  private setup: ModeSetup | null = null;
  private readonly setupPromise: Promise<ModeSetup>;
  private readonly kernels = new Map<string, KernelRun>();
  private readonly live = new Set<GpuStorage>();
  private readonly scopes: { created: Set<GpuStorage>; kept: Set<GpuStorage> }[] = [];
  private readonly warned = new Set<string>();
  private readonly warnFn: (m: string) => void;
  private readonly cacheSize: number;
  /** Settles after every op issued so far has been submitted (WebGPU): buffers are freed behind it. */
  private issued: Promise<unknown> = Promise.resolve();

  constructor(opts: GpuBackendOptions) {
    this.requestedMode = opts.mode ?? 'webasm';
    this.async = this.requestedMode === 'webgpu';
    this.warnFn = opts.warn ?? ((m) => console.warn(m));
    this.cacheSize = opts.kernelCacheSize ?? 256;
    if (this.async) {
      this.setupPromise = setupMode('webgpu').then((s) => this.adopt(s));
    } else {
      const s = this.adopt(setupSyncMode(this.requestedMode));
      this.setupPromise = Promise.resolve(s);
    }
    this.ready = this.setupPromise.then(() => this);
  }

  private adopt(s: ModeSetup): ModeSetup {
    this.setup = s;
    if (s.reason) this.warnOnce('setup', `@myriad/gpu: ${s.reason}; every op runs on the CPU backend`);
    return s;
  }

  get name(): string {
    return `gpu:${this.mode}`;
  }
  get mode(): string {
    return this.setup ? this.setup.mode : this.requestedMode;
  }
  get device(): string {
    return this.setup ? this.setup.device : 'pending';
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.warnFn(message);
  }

  // ---------------------------------------------------------------- storage lifecycle

  private track(s: GpuStorage): GpuStorage {
    this.live.add(s);
    const scope = this.scopes[this.scopes.length - 1];
    if (scope) scope.created.add(s);
    return s;
  }

  private make(dtype: DType, size: number, version: Version | Promise<Version>): GpuStorage {
    return this.track(new GpuStorage(dtype, size, version));
  }

  /** Frees a version's device buffer once every op issued before now has been submitted. */
  private releaseVersion(v: Version, after: Promise<unknown> = this.issued): void {
    void after.then(() => {
      v.dev?.delete();
      v.dev = null;
    });
  }

  private context(): WebGPUContextObject {
    const c = this.setup?.context;
    if (!c) throw new Error('gpu backend: no WebGPU device');
    return c;
  }

  private upload(v: Version): WebGPUBufferResult {
    if (v.dev) return v.dev;
    const data = toF32(v.host!);
    const ctx = this.context();
    const buffer = ctx.device.createBuffer({ size: Math.max(4, data.byteLength), usage: STORAGE | COPY_SRC | COPY_DST });
    ctx.device.queue.writeBuffer(buffer, 0, data);
    v.dev = new WebGPUBufferResultClass({ buffer, output: [Math.max(1, data.length)], context: ctx, kernel: null });
    return v.dev;
  }

  private async download(v: Version, dtype: DType, size: number): Promise<TypedArray> {
    if (v.host) return v.host;
    const dev = v.dev!;
    const ctx = this.context();
    const bytes = Math.max(4, size * 4);
    const staging = ctx.device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
    const enc = ctx.device.createCommandEncoder();
    enc.copyBufferToBuffer(dev.buffer, 0, staging, 0, bytes);
    ctx.device.queue.submit([enc.finish()]);
    await staging.mapAsync(MAP_READ);
    const f32 = new Float32Array(staging.getMappedRange().slice(0, size * 4));
    staging.unmap();
    staging.destroy();
    v.host = fromF32(f32, dtype);
    return v.host;
  }

  private hostView(x: View, host: TypedArray): View {
    return { storage: host, shape: x.shape, strides: x.strides, offset: x.offset, dtype: x.dtype };
  }

  /** The host copy of a view's storage, synchronously (synchronous modes, or data that never left the host). */
  private hostSync(x: View, op: string): TypedArray {
    const v = st(x).ready;
    if (!v || !v.host) {
      throw new Error(`${op}: the gpu backend (${this.mode}) keeps this tensor on the device and cannot answer synchronously; use await t.read()`);
    }
    return v.host;
  }

  // ---------------------------------------------------------------- running kernels and fallbacks

  /** The compiled kernel for `src` whose arguments hold `sizes` elements (gpu.js fixes argument sizes at build). */
  private kernel(built: KernelSource, sizes: readonly number[]): KernelRun {
    const src = { ...built, key: `${built.key}#${sizes.join(',')}` };
    const hit = this.kernels.get(src.key);
    if (hit) {
      this.kernels.delete(src.key);
      this.kernels.set(src.key, hit);
      return hit;
    }
    const settings: Record<string, unknown> = { output: gpuOutput(src.output), loopMaxIterations: 1 << 30 };
    if (this.async) Object.assign(settings, { pipeline: true, immutable: true });
    const k = this.setup!.gpu!.createKernel(src.source, settings);
    this.kernels.set(src.key, k);
    if (this.kernels.size > this.cacheSize) {
      const [oldKey, old] = this.kernels.entries().next().value as [string, KernelRun];
      this.kernels.delete(oldKey);
      old.destroy();
    }
    return k;
  }

  /** Why this op cannot run as a kernel here, or null. */
  private blocker(inputs: readonly View[], outDtype: DType, outSize: number): string | null {
    if (this.setup && !this.setup.gpu) return 'no gpu.js mode';
    if (outDtype === 'float64' || inputs.some((v) => v.dtype === 'float64')) return 'float64 tensors';
    if (outSize === 0 || inputs.some((v) => st(v).size === 0)) return null;
    if (outSize >= MAX_KERNEL_ELEMENTS || inputs.some((v) => st(v).size >= MAX_KERNEL_ELEMENTS)) return `buffers of 2^24 elements or more`;
    return null;
  }

  /**
   * Runs the CPU backend's version of an op on host copies of the inputs. Synchronous modes answer at
   * once; WebGPU chains it after the inputs' queued work.
   */
  private onCpu(op: string, reason: string | null, inputs: readonly View[], outs: readonly { dtype: DType; size: number }[], fn: (hostViews: View[]) => TypedArray[]): GpuStorage[] {
    if (reason) this.warnOnce(`${op}:${reason}`, `@myriad/gpu: ${op} on ${reason} runs on the CPU backend (${this.mode} mode)`);
    if (!this.async) {
      const results = fn(inputs.map((x) => this.hostView(x, this.hostSync(x, op))));
      return outs.map((o, i) => this.make(o.dtype, o.size, { host: results[i]!, dev: null, readers: [] }));
    }
    const captured = inputs.map((x) => st(x).current);
    const all = this.setupPromise.then(() => Promise.all(captured)).then(async (versions) => {
      const hosts = await Promise.all(versions.map((v, i) => this.download(v, inputs[i]!.dtype, st(inputs[i]!).size)));
      return fn(inputs.map((x, i) => this.hostView(x, hosts[i]!)));
    });
    this.issued = Promise.allSettled([this.issued, all]);
    return outs.map((o, i) => this.make(o.dtype, o.size, all.then((r) => ({ host: r[i]!, dev: null, readers: [] }))));
  }

  /** Runs one generated kernel over the inputs' storages (operand offsets/strides are baked into `src`). */
  private run(op: string, inputs: readonly View[], outDtype: DType, outSize: number, build: () => KernelSource, cpu: (hostViews: View[]) => TypedArray): GpuStorage {
    const reason = this.blocker(inputs, outDtype, outSize);
    if (reason || outSize === 0) return this.onCpu(op, reason, inputs, [{ dtype: outDtype, size: outSize }], (h) => [cpu(h)])[0]!;
    if (!this.async) {
      let f32: Float32Array;
      try {
        const args = inputs.map((x) => toF32(this.hostSync(x, op)));
        f32 = flatResult(this.kernel(build(), args.map((a) => a.length))(...args), outSize);
      } catch (e) {
        return this.onCpu(op, `a kernel error (${(e as Error).message.split('\n')[0]})`, inputs, [{ dtype: outDtype, size: outSize }], (h) => [cpu(h)])[0]!;
      }
      return this.make(outDtype, outSize, { host: fromF32(f32, outDtype), dev: null, readers: [] });
    }
    const captured = inputs.map((x) => st(x).current);
    const version = this.setupPromise.then(() => Promise.all(captured)).then(async (versions): Promise<Version> => {
      if (!this.setup!.gpu) {
        const hosts = await Promise.all(versions.map((v, i) => this.download(v, inputs[i]!.dtype, st(inputs[i]!).size)));
        return { host: cpu(inputs.map((x, i) => this.hostView(x, hosts[i]!))), dev: null, readers: [] };
      }
      try {
        const handles = versions.map((v) => this.upload(v));
        const dev = (await this.kernel(build(), inputs.map((x) => st(x).size))(...handles)) as WebGPUBufferResult;
        return { host: null, dev, readers: [] };
      } catch (e) {
        this.warnOnce(`${op}:kernel`, `@myriad/gpu: ${op} kernel failed (${(e as Error).message.split('\n')[0]}); it runs on the CPU backend`);
        const hosts = await Promise.all(versions.map((v, i) => this.download(v, inputs[i]!.dtype, st(inputs[i]!).size)));
        return { host: cpu(inputs.map((x, i) => this.hostView(x, hosts[i]!))), dev: null, readers: [] };
      }
    });
    this.issued = Promise.allSettled([this.issued, version]);
    return this.make(outDtype, outSize, version);
  }

  private operand(x: View): Operand {
    return { strides: x.strides, offset: x.offset };
  }

  // ---------------------------------------------------------------- Backend: memory

  fromTypedArray(data: TypedArray): Storage {
    const dtype: DType = data instanceof Float32Array ? 'float32' : data instanceof Int32Array ? 'int32' : 'float64';
    return this.make(dtype, data.length, { host: data, dev: null, readers: [] });
  }

  full(dtype: DType, size: number, value: number): Storage {
    const host = typedFor(dtype, size);
    if (value !== 0) host.fill(value);
    return this.make(dtype, size, { host, dev: null, readers: [] });
  }

  readSync(x: View): TypedArray {
    return cpuBackend.readSync(this.hostView(x, this.hostSync(x, 'readSync')));
  }

  async read(x: View): Promise<TypedArray> {
    const s = st(x);
    if (s.disposed) throw new Error('read: tensor storage was disposed');
    await this.setupPromise;
    const v = await s.current;
    const host = await this.download(v, s.dtype, s.size);
    return cpuBackend.readSync(this.hostView(x, host));
  }

  hostData(storage: Storage): TypedArray | null {
    // Synchronous modes keep data in host memory, so core may write it in place; on WebGPU the
    // device copy is the truth and a host write would be lost.
    if (this.async || !(storage instanceof GpuStorage)) return null;
    return storage.ready?.host ?? null;
  }

  dispose(storage: Storage): void {
    if (!(storage instanceof GpuStorage) || storage.disposed) return;
    storage.disposed = true;
    this.live.delete(storage);
    for (const scope of this.scopes) scope.created.delete(storage);
    const after = this.issued;
    void storage.current.then((v) => this.releaseVersion(v, after), () => {});
  }

  memory(): GpuMemory {
    let bytes = 0;
    for (const s of this.live) bytes += s.size * (s.dtype === 'float64' ? 8 : 4);
    return { buffers: this.live.size, bytes, kernels: this.kernels.size };
  }

  tidy<T>(fn: () => T): T {
    const scope = { created: new Set<GpuStorage>(), kept: new Set<GpuStorage>() };
    this.scopes.push(scope);
    let result: T;
    try {
      result = fn();
    } finally {
      this.scopes.pop();
    }
    const keep = new Set<GpuStorage>(scope.kept);
    const seen = new Set<unknown>();
    const walk = (x: unknown, depth: number): void => {
      if (x === null || typeof x !== 'object' || seen.has(x) || depth > 4) return;
      seen.add(x);
      if (x instanceof GpuStorage) { keep.add(x); return; }
      const s = (x as { storage?: unknown }).storage;
      if (s instanceof GpuStorage) keep.add(s);
      if (Array.isArray(x)) for (const y of x) walk(y, depth + 1);
      else if (Object.getPrototypeOf(x) === Object.prototype) for (const y of Object.values(x)) walk(y, depth + 1);
    };
    walk(result, 0);
    const parent = this.scopes[this.scopes.length - 1];
    for (const s of scope.created) {
      if (keep.has(s)) parent?.created.add(s);
      else this.dispose(s);
    }
    return result;
  }

  keep<T extends { storage: Storage } | Storage>(x: T): T {
    const s = x instanceof GpuStorage ? x : (x as { storage?: unknown }).storage;
    if (s instanceof GpuStorage) for (const scope of this.scopes) scope.kept.add(s);
    return x;
  }

  async sync(): Promise<void> {
    await this.setupPromise;
    await this.issued;
    const c = this.setup?.context;
    if (c) await c.device.queue.onSubmittedWorkDone();
  }

  async destroy(): Promise<void> {
    await this.sync();
    for (const s of [...this.live]) this.dispose(s);
    for (const k of this.kernels.values()) k.destroy();
    this.kernels.clear();
    await this.issued;
  }

  // ---------------------------------------------------------------- Backend: kernels

  cast(x: View, dtype: DType): Storage {
    const size = shapeSize(x.shape);
    const body = dtype === 'int32' && x.dtype !== 'int32' ? 'const r = v0 >= 0.0 ? Math.floor(v0) : -Math.floor(-v0);' : 'const r = v0;';
    return this.run('cast', [x], dtype, size, () => mapSource(`cast-${dtype}`, body, x.shape, [this.operand(x)]), ([h]) => cpuBackend.cast(h!, dtype) as TypedArray);
  }

  copyInto(dst: View, src: View): void {
    const d = st(dst);
    const s = st(src);
    if (!this.async) {
      cpuBackend.copyInto(this.hostView(dst, this.hostSync(dst, 'copyInto')), this.hostView(src, this.hostSync(src, 'copyInto')));
      return;
    }
    // WebGPU: write a new version on the host (the window may be any strided view), uploaded when next used.
    const next = Promise.all([d.current, s.current]).then(async ([dv, sv]) => {
      const dh = (await this.download(dv, d.dtype, d.size)).slice();
      const sh = await this.download(sv, s.dtype, s.size);
      cpuBackend.copyInto(this.hostView(dst, dh), this.hostView(src, sh));
      return { host: dh, dev: null, readers: [] } satisfies Version;
    });
    this.issued = Promise.allSettled([this.issued, next]);
    const after = this.issued;
    d.setVersion(next, (v) => this.releaseVersion(v, after));
  }

  unary(op: UnaryOp, x: View): Storage {
    const size = shapeSize(x.shape);
    if (x.dtype === 'int32') return this.onCpu(op, 'int32 tensors', [x], [{ dtype: 'int32', size }], ([h]) => [cpuBackend.unary(op, h!) as TypedArray])[0]!;
    return this.run(op, [x], x.dtype, size, () => mapSource(op, `const a = v0; ${UNARY_BODY[op]}`, x.shape, [this.operand(x)]), ([h]) => cpuBackend.unary(op, h!) as TypedArray);
  }

  binary(op: BinaryOp, a: View, b: View): Storage {
    const size = shapeSize(a.shape);
    if (a.dtype === 'int32') return this.onCpu(op, 'int32 tensors', [a, b], [{ dtype: 'int32', size }], ([ha, hb]) => [cpuBackend.binary(op, ha!, hb!) as TypedArray])[0]!;
    return this.run(op, [a, b], a.dtype, size, () => mapSource(op, `const a = v0; const b = v1; ${BINARY_BODY[op]}`, a.shape, [this.operand(a), this.operand(b)]),
      ([ha, hb]) => cpuBackend.binary(op, ha!, hb!) as TypedArray);
  }

  where(cond: View, a: View, b: View): Storage {
    const size = shapeSize(a.shape);
    if (a.dtype === 'int32') return this.onCpu('where', 'int32 tensors', [cond, a, b], [{ dtype: 'int32', size }], ([hc, ha, hb]) => [cpuBackend.where(hc!, ha!, hb!) as TypedArray])[0]!;
    return this.run('where', [cond, a, b], a.dtype, size, () => mapSource('where', 'const r = v0 !== 0.0 ? v1 : v2;', a.shape, [this.operand(cond), this.operand(a), this.operand(b)]),
      ([hc, ha, hb]) => cpuBackend.where(hc!, ha!, hb!) as TypedArray);
  }

  reduce(op: ReduceOp, x: View, axis: number): Storage {
    const outShape = x.shape.filter((_, d) => d !== axis);
    const size = shapeSize(outShape);
    const len = x.shape[axis]!;
    const cpu = ([h]: View[]): TypedArray => cpuBackend.reduce(op, h!, axis) as TypedArray;
    if (x.dtype === 'int32' || len === 0) return this.onCpu(op, len === 0 ? null : 'int32 tensors', [x], [{ dtype: x.dtype, size }], (h) => [cpu(h)])[0]!;
    const strides = x.strides.filter((_, d) => d !== axis);
    return this.run(op, [x], x.dtype, size, () => reduceSource(op, outShape, { strides, offset: x.offset }, len, x.strides[axis]!), cpu);
  }

  argmax(x: View, axis: number): Storage {
    const outShape = x.shape.filter((_, d) => d !== axis);
    const size = shapeSize(outShape);
    const len = x.shape[axis]!;
    const cpu = ([h]: View[]): TypedArray => cpuBackend.argmax(h!, axis) as TypedArray;
    if (x.dtype === 'int32' || len === 0) return this.onCpu('argmax', len === 0 ? null : 'int32 tensors', [x], [{ dtype: 'int32', size }], (h) => [cpu(h)])[0]!;
    const strides = x.strides.filter((_, d) => d !== axis);
    return this.run('argmax', [x], 'int32', size, () => reduceSource('argmax', outShape, { strides, offset: x.offset }, len, x.strides[axis]!), cpu);
  }

  matmul(a: View, b: View): Storage {
    const nd = a.shape.length;
    const M = a.shape[nd - 2]!, K = a.shape[nd - 1]!, N = b.shape[nd - 1]!;
    const batch = a.shape.slice(0, nd - 2);
    const size = shapeSize(batch) * M * N;
    const cpu = ([ha, hb]: View[]): TypedArray => cpuBackend.matmul(ha!, hb!) as TypedArray;
    if (a.dtype === 'int32' || K === 0) return this.onCpu('matmul', K === 0 ? null : 'int32 tensors', [a, b], [{ dtype: a.dtype, size }], (h) => [cpu(h)])[0]!;
    return this.run('matmul', [a, b], a.dtype, size, () => matmulSource(batch, M, N, K,
      { strides: a.strides.slice(0, nd - 2), offset: a.offset, rowStride: a.strides[nd - 2]!, colStride: a.strides[nd - 1]! },
      { strides: b.strides.slice(0, nd - 2), offset: b.offset, rowStride: b.strides[nd - 2]!, colStride: b.strides[nd - 1]! }), cpu);
  }

  rowOp(op: RowOp, x: View): Storage {
    const nd = x.shape.length;
    const n = x.shape[nd - 1]!;
    const rowShape = x.shape.slice(0, nd - 1);
    const rows = shapeSize(rowShape);
    const size = op === 'logsumexp' ? rows : rows * n;
    const cpu = ([h]: View[]): TypedArray => cpuBackend.rowOp(op, h!) as TypedArray;
    if (n === 0 || this.blocker([x], x.dtype, size)) return this.run(op, [x], x.dtype, size, () => { throw new Error('unreachable'); }, cpu);
    // Two kernels: per-row log-sum-exp, then an elementwise map reading it with stride 0 along the row.
    const lse = this.run('logsumexp', [x], x.dtype, rows, () => logsumexpSource(rowShape, { strides: x.strides.slice(0, nd - 1), offset: x.offset }, n, x.strides[nd - 1]!),
      ([h]) => cpuBackend.rowOp('logsumexp', { ...h!, shape: x.shape }) as TypedArray);
    if (op === 'logsumexp') return lse;
    const lseView: View = { storage: lse, shape: x.shape, strides: [...x.shape.slice(0, nd - 1).map((_, d) => shapeSize(rowShape.slice(d + 1))), 0], offset: 0, dtype: x.dtype };
    const body = op === 'softmax' ? 'const r = Math.exp(v0 - v1);' : 'const r = v0 - v1;';
    const out = this.run(op, [x, lseView], x.dtype, size, () => mapSource(op, body, x.shape, [this.operand(x), this.operand(lseView)]),
      ([h]) => cpuBackend.rowOp(op, h!) as TypedArray);
    this.dispose(lse);
    return out;
  }

  topk(x: View, k: number): { values: Storage; indices: Storage } {
    const nd = x.shape.length;
    const n = x.shape[nd - 1]!;
    const rowShape = x.shape.slice(0, nd - 1);
    const rows = shapeSize(rowShape);
    const cpu = (h: View[]): TypedArray[] => { const r = cpuBackend.topk(h[0]!, k); return [r.values as TypedArray, r.indices as TypedArray]; };
    const outs = [{ dtype: x.dtype, size: rows * k }, { dtype: 'int32' as DType, size: rows * k }];
    const reason = x.dtype === 'int32' ? 'int32 tensors' : this.blocker([x], x.dtype, rows * 2 * k);
    if (reason || rows === 0 || k === 0) { const [values, indices] = this.onCpu('topk', reason, [x], outs, cpu); return { values: values!, indices: indices! }; }
    // Rows must not alias (stride 0) so the 2k output slots stay the innermost thread dim.
    const src = x.strides.slice(0, nd - 1).some((s, d) => s === 0 && x.shape[d]! > 1) ? this.contiguousCopy(x) : null;
    const xv = src ?? x;
    const both = this.run('topk', [xv], x.dtype, rows * 2 * k, () => topkSource(rowShape, { strides: xv.strides.slice(0, nd - 1), offset: xv.offset }, n, xv.strides[nd - 1]!, k),
      (h) => { const [v, i] = cpu(h); const o = new Float32Array(rows * 2 * k); for (let r = 0; r < rows; r++) { for (let j = 0; j < k; j++) { o[r * 2 * k + j] = v![r * k + j]!; o[r * 2 * k + k + j] = i![r * k + j]!; } } return o; });
    if (src) this.dispose(src.storage);
    const bothView = (start: number, dtype: DType): View => ({ storage: both, shape: [rows, k], strides: [2 * k, 1], offset: start, dtype });
    const values = this.cast(bothView(0, x.dtype), x.dtype);
    const indices = this.cast(bothView(k, 'float32'), 'int32');
    this.dispose(both);
    return { values, indices };
  }

  private contiguousCopy(x: View): View {
    const storage = this.cast(x, x.dtype);
    let expected = 1;
    const strides = x.shape.map(() => 0);
    for (let d = x.shape.length - 1; d >= 0; d--) { strides[d] = expected; expected *= x.shape[d]!; }
    return { storage, shape: x.shape, strides, offset: 0, dtype: x.dtype };
  }

  gather(x: View, dim: number, index: View): Storage {
    const size = shapeSize(index.shape);
    const cpu = ([hx, hi]: View[]): TypedArray => cpuBackend.gather(hx!, dim, hi!) as TypedArray;
    if (x.dtype === 'int32') return this.onCpu('gather', 'int32 tensors', [x, index], [{ dtype: 'int32', size }], (h) => [cpu(h)])[0]!;
    if (!this.async) this.checkIndices('gather', index, x.shape[dim]!, dim);
    const xs = x.strides.map((s, d) => (d === dim ? 0 : s));
    return this.run('gather', [x, index], x.dtype, size, () => gatherSource(index.shape, { strides: xs, offset: x.offset }, this.operand(index), x.strides[dim]!), cpu);
  }

  gatherRows(table: View, indices: View): Storage {
    const width = shapeSize(table.shape.slice(1));
    const n = shapeSize(indices.shape);
    const cpu = ([ht, hi]: View[]): TypedArray => cpuBackend.gatherRows(ht!, hi!) as TypedArray;
    if (table.dtype === 'int32') return this.onCpu('gatherRows', 'int32 tensors', [table, indices], [{ dtype: 'int32', size: n * width }], (h) => [cpu(h)])[0]!;
    if (!this.async) this.checkIndices('indexSelect', indices, table.shape[0]!, 0);
    const outShape = [n, ...table.shape.slice(1)];
    const flatIdx = isContiguous(indices) ? [1] : null;
    if (!flatIdx) return this.onCpu('gatherRows', 'strided index tensors', [table, indices], [{ dtype: table.dtype, size: n * width }], (h) => [cpu(h)])[0]!;
    const ts = [0, ...table.strides.slice(1)];
    const is = [1, ...table.shape.slice(1).map(() => 0)];
    return this.run('gatherRows', [table, indices], table.dtype, n * width, () => gatherSource(outShape, { strides: ts, offset: table.offset }, { strides: is, offset: indices.offset }, table.strides[0]!), cpu);
  }

  scatterAdd(x: View, dim: number, index: View, src: View): Storage {
    // Documented CPU fallback: a scatter needs atomics or a sort, which gpu.js kernels cannot express.
    return this.onCpu('scatterAdd', null, [x, index, src], [{ dtype: x.dtype, size: shapeSize(x.shape) }], ([hx, hi, hs]) => [cpuBackend.scatterAdd(hx!, dim, hi!, hs!) as TypedArray])[0]!;
  }

  scatterAddRows(rows: number, indices: View, src: View): Storage {
    const width = shapeSize(src.shape.slice(1));
    return this.onCpu('scatterAddRows', null, [indices, src], [{ dtype: src.dtype, size: rows * width }], ([hi, hs]) => [cpuBackend.scatterAddRows(rows, hi!, hs!) as TypedArray])[0]!;
  }

  cumsum(x: View): Storage {
    return this.onCpu('cumsum', 'no kernel yet', [x], [{ dtype: x.dtype, size: shapeSize(x.shape) }], ([h]) => [cpuBackend.cumsum(h!) as TypedArray])[0]!;
  }

  uniqueRows(indices: View, src: View): { indices: Storage; values: Storage } {
    const n = shapeSize(indices.shape);
    const [i, v] = this.onCpu('uniqueRows', 'no kernel yet', [indices, src], [{ dtype: 'int32', size: n }, { dtype: src.dtype, size: shapeSize(src.shape) }], ([hi, hs]) => {
      const r = cpuBackend.uniqueRows(hi!, hs!);
      return [r.indices as TypedArray, r.values as TypedArray];
    });
    return { indices: i!, values: v! };
  }

  applyUpdate(rule: UpdateRule, state: readonly View[], grad: View, rowIndex: View | null, scalars: readonly number[]): Storage[] {
    const inputs = rowIndex ? [...state, grad, rowIndex] : [...state, grad];
    return this.onCpu('applyUpdate', 'no kernel yet', inputs, state.map((v) => ({ dtype: v.dtype, size: shapeSize(v.shape) })), (h) =>
      cpuBackend.applyUpdate(rule, h.slice(0, state.length), h[state.length]!, rowIndex ? h[state.length + 1]! : null, scalars) as TypedArray[],
    );
  }

  /** Index bounds, checked on the host where the indices are there to read (synchronous modes). */
  private checkIndices(op: string, index: View, size: number, dim: number): void {
    const idx = this.readSync(index);
    for (let i = 0; i < idx.length; i++) {
      const j = idx[i]!;
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
