// Without tidy(), storages that no tensor references any more are garbage-collected and their device
// buffers freed: the Trainer's loop (which uses no tidy) keeps a flat number of live buffers, on
// WebAssembly and on WebGPU.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { getBackend, setBackend } from '@myriad/core';
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

describeWithOptional('gpu backend memory without tidy on webgpu', await webgpuUnavailable(), VULKAN_INSTALL, () => {
  it('webgpu: unreachable storages are reclaimed and their device buffers freed', async () => {
    await liveBuffersStayFlat(await createGpuBackend({ mode: 'webgpu', warn: () => {} }));
  });
});
