// A training step (forward, backward, SGD update in place) inside tidy() leaves exactly the storages
// that existed before it: nothing leaks on the device.
import { crossEntropy, matmul, noGrad, randn, randint, setBackend, getBackend, type Tensor } from '@myriad/core';
import { createGpuBackend, type GpuBackend } from '@myriad/gpu';
import { describeWithOptional } from '@myriad/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { VULKAN_INSTALL, webgpuUnavailable } from './webgpu-probe.js';

async function trainingStepLeaksNothing(b: GpuBackend): Promise<void> {
  const prev = getBackend();
  setBackend(b);
  try {
    const w1 = randn([12, 16], { seed: 1 }).mul(0.3).detach().requiresGrad_();
    const w2 = randn([16, 5], { seed: 2 }).mul(0.3).detach().requiresGrad_();
    const x = randn([8, 12], { seed: 3 });
    const y = randint(0, 5, [8], { seed: 4 });
    const step = (): Tensor =>
      b.tidy(() => {
        const loss = crossEntropy(matmul(matmul(x, w1).gelu(), w2), y);
        loss.backward();
        noGrad(() => {
          for (const p of [w1, w2]) {
            p.assign(p.sub((p.grad as Tensor).mul(0.5)));
            p.grad = null;
          }
        });
        return loss.detach();
      });
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
