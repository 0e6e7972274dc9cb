// A pool of worker threads that run the kernel module's exports over the one shared memory. The main
// thread computes a share too; threads meet at an Atomics spin barrier between rounds (a round is
// e.g. "pack B", then "multiply"). Workers spin briefly after a job, then sleep in Atomics.wait, and
// are unref'd so they never keep a process alive. Only Node's worker_threads is supported; where it
// is missing (browsers) the pool is simply not created and kernels run on the calling thread.
import { KERNEL_NAMES, type KernelExports, type WasmRuntime } from './runtime.js';

// Control block layout (Int32 indices from address 0 of the shared memory).
const SEQ = 0; // bumped by the main thread to publish a job
const BAR = 1; // barrier arrivals, monotonic
const BAR_BASE = 2; // BAR's value when the current job started
const NTHREADS = 3; // participants in the current job, main thread included
const NROUNDS = 4;
const ERROR = 5; // set by a worker whose call threw
const READY = 16; // READY + id: worker id has instantiated the module
/** Most threads a job can use (main thread included). */
export const MAX_THREADS = 64;
const MAX_ROUNDS = 4;
const JOBS = 1024; // JOBS + (round*MAX_THREADS + thread)*JOB_INTS: [fn+1 (0 = idle), args...]
const JOB_INTS = 16;
const SPIN_MS = 2; // how long an idle worker spins before sleeping

/** One thread's call in one round: an export of the kernel module and its i32 arguments. */
export interface Call {
  fn: (typeof KERNEL_NAMES)[number];
  args: number[];
}

