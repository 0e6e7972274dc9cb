// A training step (forward, backward, SGD update in place) inside tidy() leaves exactly the storages
// that existed before it: nothing leaks on the device.
import { randn, setBackend, getBackend, type Tensor } from '@myriad/core';
import { tinyTraining } from './tiny-training.js';
import { createGpuBackend, type GpuBackend } from '@myriad/gpu';
import { describeWithOptional } from '@myriad/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { VULKAN_INSTALL, webgpuUnavailable } from './webgpu-probe.js';

async function trainingStepLeaksNothing(b: GpuBackend): Promise<void> {
  const prev = getBackend();
  setBackend(b);
  try {
    const tiny = tinyTraining();
    const step = (): Tensor => b.tidy(tiny.step);
    const first = step();
    const before = b.memory().buffers;
    const losses = [await first.read()];
    for (let i = 0; i < 3; i++) {
      const l = step();
      losses.push(await l.read());
      b.dispose(l.storage);
    }
    b.dispose(first.storage);
    expect(b.memory().buffers).toBe(before - 1);
    // The steps did train: the loss went down.
    expect(losses[3]![0]!).toBeLessThan(losses[0]![0]!);
  } finally {
    setBackend(prev);
  }
}

describe('gpu backend memory', () => {
  it('webasm: a training step inside tidy() leaks no buffers', async () => {
    await trainingStepLeaksNothing(await createGpuBackend({ mode: 'webasm', warn: () => {} }));
  });

  it('warns once when a loop uses more kernels than kernelCacheSize holds (each is recompiled every pass)', async () => {
    const warnings: string[] = [];
    const b = await createGpuBackend({ mode: 'webasm', warn: (m) => warnings.push(m), kernelCacheSize: 3 });
    const prev = getBackend();
    setBackend(b);
    try {
      // Ten shapes: ten exp kernels (more than twice the cache), cycled through a cache of three (LRU
      // misses every time).
      const xs = Array.from({ length: 10 }, (_, n) => randn([n + 2], { seed: n }));
      for (let pass = 0; pass < 3; pass++) for (const x of xs) await b.tidy(() => x.exp()).read();
      expect(b.memory().kernels).toBeLessThanOrEqual(3);
      expect(warnings.filter((w) => w.includes('raise kernelCacheSize'))).toHaveLength(1);
    } finally {
      setBackend(prev);
    }
    // The default cache holds a training step's kernels: no warning over repeated steps.
    const quiet: string[] = [];
    const d = await createGpuBackend({ mode: 'webasm', warn: (m) => quiet.push(m) });
    setBackend(d);
    try {
      const tiny = tinyTraining();
      for (let i = 0; i < 4; i++) await d.tidy(tiny.step).read();
      expect(quiet.filter((w) => w.includes('kernelCacheSize'))).toEqual([]);
    } finally {
      setBackend(prev);
    }
  });

  it('tidy keeps what it returns and what keep() marks, and disposes the rest', async () => {
    const b = await createGpuBackend({ mode: 'webasm', warn: () => {} });
    const prev = getBackend();
    setBackend(b);
    try {
      const a = randn([3, 4], { seed: 5 });
      const start = b.memory().buffers;
      let kept: Tensor | null = null;
      const out = b.tidy(() => {
        const t = a.exp().add(1);
        kept = b.keep(a.mul(2));
        return { t };
      });
      expect(b.memory().buffers).toBe(start + 2);
      expect(Array.from(await out.t.read())).toEqual(Array.from(await a.exp().add(1).read()));
      expect(kept).not.toBeNull();
    } finally {
      setBackend(prev);
    }
  });
});

describeWithOptional('gpu backend memory on webgpu', await webgpuUnavailable(), VULKAN_INSTALL, () => {
  let b: GpuBackend;
  afterAll(async () => b && (await b.sync()));
  it('webgpu: a training step inside tidy() leaks no buffers', async () => {
    b = await createGpuBackend({ mode: 'webgpu', warn: () => {} });
    await trainingStepLeaksNothing(b);
  });
});
