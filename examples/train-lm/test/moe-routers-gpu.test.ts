// Every MoE router runs on the gpu backend without reading the device: 'topk' and 'hash' dispatch
// with capacity slots ('hash' looks its [vocabSize, topK] table up by id), 'expert-choice' takes each
// expert's top-c tokens with one top-k along the token axis. Outputs, router gradients and the routing
// decision match the CPU backend's; after a warm-up step a forward + backward downloads nothing and
// falls back to the CPU nowhere (backend.stats()). On webasm and, where a Vulkan driver exists, WebGPU.
// (Here rather than in packages/nn/test: @myriad/nn does not depend on @myriad/gpu; this example does.)
import { cpuBackend, getBackend, randint, randn, setBackend, sum, tensor, type Backend, type Tensor } from '@myriad/core';
import { describeWithOptional } from '@myriad/core/testing';
import { createGpuBackend, type GpuBackend } from '@myriad/gpu';
import { MoE, type MoEOptions } from '@myriad/nn';
import { describe, expect, it } from 'vitest';

const VOCAB = 10;
const CASES: Array<[string, Partial<MoEOptions>]> = [
  ['topk', { router: 'topk', topK: 2 }],
  ['topk, capacity 1', { router: 'topk', topK: 2, capacityFactor: 1 }],
  ['expert-choice', { router: 'expert-choice', capacityFactor: 1 }],
  ['expert-choice, capacity 2', { router: 'expert-choice', capacityFactor: 2 }],
  ['hash', { router: 'hash', topK: 2, hashSeed: 3 }],
  ['hash, capacity 1', { router: 'hash', topK: 2, hashSeed: 3, capacityFactor: 1 }],
];

const xHost = randn([2, 6, 8], { seed: 1 }).toTypedArray() as Float32Array;
const idsHost = randint(0, VOCAB, [2, 6], { seed: 2 }).toTypedArray() as Int32Array;

interface Result {
  y: Float32Array;
  routerGrad: Float32Array | null;
  expertGrad: Float32Array;
  indices: Int32Array;
  scores: Float32Array | Float64Array;
  dropped: number | null;
}

/** One forward + backward of a fresh MoE (seed 5) on `backend`; the second of two steps when `warm`. */
async function step(backend: Backend, options: Partial<MoEOptions>, warm: boolean): Promise<Result> {
  const prev = getBackend();
  setBackend(backend);
  try {
    const m = new MoE({ dim: 8, hidden: 6, numExperts: 4, seed: 5, ...options });
    const x = tensor(xHost, { shape: [2, 6, 8] });
    const tokenIds = tensor(idsHost, { shape: [2, 6], dtype: 'int32' });
    const gpu = backend === cpuBackend ? null : (backend as GpuBackend);
    const once = (): Tensor => {
      m.zeroGrad();
      const y = m.forward(x, { tokenIds, vocabSize: VOCAB });
      sum(y.mul(y)).backward();
      return y;
    };
    if (warm) once();
    if (gpu) {
      await gpu.sync();
      gpu.resetStats();
    }
    const y = once();
    if (gpu) {
      await gpu.sync();
      const s = gpu.stats();
      expect({ downloads: s.downloads, uploads: s.uploads, cpuFallbacks: s.cpuFallbacks }).toEqual({
        downloads: 0,
        uploads: 0,
        cpuFallbacks: 0,
      });
    }
    const grad = (t: Tensor | null | undefined): Promise<Float32Array> | null => {
      const g = t?.grad;
      if (!g) return null;
      return ('toDense' in g ? g.toDense() : g).read() as Promise<Float32Array>;
    };
    // Synchronous access: the host copy where the backend reads synchronously, a named error where it cannot.
    if (gpu?.async) {
      expect(() => m.lastRouting!.indices).toThrow(
        new RegExp(`lastRouting\\.indices: the ${gpu.name} backend cannot read synchronously; use .*await lastRouting\\.read\\(\\)`),
      );
    }
    const syncIndices = gpu?.async ? null : Int32Array.from(m.lastRouting!.indices);
    // The dropped fraction: synchronously where the backend can (null on WebGPU), and read() anywhere.
    const dropped = await m.readDroppedFraction();
    expect(m.droppedFraction).toBe(gpu?.async && options.capacityFactor !== undefined ? null : dropped);
    const { indices, scores } = await m.lastRouting!.read();
    if (syncIndices) expect(Array.from(indices)).toEqual(Array.from(syncIndices));
    return {
      y: (await y.read()) as Float32Array,
      routerGrad: m.router ? await grad(m.router.weight)! : null,
      expertGrad: (await grad(m.experts[1]!.up.weight)) ?? new Float32Array(6 * 8),
      indices,
      scores,
      dropped,
    };
  } finally {
    setBackend(prev);
  }
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  expect(a.length, what).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  expect(worst, what).toBeLessThan(tol);
}

function routerSuite(mode: 'webasm' | 'webgpu'): void {
  let backend: GpuBackend;
  it.each(CASES)('%s: matches the CPU backend and downloads nothing in a forward + backward', async (_, options) => {
    backend ??= await createGpuBackend({
      mode,
      warn: (m) => {
        throw new Error(`unexpected fallback: ${m}`);
      },
    });
    const cpu = await step(cpuBackend, options, false);
    const gpu = await step(backend, options, true);
    close(gpu.y, cpu.y, 1e-4, 'y');
    if (cpu.routerGrad) close(gpu.routerGrad!, cpu.routerGrad, 1e-3, 'router grad');
    close(gpu.expertGrad, cpu.expertGrad, 1e-3, 'expert grad');
    expect(Array.from(gpu.indices)).toEqual(Array.from(cpu.indices));
    close(gpu.scores, cpu.scores, 1e-5, 'gates');
    expect(gpu.dropped).toBeCloseTo(cpu.dropped!, 6);
  });

  it('refuses, by name, what cannot run on an asynchronous backend', async () => {
    backend ??= await createGpuBackend({ mode, warn: () => {} });
    if (!backend.async) return;
    const prev = getBackend();
    setBackend(backend);
    try {
      const x = tensor(xHost, { shape: [2, 6, 8] });
      const tokenIds = tensor(idsHost, { shape: [2, 6], dtype: 'int32' });
      const grouped = new MoE({ dim: 8, hidden: 6, numExperts: 4, dispatch: 'grouped' });
      expect(() => grouped.forward(x)).toThrow(
        `MoE.forward: dispatch 'grouped' (router 'topk') reads the routing on the host, which the ${backend.name} backend cannot do synchronously; use dispatch 'slots' or 'auto'`,
      );
      const hash = new MoE({ dim: 8, hidden: 6, numExperts: 4, router: 'hash' });
      expect(() => hash.forward(x, { tokenIds })).toThrow(
        `MoE.forward: router 'hash' with dispatch 'auto' on the ${backend.name} backend needs the vocabulary size`,
      );
    } finally {
      setBackend(prev);
    }
  });
}

describe('MoE routers on the gpu backend: webasm', () => routerSuite('webasm'));

async function webgpuMissing(): Promise<string | null> {
  let reason: string | null = null;
  const b = await createGpuBackend({ mode: 'webgpu', warn: (m) => (reason = m) });
  return b.mode === 'webgpu' ? null : (reason ?? `mode came up as ${b.mode}`);
}
describeWithOptional('MoE routers on the gpu backend: webgpu', await webgpuMissing(), 'sudo bash scripts/gpu/install-vulkan.sh', () =>
  routerSuite('webgpu'),
);
