// The MLP training step through Myriad's autograd (batch 256, 512 → 2048 → 512, GELU, MSE,
// SGD; forward + backward + update), with the plain TypeScript kernels and with the WebAssembly
// kernels on 1 thread and on every core. Only the kernel seam changes between rows.
// Run: npm run bench -- wasm-mlp   (BENCH_CLOCK=cpu times process CPU instead of wall clock: steadier
// when other processes share the cores, but it sums all threads, so read it for the 1-thread row)
import { availableParallelism, cpus, loadavg } from 'node:os';
import { Bench } from 'tinybench';
import { add, gelu, matmul, mean, mul, noGrad, randn, resetKernels, square, sub, zeros, type Tensor } from '@myriad/core';
import { getWasmContext } from '../src/cpu/wasm/context.js';
import { installWasmKernels } from '../src/cpu/wasm/install.js';

const [batch, dIn, dHidden] = [256, 512, 2048];
const x = randn([batch, dIn], { seed: 1 });
const y = randn([batch, dIn], { seed: 2 });
const w1 = mul(randn([dIn, dHidden], { seed: 3 }), 1 / Math.sqrt(dIn))
  .detach()
  .requiresGrad_();
const b1 = zeros([dHidden]).requiresGrad_();
const w2 = mul(randn([dHidden, dIn], { seed: 4 }), 1 / Math.sqrt(dHidden))
  .detach()
  .requiresGrad_();
const b2 = zeros([dIn]).requiresGrad_();
const params = [w1, b1, w2, b2];

function step(): number {
  const h = gelu(add(matmul(x, w1), b1));
  const out = add(matmul(h, w2), b2);
  const loss = mean(square(sub(out, y)));
  loss.backward();
  noGrad(() => {
    for (const p of params) {
      p.assign(sub(p, mul(p.grad as Tensor, 0.01)));
      p.grad = null;
    }
  });
  return loss.item();
}

const clockName = process.env.BENCH_CLOCK === 'cpu' ? 'process CPU time' : 'wall';
const now =
  process.env.BENCH_CLOCK === 'cpu'
    ? () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      }
    : () => performance.now();
const allThreads = availableParallelism();
const loadBefore = loadavg()[0]!;
const bench = new Bench({ time: 2000, iterations: 5, warmupIterations: 2, now });
bench.add('plain TypeScript kernels', () => void step(), { beforeAll: () => resetKernels() });
bench.add('WebAssembly kernels, 1 thread', () => void step(), {
  beforeAll: () => {
    if (!installWasmKernels()) throw new Error('wasm-mlp bench: WebAssembly SIMD kernels unavailable');
    getWasmContext()!.maxThreads = 1;
  },
});
bench.add(`WebAssembly kernels, ${allThreads} threads`, () => void step(), {
  beforeAll: async () => {
    installWasmKernels();
    const ctx = getWasmContext()!;
    ctx.maxThreads = allThreads;
    await ctx.warmWorkers();
  },
});
await bench.run();

console.log(
  `MLP step, batch ${batch}, ${dIn}→${dHidden}→${dIn}, GELU, MSE, SGD; node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}; clock: ${clockName}; load average ${loadBefore.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after`,
);
console.table(
  bench.tasks.map((t) => ({
    kernels: t.name,
    'median ms/step': t.result!.latency.p50!.toFixed(1),
    samples: t.result!.latency.samples.length,
  })),
);
await getWasmContext()?.close();
