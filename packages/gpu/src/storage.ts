/**
 * Storage of the gpu backend. Contents are immutable versions: an op captures the version of each
 * input when it is called, so later in-place writes (copyInto) never change what an earlier queued
 * op reads. In synchronous modes a version is always ready; in WebGPU mode it may still be queued.
 */
import type { DType, TypedArray } from '@myriad/core';
import type { WebGPUBufferResult } from './gpujs.js';

/** One immutable content of a storage: host copy, device buffer, or both. */
export interface Version {
  host: TypedArray | null;
  dev: WebGPUBufferResult | null;
}

/** A version holding host data (from host code, or a copy read back). */
export function hostVersion(host: TypedArray | null): Version {
  return { host, dev: null };
}

/**
 * Where a storage's current version is kept. It is a separate object so that the backend can free
 * the device buffer of a storage that was garbage-collected (a FinalizationRegistry holds the cell,
 * which must not reach the storage itself).
 */
export interface VersionCell {
  current: Promise<Version>;
}

/** A tensor's memory on the gpu backend. */
export class GpuStorage {
  /** The current version, once known (always, in synchronous modes). */
  ready: Version | null;
  readonly cell: VersionCell;
  disposed = false;

  /** Resolves to the current version (WebGPU: after the queued op that writes it has been submitted). */
  get current(): Promise<Version> {
    return this.cell.current;
  }
  set current(p: Promise<Version>) {
    this.cell.current = p;
  }

  constructor(
    readonly dtype: DType,
    readonly size: number,
    version: Version | Promise<Version>,
  ) {
    this.cell = { current: Promise.resolve(hostVersion(null)) };
    if (version instanceof Promise) {
      this.ready = null;
      this.current = version.then((v) => {
        if (this.current === p) this.ready = v;
        return v;
      });
      const p = this.current;
    } else {
      this.ready = version;
      this.current = Promise.resolve(version);
    }
  }

  /** Bytes the contents take (f32/i32 elements on the device; f64 stays on the host). */
  get bytes(): number {
    return this.size * (this.dtype === 'float64' ? 8 : 4);
  }

  /** Replaces the contents (copyInto); the old version is released once its readers are done. */
  setVersion(version: Version | Promise<Version>, release: (v: Version) => void): void {
    const old = this.current;
    if (version instanceof Promise) {
      this.ready = null;
      const p = version.then((v) => {
        if (this.current === p) this.ready = v;
        return v;
      });
      this.current = p;
    } else {
      this.ready = version;
      this.current = Promise.resolve(version);
    }
    void old.then(release, () => {});
  }
}

/** The typed array class for a dtype. */
export function typedFor(dtype: DType, size: number): TypedArray {
  return dtype === 'float32' ? new Float32Array(size) : dtype === 'float64' ? new Float64Array(size) : new Int32Array(size);
}
