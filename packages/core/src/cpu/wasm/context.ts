// The shared state of the WebAssembly kernels: one runtime (module + memory), one lazily started
// worker pool, and the thread count to use. Created on first use; `getWasmContext()` returns null
// where WebAssembly SIMD is unavailable, and then every kernel falls back to plain TypeScript.
import { MAX_THREADS, type Round, runRounds, WorkerPool } from './pool.js';
import { WasmRuntime } from './runtime.js';

/** Multiply-adds below which a matmul stays on the calling thread (waking workers costs ~50 µs). */
export const PARALLEL_MIN_WORK = 1 << 20;

interface NodeProcess {
  env?: Record<string, string | undefined>;
  versions?: { node?: string };
  getBuiltinModule?: (id: string) => unknown;
}
const proc = (globalThis as { process?: NodeProcess }).process;

/** MYRIAD_CPU_THREADS, else the cores Node reports, else a browser's navigator.hardwareConcurrency, else 1. */
function defaultThreads(): number {
  const fromEnv = Number(proc?.env?.MYRIAD_CPU_THREADS);
  if (Number.isInteger(fromEnv) && fromEnv >= 1) return fromEnv;
  const os = proc?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number } | undefined;
  const fromOs = os?.availableParallelism?.();
  if (fromOs !== undefined) return fromOs;
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof cores === 'number' && Number.isInteger(cores) && cores >= 1 ? cores : 1;
}

let noted = false;

/** Says once, on the console, why a browser runs the kernels on one thread although it has more cores. */
function noteSingleThread(maxThreads: number, why: string): void {
  if (noted || proc?.versions?.node !== undefined) return;
  noted = true;
  console.info(`myriad: the CPU backend's WebAssembly kernels run on 1 thread instead of ${maxThreads}: ${why}.`);
}

/** The WebAssembly kernels' threads (see `wasmThreads` in install.ts). */
export interface WasmThreads {
  /** Threads the kernels may use, the calling thread included. */
  readonly max: number;
  /** Threads ready now: the calling thread plus the workers started so far (at most `max`). */
  readonly ready: number;
  /** The kind of workers, or null without a pool. */
  readonly workers: WorkerPool['kind'] | null;
  /** Why there is no pool though `max` > 1 (e.g. a page that is not cross-origin isolated), or null. */
  readonly why: string | null;
}

/** Runtime, pool and thread setting shared by all WebAssembly kernels. */
export class WasmContext {
  private pool: WorkerPool | null | undefined = undefined;
  private threadLimit = Math.min(defaultThreads(), MAX_THREADS);

  /** Most threads a kernel may use, the calling thread included (at most MAX_THREADS, 64: larger values are capped). */
  get maxThreads(): number {
    return this.threadLimit;
  }
  set maxThreads(n: number) {
    this.threadLimit = Math.max(1, Math.min(n, MAX_THREADS));
  }

  constructor(readonly rt: WasmRuntime) {}

  /**
   * Threads to use for `work` multiply-adds: 1 for small problems or without a pool; otherwise
   * starts workers on first use and counts only those already running, so a call never waits for
   * a worker to boot (results do not depend on the count).
   */
  threadsFor(work: number): number {
    if (this.maxThreads <= 1 || work < PARALLEL_MIN_WORK) return 1;
    if (this.pool === undefined) {
      this.pool = WorkerPool.create(this.rt);
      if (this.pool === null) noteSingleThread(this.maxThreads, WorkerPool.unavailable(this.rt) ?? 'no worker pool');
    }
    if (this.pool === null) return 1;
    this.pool.grow(this.maxThreads - 1);
    return Math.min(this.maxThreads, this.pool.readyThreads());
  }

  /** Runs `rounds` on `threads` threads (a count from threadsFor), or all on this thread. */
  run(rounds: Round[], threads: number): void {
    if (threads > 1 && this.pool) this.pool.run(rounds, threads);
    else runRounds(this.rt, rounds);
  }

  /**
   * Threads the kernels may use (`max`), those ready now (the calling thread plus started workers),
   * the kind of workers, and why there is no pool (null when there is one, or when one thread is asked for).
   */
  threads(): WasmThreads {
    const pool = this.pool ?? null;
    const why =
      this.maxThreads <= 1 || pool ? null : (WorkerPool.unavailable(this.rt) ?? (this.pool === null ? 'the pool was closed' : null));
    return { max: this.maxThreads, ready: pool ? Math.min(this.maxThreads, pool.readyThreads()) : 1, workers: pool?.kind ?? null, why };
  }

  /** Starts the pool now and waits (up to `timeoutMs`) until `maxThreads` threads are ready. */
  async warmWorkers(timeoutMs = 10_000): Promise<number> {
    if (this.maxThreads <= 1) return 1;
    this.threadsFor(PARALLEL_MIN_WORK);
    if (!this.pool) return 1;
    const start = Date.now();
    while (this.pool.readyThreads() < this.maxThreads && Date.now() - start < timeoutMs) {
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.pool.readyThreads();
  }

  /** Stops the workers; later calls run on the calling thread until a new context is made. */
  async close(): Promise<void> {
    if (this.pool) await this.pool.close();
    this.pool = null;
  }
}

let context: WasmContext | null | undefined;

/** The process-wide context, created on first call; null where WebAssembly SIMD is unavailable. */
export function getWasmContext(): WasmContext | null {
  if (context === undefined) {
    const rt = WasmRuntime.create();
    context = rt ? new WasmContext(rt) : null;
  }
  return context;
}

/** The context if one has been made (never creates one; null also where WebAssembly SIMD is unavailable). */
export function existingWasmContext(): WasmContext | null {
  return context ?? null;
}

/** As getWasmContext, but compiles asynchronously (needed on a browser's main thread). */
export async function getWasmContextAsync(): Promise<WasmContext | null> {
  if (context === undefined) {
    const rt = await WasmRuntime.createAsync();
    // A synchronous caller may have created the context meanwhile; keep that one.
    if (context === undefined) context = rt ? new WasmContext(rt) : null;
  }
  return context;
}
