// Without tidy(), storages that no tensor references any more are garbage-collected and their device
// buffers freed: the Trainer's loop (which uses no tidy) keeps a flat number of live buffers, on
// WebAssembly and on WebGPU. On WebGPU the backend also keeps no result of finished work: the soak
// benchmark (issue 13) found the JS heap growing ~130 KB a step because the promise that tracks queued
// work resolved to a nested array of every op's results since the backend was created.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { getBackend, setBackend, type Tensor } from '@myriad/core';
import { tinyTraining } from './tiny-training.js';
import { describeWithOptional } from '@myriad/core/testing';
import { createGpuBackend, type GpuBackend } from '@myriad/gpu';
import { describe, expect, it } from 'vitest';
import { VULKAN_INSTALL, webgpuUnavailable } from './webgpu-probe.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collects garbage and lets the finalization callbacks run. */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function liveBuffersStayFlat(b: GpuBackend): Promise<void> {
  const prev = getBackend();
  setBackend(b);
  try {
    const { step } = tinyTraining();
    const counts: number[] = [];
    for (let i = 0; i < 8; i++) {
      const loss = step();
      await loss.read();
      await collect();
      counts.push(b.memory().buffers);
    }
    // A step makes dozens of storages; after collection only the live ones remain, step after step.
    expect(counts[7]! - counts[2]!, `live buffers per step: ${counts}`).toBeLessThanOrEqual(2);
    expect(counts[7]!).toBeLessThan(20);
  } finally {
    setBackend(prev);
  }
}

describe('gpu backend memory without tidy', () => {
  it('webasm: unreachable storages are reclaimed by the garbage collector', async () => {
    await liveBuffersStayFlat(await createGpuBackend({ mode: 'webasm', warn: () => {} }));
  });
});

/** The version (contents) behind a gpu tensor, to watch with a WeakRef; test-only access to the storage. */
function versionOf(t: Tensor): Promise<object> {
  return (t.storage as unknown as { current: Promise<object> }).current;
}

describeWithOptional('gpu backend memory without tidy on webgpu', await webgpuUnavailable(), VULKAN_INSTALL, () => {
  it('webgpu: unreachable storages are reclaimed and their device buffers freed', async () => {
    await liveBuffersStayFlat(await createGpuBackend({ mode: 'webgpu', warn: () => {} }));
  });

  it('webgpu: 30 steps after warm-up keep live buffers bounded and retain no finished results', async () => {
    const b = await createGpuBackend({ mode: 'webgpu', warn: () => {} });
    const prev = getBackend();
    setBackend(b);
    try {
      const { step } = tinyTraining();
      for (let i = 0; i < 5; i++) await step().read();
      // Counted at quiet points (queued work finished), so in-flight ops do not blur the live set.
      await b.sync();
      await collect();
      const counts = [b.memory().buffers];
      // Each step's loss result (a settled op output): once the loss tensor is gone nothing may hold it.
      const results: WeakRef<object>[] = [];
      for (let i = 1; i <= 30; i++) {
        const loss = step();
        await loss.read();
        results.push(new WeakRef(await versionOf(loss)));
        if (i % 5 === 0) {
          await b.sync();
          await collect();
          counts.push(b.memory().buffers);
        }
      }
      await b.sync();
      await collect();
      expect(Math.max(...counts) - counts[0]!, `live buffers every 5 steps: ${counts}`).toBeLessThanOrEqual(2);
      // The last step's result may still sit in this suspended async function's frame; no earlier one may.
      const retained = results.flatMap((r, i) => (r.deref() === undefined ? [] : [i + 1]));
      expect(
        retained.filter((i) => i < 30),
        `loss results of steps ${retained} still reachable`,
      ).toEqual([]);
    } finally {
      setBackend(prev);
    }
  });
});
