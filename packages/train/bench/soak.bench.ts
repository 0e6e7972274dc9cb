// Soak benchmark (issue 13): trains a tiny TransformerLM with a PEER feed-forward and AdamW for many
// steps, the way a user writes the loop (no tidy(): zeroGrad, loss, backward, step, read the loss),
// and samples the JS heap and the process RSS after a full garbage collection every few steps, plus the
// gpu backend's live device buffers. A least-squares slope over the second half of the samples (after
// warm-up) says whether memory grows with the step count.
//
//   npm run bench -- soak                                   every backend, SOAK_STEPS (default 2000) each
//   SOAK_STEPS=10000 SOAK_BACKENDS=cpu,webasm npm run bench -- soak
//   SOAK_SAMPLES=100   number of samples per run (default 100)
//   SOAK_OUT=soak.json writes every sample of every backend as JSON
//
// Each backend runs in its own child process (node --expose-gc), so one backend's heap does not
// disturb another's. WebGPU needs the `webgpu` package and a Vulkan driver (scripts/gpu/install-vulkan.sh);
// without an adapter that backend is reported as unavailable and skipped.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { cpuBackend, setBackend, tensor, type Backend } from '@myriad/core';
import { createGpuBackend, type GpuBackend, type GpuMode } from '@myriad/gpu';
import { PEER, TransformerLM } from '@myriad/nn';
import { AdamW, weightDecayGroups } from '@myriad/train';

type BackendName = 'cpu' | 'webasm' | 'webgpu';
const BACKENDS: readonly BackendName[] = ['cpu', 'webasm', 'webgpu'];

interface Sample {
  step: number;
  heapUsed: number;
  rss: number;
  /** Live gpu storages (device buffers); null on the CPU backend. */
  buffers: number | null;
  seconds: number;
  loss: number;
}

interface RunResult {
  backend: BackendName;
  /** Why the backend did not run, or null. */
  unavailable: string | null;
  steps: number;
  samples: Sample[];
}

/** Least-squares slope of y over x. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`soak: ${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return v;
}

// ------------------------------------------------------------------------------------------ child

/** Collects garbage until finalizers (which free gpu storages) have had a chance to run. */
async function collect(gc: () => void): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function runChild(name: BackendName, steps: number, every: number): Promise<RunResult> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') throw new Error('soak: the child must run with node --expose-gc');
  let backend: Backend = cpuBackend;
  let gpu: GpuBackend | null = null;
  if (name !== 'cpu') {
    let note: string | null = null;
    gpu = await createGpuBackend({ mode: name as GpuMode, warn: (m) => (note ??= m) });
    if (gpu.mode !== name) return { backend: name, unavailable: note ?? `mode came up as ${gpu.mode}`, steps: 0, samples: [] };
    backend = gpu;
  }
  setBackend(backend);

  // The demo's TransformerLM, tiny: width 16, SOAK_DEPTH blocks (default 1), a PEER feed-forward of 8² singleton experts.
  const vocabSize = 32;
  const context = 8;
  const model = new TransformerLM({
    vocabSize,
    dim: 16,
    depth: positiveInt('SOAK_DEPTH', 1),
    heads: 2,
    contextLength: context,
    seed: 1,
    ffw: (l) => new PEER({ dim: 16, numExperts: 64, heads: 2, topK: 4, dimKey: 8, seed: 2 + l }),
  });
  const optimizer = new AdamW(weightDecayGroups(model, { weightDecay: 0.1 }), { lr: 3e-3 });
  // One fixed batch of 4 sequences (the model memorises it; the loss falls, the memory must not grow).
  const batch = 4;
  const seq = Int32Array.from({ length: batch * (context + 1) }, (_, i) => (i * 7 + ((i / 5) | 0)) % vocabSize);
  const ids = new Int32Array(batch * context);
  const targets = new Int32Array(batch * context);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < context; t++) {
      ids[b * context + t] = seq[b * (context + 1) + t]!;
      targets[b * context + t] = seq[b * (context + 1) + t + 1]!;
    }
  }
  const input = tensor(ids, { shape: [batch, context], dtype: 'int32' });
  const target = tensor(targets, { shape: [batch, context], dtype: 'int32' });

  const samples: Sample[] = [];
  const start = performance.now();
  const sample = async (step: number, loss: number): Promise<void> => {
    // WebGPU: let queued work finish first, so the buffer count is the live set, not work in flight.
    if (gpu) await gpu.sync();
    await collect(gc);
    const { heapUsed, rss } = process.memoryUsage();
    samples.push({ step, heapUsed, rss, buffers: gpu ? gpu.memory().buffers : null, seconds: (performance.now() - start) / 1000, loss });
  };
  for (let step = 1; step <= steps; step++) {
    optimizer.zeroGrad();
    const loss = model.loss(input, target);
    loss.backward();
    optimizer.step();
    const value = (await loss.read())[0]!;
    if (!Number.isFinite(value)) throw new Error(`soak: loss is ${value} at step ${step} on ${name}`);
    if (step % every === 0 || step === 1) await sample(step, value);
    if (step % Math.max(1, Math.floor(steps / 10)) === 0) {
      const last = samples[samples.length - 1]!;
      process.stderr.write(
        `  ${name}: step ${step}/${steps}, ${last.seconds.toFixed(0)} s, heap ${(last.heapUsed / 2 ** 20).toFixed(1)} MB\n`,
      );
    }
  }
  return { backend: name, unavailable: null, steps, samples };
}

