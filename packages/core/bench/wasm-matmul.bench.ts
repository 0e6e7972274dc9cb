// WebAssembly SIMD kernels (matmul, top-k, softmax) vs tfjs-backend-wasm (XNNPACK) vs the plain TypeScript kernels, in one
// run. Ours is timed end to end through the CPU backend's kernel seam: inputs are JS Float32Arrays,
// so every call copies them into WebAssembly memory, packs, multiplies and copies the result out.
// tfjs keeps its tensors inside its own WebAssembly memory; its time includes reading the result.
// Run: npm run bench -- wasm-matmul
import { availableParallelism, cpus } from 'node:os';
import { Bench } from 'tinybench';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { jsKernels, kernels } from '../src/cpu/kernels.js';
import { getWasmContext } from '../src/cpu/wasm/context.js';
import { installWasmKernels } from '../src/cpu/wasm/install.js';

await tf.setBackend('wasm');
if (!installWasmKernels()) throw new Error('wasm-matmul bench: WebAssembly SIMD kernels unavailable');
const ctx = getWasmContext()!;
const allThreads = availableParallelism();
ctx.maxThreads = allThreads;
await ctx.warmWorkers();

function random(n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.random() * 2 - 1;
  return out;
}

interface Row {
  task: string;
  'median ms': string;
  'GFLOP/s': string;
  'vs tfjs-wasm': string;
}
const rows: Row[] = [];

/** Adds one row per task, each compared with the suite's first task (the baseline). */
function pushRows(bench: Bench, gflop: (ms: number) => string, compare: (ms: number, base: number) => string): void {
  const base = bench.tasks[0]!.result!.latency.p50!;
  for (const task of bench.tasks) {
    const ms = task.result!.latency.p50!;
    rows.push({ task: task.name, 'median ms': ms.toFixed(2), 'GFLOP/s': gflop(ms), 'vs tfjs-wasm': compare(ms, base) });
  }
}
const vsBase = (ms: number, base: number) => (base / ms).toFixed(2) + '×';
const noFlops = () => '';

for (const n of [128, 256, 512, 1024]) {
  const a = random(n * n);
  const b = random(n * n);
  const out = new Float32Array(n * n);
  const ta = tf.tensor2d(a, [n, n]);
  const tb = tf.tensor2d(b, [n, n]);
  const ours = (threads: number) => () => {
    ctx.maxThreads = threads;
    out.fill(0);
    kernels.matmulF32(a, 0, n, 1, b, 0, n, 1, out, 0, n, n, n);
  };
  // Plain JS at 1024 takes about a second a call: fewer samples.
  const slow = n >= 512;
  const bench = new Bench({ time: slow ? 1500 : 800, iterations: 5, warmupIterations: 3 });
  bench
    .add(`tfjs-wasm ${n}`, () => {
      const c = tf.matMul(ta, tb);
      c.dataSync();
      c.dispose();
    })
    .add(`myriad wasm 1 thread ${n}`, ours(1))
    .add(`myriad wasm ${allThreads} threads ${n}`, ours(allThreads))
    .add(`plain JS ${n}`, () => {
      out.fill(0);
      jsKernels.matmulF32(a, 0, n, 1, b, 0, n, 1, out, 0, n, n, n);
    });
  await bench.run();
  ta.dispose();
  tb.dispose();
  pushRows(bench, (ms) => ((2 * n ** 3) / ms / 1e6).toFixed(1), vsBase);
}
ctx.maxThreads = allThreads;

for (const [r, n, k] of [
  [256, 4096, 8],
  [256, 4096, 32],
  [64, 65536, 8],
  [64, 65536, 32],
] as const) {
  const x = random(r * n);
  const tx = tf.tensor2d(x, [r, n]);
  const values = new Float32Array(r * k);
  const indices = new Int32Array(r * k);
  const bench = new Bench({ time: 800, iterations: 10, warmupIterations: 5 });
  bench
    .add(`tfjs-wasm topk [${r}×${n}] k=${k}`, () => {
      const { values: v, indices: i } = tf.topk(tx, k);
      v.dataSync();
      i.dataSync();
      v.dispose();
      i.dispose();
    })
    .add(`myriad wasm topk [${r}×${n}] k=${k}`, () => kernels.topkRowsF32(x, r, n, k, values, indices))
    .add(`plain JS topk [${r}×${n}] k=${k}`, () => jsKernels.topkRowsF32(x, r, n, k, values, indices));
  await bench.run();
  tx.dispose();
  pushRows(bench, noFlops, vsBase);
}

for (const [r, n] of [
  [256, 4096],
  [4096, 256],
] as const) {
  const x = random(r * n);
  const tx = tf.tensor2d(x, [r, n]);
  const out = new Float32Array(r * n);
  const bench = new Bench({ time: 800, iterations: 10, warmupIterations: 5 });
  bench
    .add(`tfjs-wasm softmax [${r}×${n}]`, () => {
      const y = tf.softmax(tx);
      y.dataSync();
      y.dispose();
    })
    .add(`myriad wasm softmax [${r}×${n}]`, () => kernels.softmaxRowsF32(x, r, n, out))
    .add(`plain JS softmax [${r}×${n}]`, () => jsKernels.softmaxRowsF32(x, r, n, out));
  await bench.run();
  tx.dispose();
  pushRows(bench, noFlops, vsBase);
}

// Row gather stays in plain TypeScript (one TypedArray.set per row): a WebAssembly version would
// first have to copy the whole table into its memory. The memcpy-bound reference is the same rows
// copied by one native memory.copy each, with table and output already in WebAssembly memory.
{
  const width = 256,
    tableRows = 1 << 16,
    picks = 32768;
  const table = random(tableRows * width);
  const idx = Int32Array.from({ length: picks }, () => Math.floor(Math.random() * tableRows));
  const out = new Float32Array(picks * width);
  const rt = ctx.rt;
  const tAddr = 1 << 16,
    iAddr = tAddr + table.length * 4,
    oAddr = iAddr + idx.length * 4;
  if (!rt.ensure(oAddr + out.length * 4)) throw new Error('wasm-matmul bench: no room for the gather table');
  rt.f32.set(table, tAddr >> 2);
  rt.i32.set(idx, iAddr >> 2);
  const bench = new Bench({ time: 800, iterations: 10, warmupIterations: 5 });
  bench
    .add(`memory.copy per row, ${picks} rows of [${tableRows}×${width}]`, () =>
      rt.exports.gatherRowsCopy(tAddr, width * 4, iAddr, picks, oAddr),
    )
    .add(`gather rows through the seam (plain TS)`, () => kernels.gatherRowsF32(table, width, idx, out))
    .add(`contiguous memcpy of the same bytes`, () => out.set(table.subarray(0, picks * width)));
  await bench.run();
  pushRows(bench, noFlops, (ms, base) => `${(ms / base).toFixed(2)}× per-row memcpy`);
}

console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${allThreads} threads available`);
console.table(rows);
await ctx.close();
