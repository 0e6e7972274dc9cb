/**
 * Transfer and launch counters of the gpu backend, counted at the backend boundary so the numbers
 * mean the same in every mode (in the synchronous modes "the device" is gpu.js's own memory).
 */

/** What crossed between host code and the backend's storage, and how many kernels ran. */
export interface GpuStats {
  /** Host data entering a storage that kernels read (fromTypedArray, results of CPU fallbacks, host copies). */
  readonly uploads: number;
  readonly uploadBytes: number;
  /** Storage contents handed to host code (read, readSync/toTypedArray, host data, inputs of CPU fallbacks). */
  readonly downloads: number;
  readonly downloadBytes: number;
  /** gpu.js kernel launches (a multi-pass op such as a sort counts every pass). */
  readonly kernelLaunches: number;
  /** Ops that ran on core's CPU backend instead of a kernel. */
  readonly cpuFallbacks: number;
}

/** Mutable counters behind `GpuBackend.stats()`. */
export class StatsCounter {
  uploads = 0;
  uploadBytes = 0;
  downloads = 0;
  downloadBytes = 0;
  kernelLaunches = 0;
  cpuFallbacks = 0;

  upload(bytes: number): void {
    this.uploads++;
    this.uploadBytes += bytes;
  }

  download(bytes: number): void {
    this.downloads++;
    this.downloadBytes += bytes;
  }

  snapshot(): GpuStats {
    const { uploads, uploadBytes, downloads, downloadBytes, kernelLaunches, cpuFallbacks } = this;
    return { uploads, uploadBytes, downloads, downloadBytes, kernelLaunches, cpuFallbacks };
  }

  reset(): void {
    this.uploads = this.uploadBytes = this.downloads = this.downloadBytes = this.kernelLaunches = this.cpuFallbacks = 0;
  }
}
