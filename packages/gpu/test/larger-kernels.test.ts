// Kernels at sizes and paths the conformance suite's small random shapes may miss: bitonic top-k with
// several halving rounds (n up to 1000, k from 1 to 65, many ties), scatterAddRows / uniqueRows over a
// few thousand rows (equal to the CPU backend exactly: f32 sums in the same order), the size limit
// counted on a sort's padded buffer, and the
// register-blocked matmul (N a multiple of 4, every transpose variant, batched) on webasm and WebGPU.
import { Tensor, cpuBackend, getBackend, randint, randn, setBackend, tensor, type Backend } from '@myriad/core';
import { allClose, describeWithOptional } from '@myriad/core/testing';
import { VULKAN_INSTALL, webgpuUnavailable } from './webgpu-probe.js';
import { createGpuBackend, type GpuBackend } from '@myriad/gpu';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

function on<T>(b: Backend, fn: () => T): T {
  const prev = getBackend();
  setBackend(b);
  try {
    return fn();
  } finally {
    setBackend(prev);
  }
}

describe('sort-based kernels at larger sizes (webasm)', () => {
  it('top-k equals the CPU backend, ties to the lower index', async () => {
    const b = await createGpuBackend({
      mode: 'webasm',
      warn: (m) => {
        throw new Error(m);
      },
    });
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          rows: fc.constantFrom(1, 3, 7),
          n: fc.constantFrom(100, 257, 1000),
          k: fc.constantFrom(1, 5, 16, 33, 65),
          seed: fc.nat(),
        }),
        async ({ rows, n, k, seed }) => {
          const data = (): Tensor => randint(-20, 20, [rows, n], { seed }).to('float32').div(4);
          const got = on(b, () => data().topk(Math.min(k, n)));
          const want = on(cpuBackend, () => data().topk(Math.min(k, n)));
          expect(Array.from(await got.indices.read())).toEqual(Array.from(await want.indices.read()));
          expect(Array.from(await got.values.read())).toEqual(Array.from(await want.values.read()));
        },
      ),
      { numRuns: 8 },
    );
  });

  it('top-k whose padded sort buffer would reach 2^24 elements runs on the CPU backend, with a warning', async () => {
    // 128 rows of 65 537: the input (8.4 M elements) is under the limit, but the bitonic network sorts
    // each row padded to 131 072, 2^24 in all, where gpu.js's f32 indexing goes wrong (rows past 2^24
    // came back wrong before the padded size was counted).
    const warnings: string[] = [];
    const b = await createGpuBackend({ mode: 'webasm', warn: (m) => void warnings.push(m) });
    const data = (): Tensor => randn([128, 65537], { seed: 5 });
    b.resetStats();
    const got = on(b, () => data().topk(1));
    expect(b.stats().cpuFallbacks).toBe(1);
    expect(warnings.join('\n')).toMatch(/topk.*2\^24/s);
    const want = on(cpuBackend, () => data().topk(1));
    expect(Array.from(await got.indices.read())).toEqual(Array.from(await want.indices.read()));
  });

  it('scatterAddRows and uniqueRows equal the CPU backend bit for bit', async () => {
    const b = await createGpuBackend({
      mode: 'webasm',
      warn: (m) => {
        throw new Error(m);
      },
    });
    await fc.assert(
      fc.asyncProperty(
        fc.record({ rows: fc.constantFrom(50, 997), n: fc.constantFrom(300, 2049), width: fc.constantFrom(1, 3), seed: fc.nat() }),
        async ({ rows, n, width, seed }) => {
          const idx = Int32Array.from(on(cpuBackend, () => randint(-1, rows, [n], { seed }).toTypedArray()));
          const src = Float32Array.from({ length: n * width }, (_, i) => Math.sin(i + seed) * 3);
          const run = (be: Backend): Promise<Float32Array[]> =>
            on(be, async () => {
              const i = tensor(idx.slice(), { shape: [n], dtype: 'int32' });
              const s = tensor(src.slice(), { shape: [n, width] });
              const summed = Tensor._make(be, be.scatterAddRows(rows, i, s), [rows, width], 'float32');
              const u = be.uniqueRows(i, s);
              const ui = Tensor._make(be, u.indices, [n], 'int32');
              const uv = Tensor._make(be, u.values, [n, width], 'float32');
              return [Float32Array.from(await summed.read()), Float32Array.from(await ui.read()), Float32Array.from(await uv.read())];
            });
          const [got, want] = [await run(b), await run(cpuBackend)];
          for (let t = 0; t < 3; t++) expect(Array.from(got[t]!)).toEqual(Array.from(want[t]!));
        },
      ),
      { numRuns: 6 },
    );
  });
});

/** Blocked matmul (four outputs per thread) against the CPU backend over transposes and batches. */
async function blockedMatmulMatches(b: GpuBackend, all: boolean): Promise<void> {
  const shapes = all
    ? ([
        [[], 5, 7, 12],
        [[2], 3, 1, 4],
        [[3], 17, 13, 8],
      ] as const)
    : ([[[2], 5, 7, 12]] as const);
  for (const [batch, m, k, n] of shapes) {
    for (const ta of [false, true]) {
      for (const tb of all ? [false, true] : [ta]) {
        const make = (): Tensor => {
          const a = ta ? randn([...batch, k, m], { seed: 1 }).transpose(-2, -1) : randn([...batch, m, k], { seed: 1 });
          const c = tb ? randn([...batch, n, k], { seed: 2 }).transpose(-2, -1) : randn([...batch, k, n], { seed: 2 });
          return a.matmul(c);
        };
        const got = await on(b, make).read();
        const want = on(cpuBackend, make);
        const r = allClose(
          on(cpuBackend, () => tensor(got, { shape: want.shape })),
          want,
          { rtol: 1e-4, atol: 1e-4 },
        );
        if (!r.ok) throw new Error(`matmul [${batch}|${m},${k}]${ta ? 'T' : ''} @ [${k},${n}]${tb ? 'T' : ''}: ${r.message}`);
      }
    }
  }
  expect(b.stats().cpuFallbacks).toBe(0);
}

describe('register-blocked matmul (webasm)', () => {
  it('equals the CPU backend for N a multiple of 4', async () => {
    await blockedMatmulMatches(
      await createGpuBackend({
        mode: 'webasm',
        warn: (m) => {
          throw new Error(m);
        },
      }),
      true,
    );
  });
});

describeWithOptional('register-blocked matmul (webgpu)', await webgpuUnavailable(), VULKAN_INSTALL, () => {
  it('equals the CPU backend for N a multiple of 4 (Array(4) results read as flat buffers)', async () => {
    // Two variants only: each compiles WGSL shaders, slow on the software adapter.
    await blockedMatmulMatches(
      await createGpuBackend({
        mode: 'webgpu',
        warn: (m) => {
          throw new Error(m);
        },
      }),
      false,
    );
  });
});
