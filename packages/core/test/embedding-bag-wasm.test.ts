// The WebAssembly SIMD embeddingBag (cpu/wasm/embedding-bag.ts): its kernels equal the plain loops over
// random shapes (widths 1, primes, non-multiples of 4 and 16, S = 1, rows repeated across tokens), float32
// embeddingBag on the installed kernels equals the composed ops, and it gives the same bits on one
// thread and on several, and whether it reads a small table whole or stages its rows.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SparseGrad, tensor } from '../src/index.js';
import { jsKernels, kernels } from '../src/cpu/kernels.js';
import { getWasmContext, type WasmContext } from '../src/cpu/wasm/context.js';
import { embeddingBagForwardWasm, embeddingBagWeightGradWasm } from '../src/cpu/wasm/embedding-bag.js';
import { wholeTables } from '../src/cpu/wasm/expert-mix.js';
import { embeddingBagComposed, embeddingBagFused } from '../src/ops/embedding-bag.js';
import { randomArray, randomIndices } from './helpers/random-arrays.js';

// Node 20 has WebAssembly SIMD, so its absence is a failure here.
const ctx = getWasmContext() as WasmContext;

const cases = fc.record({
  T: fc.constantFrom(1, 2, 3, 5, 7, 11),
  S: fc.constantFrom(1, 2, 3, 5, 8, 13),
  N: fc.constantFrom(1, 2, 3, 7, 29),
  D: fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 13, 16, 17, 31, 33, 64, 67),
  seed: fc.integer({ min: 1, max: 1e6 }),
});

function near(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  expect(a.length, what).toBe(b.length);
  for (let i = 0; i < b.length; i++) {
    if (!(Math.abs(a[i]! - b[i]!) <= tol * (1 + Math.abs(b[i]!)))) expect.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

describe('embeddingBag on the WebAssembly SIMD kernels (float32)', () => {
  afterAll(async () => {
    ctx.maxThreads = 1;
    await ctx.close();
  });

  it('is the installed kernel', () => {
    expect(kernels.embeddingBagForwardF32).not.toBe(jsKernels.embeddingBagForwardF32);
    expect(kernels.embeddingBagWeightGradF32).not.toBe(jsKernels.embeddingBagWeightGradF32);
  });

  it('its kernels equal the plain loops (the weighted row sums and the weights gradient)', () => {
    fc.assert(
      fc.property(cases, ({ T, S, N, D, seed }) => {
        const table = randomArray(N * D, seed);
        const w = randomArray(T * S, seed + 1);
        const idx = randomIndices(T * S, N, seed + 2);
        const dy = randomArray(T * D, seed + 3);
        const tol = 4e-6 * Math.max(D, S);
        const [yw, yj] = [new Float32Array(T * D), new Float32Array(T * D)];
        expect(embeddingBagForwardWasm(ctx, table, idx, w, T, S, D, yw)).toBe(true);
        jsKernels.embeddingBagForwardF32(table, idx, w, T, S, D, yj);
        near(yw, yj, tol, 'y');
        const [dw, dj] = [new Float32Array(T * S), new Float32Array(T * S)];
        expect(embeddingBagWeightGradWasm(ctx, table, idx, dy, T, S, D, dw)).toBe(true);
        jsKernels.embeddingBagWeightGradF32(table, idx, dy, T, S, D, dj);
        near(dw, dj, tol, 'dweights');
      }),
      { numRuns: 100 },
    );
  });

  it('gives the same bits reading a small table whole (N ≤ T·S) as staging its rows', () => {
    fc.assert(
      fc.property(cases, ({ T, S, N, D, seed }) => {
        const [table, w, idx, dy] = [
          randomArray(N * D, seed),
          randomArray(T * S, seed + 1),
          randomIndices(T * S, N, seed + 2),
          randomArray(T * D, seed + 3),
        ];
        const once = (whole: boolean) => {
          wholeTables.enabled = whole;
          try {
            const [y, dw] = [new Float32Array(T * D), new Float32Array(T * S)];
            expect(embeddingBagForwardWasm(ctx, table, idx, w, T, S, D, y)).toBe(true);
            expect(embeddingBagWeightGradWasm(ctx, table, idx, dy, T, S, D, dw)).toBe(true);
            return [Array.from(y), Array.from(dw)];
          } finally {
            wholeTables.enabled = true;
          }
        };
        expect(once(true)).toEqual(once(false));
      }),
      { numRuns: 60 },
    );
  });

  it('float32 embeddingBag on them equals the composed ops, gradients included', () => {
    fc.assert(
      fc.property(cases, ({ T, S, N, D, seed }) => {
        const run = (bag: typeof embeddingBagFused) => {
          const table = tensor(randomArray(N * D, seed), { shape: [N, D], requiresGrad: true });
          const weights = tensor(randomArray(T * S, seed + 1), { shape: [T, S], requiresGrad: true });
          const y = bag(table, tensor(randomIndices(T * S, N, seed + 2), { shape: [T, S], dtype: 'int32' }), weights);
          y.mul(tensor(randomArray(T * D, seed + 3), { shape: [T, D] }))
            .sum()
            .backward();
          return { y, table, weights };
        };
        const f = run(embeddingBagFused);
        const r = run(embeddingBagComposed);
        const tol = 4e-6 * Math.max(D, S);
        near(f.y.toTypedArray(), r.y.toTypedArray(), tol, 'y');
        near(f.weights.denseGrad().toTypedArray(), r.weights.denseGrad().toTypedArray(), tol, 'dweights');
        near(f.table.denseGrad().toTypedArray(), r.table.denseGrad().toTypedArray(), tol, 'dtable');
        expect((f.table.grad as SparseGrad).coalesced).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('its drivers refuse an index out of range, naming the slot and the table size', () => {
    const table = randomArray(10, 3);
    for (const bad of [5, -1]) {
      expect(() => embeddingBagForwardWasm(ctx, table, Int32Array.of(0, bad), Float32Array.of(1, 1), 1, 2, 2, new Float32Array(2))).toThrow(
        `embeddingBag: index ${bad} at slot 1 out of range for tables of 5 rows`,
      );
      expect(() =>
        embeddingBagWeightGradWasm(ctx, table, Int32Array.of(bad, 0), Float32Array.of(1, 1), 1, 2, 2, new Float32Array(2)),
      ).toThrow(RangeError);
    }
  });

  it('gives the same bits on one thread and on several', async () => {
    // A staged block holds at most 2 MiB of rows (≤ 2^19 multiply-adds), under the pool's 2^20 threshold,
    // so these kernels run on the calling thread whatever the count; the bits are compared all the same.
    const [T, S, N, D] = [160, 40, 300, 203];
    const table = randomArray(N * D, 11);
    const w = randomArray(T * S, 12);
    const idx = randomIndices(T * S, N, 13);
    const dy = randomArray(T * D, 14);
    const once = () => {
      const y = new Float32Array(T * D);
      const dw = new Float32Array(T * S);
      expect(embeddingBagForwardWasm(ctx, table, idx, w, T, S, D, y)).toBe(true);
      expect(embeddingBagWeightGradWasm(ctx, table, idx, dy, T, S, D, dw)).toBe(true);
      return [y, dw].map((a) => Array.from(new Uint32Array(a.buffer)));
    };
    ctx.maxThreads = 1;
    const one = once();
    ctx.maxThreads = 3;
    expect(await ctx.warmWorkers()).toBe(3);
    const many = once();
    for (let i = 0; i < one.length; i++) expect(many[i], `output ${i}`).toEqual(one[i]);
  });
});
