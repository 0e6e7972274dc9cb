// A pool of worker threads that run the kernel module's exports over the one shared memory. The main
// thread computes a share too. A job is a list of rounds (e.g. "pack B", then "multiply"); each round
// is cut into blocks that threads take from a shared counter. Completion is counted in blocks, not in
// arrivals: the main thread waits for every block of a round to be done, never for a worker to wake
// up, so a worker the OS has not scheduled yet costs nothing (it finds the job closed and goes back
// to sleep). A worker joins a job before it reads the job's arguments, and the main thread closes the
// job (and waits for joined workers to leave) before it writes the next one's. Workers spin briefly
// after a job, then sleep in Atomics.wait. Which thread takes which block never changes a result: a
// block writes its own outputs only, so numbers are the same on any thread count.
//
// The workers are Node's worker_threads (unref'd, so they never keep a process alive) or, in a
// browser, Web Workers started from a Blob URL, so no bundler has to know about a worker file. A
// browser gets the pool only where shared memory exists (the page is cross-origin isolated: COOP
// same-origin and COEP require-corp) and the calling thread may block in Atomics.wait (a Web Worker,
// not a page's main thread); elsewhere `WorkerPool.unavailable` says why and kernels run on the
// calling thread.
import { KERNEL_NAMES, type WasmRuntime } from './runtime.js';

// Control block layout (Int32 indices from address 0 of the shared memory).
const SEQ = 0; // bumped by the main thread to publish a job
const JOIN = 1; // (job tag << 8) | closed (0x80) | workers inside the job (low 7 bits)
const NTHREADS = 3; // participants in the current job, main thread included
const NROUNDS = 4;
const ERROR = 5; // set by a worker whose call threw
const READY = 16; // READY + id: worker id has instantiated the module
const DONE = 80; // DONE + r: blocks of round r finished
const ROUNDS = 96; // ROUNDS + r*4: [split arg index (-1: none), total, step, next block counter]
/** Most threads a pool runs, the calling thread included (its shared control block is sized for them). */
export const MAX_THREADS = 64;
const MAX_ROUNDS = 4;
const JOBS = 1024; // JOBS + (round*MAX_THREADS + thread)*JOB_INTS: [fn+1 (0 = idle), args...]
const JOB_INTS = 16;
const CONTROL_INTS = JOBS + MAX_ROUNDS * MAX_THREADS * JOB_INTS;
const IDLE_SPIN_MS = 0.2; // how long an idle worker spins for the next job before sleeping (short: it competes with the main thread's JS)
const WAIT_SPIN_MS = 0.05; // how long a thread spins for a round's last blocks before sleeping

/**
 * One round of a job: every thread calls export `fn` with its own `args[t]`. With `split`, the
 * range [0,total) is cut into blocks of `step` that threads take from a shared counter (so a thread
 * slowed by other processes takes fewer); each block is one call with args[arg], args[arg+1] set to
 * the block's bounds, made with the args of the thread that takes it. Without `split` the round has
 * one block per thread t (none where args[t] is null), which any thread may run.
 */
export interface Round {
  fn: (typeof KERNEL_NAMES)[number];
  args: Array<number[] | null>;
  split: { arg: number; total: number; step: number } | null;
}

// Shared by the worker source and the main thread (stringified into the worker). Takes blocks of
// round r until none is left; returns false if a call threw (the block still counts as done).
function runRound(
  I: Int32Array,
  fns: Array<(...a: number[]) => void>,
  r: number,
  id: number,
  jobs: number,
  maxThreads: number,
  jobInts: number,
  rounds: number,
  done: number,
): boolean {
  const arg = I[rounds + r * 4]!;
  const total = I[rounds + r * 4 + 1]!;
  const step = I[rounds + r * 4 + 2]!;
  const blocks = arg < 0 ? total : Math.ceil(total / step);
  let ok = true;
  for (;;) {
    const b = Atomics.add(I, rounds + r * 4 + 3, 1);
    if (b >= blocks) return ok;
    try {
      const at = jobs + (r * maxThreads + (arg < 0 ? b : id)) * jobInts;
      const fn = I[at]!;
      if (fn !== 0) {
        const args: number[] = [];
        for (let i = 1; i < jobInts; i++) args.push(I[at + i]!);
        if (arg >= 0) {
          args[arg] = b * step;
          args[arg + 1] = Math.min(total, (b + 1) * step);
        }
        fns[fn - 1]!(...args);
      }
    } catch {
      ok = false;
    } finally {
      // The thread finishing the round's last block wakes any thread sleeping on it.
      if (Atomics.add(I, done + r, 1) + 1 === blocks) Atomics.notify(I, done + r);
    }
  }
}

