// The demo CLI end to end on the gpu backend (issue 10): `--backend gpu --gpu-mode webasm` trains a tiny
// PEER model, evaluates, samples, writes its checkpoint, log and loss curve, tracks the CPU backend's
// run of the same command step for step, and resumes from its own checkpoint on the gpu backend; on
// WebGPU (where a Vulkan driver gives an adapter) a short dense run trains, samples, saves and resumes.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithOptional } from '@myriad/core/testing';
import { createGpuBackend } from '@myriad/gpu';
import { readCheckpoint } from '@myriad/train';
import { afterAll, describe, expect, it } from 'vitest';
import { cliAsync, readLog, type LogRecord } from './helpers/cli-run.js';

const cli = (args: string[]) => cliAsync(args, 150_000);

const dir = mkdtempSync(join(tmpdir(), 'train-lm-gpu-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const corpus = join(dir, 'corpus.txt');
writeFileSync(corpus, 'Call me Ishmael. Some years ago, never mind how long precisely. '.repeat(60));

// One block whose PEER layer has 64 experts (8² product keys): about 10 s for 6 steps on webasm.
const BASE = ['--corpus', corpus, '--dim', '16', '--depth', '1', '--heads', '2', '--context', '16', '--batch', '4'];
const TINY = [
  ...BASE,
  ...['--ffw', 'peer', '--experts', '64', '--expert-top-k', '4', '--expert-heads', '2', '--key-dim', '8'],
  ...['--eval-every', '3', '--eval-batches', '1', '--quiet'],
];
const GPU = ['--backend', 'gpu', '--gpu-mode', 'webasm'];
const STEPS = 6;
/** Per-step |Δ loss| allowed between the gpu (f32 kernels, other summation orders) and CPU runs. */
const LOSS_TOL = 2e-3;

type Rec = LogRecord;
const log = readLog;
const train = (recs: Rec[]): Rec[] => recs.filter((r) => r.kind === 'train');

describe('train-lm CLI on --backend gpu --gpu-mode webasm', () => {
  const gpuRun = join(dir, 'gpu');
  const cpuRun = join(dir, 'cpu');

  it('trains, evaluates, samples and saves; the losses track the CPU backend run of the same command', async () => {
    const t0 = performance.now();
    const [gpu, cpu] = await Promise.all([
      cli([...TINY, ...GPU, '--steps', String(STEPS), '--sample', '12', '--out', gpuRun]),
      cli([...TINY, '--steps', String(STEPS), '--sample', '0', '--out', cpuRun]),
    ]);
    console.log(`cli-gpu: gpu:webasm and cpu runs of ${STEPS} steps took ${((performance.now() - t0) / 1000).toFixed(1)} s together`);
    // No warning on stderr: in particular no "runs on the CPU backend" fallback warning.
    expect(gpu.err).toBe('');
    expect(gpu.code).toBe(0);
    expect(cpu.code).toBe(0);
    expect(gpu.out).toContain("backend: gpu.js mode 'webasm'");
    expect(gpu.out).toMatch(new RegExp(`validation loss \\d+\\.\\d+ nats, perplexity \\d+\\.\\d+ \\(step ${STEPS}\\)`));
    expect(gpu.out).toMatch(/routing blocks\.0\.ffw: 64 experts, usage \d+\.\d%/);
    expect(gpu.out).toMatch(/sample: 16 characters of validation text, then 12 generated .*\n {2}\| .{16}▌.{12}\n/);
    for (const f of ['checkpoint.safetensors', 'log.jsonl', 'loss.svg']) expect(existsSync(join(gpuRun, f))).toBe(true);
    expect(readFileSync(join(gpuRun, 'loss.svg'), 'utf8')).toContain('<polyline');

    const g = log(gpuRun);
    const c = log(cpuRun);
    expect(train(g).map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(g.filter((r) => r.kind === 'eval').map((r) => r.step)).toEqual([3, 6]);
    for (const r of train(g)) {
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(Number.isFinite(r.gradNorm)).toBe(true);
    }
    for (const r of g.filter((x) => x.kind === 'eval')) expect(Number.isFinite(r.valLoss)).toBe(true);
    // It learns: the last training loss is below the first (as on the CPU backend).
    const losses = train(g).map((r) => r.loss!);
    expect(losses[STEPS - 1]!).toBeLessThan(losses[0]!);
    // Step for step within LOSS_TOL of the CPU backend's run (same seed, data order and schedule).
    train(c).forEach((r, i) => {
      expect(Math.abs(losses[i]! - r.loss!), `step ${r.step}: gpu ${losses[i]} vs cpu ${r.loss}`).toBeLessThan(LOSS_TOL);
      expect(Math.abs(train(g)[i]!.gradNorm! - r.gradNorm!)).toBeLessThan(LOSS_TOL * Math.max(1, r.gradNorm!));
    });
    const cv = c.filter((r) => r.kind === 'eval').map((r) => r.valLoss!);
    g.filter((r) => r.kind === 'eval').forEach((r, i) => expect(Math.abs(r.valLoss! - cv[i]!)).toBeLessThan(LOSS_TOL));

    // The checkpoint read back from the device holds the trained weights: those of the CPU run, closely.
    const [gk, ck] = await Promise.all([
      readCheckpoint(join(gpuRun, 'checkpoint.safetensors')),
      readCheckpoint(join(cpuRun, 'checkpoint.safetensors')),
    ]);
    expect(gk.step).toBe(STEPS);
    expect(gk.config).toEqual(ck.config);
    expect(Object.keys(gk.model).sort()).toEqual(Object.keys(ck.model).sort());
    for (const [name, t] of Object.entries(ck.model)) {
      const a = gk.model[name]!.toTypedArray();
      const b = t.toTypedArray();
      let worst = 0;
      for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      expect(worst, `${name}: max |gpu − cpu|`).toBeLessThan(1e-3);
    }
  }, 180_000);

  it('resumes its checkpoint on the gpu backend and keeps training', async () => {
    const ck = join(gpuRun, 'checkpoint.safetensors');
    const out = join(dir, 'gpu-resumed');
    const r = await cli(['--resume', ck, ...GPU, '--steps', '8', '--extend', 'keep-schedule', '--quiet', '--sample', '0', '--out', out]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const recs = train(log(out));
    expect(recs.map((x) => x.step)).toEqual([7, 8]);
    for (const x of recs) expect(Number.isFinite(x.loss)).toBe(true);
    expect((await readCheckpoint(join(out, 'checkpoint.safetensors'))).step).toBe(8);
  }, 120_000);
});

async function webgpuMissing(): Promise<string | null> {
  let reason: string | null = null;
  const b = await createGpuBackend({ mode: 'webgpu', warn: (m) => (reason = m) });
  const missing = b.mode === 'webgpu' ? null : (reason ?? `mode came up as ${b.mode}`);
  await b.destroy();
  return missing;
}

describeWithOptional(
  'train-lm CLI on --backend gpu --gpu-mode webgpu',
  await webgpuMissing(),
  'sudo bash scripts/gpu/install-vulkan.sh',
  () => {
    it('trains a dense model 2 steps, evaluates, samples and saves, then resumes on WebGPU', async () => {
      const run = join(dir, 'webgpu');
      const webgpu = ['--backend', 'gpu', '--gpu-mode', 'webgpu'];
      const dense = [...BASE, '--ffw', 'dense', '--eval-every', '2', '--eval-batches', '1', '--quiet'];
      const r = await cli([...dense, ...webgpu, '--steps', '2', '--sample', '8', '--out', run]);
      expect(r.code, r.err).toBe(0);
      expect(r.err).not.toMatch(/runs on the CPU backend/);
      expect(r.out).toContain("backend: gpu.js mode 'webgpu'");
      expect(r.out).toMatch(/validation loss \d+\.\d+ nats/);
      expect(r.out).toMatch(/then 8 generated/);
      const recs = train(log(run));
      expect(recs.map((x) => x.step)).toEqual([1, 2]);
      for (const x of recs) expect(Number.isFinite(x.loss)).toBe(true);
      const resumed = join(dir, 'webgpu-resumed');
      const again = await cli([
        '--resume',
        join(run, 'checkpoint.safetensors'),
        ...webgpu,
        '--steps',
        '3',
        '--extend',
        'keep-schedule',
        '--quiet',
        '--sample',
        '0',
        '--out',
        resumed,
      ]);
      expect(again.code, again.err).toBe(0);
      expect(train(log(resumed)).map((x) => x.step)).toEqual([3]);
      expect((await readCheckpoint(join(resumed, 'checkpoint.safetensors'))).step).toBe(3);
    }, 240_000);
  },
);
