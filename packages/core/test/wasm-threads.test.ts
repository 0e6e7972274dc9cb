// The WebAssembly kernels' thread setting as a caller sees it (wasmThreads / startWasmThreads), and the
// pool's reasons for not starting. The browser side (Web Workers where the page is cross-origin
// isolated, one thread and one console note elsewhere) is driven in Chromium by
// examples/routing-lab/test/worker-pool.test.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { getWasmContext, type WasmContext } from '../src/cpu/wasm/context.js';
import { startWasmThreads, wasmThreads } from '../src/cpu/wasm/install.js';
import { MAX_THREADS, WorkerPool } from '../src/cpu/wasm/pool.js';
import type { WasmRuntime } from '../src/cpu/wasm/runtime.js';

const ctx = getWasmContext() as WasmContext;

describe.runIf(ctx !== null)('wasm kernel threads', () => {
  afterAll(async () => {
    await ctx.close();
  });

  it('reports the setting, and starts worker_threads on request', async () => {
    const before = wasmThreads()!;
    expect(before.max).toBe(ctx.maxThreads);
    expect(before.max).toBeGreaterThanOrEqual(1);
    expect(await startWasmThreads(2)).toEqual({ max: 2, ready: 2, workers: 'worker_threads', why: null });
    expect(wasmThreads()).toEqual({ max: 2, ready: 2, workers: 'worker_threads', why: null });
    // Fewer threads than started workers: only that many are counted.
    expect(await startWasmThreads(1)).toMatchObject({ max: 1, ready: 1, why: null });
  });

  it('caps the thread count at the 64 threads a pool can run', () => {
    const before = ctx.maxThreads;
    ctx.maxThreads = 1000;
    expect(ctx.maxThreads).toBe(MAX_THREADS);
    expect(MAX_THREADS).toBe(64);
    ctx.maxThreads = before;
  });

  it('refuses a thread count that is not a positive integer', async () => {
    await expect(startWasmThreads(0)).rejects.toThrow(/threads must be an integer >= 1, got 0/);
    await expect(startWasmThreads(1.5)).rejects.toThrow(RangeError);
  });

  it('names why no pool serves a runtime without shared memory', () => {
    expect(WorkerPool.unavailable({ shared: false } as WasmRuntime)).toBe('WebAssembly shared memory is unavailable');
    expect(WorkerPool.create({ shared: false } as WasmRuntime)).toBeNull();
    expect(WorkerPool.unavailable(ctx.rt)).toBeNull();
  });
});
