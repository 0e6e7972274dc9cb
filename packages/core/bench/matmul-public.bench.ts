// f32 matmul through the public API against tfjs-backend-wasm, interleaved in one process (issue 12):
// each round times, in turn, `tf.matMul(a, b).dataSync()` and Myriad's `a.matmul(b).toTypedArray()`
// on all threads and on one, so load from other processes hits every column alike. The Myriad time
// includes everything a user pays: the output tensor (a reused buffer, since each round ends with a new
// task of the event loop), copies into and out of WebAssembly memory, waking the worker threads, and the
// copy `toTypedArray()` hands back. Medians over the rounds.
// Run: npm run bench -- matmul-public          (MATMUL_SIZES=256,512 for a subset)
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { nextTask, tensor } from '@myriad/core';
import { getWasmContext } from '../src/cpu/wasm/context.js';

await tf.setBackend('wasm');
const ctx = getWasmContext();
if (!ctx) throw new Error('matmul-public bench: WebAssembly SIMD kernels unavailable');
const allThreads = ctx.maxThreads;
const sizes = (process.env.MATMUL_SIZES ?? '256,512,1024').split(',').map(Number);
const loadBefore = loadavg()[0]!;

// Deterministic inputs (xorshift32, uniform in [-1, 1)).
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

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const lines: string[] = [];
for (const n of sizes) {
  const a = random(n * n, 1 + n);
  const b = random(n * n, 2 + n);
  const ta = tf.tensor2d(a, [n, n]);
  const tb = tf.tensor2d(b, [n, n]);
  const ma = tensor(a, { shape: [n, n] });
  const mb = tensor(b, { shape: [n, n] });
  const myriad = (threads: number) => () => {
    ctx.maxThreads = threads;
    ma.matmul(mb).toTypedArray();
  };
  const columns: Array<[string, () => void]> = [
    [
      'tfjs-wasm',
      () => {
        const c = tf.matMul(ta, tb);
        c.dataSync();
        c.dispose();
      },
    ],
    [`Myriad, ${allThreads} threads`, myriad(allThreads)],
    ['Myriad, 1 thread', myriad(1)],
  ];
  const times = columns.map(() => [] as number[]);
  const rounds = n >= 1024 ? 15 : n >= 512 ? 41 : 151;
  const warmup = n >= 1024 ? 2 : 5;
  for (let r = -warmup; r < rounds; r++) {
    // Rotate the order each round so no column always runs right after the same neighbour.
    for (let j = 0; j < columns.length; j++) {
      const c = (j + r + warmup) % columns.length;
      const t0 = performance.now();
      columns[c]![1]();
      const ms = performance.now() - t0;
      if (r >= 0) times[c]!.push(ms);
    }
    // A new task between rounds, as an app's event loop gives: Myriad's finalizers return the output
    // buffers of the round before to its pool (tfjs frees its outputs at dispose()).
    await nextTask();
  }
  ctx.maxThreads = allThreads;
  ta.dispose();
  tb.dispose();
  const base = median(times[0]!);
  const cells = columns.map(([,], c) => {
    const ms = median(times[c]!);
    return `${ms.toFixed(2)} ms, ${((2 * n ** 3) / ms / 1e6).toFixed(1)} GFLOP/s${c === 0 ? '' : `, **${(base / ms).toFixed(2)}×**`}`;
  });
  lines.push(`| ${n} | ${cells.join(' | ')} | ${rounds} |`);
  console.log(`n=${n}: ${cells.join(' / ')}`);
}

const flags = (() => {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '';
  } catch {
    return '';
  }
})();
const avx512 = /\bavx512f\b/.test(flags) ? 'AVX-512' : /\bavx2\b/.test(flags) ? 'AVX2 (no AVX-512)' : 'no AVX2';
console.log(
  `\nf32 matmul n×n·n×n, public API (a.matmul(b).toTypedArray()) vs tfjs-backend-wasm 4.22 (1 thread in Node), interleaved; medians`,
);
console.log(
  `node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} (${avx512}), ${availableParallelism()} threads available; load average ${loadBefore.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after\n`,
);
console.log(`| n | tfjs-wasm | Myriad, ${allThreads} threads | Myriad, 1 thread | rounds |`);
console.log('|---|---|---|---|---|');
console.log(lines.join('\n'));
await ctx.close();