// Spins briefly, then sleeps in short waits, until I[at] >= target.
function waitFor(I: Int32Array, at: number, target: number, spinMs: number): void {
  const start = performance.now();
  let spins = 0;
  for (;;) {
    const v = Atomics.load(I, at);
    if (v >= target) return;
    if (++spins < 256) continue;
    spins = 0;
    if (performance.now() - start > spinMs) Atomics.wait(I, at, v, 1);
  }
}

// Number of blocks in round r (as runRound counts them).
function roundBlocks(I: Int32Array, r: number, rounds: number): number {
  const arg = I[rounds + r * 4]!;
  const total = I[rounds + r * 4 + 1]!;
  return arg < 0 ? total : Math.ceil(total / I[rounds + r * 4 + 2]!);
}

// The worker body is plain JavaScript (no TypeScript loader, no bundler): `start` instantiates the
// module over the shared memory, reports ready and serves jobs forever.
const WORKER_MAIN = `
function start({ module, memory, id, names }) {
const instance = new WebAssembly.Instance(module, { env: { memory } });
const fns = names.map((n) => instance.exports[n]);
const I = new Int32Array(memory.buffer, 0, ${CONTROL_INTS});
const runRound = ${runRound.toString()};
const waitFor = ${waitFor.toString()};
const roundBlocks = ${roundBlocks.toString()};
Atomics.store(I, ${READY} + id, 1);
let seq = Atomics.load(I, ${SEQ});
for (;;) {
  let s, spins = 0, since = 0;
  while ((s = Atomics.load(I, ${SEQ})) === seq) {
    if (++spins < 4096) continue;
    spins = 0;
    const now = performance.now();
    if (since === 0) since = now;
    else if (now - since > ${IDLE_SPIN_MS}) { Atomics.wait(I, ${SEQ}, seq); since = 0; }
  }
  seq = s;
  // Join the job unless the main thread has already closed it (or published a later one).
  const tag = (s & 0x7fffff);
  let joined = false;
  for (;;) {
    const v = Atomics.load(I, ${JOIN});
    if ((v >>> 8) !== tag || (v & 0x80) !== 0) break;
    if (Atomics.compareExchange(I, ${JOIN}, v, v + 1) === v) { joined = true; break; }
  }
  if (!joined) continue;
  if (id < Atomics.load(I, ${NTHREADS})) {
    const rounds = I[${NROUNDS}];
    for (let r = 0; r < rounds; r++) {
      if (!runRound(I, fns, r, id, ${JOBS}, ${MAX_THREADS}, ${JOB_INTS}, ${ROUNDS}, ${DONE})) Atomics.store(I, ${ERROR}, 1);
      if (r + 1 < rounds) waitFor(I, ${DONE} + r, roundBlocks(I, r, ${ROUNDS}), ${WAIT_SPIN_MS});
    }
  }
  Atomics.sub(I, ${JOIN}, 1);
  Atomics.notify(I, ${JOIN});
}
}
`;

/** Evaluated by worker_threads: the start data comes as workerData. */
const NODE_WORKER_SOURCE = `${WORKER_MAIN}\nstart(require('node:worker_threads').workerData);\n`;

/** A classic Web Worker script: the start data is the first (only) message. */
const WEB_WORKER_SOURCE = `${WORKER_MAIN}\nself.onmessage = (e) => { self.onmessage = null; start(e.data); };\n`;

/** Runs the rounds on the calling thread alone (each split round as one call over its range). */
export function runRounds(rt: WasmRuntime, rounds: Round[]): void {
  const exports = rt.exports as unknown as Record<string, (...a: number[]) => void>;
  for (const round of rounds) {
    const args = round.args[0];
    if (!args) continue;
    if (round.split) {
      args[round.split.arg] = 0;
      args[round.split.arg + 1] = round.split.total;
    }
    exports[round.fn]!(...args);
  }
}

