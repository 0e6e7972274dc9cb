// Core suite for issue 2: Myriad through its public API against tfjs-backend-cpu and
// tfjs-backend-wasm, side by side in one run. Columns:
//   tfjs-cpu, tfjs-wasm    tf ops on tensors already in the backend; the timed call reads the result
//                          (dataSync) so it counts the same work as Myriad's eager ops.
//   Myriad (JS)            the plain TypeScript kernels (resetKernels()), the reference and fallback.
//   Myriad (wasm)          the WebAssembly kernels (installKernels(wasmKernels())), when available.
// matmul is reported in GFLOP/s (2·M·N·K / time), everything else in milliseconds; all medians.
// Run: npm run bench -- core        (BENCH_CLOCK=cpu times process CPU instead of wall clock,
//                                    steadier when other processes share the cores)
import { availableParallelism, cpus } from 'node:os';
import { Bench } from 'tinybench';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { indexSelect, installKernels, matmul, resetKernels, softmax, tensor, topk, type CpuKernels, type Tensor } from '@myriad/core';
import { loadWasmKernels } from './core-columns.js';

const COLUMNS = ['tfjs-cpu', 'tfjs-wasm', 'Myriad (JS)', 'Myriad (wasm)'] as const;
type Column = (typeof COLUMNS)[number];

/** One timed implementation: `setup` runs before warm-up and before the run, `fn` is timed. */
interface Impl {
  setup?: () => Promise<void> | void;
  fn: () => void;
  teardown?: () => void;
}

/** One row of the table: the same work done by every column. */
interface Case {
  group: string;
  label: string;
  /** Floating-point operations per call; reported as GFLOP/s when set, else milliseconds. */
  flops?: number;
  /** Minimum samples (each task also runs for at least `time` ms). */
  iterations: number;
  time: number;
  impls: Partial<Record<Column, Impl>>;
  /** Extra reference rows timed in the same bench (e.g. a memcpy floor), in milliseconds. */
  extras?: Record<string, () => void>;
}

const clock =
  process.env.BENCH_CLOCK === 'cpu'
    ? () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      }
    : () => performance.now();