// ----------------------------------------------------------------------------------------- parent

interface Summary {
  backend: string;
  steps: string;
  'heap slope (B/1000 steps)': string;
  'RSS slope (B/1000 steps)': string;
  'heap first → last (MB)': string;
  'device buffers first → last (max)': string;
  's/1000 steps': string;
  'loss first → last': string;
  verdict: string;
}

/** Heap growth per 1000 steps (after warm-up) below which a run counts as flat. */
const FLAT_HEAP = 64 * 1024;

function summarise(r: RunResult): Summary {
  const mb = (b: number) => (b / 2 ** 20).toFixed(1);
  const half = r.samples.slice(Math.floor(r.samples.length / 2));
  const xs = half.map((s) => s.step);
  const heap =
    slope(
      xs,
      half.map((s) => s.heapUsed),
    ) * 1000;
  const rss =
    slope(
      xs,
      half.map((s) => s.rss),
    ) * 1000;
  const first = r.samples[0]!;
  const last = r.samples[r.samples.length - 1]!;
  const bufs = r.samples.map((s) => s.buffers).filter((b): b is number => b !== null);
  const halfBufs = half.map((s) => s.buffers).filter((b): b is number => b !== null);
  const buffersFlat = halfBufs.length === 0 || halfBufs[halfBufs.length - 1]! - halfBufs[0]! <= 2;
  const flat = heap < FLAT_HEAP && buffersFlat;
  return {
    backend: r.backend === 'cpu' ? 'cpu' : `gpu:${r.backend}`,
    steps: String(r.steps),
    'heap slope (B/1000 steps)': heap.toFixed(0),
    'RSS slope (B/1000 steps)': rss.toFixed(0),
    'heap first → last (MB)': `${mb(first.heapUsed)} → ${mb(last.heapUsed)}`,
    'device buffers first → last (max)': bufs.length ? `${bufs[0]} → ${bufs[bufs.length - 1]} (${Math.max(...bufs)})` : '—',
    's/1000 steps': ((last.seconds / last.step) * 1000).toFixed(1),
    'loss first → last': `${first.loss.toFixed(3)} → ${last.loss.toFixed(3)}`,
    verdict: flat ? 'flat' : heap >= FLAT_HEAP ? 'heap grows' : 'device buffers grow',
  };
}

async function main(): Promise<void> {
  const steps = positiveInt('SOAK_STEPS', 2000);
  const samplesWanted = positiveInt('SOAK_SAMPLES', 100);
  const every = Math.max(1, Math.floor(steps / samplesWanted));
  const child = process.env.SOAK_CHILD;
  if (child !== undefined) {
    const result = await runChild(child as BackendName, steps, every);
    process.stdout.write(`SOAK_RESULT ${JSON.stringify(result)}\n`);
    return;
  }
  const chosen = (process.env.SOAK_BACKENDS ?? BACKENDS.join(',')).split(',').filter((s) => s !== '');
  for (const c of chosen) {
    if (!BACKENDS.includes(c as BackendName))
      throw new Error(`soak: SOAK_BACKENDS names ${JSON.stringify(c)}; backends are ${BACKENDS.join(', ')}`);
  }
  const load = () =>
    loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  console.log(
    `soak: ${steps} steps per backend, a sample every ${every}; ${availableParallelism()} cores, ${cpus()[0]?.model ?? 'unknown cpu'}`,
  );
  console.log(`load average before: ${load()}`);
  const results: RunResult[] = [];
  const file = fileURLToPath(import.meta.url);
  for (const name of chosen as BackendName[]) {
    const r = spawnSync(process.execPath, ['--expose-gc', '--conditions=source', '--import', 'tsx', file], {
      env: { ...process.env, SOAK_CHILD: name },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 2 ** 20,
    });
    const line = r.stdout.split('\n').find((l) => l.startsWith('SOAK_RESULT '));
    if (r.status !== 0 || line === undefined) {
      process.stdout.write(r.stdout);
      // A signal (SIGSEGV from a driver, SIGKILL from the out-of-memory killer) leaves status null.
      const how = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
      throw new Error(`soak: the ${name} run failed (${how})`);
    }
    const result = JSON.parse(line.slice('SOAK_RESULT '.length)) as RunResult;
    results.push(result);
    if (result.unavailable !== null) console.log(`${name}: unavailable here (${result.unavailable}), skipped`);
    else console.log(`${name}: done (${summarise(result).verdict}); load average ${load()}`);
  }
  console.log(`load average after: ${load()}`);
  const ran = results.filter((r) => r.unavailable === null);
  console.table(ran.map(summarise));
  if (process.env.SOAK_OUT) writeFileSync(process.env.SOAK_OUT, JSON.stringify({ steps, every, results }, null, 1));
}

await main();