/** What a worker needs to start: the compiled module, the shared memory, its id and the export names. */
interface WorkerData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  id: number;
  names: readonly string[];
}

/** A started worker, Node's or a browser's. */
interface PoolWorker {
  terminate(): unknown;
}
type Spawn = (data: WorkerData) => PoolWorker;

interface NodeWorker extends PoolWorker {
  unref(): void;
  on(event: 'error', listener: (e: unknown) => void): void;
}
type NodeWorkerCtor = new (source: string, options: { eval: true; workerData: unknown }) => NodeWorker;

interface WebWorker extends PoolWorker {
  postMessage(message: unknown): void;
  onerror: ((e: { preventDefault(): void }) => void) | null;
}
type WebWorkerCtor = new (url: string, options: { name: string }) => WebWorker;

interface BrowserGlobals {
  Worker?: WebWorkerCtor;
  crossOriginIsolated?: boolean;
  Blob?: new (parts: string[], options: { type: string }) => unknown;
  URL?: { createObjectURL?: (blob: unknown) => string };
}

function nodeWorkerCtor(): NodeWorkerCtor | null {
  // process.getBuiltinModule is synchronous and invisible to browser bundlers (Node >= 20.16).
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const mod = proc?.getBuiltinModule?.('node:worker_threads') as { Worker?: NodeWorkerCtor } | undefined;
  return mod?.Worker ?? null;
}

function nodeSpawn(Worker: NodeWorkerCtor): Spawn {
  return (workerData) => {
    const w = new Worker(NODE_WORKER_SOURCE, { eval: true, workerData });
    w.unref();
    // A worker that fails to start never reports ready, so it is never given work.
    w.on('error', () => undefined);
    return w;
  };
}

