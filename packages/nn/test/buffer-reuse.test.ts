// The CPU backend's buffer reuse across a whole model: a TransformerLM with a dense, an MoE (capacity
// drops, balance loss) and a PEER block, activations big enough to be pooled, trained a few steps with
// reuse off and on. backward() hands the gradients it alone holds back to the pool at once and later
// ops of the same backward reuse them; any gradient returned while still needed would change a bit.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { cpuBufferPool, nextTask, tensor, type Tensor } from '@myriad/core';
import { FeedForward, MoE, PEER, TransformerLM } from '@myriad/nn';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MiB = 1024 * 1024;

afterEach(() => cpuBufferPool.setLimits({ maxFreeBytes: 512 * MiB }));

interface Run {
  losses: number[];
  grads: Float32Array[];
  released: number;
  reused: number;
}

async function train(reuse: boolean): Promise<Run> {
  cpuBufferPool.setLimits({ maxFreeBytes: reuse ? 512 * MiB : 0 });
  const dim = 64;
  const m = new TransformerLM({
    vocabSize: 40,
    dim,
    depth: 3,
    heads: 4,
    contextLength: 64,
    seed: 1,
    ffw: (l) =>
      l === 0
        ? new FeedForward({ dim, hidden: 4 * dim, seed: 2 })
        : l === 1
          ? new MoE({ dim, hidden: 32, numExperts: 8, topK: 2, capacityFactor: 1, seed: 3 })
          : new PEER({ dim, heads: 4, numExperts: 256, topK: 4, dimKey: 16, seed: 4 }),
  });
  const ids = tensor(
    Array.from({ length: 16 * 64 }, (_, i) => (i * 7 + (i >> 5)) % 40),
    { shape: [16, 64], dtype: 'int32' },
  );
  const targets = tensor(
    Array.from({ length: 16 * 64 }, (_, i) => (i * 7 + 3) % 40),
    { shape: [16, 64], dtype: 'int32' },
  );
  const before = cpuBufferPool.stats();
  const losses: number[] = [];
  let grads: Float32Array[] = [];
  for (let step = 0; step < 3; step++) {
    m.zeroGrad();
    const loss = m.loss(ids, targets, { aux: true });
    loss.backward();
    losses.push(loss.item());
    grads = m.parameters().map((p: Tensor) => p.denseGrad()?.toTypedArray() as Float32Array);
    for (const p of m.parameters()) {
      const g = p.denseGrad();
      if (!g) continue;
      const [data, dg] = [p.data, g.toTypedArray()];
      for (let i = 0; i < data.length; i++) data[i] = data[i]! - 0.05 * dg[i]!;
    }
    gc();
    await nextTask();
  }
  const after = cpuBufferPool.stats();
  return { losses, grads, released: after.released - before.released, reused: after.reused - before.reused };
}

describe('buffer reuse in a whole model', () => {
  it('gives the same losses and gradients, bit for bit, with reuse off and on', async () => {
    const off = await train(false);
    const on = await train(true);
    expect(off.released + off.reused).toBe(0);
    // backward() returned gradients mid-pass, and later steps reused buffers.
    expect(on.released).toBeGreaterThan(20);
    expect(on.reused).toBeGreaterThan(0);
    expect(on.losses).toEqual(off.losses);
    expect(on.grads.length).toBe(off.grads.length);
    on.grads.forEach((g, i) => expect(g, `parameter ${i}`).toEqual(off.grads[i]));
  }, 60_000);
});
