/**
 * The storage lifecycle of the gpu backend: the gpu.js mode, compiled kernels, live storages and
 * their versions, tidy scopes, uploads and downloads (with the transfer counters), and running
 * kernel programs or their CPU fallbacks. The Backend methods (gpu-backend.ts) only choose programs.
 */
import { cpuBackend, type DType, type TypedArray, type View } from '@myriad/core';
import { setupMode, setupSyncMode, type ModeSetup } from './device.js';
import type { GpuMode, KernelRun, WebGPUBufferResult, WebGPUContextObject } from './gpujs.js';
import { WebGPUBufferResultClass } from './gpujs.js';
import type { DeviceArray, Launch, Program, ProgramContext, ProgramFn } from './kernels/program.js';
import type { KernelSource } from './kernels/source.js';
import { StatsCounter } from './stats.js';
import { GpuStorage, hostVersion, type Version, type VersionCell } from './storage.js';

const STORAGE = 0x80,
  COPY_SRC = 0x04,
  COPY_DST = 0x08,
  MAP_READ = 0x01;

/** An output of an op: dtype and element count. */
export interface OutSpec {
  readonly dtype: DType;
  readonly size: number;
}

/** The host form of the inputs, for a CPU fallback. */
export type CpuFn = (hostViews: View[]) => TypedArray[];

/** The gpu storage behind a view (throws for another backend's storage). */
export function st(v: View): GpuStorage {
  if (!(v.storage instanceof GpuStorage)) {
    throw new TypeError('gpu backend: tensor storage belongs to another backend; move it with tensor(t.toTypedArray()) first');
  }
  return v.storage;
}

function toF32(a: TypedArray): Float32Array {
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

function fromF32(f32: Float32Array, dtype: DType): TypedArray {
  if (dtype === 'float32') return f32;
  if (dtype === 'int32') return Int32Array.from(f32);
  return Float64Array.from(f32);
}

/** Flattens gpu.js's result (a Float32Array, or rows/layers of subarrays) into one Float32Array. */
function flatResult(out: unknown, size: number): Float32Array {
  if (out instanceof Float32Array) return out.length === size ? out : out.slice(0, size);
  let first: unknown = out;
  while (Array.isArray(first)) first = first[0];
  const row = first as Float32Array;
  if (row.byteOffset === 0 && row.buffer.byteLength >= size * 4) {
    // Rows are views of one buffer on webasm; check the last row landed where expected.
    let last: unknown = out;
    while (Array.isArray(last)) last = last[last.length - 1];
    const l = last as Float32Array;
    if (l.buffer === row.buffer && l.byteOffset + l.byteLength === size * 4) return new Float32Array(row.buffer, 0, size);
  }
  const flat = new Float32Array(size);
  let p = 0;
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) {
      for (const y of x) walk(y);
    } else {
      flat.set(x as Float32Array, p);
      p += (x as Float32Array).length;
    }
  };
  walk(out);
  return flat;
}

function gpuOutput(o: readonly [number, number, number]): number[] {
  return o[2] > 1 ? [o[0], o[1], o[2]] : o[1] > 1 ? [o[0], o[1]] : [o[0]];
}

function hostView(x: View, host: TypedArray): View {
  return { storage: host, shape: x.shape, strides: x.strides, offset: x.offset, dtype: x.dtype };
}

export class Runtime {
  readonly async: boolean;
  readonly stats = new StatsCounter();
  readonly ready: Promise<ModeSetup>;
  setup: ModeSetup | null = null;
  /** Settles (to undefined) after every op issued so far has been submitted (WebGPU): buffers are freed behind it. */
  issued: Promise<void> = Promise.resolve();
  private readonly kernels = new Map<string, KernelRun>();
  /**
   * Keys of kernels compiled so far (up to 16 × cacheSize; cleared beyond), and the compilations and
   * re-compilations of the current window of `cacheSize` compilations: to notice a program whose
   * kernels do not fit the cache, which then recompiles them over and over.
   */
  private readonly compiledKeys = new Set<string>();
  private compilesInWindow = 0;
  private rebuildsInWindow = 0;
  // Live storages, held weakly: a storage no tensor references any more is garbage-collected and
  // `reclaim` frees its device buffer, so a training loop needs no tidy() to stay flat. dispose() and
  // tidy() free at once.
  private readonly live = new Set<WeakRef<GpuStorage>>();
  private readonly refs = new WeakMap<GpuStorage, WeakRef<GpuStorage>>();
  private liveBytes = 0;
  private readonly reclaim = new FinalizationRegistry<{ ref: WeakRef<GpuStorage>; bytes: number; cell: VersionCell }>((r) => {
    if (!this.live.delete(r.ref)) return;
    this.liveBytes -= r.bytes;
    const after = this.issued;
    void r.cell.current.then(
      (v) => this.releaseVersion(v, after),
      () => {},
    );
  });
  private readonly scopes: { created: Set<GpuStorage>; kept: Set<GpuStorage> }[] = [];
  private readonly warned = new Set<string>();

