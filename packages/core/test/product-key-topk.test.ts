// productKeyTopk: the fused CPU op gives the composed ops' scores and indices bit for bit (same kernels,
// same layouts) and their gradients to within rounding, over random shapes (k = 1, k = numKeys, one
// head, shared and per-head sub-keys, widths 1 and primes, ties from integer-valued inputs, ±∞ and NaN), float32
// on the WebAssembly kernels and on the plain ones, float64; its scratch goes back to the pool; plus
// gradient checks and the errors a user meets.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuBufferPool, productKeyTopk, tensor, type DType, type Tensor } from '../src/index.js';
import { installKernels, jsKernels, kernels, resetKernels } from '../src/cpu/kernels.js';
import { productKeyTopkComposed, productKeyTopkFused } from '../src/ops/product-key-topk.js';
import { gradCheck } from '../src/testing/index.js';
import { expectClose } from './helpers/expect-close.js';
import { randomArray } from './helpers/random-arrays.js';

const installed = { ...kernels };
afterAll(() => installKernels(installed));

interface Case {
  rows: number;
  heads: number;
  half: number;
  n: number;
  k: number;
  shared: boolean;
  ties: boolean;
  /** Put ±∞ or NaN into a query (the candidates' grid is then formed, as the composed ops do). */
  special: number | null;
  seed: number;
}

const cases: fc.Arbitrary<Case> = fc
  .record({
    rows: fc.constantFrom(1, 2, 3, 5, 7),
    heads: fc.constantFrom(1, 2, 3),
    half: fc.constantFrom(1, 2, 3, 5, 8, 13),
    n: fc.constantFrom(1, 2, 3, 5, 7, 11, 17),
    shared: fc.boolean(),
    ties: fc.boolean(),
    special: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, fc.constantFrom(Infinity, -Infinity, NaN)),
    seed: fc.integer({ min: 1, max: 1e6 }),
  })
  .chain((c) =>
    fc.record({ k: fc.oneof(fc.constant(1), fc.constant(c.n), fc.integer({ min: 1, max: c.n })) }).map(({ k }) => ({ ...c, k })),
  );

/** Inputs of a case: uniform in (−1, 1), or small integers when `ties` (many equal scores). */
function inputs(c: Case, dtype: DType): { q: Tensor; keys: Tensor; dy: Tensor } {
  const make = (size: number, seed: number, shape: number[]) => {
    const v = randomArray(size, seed);
    if (c.ties) for (let i = 0; i < v.length; i++) v[i] = Math.round(v[i]! * 2);
    if (c.special !== null && seed === c.seed) v[seed % v.length] = c.special;
    return tensor(dtype === 'float64' ? Float64Array.from(v) : v, { shape, dtype });
  };
  const keyShape = c.shared ? [2, c.n, c.half] : [c.heads, 2, c.n, c.half];
  return {
    q: make(c.rows * c.heads * 2 * c.half, c.seed, [c.rows, c.heads, 2 * c.half]).requiresGrad_(),
    keys: make(
      keyShape.reduce((a, b) => a * b, 1),
      c.seed + 1,
      keyShape,
    ).requiresGrad_(),
    dy: tensor(randomArray(c.rows * c.heads * c.k, c.seed + 2), { shape: [c.rows, c.heads, c.k] }).to(dtype),
  };
}

function run(c: Case, dtype: DType, retrieve: typeof productKeyTopkFused) {
  const { q, keys, dy } = inputs(c, dtype);
  const out = retrieve(q, keys, c.k);
  out.scores.mul(dy).sum().backward();
  return { ...out, dq: q.grad as Tensor, dkeys: keys.grad as Tensor };
}

const kernelSets = { 'WebAssembly SIMD': () => installKernels(installed), 'plain TypeScript': () => resetKernels() } as const;