/** True where this thread may block in Atomics.wait (a browser forbids it on a page's main thread). */
function canWait(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** Why Web Workers cannot serve the pool from this thread, or null when they can. */
function webWorkersUnavailable(): string | null {
  const g = globalThis as BrowserGlobals;
  if (typeof g.Worker !== 'function' || typeof g.Blob !== 'function' || typeof g.URL?.createObjectURL !== 'function') {
    return 'this context cannot start Web Workers';
  }
  if (g.crossOriginIsolated !== true) {
    return 'the page is not cross-origin isolated (serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  }
  if (!canWait()) return "this is a page's main thread, where a thread may not block (run the model in a Web Worker)";
  return null;
}

let webWorkerUrl: string | undefined;

function webSpawn(g: Required<Pick<BrowserGlobals, 'Worker' | 'Blob'>> & BrowserGlobals): Spawn {
  return (data) => {
    webWorkerUrl ??= g.URL!.createObjectURL!(new g.Blob([WEB_WORKER_SOURCE], { type: 'text/javascript' }));
    const w = new g.Worker(webWorkerUrl, { name: `myriad-wasm-${data.id}` });
    // A worker that fails to start never reports ready, so it is never given work; keep the page's console quiet.
    w.onerror = (e) => e.preventDefault();
    w.postMessage(data);
    return w;
  };
}

/** Worker threads over the runtime's shared memory; create with `WorkerPool.create`. */
export class WorkerPool {
  private readonly control: Int32Array;
  private readonly workers: PoolWorker[] = [];
  private broken = false;

  private constructor(
    private readonly rt: WasmRuntime,
    private readonly spawn: Spawn,
    /** Which workers run the pool: "worker_threads" or "web-workers". */
    readonly kind: 'worker_threads' | 'web-workers',
  ) {
    this.control = new Int32Array(rt.memory.buffer, 0, CONTROL_INTS);
  }

  /**
   * Why no pool can serve `rt` here, or null when `create` makes one: Node's worker_threads, or Web
   * Workers in a cross-origin isolated browser context that may block (a worker, not a page's main thread).
   */
  static unavailable(rt: WasmRuntime): string | null {
    if (nodeWorkerCtor()) return rt.shared ? null : 'WebAssembly shared memory is unavailable';
    const why = webWorkersUnavailable();
    if (why) return why;
    return rt.shared ? null : 'WebAssembly threads (shared memory) are unavailable in this browser';
  }

  /** A pool with no workers yet, or null where `unavailable` gives a reason. */
  static create(rt: WasmRuntime): WorkerPool | null {
    if (WorkerPool.unavailable(rt) !== null) return null;
    const NodeWorker = nodeWorkerCtor();
    if (NodeWorker) return new WorkerPool(rt, nodeSpawn(NodeWorker), 'worker_threads');
    const g = globalThis as BrowserGlobals;
    return new WorkerPool(rt, webSpawn(g as Parameters<typeof webSpawn>[0]), 'web-workers');
  }

  /** Starts workers until there are `count` (they become usable once they report ready). */
  grow(count: number): void {
    const target = Math.min(count, MAX_THREADS - 1);
    while (this.workers.length < target) {
      const id = this.workers.length + 1;
      this.workers.push(this.spawn({ module: this.rt.module, memory: this.rt.memory, id, names: KERNEL_NAMES }));
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
   * Runs the rounds on up to `threads` threads (t = 0 is the calling thread): every block of a round
   * is done before the next round starts, and every block of the job before this returns.
   */
  run(rounds: Round[], threads: number): void {
    if (threads === 1) return runRounds(this.rt, rounds);
    const exports = this.rt.exports as unknown as Record<string, (...a: number[]) => void>;
    if (rounds.length > MAX_ROUNDS || threads > this.readyThreads()) {
      throw new Error(
        `wasm pool: a job of ${rounds.length} rounds × ${threads} threads exceeds the pool (${MAX_ROUNDS} rounds, ${this.readyThreads()} ready threads)`,
      );
    }
    // No worker is inside a job here (the last run waited for them to leave), so the job's words are ours.
    const I = this.control;
    for (let r = 0; r < rounds.length; r++) {
      const round = rounds[r]!;
      I[ROUNDS + r * 4] = round.split ? round.split.arg : -1;
      I[ROUNDS + r * 4 + 1] = round.split ? round.split.total : threads;
      I[ROUNDS + r * 4 + 2] = round.split ? Math.max(1, round.split.step) : 1;
      I[ROUNDS + r * 4 + 3] = 0;
      I[DONE + r] = 0;
      for (let t = 0; t < threads; t++) {
        const at = JOBS + (r * MAX_THREADS + t) * JOB_INTS;
        const args = round.args[t];
        I[at] = args ? KERNEL_NAMES.indexOf(round.fn) + 1 : 0;
        if (args) for (let i = 0; i < args.length; i++) I[at + 1 + i] = args[i]!;
      }
    }
    I[NROUNDS] = rounds.length;
    Atomics.store(I, NTHREADS, threads);
    Atomics.store(I, ERROR, 0);
    const seq = (Atomics.load(I, SEQ) + 1) | 0;
    Atomics.store(I, JOIN, (seq & 0x7fffff) << 8);
    Atomics.store(I, SEQ, seq);
    Atomics.notify(I, SEQ);
    const fns = KERNEL_NAMES.map((n) => exports[n]!);
    let ok = true;
    for (let r = 0; r < rounds.length; r++) {
      if (!runRound(I, fns, r, 0, JOBS, MAX_THREADS, JOB_INTS, ROUNDS, DONE)) ok = false;
      waitFor(I, DONE + r, roundBlocks(I, r, ROUNDS), WAIT_SPIN_MS);
    }
    // Close the job: workers not yet inside stay out; wait for those inside to leave.
    for (;;) {
      const v = Atomics.load(I, JOIN);
      if (Atomics.compareExchange(I, JOIN, v, v | 0x80) === v) break;
    }
    for (;;) {
      const v = Atomics.load(I, JOIN);
      if ((v & 0x7f) === 0) break;
      Atomics.wait(I, JOIN, v, 1);
    }
    if (!ok) throw new Error('wasm pool: a kernel call trapped on the calling thread');
    if (Atomics.load(I, ERROR) !== 0) throw new Error('wasm pool: a worker kernel call trapped');
  }

  /** Stops all workers (tests and benchmarks; normal processes just exit). */
  async close(): Promise<void> {
    this.broken = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
    for (let id = 1; id <= this.workers.length; id++) Atomics.store(this.control, READY + id, 0);
    this.workers.length = 0;
  }
}