  constructor(
    readonly requestedMode: GpuMode,
    private readonly warnFn: (m: string) => void,
    private readonly cacheSize: number,
  ) {
    this.async = requestedMode === 'webgpu';
    this.ready = this.async ? setupMode('webgpu').then((s) => this.adopt(s)) : Promise.resolve(this.adopt(setupSyncMode(requestedMode)));
  }

  private adopt(s: ModeSetup): ModeSetup {
    this.setup = s;
    if (s.reason) this.warnOnce('setup', `@myriad/gpu: ${s.reason}; every op runs on the CPU backend`);
    return s;
  }

  get mode(): string {
    return this.setup ? this.setup.mode : this.requestedMode;
  }

  /** True once setup has finished without a gpu.js instance (every op runs on the CPU backend). */
  get noKernels(): boolean {
    return this.setup !== null && this.setup.gpu === null;
  }

  warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.warnFn(message);
  }

  // ---------------------------------------------------------------- storages and versions

  /**
   * A new tracked storage. `fromHost`: its data came from host code, counted as an upload here in
   * synchronous modes (WebGPU counts it when a kernel first reads it); float64 never leaves the host.
   */
  make(dtype: DType, size: number, version: Version | Promise<Version>, fromHost: boolean): GpuStorage {
    const s = new GpuStorage(dtype, size, version);
    if (fromHost && !this.async && size > 0 && dtype !== 'float64') this.stats.upload(s.bytes);
    this.track(s);
    const scope = this.scopes[this.scopes.length - 1];
    if (scope) scope.created.add(s);
    return s;
  }

  /** Frees a version's device buffer once every op issued before now has been submitted. */
  releaseVersion(v: Version, after: Promise<unknown> = this.issued): void {
    void after.then(() => {
      v.dev?.delete();
      v.dev = null;
    });
  }

  /**
   * Records queued work (WebGPU) so disposal and sync() wait for it. The chain settles to undefined:
   * `allSettled` alone would resolve to [previous result, this result], a nested list of every op's
   * outputs since the backend was created, kept alive by `issued` (the soak benchmark's webgpu leak).
   */
  enqueue(p: Promise<unknown>): void {
    this.issued = Promise.allSettled([this.issued, p]).then(() => undefined);
  }

  private track(s: GpuStorage): void {
    const ref = new WeakRef(s);
    this.refs.set(s, ref);
    this.live.add(ref);
    this.liveBytes += s.bytes;
    this.reclaim.register(s, { ref, bytes: s.bytes, cell: s.cell }, s);
  }

  private untrack(s: GpuStorage): void {
    const ref = this.refs.get(s);
    if (ref && this.live.delete(ref)) this.liveBytes -= s.bytes;
    this.reclaim.unregister(s);
  }

  dispose(storage: GpuStorage): void {
    if (storage.disposed) return;
    storage.disposed = true;
    this.untrack(storage);
    for (const scope of this.scopes) scope.created.delete(storage);
    const after = this.issued;
    void storage.current.then(
      (v) => this.releaseVersion(v, after),
      () => {},
    );
  }

  /** Makes `from`'s contents the new version of `to` (copyInto), releasing `to`'s old version after its readers. */
  moveInto(to: GpuStorage, from: GpuStorage): void {
    this.untrack(from);
    for (const scope of this.scopes) scope.created.delete(from);
    from.disposed = true;
    const after = this.issued;
    to.setVersion(from.ready ?? from.current, (v) => this.releaseVersion(v, after));
  }

  memory(): { buffers: number; bytes: number; kernels: number } {
    return { buffers: this.live.size, bytes: this.liveBytes, kernels: this.kernels.size };
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
      if (x instanceof GpuStorage) {
        keep.add(x);
        return;
      }
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

  keep(s: GpuStorage): void {
    for (const scope of this.scopes) scope.kept.add(s);
  }

  async sync(): Promise<void> {
    await this.ready;
    await this.issued;
    const c = this.setup?.context;
    if (c) await c.device.queue.onSubmittedWorkDone();
  }

  async destroy(): Promise<void> {
    await this.sync();
    for (const ref of [...this.live]) {
      const s = ref.deref();
      if (s) this.dispose(s);
    }
    for (const k of this.kernels.values()) k.destroy();
    this.kernels.clear();
    await this.issued;
  }

  // ---------------------------------------------------------------- transfers

  context(): WebGPUContextObject {
    const c = this.setup?.context;
    if (!c) throw new Error('gpu backend: no WebGPU device');
    return c;
  }

  /** The version's device buffer, uploading its host data the first time (WebGPU; counted). */
  upload(v: Version): WebGPUBufferResult {
    if (v.dev) return v.dev;
    const data = toF32(v.host!);
    const ctx = this.context();
    const buffer = ctx.device.createBuffer({ size: Math.max(4, data.byteLength), usage: STORAGE | COPY_SRC | COPY_DST });
    ctx.device.queue.writeBuffer(buffer, 0, data);
    this.stats.upload(data.byteLength);
    v.dev = new WebGPUBufferResultClass({ buffer, output: [Math.max(1, data.length)], context: ctx, kernel: null });
    return v.dev;
  }

  /** A zero-initialised device buffer of `size` f32 elements (WebGPU buffers start zeroed: no upload). */
  zeroBuffer(size: number): WebGPUBufferResult {
    const ctx = this.context();
    const buffer = ctx.device.createBuffer({ size: Math.max(4, size * 4), usage: STORAGE | COPY_SRC | COPY_DST });
    return new WebGPUBufferResultClass({ buffer, output: [Math.max(1, size)], context: ctx, kernel: null });
  }

  /** A vector-valued kernel result as a plain f32 buffer (the components lie consecutively), so kernels can read it. */
  private flatten(out: WebGPUBufferResult, components: number): WebGPUBufferResult {
    const size = out.output.reduce((x, y) => x * y, 1) * components;
    const flat = new WebGPUBufferResultClass({ buffer: out.buffer, output: [size], context: out.context, kernel: null });
    out.delete(); // the buffer is reference-counted: it lives on in `flat`
    return flat;
  }

  /** The version's contents on the host (WebGPU: copied back once and kept). Callers count the download. */
  async download(v: Version, dtype: DType, size: number): Promise<TypedArray> {
    if (v.host) return v.host;
    const dev = v.dev!;
    const ctx = this.context();
    const bytes = Math.max(4, size * 4);
    const staging = ctx.device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
    let f32: Float32Array;
    try {
      const enc = ctx.device.createCommandEncoder();
      enc.copyBufferToBuffer(dev.buffer, 0, staging, 0, bytes);
      ctx.device.queue.submit([enc.finish()]);
      await staging.mapAsync(MAP_READ);
      f32 = new Float32Array(staging.getMappedRange().slice(0, size * 4));
      staging.unmap();
    } finally {
      staging.destroy(); // also when the copy or the mapping fails (a lost device): no staging buffer outlives its read
    }
    v.host = fromF32(f32, dtype);
    return v.host;
  }

  /** The host copy of a view's storage, synchronously (synchronous modes, or data that never left the host). */
  hostSync(x: View, op: string): TypedArray {
    const v = st(x).ready;
    if (!v || !v.host) {
      const why = `the gpu backend (${this.mode}) keeps this tensor on the device and cannot answer synchronously`;
      throw new Error(`${op}: ${why}; use await t.read()`);
    }
    return v.host;
  }

  // ---------------------------------------------------------------- kernels and programs

  /**
   * The compiled kernel for `built` whose arguments have these sizes: gpu.js's synchronous modes fix
   * argument sizes at build; WebGPU binds buffers of any size (their dims are per-run parameters).
   */
  private kernel(built: KernelSource, sizes: readonly (number | string)[]): KernelRun {
    const key = this.async ? built.key : `${built.key}#${sizes.join(',')}`;
    const hit = this.kernels.get(key);
    if (hit) {
      this.kernels.delete(key);
      this.kernels.set(key, hit);
      return hit;
    }
    this.noteCompile(key);
    const settings: Record<string, unknown> = { output: gpuOutput(built.output), loopMaxIterations: 1 << 30 };
    if (this.async) Object.assign(settings, { pipeline: true, immutable: true });
    const k = this.setup!.gpu!.createKernel(built.source, settings);
    this.kernels.set(key, k);
    if (this.kernels.size > this.cacheSize) {
      const [oldKey, old] = this.kernels.entries().next().value as [string, KernelRun];
      this.kernels.delete(oldKey);
      old.destroy();
    }
    return k;
  }

  /**
   * Counts a compilation of `key` and warns once when most compilations of a window are of kernels
   * compiled before: a loop over more kernels than the cache holds misses on every kernel (LRU) and
   * recompiles each one every step (~5x slower on WebGPU-lavapipe for the soak's 267 kernels against
   * a cache of 256). Occasional re-compilations over a long run do not add up to a warning.
   */
  private noteCompile(key: string): void {
    if (this.compiledKeys.has(key)) this.rebuildsInWindow++;
    else {
      if (this.compiledKeys.size >= 16 * this.cacheSize) this.compiledKeys.clear();
      this.compiledKeys.add(key);
    }
    if (++this.compilesInWindow < this.cacheSize) return;
    if (this.rebuildsInWindow * 2 >= this.compilesInWindow) {
      this.warnOnce(
        'kernel-cache',
        `@myriad/gpu: ${this.rebuildsInWindow} of the last ${this.compilesInWindow} kernel compilations were of kernels that ` +
          `kernelCacheSize (${this.cacheSize}) had evicted; the program uses more kernels than the cache holds, so it ` +
          'recompiles them over and over: raise kernelCacheSize',
      );
    }
    this.compilesInWindow = this.rebuildsInWindow = 0;
  }

  private argSizes(l: Launch): (number | string)[] {
    const size = (a: DeviceArray): number =>
      a instanceof Float32Array ? a.length : (a as WebGPUBufferResult).output.reduce((x, y) => x * y, 1);
    return l.args.map((a) => (typeof a === 'number' ? 'n' : size(a)));
  }

  private driveSync(p: Program): Float32Array[] {
    let step = p.next();
    while (!step.done) {
      const l = step.value;
      const o = l.src.output;
      const out = flatResult(this.kernel(l.src, this.argSizes(l))(...l.args), o[0] * o[1] * o[2] * (l.src.components ?? 1));
      this.stats.kernelLaunches++;
      step = p.next(out as DeviceArray);
    }
    return step.value as Float32Array[];
  }

  private async driveAsync(p: Program): Promise<WebGPUBufferResult[]> {
    let step = p.next();
    while (!step.done) {
      const l = step.value;
      let out = (await this.kernel(l.src, this.argSizes(l))(...l.args)) as WebGPUBufferResult;
      this.stats.kernelLaunches++;
      if (l.src.components) out = this.flatten(out, l.src.components);
      step = p.next(out as DeviceArray);
    }
    return step.value as WebGPUBufferResult[];
  }

  private readonly syncCtx: ProgramContext = { free: () => {} };
  private readonly asyncCtx: ProgramContext = { free: (a) => (a as WebGPUBufferResult).delete() };

  /**
   * Runs `program` over the inputs' storages and returns new storages for `outs`; where `reason` is
   * given (or a kernel fails) runs `cpu` on host copies instead. Synchronous modes answer at once;
   * WebGPU chains the work after the inputs' queued versions and returns storages at once.
   */
  exec(op: string, reason: string | null, inputs: readonly View[], outs: readonly OutSpec[], program: ProgramFn, cpu: CpuFn): GpuStorage[] {
    if (outs.every((o) => o.size === 0)) return outs.map((o) => this.make(o.dtype, 0, hostVersion(typedEmpty(o.dtype)), false));
    if (reason || this.noKernels) return this.onCpu(op, reason ?? 'no gpu.js mode', inputs, outs, cpu);
    if (!this.async) {
      let results: Float32Array[];
      try {
        results = this.driveSync(
          program(
            inputs.map((x) => toF32(this.hostSync(x, op)) as DeviceArray),
            this.syncCtx,
          ),
        );
      } catch (e) {
        return this.onCpu(op, `a kernel error (${(e as Error).message.split('\n')[0]})`, inputs, outs, cpu);
      }
      return outs.map((o, i) => {
        const r = results[i]!;
        return this.make(o.dtype, o.size, hostVersion(fromF32(r.length === o.size ? r : r.slice(0, o.size), o.dtype)), false);
      });
    }
    const captured = inputs.map((x) => st(x).current);
    const all = this.ready
      .then(() => Promise.all(captured))
      .then(async (versions): Promise<Version[]> => {
        if (!this.setup!.gpu) return (await this.cpuOn(versions, inputs, cpu)).map(hostVersion);
        try {
          const handles = versions.map((v) => this.upload(v) as DeviceArray);
          return (await this.driveAsync(program(handles, this.asyncCtx))).map((dev) => ({ host: null, dev }));
        } catch (e) {
          const why = (e as Error).message.split('\n')[0];
          this.warnOnce(`${op}:kernel`, `@myriad/gpu: ${op} kernel failed (${why}); it runs on the CPU backend`);
          this.stats.cpuFallbacks++;
          return (await this.cpuOn(versions, inputs, cpu)).map(hostVersion);
        }
      });
    this.enqueue(all);
    return outs.map((o, i) =>
      this.make(
        o.dtype,
        o.size,
        all.then((r) => r[i]!),
        false,
      ),
    );
  }

  /** WebGPU: downloads the versions (counted) and runs `cpu` on them. */
  private async cpuOn(versions: readonly Version[], inputs: readonly View[], cpu: CpuFn): Promise<TypedArray[]> {
    const hosts = await Promise.all(versions.map((v, i) => this.download(v, inputs[i]!.dtype, st(inputs[i]!).size)));
    for (const x of inputs) this.stats.download(st(x).bytes);
    return cpu(inputs.map((x, i) => hostView(x, hosts[i]!)));
  }

  /**
   * Runs the CPU backend's version of an op on host copies of the inputs (downloads, and uploads of
   * the results, counted). Synchronous modes answer at once; WebGPU chains it after the inputs' work.
   */
  onCpu(op: string, reason: string, inputs: readonly View[], outs: readonly OutSpec[], cpu: CpuFn): GpuStorage[] {
    this.warnOnce(`${op}:${reason}`, `@myriad/gpu: ${op} on ${reason} runs on the CPU backend (${this.mode} mode)`);
    this.stats.cpuFallbacks++;
    if (!this.async) {
      const hosts = inputs.map((x) => hostView(x, this.hostSync(x, op)));
      for (const x of inputs) this.stats.download(st(x).bytes);
      const results = cpu(hosts);
      return outs.map((o, i) => this.make(o.dtype, o.size, hostVersion(results[i]!), true));
    }
    const captured = inputs.map((x) => st(x).current);
    const all = this.ready.then(() => Promise.all(captured)).then((versions) => this.cpuOn(versions, inputs, cpu));
    this.enqueue(all);
    return outs.map((o, i) =>
      this.make(
        o.dtype,
        o.size,
        all.then((r) => hostVersion(r[i]!)),
        true,
      ),
    );
  }

  /** A contiguous host copy of a view for host code (read/readSync), counted as a download. */
  async readView(x: View): Promise<TypedArray> {
    const s = st(x);
    if (s.disposed) throw new Error('read: tensor storage was disposed');
    await this.ready;
    const v = await s.current;
    const host = await this.download(v, s.dtype, s.size);
    const out = cpuBackend.readSync(hostView(x, host)) as TypedArray;
    this.stats.download(out.byteLength);
    return out;
  }

  readViewSync(x: View): TypedArray {
    const out = cpuBackend.readSync(hostView(x, this.hostSync(x, 'readSync'))) as TypedArray;
    this.stats.download(out.byteLength);
    return out;
  }

  hostViewOf(x: View, host: TypedArray): View {
    return hostView(x, host);
  }
}

function typedEmpty(dtype: DType): TypedArray {
  return dtype === 'float32' ? new Float32Array(0) : dtype === 'float64' ? new Float64Array(0) : new Int32Array(0);
}