describe('productKeyTopk fused on the CPU = the composed ops', () => {
  it('runs the WebAssembly kernels by default', () => {
    expect(installed.matmulF32).not.toBe(jsKernels.matmulF32);
    expect(installed.topkRowsF32).not.toBe(jsKernels.topkRowsF32);
  });

  for (const [name, use] of Object.entries(kernelSets)) {
    for (const dtype of ['float32', 'float64'] as const) {
      it(`${dtype}, ${name} kernels: same scores and indices bit for bit, gradients to rounding`, () => {
        use();
        fc.assert(
          fc.property(cases, (c) => {
            const f = run(c, dtype, productKeyTopkFused);
            const r = run(c, dtype, productKeyTopkComposed);
            expect(f.scores.shape).toEqual([c.rows, c.heads, c.k]);
            expect(Array.from(f.indices.toTypedArray())).toEqual(Array.from(r.indices.toTypedArray()));
            expect(Array.from(f.scores.toTypedArray())).toEqual(Array.from(r.scores.toTypedArray()));
            if (c.special !== null) return; // non-finite scores: non-finite gradients, compared above through the forward
            const tol = (dtype === 'float32' ? 2e-6 : 1e-13) * c.half * c.rows * c.heads * c.k;
            expectClose(f.dq, r.dq, tol, 'd queries');
            expectClose(f.dkeys, r.dkeys, tol, 'd subKeys');
          }),
          { numRuns: 80 },
        );
      });
    }
  }

  it('productKeyTopk takes the fused op on the CPU (its grad node) and keeps leading dims', () => {
    installKernels(installed);
    const q = tensor(randomArray(2 * 3 * 2 * 4, 5), { shape: [2, 3, 2, 4] }).requiresGrad_();
    const keys = tensor(randomArray(2 * 6 * 2, 6), { shape: [2, 6, 2] });
    const { scores, indices } = productKeyTopk(q, keys, 3);
    expect(scores.gradNode?.op).toBe('productKeyTopk');
    expect(scores.shape).toEqual([2, 3, 2, 3]);
    expect(indices.shape).toEqual([2, 3, 2, 3]);
    expect(indices.dtype).toBe('int32');
  });

  it('hands its scratch (the [rows·heads, numKeys] sub-key scores) back to the pool at once', () => {
    installKernels(installed);
    // 512 retrievals × 64 keys × 4 bytes = 128 KiB per score buffer: poolable.
    const q = tensor(randomArray(256 * 2 * 8, 7), { shape: [256, 2, 8] });
    const keys = tensor(randomArray(2 * 64 * 4, 8), { shape: [2, 64, 4] });
    const before = cpuBufferPool.stats().released;
    productKeyTopk(q, keys, 8);
    // The half scores (one 128 KiB buffer for both halves); the k² candidate sums are never formed.
    expect(cpuBufferPool.stats().released - before).toBe(1);
  });

  it('passes gradient checks (float64), shared and per-head sub-keys', () => {
    const q = tensor(randomArray(3 * 2 * 6, 11), { shape: [3, 2, 6], dtype: 'float64' });
    const perHead = tensor(randomArray(2 * 2 * 5 * 3, 12), { shape: [2, 2, 5, 3], dtype: 'float64' });
    const shared = tensor(randomArray(2 * 5 * 3, 13), { shape: [2, 5, 3], dtype: 'float64' });
    for (const keys of [perHead, shared]) {
      expect(gradCheck((qq, kk) => productKeyTopkFused(qq, kk, 3).scores, [q, keys]).ok).toBe(true);
    }
  });

  it('rejects bad arguments naming the op, the shapes and what was expected', () => {
    const q = tensor(randomArray(16, 1), { shape: [2, 2, 4] });
    expect(() => productKeyTopk(q, tensor(randomArray(16, 2), { shape: [2, 4, 2], dtype: 'float64' }), 1)).toThrow(
      /productKeyTopk: queries are float32 but subKeys are float64/,
    );
    expect(() => productKeyTopk(q.to('int32'), tensor(randomArray(16, 2), { shape: [2, 4, 2] }), 1)).toThrow(
      /productKeyTopk: expected a float tensor, got int32 \[2,2,4\]/,
    );
    expect(() => productKeyTopk(q, tensor(randomArray(16, 2), { shape: [2, 4, 2] }), 0)).toThrow(
      /k must be an integer in \[1, numKeys=4\], got 0/,
    );
  });
});
