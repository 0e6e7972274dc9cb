// matmul (256–2048) and top-k (k = 16 over [4096 × 1024]; k = 32 over [512 × 65536]) on every gpu.js
// mode available here, against core's CPU backend in the same run. Each timing includes reading the
// result back (`await read()`), since WebGPU work is only enqueued by the op.
// Env: GPU_BENCH_MODES=webasm,webgpu (default: both, webgpu only where an adapter exists),
//      GPU_BENCH_MATMUL=256,512,1024,2048 (default 256,512,1024), GPU_BENCH_TOPK=0 to skip top-k.
import { cpuBackend, randn, setBackend, getBackend, type Backend, type Tensor } from '@myriad/core';
import { createGpuBackend, type GpuBackend, type GpuMode } from '@myriad/gpu';
import { Bench } from 'tinybench';

const modes = (process.env.GPU_BENCH_MODES ?? 'webasm,webgpu').split(',') as GpuMode[];
const sizes = (process.env.GPU_BENCH_MATMUL ?? '256,512,1024').split(',').map(Number);
const withTopk = process.env.GPU_BENCH_TOPK !== '0';

const backends: { label: string; backend: Backend; device: string }[] = [{ label: 'cpu-backend', backend: cpuBackend, device: 'core CPU backend (TypeScript/wasm kernels)' }];
for (const mode of modes) {
  const b: GpuBackend = await createGpuBackend({ mode, warn: (m) => console.log(`  note: ${m}`) });
  if (b.mode !== mode) { console.log(`mode ${mode}: unavailable here (got ${b.mode}), not benchmarked`); continue; }
  backends.push({ label: `gpu:${b.mode}`, backend: b, device: b.device });
}
for (const b of backends) console.log(`${b.label}: ${b.device}`);

function on<T>(b: Backend, fn: () => T): T {
  const prev = getBackend();
  setBackend(b);
  try { return fn(); } finally { setBackend(prev); }
}

async function timeIt(name: string, b: Backend, make: () => Tensor[], op: (xs: Tensor[]) => Tensor, iterations: number): Promise<number> {
  const xs = on(b, make);
  await op(xs).read(); // warm-up: compiles the kernel for this shape
  const bench = new Bench({ iterations, time: 0, warmup: false });
  bench.add(name, async () => { const y = on(b, () => op(xs)); await y.read(); b.dispose(y.storage); });
  await bench.run();
  const t = bench.tasks[0]!.result as { latency?: { p50?: number }; median?: number };
  return t.latency?.p50 ?? t.median ?? NaN;
}

console.log('\n| op | backend | median ms | GFLOP/s |\n|---|---|---|---|');
for (const n of sizes) {
  for (const { label, backend } of backends) {
    const iters = n >= 1024 ? 2 : 5;
    const ms = await timeIt(`matmul ${n}`, backend, () => [randn([n, n], { seed: 1 }), randn([n, n], { seed: 2 })], ([a, b]) => a!.matmul(b!), iters);
    console.log(`| matmul ${n}³ | ${label} | ${ms.toFixed(1)} | ${((2 * n ** 3) / ms / 1e6).toFixed(2)} |`);
  }
}
if (withTopk) {
  for (const [rows, n, k] of [[4096, 1024, 16], [512, 65536, 32]] as const) {
    for (const { label, backend } of backends) {
      const ms = await timeIt(`topk`, backend, () => [randn([rows, n], { seed: 3 })], ([x]) => x!.topk(k).values, 2);
      console.log(`| topk k=${k} [${rows}×${n}] | ${label} | ${ms.toFixed(1)} | – |`);
    }
  }
}
process.exit(0);
