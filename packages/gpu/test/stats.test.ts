// backend.stats(): uploads, downloads (count and bytes), kernel launches and CPU fallbacks are counted
// at the backend boundary, with the same meaning on webasm and WebGPU.
import { concat, full, getBackend, randn, setBackend, tensor, zeros, type Tensor } from '@myriad/core';
import { describeWithOptional } from '@myriad/core/testing';
import { createGpuBackend, type GpuBackend } from '@myriad/gpu';
import { describe, expect, it } from 'vitest';
import { VULKAN_INSTALL, webgpuUnavailable } from './webgpu-probe.js';

async function on<T>(b: GpuBackend, fn: () => Promise<T>): Promise<T> {
  const prev = getBackend();
  setBackend(b);
  try {
    return await fn();
  } finally {
    setBackend(prev);
  }
}

/** A matmul chain inside tidy: two uploads (the inputs), one launch per matmul, no download until read. */
async function matmulChainCounts(b: GpuBackend): Promise<void> {
  await on(b, async () => {
    const a = randn([16, 8], { seed: 1 });
    const w = randn([8, 8], { seed: 2 });
    b.resetStats();
    const y: Tensor = b.tidy(() => a.matmul(w).matmul(w).matmul(w));
    await b.sync();
    let s = b.stats();
    expect(s.downloads).toBe(0);
    expect(s.kernelLaunches).toBe(3);
    expect(s.cpuFallbacks).toBe(0);
    // Synchronous modes count host data when it is created (before the reset), WebGPU on first use.
    expect(s.uploads).toBe(b.async ? 2 : 0);
    expect(s.uploadBytes).toBe(b.async ? (16 * 8 + 8 * 8) * 4 : 0);
    await y.read();
    s = b.stats();
    expect(s.downloads).toBe(1);
    expect(s.downloadBytes).toBe(16 * 8 * 4);
    // Reusing the same inputs uploads nothing more.
    b.resetStats();
    await a.matmul(w).read();
    expect(b.stats()).toEqual({ uploads: 0, uploadBytes: 0, downloads: 1, downloadBytes: 16 * 8 * 4, kernelLaunches: 1, cpuFallbacks: 0 });
    // concat writes windows of its output with copyInto: on the device, no transfer.
    b.resetStats();
    const c = concat([a, w], 0);
    await b.sync();
    expect(b.stats().downloads + b.stats().uploads + b.stats().cpuFallbacks).toBe(0);
    expect((await c.read()).length).toBe(24 * 8);
  });
}

/** full() is neither an upload nor a download; fromTypedArray is an upload; a CPU fallback downloads its inputs. */
async function fullAndFallbackCounts(b: GpuBackend): Promise<void> {
  await on(b, async () => {
    b.resetStats();
    const z = zeros([1000]);
    const o = full([300], 2.5);
    const sum = z.add(1).add(o.sum());
    await b.sync();
    expect(b.stats().uploads).toBe(0);
    expect(b.stats().downloads).toBe(0);
    expect(Array.from(await sum.read()).slice(0, 2)).toEqual([751, 751]);
    b.resetStats();
    const x = tensor([1, 2, 3], { dtype: 'float64' });
    await x.exp().read();
    const s = b.stats();
    // float64 stays on the host: no upload, one fallback.
    expect(s.uploads).toBe(0);
    expect(s.cpuFallbacks).toBe(1);
    // The fallback's input, then the read.
    expect(s.downloads).toBe(2);
  });
}

describe('gpu backend stats (webasm)', () => {
  it('a matmul chain inside tidy downloads nothing until read', async () => {
    await matmulChainCounts(await createGpuBackend({ mode: 'webasm', warn: () => {} }));
  });
  it('full is neither an upload nor a download; fallbacks count their transfers', async () => {
    await fullAndFallbackCounts(await createGpuBackend({ mode: 'webasm', warn: () => {} }));
  });
});

describeWithOptional('gpu backend stats (webgpu)', await webgpuUnavailable(), VULKAN_INSTALL, () => {
  it('a matmul chain inside tidy uploads its inputs once and downloads nothing until read', async () => {
    await matmulChainCounts(await createGpuBackend({ mode: 'webgpu', warn: () => {} }));
  });
  it('full is neither an upload nor a download; fallbacks count their transfers', async () => {
    await fullAndFallbackCounts(await createGpuBackend({ mode: 'webgpu', warn: () => {} }));
  });
});