// The worker body is plain JavaScript evaluated by worker_threads, so it needs no TypeScript loader.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, id, names } = workerData;
const instance = new WebAssembly.Instance(module, { env: { memory } });
const fns = names.map((n) => instance.exports[n]);
const I = new Int32Array(memory.buffer, 0, ${JOBS + MAX_ROUNDS * MAX_THREADS * JOB_INTS});
Atomics.store(I, ${READY} + id, 1);
let seq = Atomics.load(I, ${SEQ});
for (;;) {
  let s, spins = 0, since = 0;
  while ((s = Atomics.load(I, ${SEQ})) === seq) {
    if (++spins < 4096) continue;
    spins = 0;
    const now = performance.now();
    if (since === 0) since = now;
    else if (now - since > ${SPIN_MS}) { Atomics.wait(I, ${SEQ}, seq); since = 0; }
  }
  seq = s;
  const threads = Atomics.load(I, ${NTHREADS});
  if (id >= threads) continue;
  const rounds = I[${NROUNDS}];
  const base = I[${BAR_BASE}];
  for (let r = 0; r < rounds; r++) {
    const at = ${JOBS} + (r * ${MAX_THREADS} + id) * ${JOB_INTS};
    const fn = I[at];
    if (fn > 0) {
      try {
        fns[fn - 1](I[at + 1], I[at + 2], I[at + 3], I[at + 4], I[at + 5], I[at + 6], I[at + 7], I[at + 8],
          I[at + 9], I[at + 10], I[at + 11], I[at + 12], I[at + 13], I[at + 14], I[at + 15]);
      } catch (e) {
        Atomics.store(I, ${ERROR}, 1);
      }
    }
    Atomics.add(I, ${BAR}, 1);
    const target = (base + (r + 1) * threads) | 0;
    while (((Atomics.load(I, ${BAR}) - target) | 0) < 0) {}
  }
}
`;

interface NodeWorker {
  unref(): void;
  terminate(): Promise<number>;
  on(event: 'error', listener: (e: unknown) => void): void;
}
type WorkerCtor = new (source: string, options: { eval: true; workerData: unknown }) => NodeWorker;

function loadWorkerCtor(): WorkerCtor | null {
  // process.getBuiltinModule is synchronous and invisible to browser bundlers (Node >= 20.16).
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const mod = proc?.getBuiltinModule?.('node:worker_threads') as { Worker?: WorkerCtor; isMainThread?: boolean } | undefined;
  return mod?.Worker ?? null;
}

/** Worker threads over the runtime's shared memory; create with `WorkerPool.create`. */
export class WorkerPool {
  private readonly control: Int32Array;
  private readonly workers: NodeWorker[] = [];
  private broken = false;

  private constructor(private readonly rt: WasmRuntime, private readonly Worker: WorkerCtor) {
    this.control = new Int32Array(rt.memory.buffer, 0, JOBS + MAX_ROUNDS * MAX_THREADS * JOB_INTS);
  }

  /** A pool with no workers yet, or null where shared memory or worker_threads are unavailable. */
  static create(rt: WasmRuntime): WorkerPool | null {
    if (!rt.shared) return null;
    const Worker = loadWorkerCtor();
    return Worker ? new WorkerPool(rt, Worker) : null;
  }

  /** Starts workers until there are `count` (they become usable once they report ready). */
  grow(count: number): void {
    const target = Math.min(count, MAX_THREADS - 1);
    while (this.workers.length < target) {
      const id = this.workers.length + 1;
      const w = new this.Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { module: this.rt.module, memory: this.rt.memory, id, names: KERNEL_NAMES },
      });
      w.unref();
      // A worker that fails to start never reports ready, so it is never given work.
      w.on('error', () => undefined);
      this.workers.push(w);
    }
  }

  /** Threads usable now: the main thread plus the workers that have reported ready, in id order. */
  readyThreads(): number {
    if (this.broken) return 1;
    let n = 1;
    while (n <= this.workers.length && Atomics.load(this.control, READY + n) === 1) n++;
    return n;
  }

  /**
   * Runs `rounds[r][t]` on thread t (t = 0 is the calling thread), all threads finishing round r
   * before any starts round r+1. Every round must list the same number of threads.
   */
  run(rounds: Array<Array<Call | null>>): void {
    const threads = rounds[0]!.length;
    const I = this.control;
    const exports = this.rt.exports as unknown as Record<string, (...a: number[]) => void>;
    if (threads === 1) {
      for (const round of rounds) {
        const call = round[0];
        if (call) exports[call.fn]!(...call.args);
      }
      return;
    }
    if (rounds.length > MAX_ROUNDS || threads > this.readyThreads()) {
      throw new Error(`wasm pool: a job of ${rounds.length} rounds × ${threads} threads exceeds the pool (${MAX_ROUNDS} rounds, ${this.readyThreads()} ready threads)`);
    }
    for (let r = 0; r < rounds.length; r++) {
      for (let t = 1; t < threads; t++) {
        const at = JOBS + (r * MAX_THREADS + t) * JOB_INTS;
        const call = rounds[r]![t];
        I[at] = call ? KERNEL_NAMES.indexOf(call.fn) + 1 : 0;
        if (call) for (let i = 0; i < call.args.length; i++) I[at + 1 + i] = call.args[i]!;
      }
    }
    const base = Atomics.load(I, BAR);
    I[BAR_BASE] = base;
    I[NROUNDS] = rounds.length;
    Atomics.store(I, NTHREADS, threads);
    Atomics.store(I, ERROR, 0);
    Atomics.add(I, SEQ, 1);
    Atomics.notify(I, SEQ);
    let failure: unknown = null;
    for (let r = 0; r < rounds.length; r++) {
      const call = rounds[r]![0];
      if (call && failure === null) {
        try {
          exports[call.fn]!(...call.args);
        } catch (e) {
          failure = e;
        }
      }
      Atomics.add(I, BAR, 1);
      this.waitFor((base + (r + 1) * threads) | 0);
    }
    if (failure !== null) throw failure;
    if (Atomics.load(I, ERROR) !== 0) throw new Error('wasm pool: a worker kernel call trapped');
  }

  private waitFor(target: number): void {
    const I = this.control;
    let spins = 0;
    let since = 0;
    while (((Atomics.load(I, BAR) - target) | 0) < 0) {
      if (++spins < 65536) continue;
      spins = 0;
      const now = performance.now();
      if (since === 0) since = now;
      else if (now - since > 60_000) {
        // A worker died or hangs: stop using the pool rather than blocking forever.
        this.broken = true;
        throw new Error('wasm pool: workers did not reach the barrier within 60 s; continuing on one thread');
      }
    }
  }

  /** Stops all workers (tests and benchmarks; normal processes just exit). */
  async close(): Promise<void> {
    this.broken = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
    for (let id = 1; id <= this.workers.length; id++) Atomics.store(this.control, READY + id, 0);
    this.workers.length = 0;
  }
}
