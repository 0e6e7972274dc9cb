// The CPU backend's buffer reuse: buffers of collected storages come back zeroed, arrays handed to
// users are never reused under them, ops keep alive what their backward reads, a loop that never
// yields pins a bounded amount, and training gives the same numbers with reuse on and off.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { BufferPool, cast, cpuBufferPool, embeddingBag, expertMix, manualSeed, nextTask, randn, tensor } from '../src/index.js';
import { expertMixComposed } from '../src/ops/expert-mix.js';
import { embeddingBagComposed } from '../src/ops/embedding-bag.js';
import { expectClose } from './helpers/expect-close.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Collects garbage and lets the finalizers run (they run in a task of their own, which the engine
 * may post late on a busy machine): 20 rounds of gc() and a short wait.
 */
async function collect(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    gc();
    await nextTask();
    await new Promise((r) => setTimeout(r, 2));
  }
}

const MiB = 1024 * 1024;

afterEach(() => cpuBufferPool.setLimits({ maxFreeBytes: 512 * MiB, maxTaskBytes: 64 * MiB }));

describe('BufferPool', () => {
  it('hands a collected buffer out again, zeroed, for any dtype of the same byte length', async () => {
    const pool = new BufferPool();
    (() => {
      const a = pool.alloc('float32', MiB / 4);
      a.fill(7);
    })();
    await collect();
    expect(pool.stats()).toMatchObject({ reused: 0, allocated: 1, freeBytes: MiB, outstandingBytes: 0 });
    const b = pool.alloc('int32', MiB / 4);
    expect(pool.stats()).toMatchObject({ reused: 1, allocated: 1, freeBytes: 0, outstandingBytes: MiB });
    expect(b).toBeInstanceOf(Int32Array);
    expect(b.length).toBe(MiB / 4);
    expect(b.every((v) => v === 0)).toBe(true);
  });

  it('serves sizes within one size class (12.5 %) from the same buffer', async () => {
    const pool = new BufferPool();
    (() => pool.alloc('float32', MiB / 4 + 1))();
    await collect();
    const b = pool.alloc('float32', MiB / 4 + 1000);
    expect(b.length).toBe(MiB / 4 + 1000);
    expect(pool.stats()).toMatchObject({ reused: 1, allocated: 1, outstandingBytes: MiB + MiB / 8 });
    (() => pool.alloc('float32', MiB / 4 + MiB / 32 + 1))(); // the next class up
    expect(pool.stats().allocated).toBe(2);
  });

  it('takes a buffer back at once with release(), only if handed out after the mark', () => {
    const pool = new BufferPool();
    const old = pool.alloc('float32', MiB / 4);
    const mark = pool.mark();
    const young = pool.alloc('float32', MiB / 4);
    expect(pool.release(old, mark)).toBe(false);
    expect(pool.release(young, mark)).toBe(true);
    expect(pool.release(young, mark)).toBe(false); // once only
    expect(pool.stats()).toMatchObject({ released: 1, freeBytes: MiB, outstandingBytes: MiB });
    pool.alloc('int32', MiB / 4);
    expect(pool.stats()).toMatchObject({ reused: 1, freeBytes: 0 });
  });

  it('leaves small and huge buffers to the engine', () => {
    const pool = new BufferPool();
    pool.alloc('float32', 1000);
    expect(pool.stats()).toMatchObject({ reused: 0, allocated: 0, outstandingBytes: 0 });
  });

  it('never reuses a pinned array, so a subarray of it stays valid', async () => {
    const pool = new BufferPool();
    const sub = (() => {
      const a = pool.alloc('float32', MiB / 4);
      a.fill(3);
      pool.pin(a);
      return a.subarray(0, 4);
    })();
    await collect();
    const b = pool.alloc('float32', MiB / 4, false);
    b.fill(9);
    expect(pool.stats().reused).toBe(0);
    expect([...sub]).toEqual([3, 3, 3, 3]);
  });

  it('hands out at most maxTaskBytes within one task (a loop that never yields pins no more)', async () => {
    const pool = new BufferPool();
    pool.setLimits({ maxTaskBytes: 4 * MiB });
    for (let i = 0; i < 10; i++) pool.alloc('float32', MiB / 4);
    expect(pool.stats()).toMatchObject({ allocated: 4, unpooled: 6, outstandingBytes: 4 * MiB });
    await nextTask();
    await nextTask();
    pool.alloc('float32', MiB / 4);
    expect(pool.stats()).toMatchObject({ allocated: 5, unpooled: 6 });
  });

  it('keeps at most maxFreeBytes of free buffers', async () => {
    const pool = new BufferPool();
    pool.setLimits({ maxFreeBytes: 2 * MiB });
    (() => {
      for (let i = 0; i < 5; i++) pool.alloc('float32', MiB / 4);
    })();
    await collect();
    expect(pool.stats()).toMatchObject({ freeBytes: 2 * MiB, outstandingBytes: 0 });
    pool.emptyCache();
    expect(pool.stats().freeBytes).toBe(0);
  });

  it('names the limit it refuses', () => {
    expect(() => new BufferPool().setLimits({ maxFreeBytes: -1 })).toThrow(
      /setLimits: maxFreeBytes must be a finite number of bytes ≥ 0, got -1/,
    );
    expect(() => new BufferPool().setLimits({ maxTaskBytes: NaN })).toThrow(/maxTaskBytes .* got NaN/);
  });
});