// Deterministic inputs: the same numbers on every run (xorshift32, uniform in [-1, 1)).
function random(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const wasm = await loadWasmKernels();
const useJs = (): void => resetKernels();
const useWasm = (k: Partial<CpuKernels>) => (): void => {
  resetKernels();
  installKernels(k);
};

await tf.setBackend('wasm');
await tf.setBackend('cpu');

/** A tfjs implementation: tensors built on `backend` before timing, outputs read and freed each call. */
function tfImpl(backend: 'cpu' | 'wasm', build: () => tf.Tensor[], run: (xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Impl {
  let xs: tf.Tensor[] = [];
  return {
    async setup() {
      await tf.setBackend(backend);
      xs = build();
    },
    fn() {
      const r = run(xs);
      for (const t of Array.isArray(r) ? r : [r]) {
        t.dataSync();
        t.dispose();
      }
    },
    teardown() {
      for (const t of xs) t.dispose();
      xs = [];
    },
  };
}

/** Both Myriad columns for one op: plain JS kernels, and the WebAssembly ones where installed. */
function myriadImpls(run: () => unknown): Partial<Record<Column, Impl>> {
  const impls: Partial<Record<Column, Impl>> = { 'Myriad (JS)': { setup: useJs, fn: run as () => void } };
  if (wasm) impls['Myriad (wasm)'] = { setup: useWasm(wasm.kernels), fn: run as () => void, teardown: useJs };
  return impls;
}

const cases: Case[] = [];

// --- matmul: A·B, A·Bᵀ, Aᵀ·B on square float32 matrices ----------------------------------------
for (const n of [128, 256, 512, 1024]) {
  const a = random(n * n, 1 + n);
  const b = random(n * n, 2 + n);
  const ma = tensor(a, { shape: [n, n] });
  const mb = tensor(b, { shape: [n, n] });
  for (const [variant, tA, tB] of [
    ['A·B', false, false],
    ['A·Bᵀ', false, true],
    ['Aᵀ·B', true, false],
  ] as const) {
    const lhs = tA ? ma.transpose() : ma; // strided views: Myriad never copies them
    const rhs = tB ? mb.transpose() : mb;
    const build = () => [tf.tensor2d(a, [n, n]), tf.tensor2d(b, [n, n])];
    const run = (xs: tf.Tensor[]) => tf.matMul(xs[0]!, xs[1]!, tA, tB);
    cases.push({
      group: 'matmul f32 (GFLOP/s)',
      label: `${variant} ${n}`,
      flops: 2 * n ** 3,
      // tfjs-cpu needs ~3.5 s for one 1024 product: few samples at the large sizes.
      iterations: n >= 1024 ? 3 : n >= 512 ? 4 : 10,
      time: n >= 512 ? 0 : 300,
      impls: {
        'tfjs-cpu': tfImpl('cpu', build, run),
        'tfjs-wasm': tfImpl('wasm', build, run),
        ...myriadImpls(() => matmul(lhs, rhs)),
      },
    });
  }
}

// --- topk along the last dim -----------------------------------------------------------------
for (const [rows, n] of [
  [256, 4096],
  [64, 65536],
] as const) {
  const x = random(rows * n, 7 + n);
  const mx = tensor(x, { shape: [rows, n] });
  for (const k of [8, 32]) {
    const build = () => [tf.tensor2d(x, [rows, n])];
    const run = (xs: tf.Tensor[]) => {
      const r = tf.topk(xs[0]!, k);
      return [r.values, r.indices];
    };
    cases.push({
      group: 'topk (ms)',
      label: `[${rows}×${n}] k=${k}`,
      iterations: 5,
      time: 400,
      impls: { 'tfjs-cpu': tfImpl('cpu', build, run), 'tfjs-wasm': tfImpl('wasm', build, run), ...myriadImpls(() => topk(mx, k)) },
    });
  }
}

// --- softmax along the last dim --------------------------------------------------------------
for (const [rows, n] of [[256, 4096]] as const) {
  const x = random(rows * n, 11);
  const mx = tensor(x, { shape: [rows, n] });
  const build = () => [tf.tensor2d(x, [rows, n])];
  const run = (xs: tf.Tensor[]) => tf.softmax(xs[0]!);
  cases.push({
    group: 'softmax (ms)',
    label: `[${rows}×${n}]`,
    iterations: 5,
    time: 400,
    impls: { 'tfjs-cpu': tfImpl('cpu', build, run), 'tfjs-wasm': tfImpl('wasm', build, run), ...myriadImpls(() => softmax(mx)) },
  });
}

// --- row gather: 32768 random rows of width 256 from a 1,048,576-row (1 GiB) table ------------
{
  const tableRows = 1 << 20,
    width = 256,
    picks = 32768;
  const data = new Float32Array(tableRows * width);
  for (let i = 0; i < data.length; i++) data[i] = i & 1023; // touches every page; values do not matter
  const idx = new Int32Array(picks);
  let s = 12345;
  for (let i = 0; i < picks; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    idx[i] = s % tableRows;
  }
  const table = tensor(data, { shape: [tableRows, width] });
  const mIdx = tensor(idx, { shape: [picks], dtype: 'int32' });
  const build = () => [tf.tensor2d(data, [tableRows, width]), tf.tensor1d(idx, 'int32')];
  const run = (xs: tf.Tensor[]) => tf.gather(xs[0]!, xs[1]!);
  const out = new Float32Array(picks * width);
  cases.push({
    group: 'gather (ms)',
    label: `${picks} rows × ${width} of [${tableRows}×${width}]`,
    iterations: 5,
    time: 400,
    impls: {
      'tfjs-cpu': tfImpl('cpu', build, run),
      'tfjs-wasm': tfImpl('wasm', build, run),
      ...myriadImpls(() => indexSelect(table, 0, mIdx)),
    },
    extras: {
      // The floor: the same 32 MiB copied in one contiguous memcpy, then row by row at the same random rows.
      'floor: one contiguous 32 MiB copy': () => out.set(data.subarray(0, picks * width)),
      'floor: TypedArray.set per random row': () => {
        for (let i = 0; i < picks; i++) out.set(data.subarray(idx[i]! * width, idx[i]! * width + width), i * width);
      },
      // What an op returning a new tensor pays on top: a fresh zeroed 32 MiB array and its page faults.
      'floor: the same into a fresh array': () => {
        const fresh = new Float32Array(picks * width);
        for (let i = 0; i < picks; i++) fresh.set(data.subarray(idx[i]! * width, idx[i]! * width + width), i * width);
      },
    },
  });
}

// --- run ---------------------------------------------------------------------------------------
type Result = Partial<Record<Column, number | Error>> & { extras?: Record<string, number> };
const results: Result[] = [];
for (const c of cases) {
  const bench = new Bench({ time: c.time, iterations: c.iterations, warmupIterations: 1, warmupTime: 0, now: clock });
  for (const col of COLUMNS) {
    const impl = c.impls[col];
    if (!impl) continue;
    bench.add(col, impl.fn, {
      beforeAll: async () => {
        await impl.setup?.();
      },
      afterAll: () => impl.teardown?.(),
    });
  }
  for (const [name, fn] of Object.entries(c.extras ?? {})) bench.add(name, fn);
  await bench.run();
  const r: Result = {};
  for (const task of bench.tasks) {
    const res = task.result;
    const ms = res?.error ? res.error : res?.latency.p50;
    if ((COLUMNS as readonly string[]).includes(task.name)) r[task.name as Column] = ms ?? new Error('no samples');
    else if (typeof ms === 'number') (r.extras ??= {})[task.name] = ms;
  }
  results.push(r);
  process.stderr.write(`  done: ${c.group} ${c.label}\n`);
}
resetKernels();

// --- report (markdown) ---------------------------------------------------------------------------
const fmtCell = (c: Case, v: number | Error | undefined): string => {
  if (v === undefined) return '—';
  if (v instanceof Error) return `error: ${v.message.slice(0, 40)}`;
  return c.flops ? (c.flops / v / 1e6).toFixed(2) : v.toFixed(2);
};
// Speed-up of `mine` over `other`: >1 means Myriad is faster.
const ratio = (mine: number | Error | undefined, other: number | Error | undefined): string =>
  typeof mine === 'number' && typeof other === 'number' ? `${(other / mine).toFixed(2)}×` : '—';

const threads = wasm ? `, ${wasm.threads} thread${wasm.threads === 1 ? '' : 's'}` : '';
console.log(
  `\nnode ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, clock: ${process.env.BENCH_CLOCK === 'cpu' ? 'process CPU time' : 'wall'}`,
);
console.log(wasm ? `Myriad (wasm): WebAssembly kernels${threads}` : 'Myriad (wasm): not available (no WebAssembly kernels installed)');
let group = '';
for (let i = 0; i < cases.length; i++) {
  const c = cases[i]!;
  const r = results[i]!;
  if (c.group !== group) {
    group = c.group;
    console.log(`\n### ${group}\n`);
    console.log(`| case | ${COLUMNS.join(' | ')} | JS vs tfjs-cpu | JS vs tfjs-wasm | wasm vs tfjs-wasm |`);
    console.log(`|---|${COLUMNS.map(() => '---:').join('|')}|---:|---:|---:|`);
  }
  const cells = COLUMNS.map((col) => fmtCell(c, r[col]));
  const js = r['Myriad (JS)'];
  console.log(
    `| ${c.label} | ${cells.join(' | ')} | ${ratio(js, r['tfjs-cpu'])} | ${ratio(js, r['tfjs-wasm'])} | ${ratio(r['Myriad (wasm)'], r['tfjs-wasm'])} |`,
  );
  for (const [name, ms] of Object.entries(r.extras ?? {})) console.log(`| ${name} | | | ${ms.toFixed(2)} | | | | |`);
}
await wasm?.close();
