// The demo's TransformerLM trains on the gpu backend (issue 10): every --ffw on WebAssembly kernels
// and on WebGPU (Mesa lavapipe under CI; skipped loudly without a Vulkan driver), losses track the
// CPU backend's, and after the first step a training step moves only the batch of token ids up and the
// loss with the gradient norm down (one read), as the backend's transfer counters show.
import { getBackend, manualSeed, setBackend, type Backend } from '@myriad/core';
import { describeWithOptional } from '@myriad/core/testing';
import { createGpuBackend, type GpuBackend, type GpuStats } from '@myriad/gpu';
import { AdamW, BatchLoader, Trainer, weightDecayGroups, type ProgressStream } from '@myriad/train';
import type { TransformerLM } from '@myriad/nn';
import { describe, expect, it } from 'vitest';
import type { FfwKind } from '../src/args.js';
import { buildModel } from '../src/models.js';

const quiet: ProgressStream = { isTTY: false, write: () => true };
const tokens = Int32Array.from({ length: 4000 }, (_, i) => (i * 7 + ((i / 13) | 0)) % 23);

interface Run {
  losses: number[];
  /** Transfers and launches of each step after the first (differences between consecutive steps). */
  perStep: GpuStats[];
}

/** Trains the demo model (small: dim 32, depth 2, context 16, batch 4) for `steps` steps on `backend`. */
async function train(backend: Backend, ffw: FfwKind, steps: number): Promise<Run> {
  const prev = getBackend();
  setBackend(backend);
  try {
    manualSeed(0);
    const { model } = buildModel({ ffw, vocabSize: 23, dim: 32, depth: 2, heads: 2, contextLength: 16, seed: 0 });
    const gpu = 'stats' in backend ? (backend as GpuBackend) : null;
    const snapshots: GpuStats[] = [];
    const trainer = new Trainer<TransformerLM>({
      model,
      optimizer: new AdamW(weightDecayGroups(model, { weightDecay: 0.1 }), { lr: 3e-3, betas: [0.9, 0.95] }),
      trainLoader: new BatchLoader(tokens, { contextLength: 16, batchSize: 4, seed: 0 }),
      loss: (m, b) => m.loss(b.input, b.target),
      steps,
      gradClip: 1,
      evalEvery: 0,
      output: quiet,
      hooks: { afterStep: () => gpu && snapshots.push(gpu.stats()) },
    });
    const { losses } = await trainer.run();
    const perStep = snapshots.slice(1).map((s, i) => {
      const p = snapshots[i]!;
      return {
        uploads: s.uploads - p.uploads,
        uploadBytes: s.uploadBytes - p.uploadBytes,
        downloads: s.downloads - p.downloads,
        downloadBytes: s.downloadBytes - p.downloadBytes,
        kernelLaunches: s.kernelLaunches - p.kernelLaunches,
        cpuFallbacks: s.cpuFallbacks - p.cpuFallbacks,
      };
    });
    return { losses, perStep };
  } finally {
    setBackend(prev);
  }
}

const FFWS: FfwKind[] = ['dense', 'moe', 'pkm', 'peer'];
/** Most kernel launches a training step of the test model may take (see trainingSuite). */
const LAUNCH_BUDGET: Record<FfwKind, number> = { dense: 1050, moe: 1950, pkm: 1550, peer: 1600 };
const reference = new Map<FfwKind, number[]>();
async function cpuLosses(ffw: FfwKind, steps: number): Promise<number[]> {
  const key = ffw;
  if (!reference.has(key) || reference.get(key)!.length < steps) reference.set(key, (await train(getBackend(), ffw, steps)).losses);
  return reference.get(key)!.slice(0, steps);
}

/** The checks for one gpu mode: losses within `tol` of the CPU's, and the transfer budget of a step. */
function trainingSuite(mode: 'webasm' | 'webgpu', steps: number, tol: number): void {
  let backend: GpuBackend;
  it.each(FFWS)(
    `%s: ${steps} steps track the CPU backend's losses (|Δ| < ${tol}); after step 1 a step uploads only the token ids and reads one value`,
    async (ffw) => {
      backend ??= await createGpuBackend({
        mode,
        warn: (m) => {
          throw new Error(`unexpected fallback: ${m}`);
        },
      });
      const cpu = await cpuLosses(ffw, steps);
      const run = await train(backend, ffw, steps);
      run.losses.forEach((l, i) => expect(Math.abs(l - cpu[i]!), `step ${i + 1}: ${l} vs CPU ${cpu[i]}`).toBeLessThan(tol));
      expect(run.perStep).toHaveLength(steps - 1);
      for (const s of run.perStep) {
        expect(s.kernelLaunches).toBeGreaterThan(0);
        expect(s.cpuFallbacks).toBe(0);
        expect(s.uploads).toBe(2); // input and target ids
        expect(s.uploadBytes).toBe(2 * 4 * 16 * 4);
        expect(s.downloads).toBe(1); // the loss and the gradient norm, read together
        expect(s.downloadBytes).toBe(8);
      }
      // Kernel launches per step: the same every step where ops run synchronously (webasm); on WebGPU
      // they are counted at submission, so a step's tail can land in the next one: compare the mean.
      // The budget (measured + ~25 %: webasm dense 698, moe 1301, pkm 1077, peer 1136; WebGPU about
      // 822 / 1549 / 1219 / 1281) catches a change that multiplies the launches of a step.
      const launches = run.perStep.map((s) => s.kernelLaunches);
      if (mode === 'webasm') expect(new Set(launches).size, `launches per step: ${launches.join(', ')}`).toBe(1);
      expect(launches.reduce((a, b) => a + b, 0) / launches.length).toBeLessThan(LAUNCH_BUDGET[ffw]);
    },
  );
}

describe('the demo model trains on the gpu backend: webasm', () => trainingSuite('webasm', 4, 2e-3));

/** Training equivalence over a longer run: 20 PEER steps on the gpu backend against the CPU backend. */
function peerEquivalence(mode: 'webasm' | 'webgpu', tol: number): void {
  it(`peer: 20 steps track the CPU backend's losses (|Δ| < ${tol})`, async () => {
    const backend = await createGpuBackend({
      mode,
      warn: (m) => {
        throw new Error(`unexpected fallback: ${m}`);
      },
    });
    const cpu = await cpuLosses('peer', 20);
    const run = await train(backend, 'peer', 20);
    const worst = Math.max(...run.losses.map((l, i) => Math.abs(l - cpu[i]!)));
    expect(worst, `losses ${run.losses.map((l) => l.toFixed(4))} vs CPU ${cpu.map((l) => l.toFixed(4))}`).toBeLessThan(tol);
    expect(run.losses[19]!).toBeLessThan(run.losses[0]! - 0.3); // and it learns
    // 20 CPU reference steps plus 20 gpu steps took 23-43 s here with one vitest worker: the 60 s default
    // leaves too little room on a loaded CI runner.
  }, 300_000);
}
describe('20 PEER steps on the gpu backend: webasm', () => peerEquivalence('webasm', 5e-3));

async function webgpuMissing(): Promise<string | null> {
  let reason: string | null = null;
  const b = await createGpuBackend({ mode: 'webgpu', warn: (m) => (reason = m) });
  return b.mode === 'webgpu' ? null : (reason ?? `mode came up as ${b.mode}`);
}
describeWithOptional(
  'the demo model trains on the gpu backend: webgpu',
  await webgpuMissing(),
  'sudo bash scripts/gpu/install-vulkan.sh',
  () => {
    trainingSuite('webgpu', 4, 2e-3);
    peerEquivalence('webgpu', 5e-3);
  },
);