describe('the CPU backend with buffer reuse', () => {
  const N = MiB / 4;

  it('gets buffers back in a loop that awaits a read each step', async () => {
    const x = randn([N]);
    const before = cpuBufferPool.stats().reused;
    for (let step = 0; step < 4; step++) {
      gc();
      await x.mul(2).sum().read();
    }
    expect(cpuBufferPool.stats().reused).toBeGreaterThan(before);
  });

  it('reuses the buffers of collected op outputs', async () => {
    const x = randn([N]);
    (() => x.mul(2))();
    await collect();
    const before = cpuBufferPool.stats().reused;
    x.add(1);
    expect(cpuBufferPool.stats().reused).toBe(before + 1);
  });

  it('never reuses what toTypedArray() or .data handed out, nor a subarray of it', async () => {
    const x = randn([N]);
    const [read, live] = (() => {
      const y = x.mul(2);
      return [y.toTypedArray().subarray(0, 3), x.mul(3).data.subarray(0, 3)];
    })();
    const expected = [...x.toTypedArray().subarray(0, 3)];
    await collect();
    for (let i = 0; i < 4; i++) x.mul(0).add(5);
    expect([...read]).toEqual(expected.map((v) => Math.fround(v * 2)));
    expect([...live]).toEqual(expected.map((v) => Math.fround(v * 3)));
  });

  // The fused ops' backward reads the index tensor again; a view of it captured at forward time would
  // not keep a pooled storage alive, and the backward would read whatever reused the buffer.
  it('keeps the index storage of expertMix and embeddingBag alive until their backward', async () => {
    manualSeed(3);
    const T = 128;
    const S = 160; // T·S int32 = 80 KiB, a pooled size
    const [Nrows, D] = [37, 8];
    const x = randn([T, D], { requiresGrad: true });
    const down = randn([Nrows, D], { requiresGrad: true });
    const up = randn([Nrows, D], { requiresGrad: true });
    const gates = randn([T, S], { requiresGrad: true });
    const idxValues = Array.from({ length: 2 * T * S }, (_, i) => (i * 7919) % Nrows);
    // A window of a pooled int32 storage (cast allocates through the pool): its elements are a subarray.
    const indicesOf = () => cast(tensor(idxValues, { shape: [2 * T, S] }), 'int32').slice(0, T, 2 * T);
    const [mixed, bagged] = (() => {
      const indices = indicesOf();
      return [expertMix(x, down, up, indices, gates, 'gelu'), embeddingBag(down, indices, gates)];
    })();
    await collect();
    for (let i = 0; i < 8; i++) cast(tensor(new Float32Array(2 * T * S).fill(-5)), 'int32');
    mixed.sum().add(bagged.sum()).backward();
    const got = [x, down, up, gates].map((t) => t.denseGrad());
    for (const t of [x, down, up, gates]) t.grad = null;
    const indices = indicesOf();
    expertMixComposed(x, down, up, indices, gates, 'gelu')
      .sum()
      .add(embeddingBagComposed(down, indices, gates).sum())
      .backward();
    ['x', 'down', 'up', 'gates'].forEach((name, i) => expectClose(got[i]!, [x, down, up, gates][i]!.denseGrad(), 1e-4, name));
  });

  it('trains to the same bits with reuse on and off', async () => {
    const run = async (reuse: boolean): Promise<{ losses: number[]; reused: number }> => {
      cpuBufferPool.setLimits({ maxFreeBytes: reuse ? 512 * MiB : 0 });
      manualSeed(11);
      const w1 = randn([256, 512], { requiresGrad: true });
      const w2 = randn([512, 8], { requiresGrad: true });
      const x = randn([160, 256]);
      const before = cpuBufferPool.stats().reused;
      const losses: number[] = [];
      for (let step = 0; step < 4; step++) {
        w1.grad = null;
        w2.grad = null;
        const loss = x.matmul(w1).gelu().matmul(w2).square().mean();
        loss.backward();
        losses.push(loss.item());
        for (const w of [w1, w2]) {
          const [data, grad] = [w.data, w.grad!.toTypedArray()];
          for (let i = 0; i < data.length; i++) data[i] = data[i]! - 1e-3 * grad[i]!;
        }
        await collect();
      }
      return { losses, reused: cpuBufferPool.stats().reused - before };
    };
    const off = await run(false);
    const on = await run(true);
    expect(off.reused).toBe(0);
    expect(on.reused).toBeGreaterThan(0);
    expect(on.losses).toEqual(off.losses);
  });
});
