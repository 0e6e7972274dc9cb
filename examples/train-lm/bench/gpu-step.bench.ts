// Per-step time of the demo model (npm run demo's defaults: dim 64, depth 3, context 64, batch 16)
// on the CPU backend and the gpu backend's modes, in one run, with each step's transfers and kernel
// launches (backend.stats()). A step is what the Trainer does: zeroGrad, loss, backward, gradient
// norm and clipping, one read of loss and norm, optimizer step. Env: STEP_BENCH_MODES=webasm,webgpu
// (default both; webgpu where an adapter exists), STEP_BENCH_FFW=peer,dense (default), STEP_BENCH_ITERS=3.
import { cast, cpuBackend, getBackend, manualSeed, noGrad, setBackend, stack, type Backend } from '@myriad/core';
import { createGpuBackend, type GpuBackend, type GpuMode, type GpuStats } from '@myriad/gpu';
import { AdamW, BatchLoader, clipGradNormTensor, weightDecayGroups } from '@myriad/train';
import { loadavg } from 'node:os';
import { Bench } from 'tinybench';
import type { FfwKind } from '../src/args.js';
import { buildModel } from '../src/models.js';

const modes = (process.env.STEP_BENCH_MODES ?? 'webasm,webgpu').split(',') as GpuMode[];
const ffws = (process.env.STEP_BENCH_FFW ?? 'peer,dense').split(',') as FfwKind[];
const iterations = Number(process.env.STEP_BENCH_ITERS ?? 3);
const tokens = Int32Array.from({ length: 200_000 }, (_, i) => (i * 31 + ((i / 7) | 0)) % 83);

const backends: Array<{ label: string; backend: Backend }> = [{ label: 'cpu-backend', backend: cpuBackend }];
for (const mode of modes) {
  const b: GpuBackend = await createGpuBackend({ mode, warn: (m) => console.log(`  note: ${m}`) });
  if (b.mode !== mode) console.log(`mode ${mode}: unavailable here (got ${b.mode}), not benchmarked`);
  else backends.push({ label: `gpu:${b.mode}`, backend: b });
}
console.log(
  `load average: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);

/** A training step of the demo model on `backend`, as the Trainer runs it. */
function stepper(backend: Backend, ffw: FfwKind): () => Promise<number> {
  const prev = getBackend();
  setBackend(backend);
  try {
    manualSeed(1);
    const { model } = buildModel({ ffw, vocabSize: 83, dim: 64, depth: 3, heads: 4, contextLength: 64, seed: 1 } as Parameters<
      typeof buildModel
    >[0]);
    const optimizer = new AdamW(weightDecayGroups(model, { weightDecay: 0.1 }), { lr: 3e-3, betas: [0.9, 0.95] });
    const loader = new BatchLoader(tokens, { contextLength: 64, batchSize: 16, seed: 1 });
    const params = optimizer.params();
    return async () => {
      setBackend(backend);
      optimizer.zeroGrad();
      const b = loader.next();
      const loss = model.loss(b.input, b.target);
      loss.backward();
      const norm = clipGradNormTensor(params, 1);
      const both = await noGrad(() => stack([cast(loss.reshape([]), 'float32'), cast(norm.reshape([]), 'float32')])).read();
      optimizer.step();
      return both[0]!;
    };
  } finally {
    setBackend(prev);
  }
}

const rows: Array<Record<string, string>> = [];
for (const ffw of ffws) {
  let cpuMs = NaN;
  for (const { label, backend } of backends) {
    const step = stepper(backend, ffw);
    await step(); // first step: uploads weights, compiles kernels
    await step();
    const gpu = 'stats' in backend ? (backend as GpuBackend) : null;
    const before: GpuStats | null = gpu ? gpu.stats() : null;
    await step();
    const after = gpu ? gpu.stats() : null;
    const bench = new Bench({ iterations, time: 0, warmup: false });
    bench.add(`${ffw} ${label}`, step);
    await bench.run();
    const ms = bench.tasks[0]!.result!.latency.p50!;
    if (label === 'cpu-backend') cpuMs = ms;
    rows.push({
      model: ffw,
      backend: label,
      'ms/step (median)': ms.toFixed(0),
      'vs CPU backend': (ms / cpuMs).toFixed(2) + '×',
      'uploads/step': before && after ? `${after.uploads - before.uploads} (${after.uploadBytes - before.uploadBytes} B)` : '—',
      'downloads/step': before && after ? `${after.downloads - before.downloads} (${after.downloadBytes - before.downloadBytes} B)` : '—',
      'kernels/step': before && after ? String(after.kernelLaunches - before.kernelLaunches) : '—',
      'fallbacks/step': before && after ? String(after.cpuFallbacks - before.cpuFallbacks) : '—',
    });
  }
}
console.table(rows);
console.log(
  `load average after: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
process.exit(0);
