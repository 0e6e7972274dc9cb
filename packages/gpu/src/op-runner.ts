/**
 * How a gpu backend method runs: `op` asks the fallback table (fallbacks.ts) whether the op runs as
 * a kernel program or on core's CPU backend, then hands either to the runtime. The methods in
 * methods/* are written against this class; gpu-backend.ts owns one and delegates to them.
 */
import { cpuBackend, type DType, type Storage, type TypedArray, type View } from '@myriad/core';
import { fallbackReason } from './fallbacks.js';
import { cast } from './methods/copies.js';
import { noProgram, single, type ProgramFn } from './kernels/program.js';
import type { KernelSource } from './kernels/source.js';
import { st, type CpuFn, type OutSpec, type Runtime } from './runtime.js';
import { hostVersion, typedFor, type GpuStorage } from './storage.js';
import { viewOf } from './views.js';

/** Runs the backend's ops on one runtime: kernel programs, their CPU fallbacks and the copies they need. */
export class OpRunner {
  constructor(readonly rt: Runtime) {}

  /** True when ops only enqueue work (WebGPU). */
  get async(): boolean {
    return this.rt.async;
  }

  /**
   * Runs an op's program, or its CPU version where the fallback table says so. `scratch`: element
   * counts of the program's largest intermediate buffers (a sort's rows padded to a power of two),
   * which the size limit covers as it covers inputs and outputs.
   */
  op(
    key: string,
    dtype: DType,
    inputs: readonly View[],
    outs: readonly OutSpec[],
    program: () => ProgramFn,
    cpu: CpuFn,
    scratch: readonly number[] = [],
  ): GpuStorage[] {
    const reason = fallbackReason(key, dtype, [...inputs.map((v) => st(v).size), ...outs.map((o) => o.size), ...scratch]);
    return this.rt.exec(key, reason, inputs, outs, reason ? noProgram : program(), cpu);
  }

  /** An op of one kernel and one output. */
  one(
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
  contiguous(x: View): View {
    return viewOf(cast(this, x, x.dtype) as GpuStorage, x.shape, x.dtype);
  }

  /** Releases the storages of views this runner made (contiguous copies, intermediate keys). */
  free(...views: View[]): void {
    for (const v of views) this.rt.dispose(st(v));
  }

  /** Backend.full: storage of `size` elements equal to `value`; never a host upload on WebGPU. */
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

  /** Index bounds, checked on the host where the indices are there to read (synchronous modes; −1 allowed where `empty`). */
  checkIndices(op: string, index: View, size: number, dim: number, empty = false): void {
    const idx = cpuBackend.readSync(this.rt.hostViewOf(index, this.rt.hostSync(index, op)));
    for (let i = 0; i < idx.length; i++) {
      const j = idx[i]!;
      if (empty && j === -1) continue;
      if (j < 0 || j >= size || !Number.isInteger(j)) throw new RangeError(`${op}: index ${j} out of range for dim ${dim} of size ${size}`);
    }
  }
}
