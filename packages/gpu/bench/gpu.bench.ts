// The gpu backend's kernels on every gpu.js mode available here, against core's CPU backend in the
// same run: matmul, top-k, scatterAddRows (sort + segmented sum) and applyUpdate (Adam, dense and
// lazy). Each timing includes reading the result back (`await read()`), since WebGPU work is only
// enqueued by the op. Env: GPU_BENCH_MODES=webasm,webgpu (default both; webgpu only where an adapter
// exists), GPU_BENCH_MATMUL=256,512,1024, GPU_BENCH_ONLY=matmul,topk,scatter,update (default all).
import { Tensor, cpuBackend, randint, randn, setBackend, getBackend, tensor, type Backend, type UpdateRule } from '@myriad/core';
import { createGpuBackend, type GpuBackend, type GpuMode } from '@myriad/gpu';
import { loadavg } from 'node:os';
import { Bench } from 'tinybench';

const modes = (process.env.GPU_BENCH_MODES ?? 'webasm,webgpu').split(',') as GpuMode[];
const sizes = (process.env.GPU_BENCH_MATMUL ?? '256,512,1024').split(',').map(Number);
const only = new Set((process.env.GPU_BENCH_ONLY ?? 'matmul,topk,scatter,update').split(','));

interface Entry {
  label: string;
  backend: Backend;
  device: string;
}
const backends: Entry[] = [{ label: 'cpu-backend', backend: cpuBackend, device: 'core CPU backend (TypeScript/wasm kernels)' }];
/** The same modes with one output per matmul thread (before register blocking), for the matmul rows only. */
const unblocked: Entry[] = [];
for (const mode of modes) {
  const b: GpuBackend = await createGpuBackend({ mode, warn: (m) => console.log(`  note: ${m}`) });
  if (b.mode !== mode) {
    console.log(`mode ${mode}: unavailable here (got ${b.mode}), not benchmarked`);
    continue;
  }
  backends.push({ label: `gpu:${b.mode}`, backend: b, device: b.device });
  const u = await createGpuBackend({ mode, matmulBlocking: false, warn: (m) => console.log(`  note: ${m}`) });
  unblocked.push({ label: `gpu:${b.mode} 1 output/thread`, backend: u, device: u.device });
}
for (const b of backends) console.log(`${b.label}: ${b.device}`);
console.log(
  `load average: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);

function on<T>(b: Backend, fn: () => T): T {
  const prev = getBackend();
  setBackend(b);
  try {
    return fn();
  } finally {
    setBackend(prev);
  }
}

async function timeIt(b: Backend, make: () => Tensor[], op: (xs: Tensor[]) => Tensor, iterations: number): Promise<number> {
  const xs = on(b, make);
  await on(b, () => op(xs)).read(); // warm-up: compiles the kernels for this shape
  const bench = new Bench({ iterations, time: 0, warmup: false });
  bench.add('op', async () => {
    const y = on(b, () => op(xs));
    await y.read();
    b.dispose(y.storage);
  });
  await bench.run();
  const t = bench.tasks[0]!.result as { latency?: { p50?: number }; median?: number };
  return t.latency?.p50 ?? t.median ?? NaN;
}

/** One table row per backend, with the ratio to the CPU backend. */
async function rows(
  name: string,
  make: () => Tensor[],
  op: (xs: Tensor[]) => Tensor,
  iterations: number,
  flops?: number,
  extra: Entry[] = [],
): Promise<void> {
  let cpuMs = NaN;
  for (const { label, backend } of [...backends, ...extra]) {
    const ms = await timeIt(backend, make, op, iterations);
    if (label === 'cpu-backend') cpuMs = ms;
    const rate = flops ? (flops / ms / 1e6).toFixed(2) : '–';
    console.log(`| ${name} | ${label} | ${ms.toFixed(1)} | ${rate} | ${(cpuMs / ms).toFixed(2)}x |`);
  }
}

const ADAM: UpdateRule = {
  name: 'bench-adam',
  state: ['param', 'm', 'v'],
  scalars: ['b1', 'b2', 'eps', 'stepSize', 'invBc'],
  body: `mNext = b1 * m + (1.0 - b1) * grad;
    vNext = b2 * v + (1.0 - b2) * grad * grad;
    paramNext = param - (stepSize * mNext) / (Math.sqrt(vNext) * invBc + eps);`,
};
const SCALARS = [0.9, 0.999, 1e-8, 1e-3, 1.0];

console.log('\n| op | backend | median ms | GFLOP/s | vs CPU backend |\n|---|---|---|---|---|');
if (only.has('matmul')) {
  for (const n of sizes) {
    const make = (): Tensor[] => [randn([n, n], { seed: 1 }), randn([n, n], { seed: 2 })];
    await rows(`matmul ${n}³`, make, ([a, b]) => a!.matmul(b!), n >= 1024 ? 1 : 3, 2 * n ** 3, unblocked);
  }
}
if (only.has('topk')) {
  for (const k of [8, 32])
    await rows(
      `topk k=${k} [256×4096]`,
      () => [randn([256, 4096], { seed: 3 })],
      ([x]) => x!.topk(k).values,
      3,
    );
}
if (only.has('scatter')) {
  // The backward of an embedding lookup: 4096 rows of width 256 into a 65000-row table.
  const scatter = ([i, s]: Tensor[]): Tensor => {
    const b = i!.backend;
    return tensorOf(b, b.scatterAddRows(65000, i!, s!), [65000, 256]);
  };
  const make = (): Tensor[] => [randint(0, 65000, [4096], { seed: 4 }), randn([4096, 256], { seed: 5 })];
  await rows('scatterAddRows 4096×256 → 65000 rows', make, scatter, 3);
}
if (only.has('update')) {
  // Adam on a 65000×256 table (just under gpu.js's 2^24-element limit), dense, and lazy on 4096 touched rows.
  const R = 65000,
    W = 256,
    touched = 4096;
  const makeState = (): Tensor[] => [
    randn([R, W], { seed: 6 }),
    randn([R, W], { seed: 7 }).mul(0.01),
    randn([R, W], { seed: 8 }).abs().mul(0.01),
  ];
  const update =
    (lazy: boolean) =>
    (xs: Tensor[]): Tensor => {
      const b = xs[0]!.backend;
      const out = b.applyUpdate(ADAM, xs.slice(0, 3), xs[3]!, lazy ? xs[4]! : null, SCALARS);
      for (const s of out.slice(1)) b.dispose(s);
      return tensorOf(b, out[0]!, [R, W]);
    };
  await rows(`applyUpdate Adam dense ${R}×${W}`, () => [...makeState(), randn([R, W], { seed: 9 })], update(false), 2);
  const rowsIdx = Int32Array.from({ length: touched }, (_, i) => Math.floor((i * R) / touched));
  const rowIndex = (): Tensor => tensor(rowsIdx, { shape: [touched], dtype: 'int32' });
  const makeLazy = (): Tensor[] => [...makeState(), randn([touched, W], { seed: 10 }), rowIndex()];
  await rows(`applyUpdate Adam lazy ${touched} of ${R}×${W}`, makeLazy, update(true), 3);
}

/** A float32 tensor over storage a backend entry returned. */
function tensorOf(b: Backend, s: object, shape: number[]): Tensor {
  return Tensor._make(b, s, shape, 'float32');
}
process.exit(0);
