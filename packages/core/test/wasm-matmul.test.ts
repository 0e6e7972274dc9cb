import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsKernels } from '../src/cpu/kernels.js';
import { getWasmContext, type WasmContext } from '../src/cpu/wasm/context.js';
import { matmulWasm } from '../src/cpu/wasm/matmul.js';
import { randomArray } from './helpers/random-arrays.js';

// Every test needs WebAssembly SIMD; Node 20 has it, so its absence is a failure here.
const ctx = getWasmContext() as WasmContext;

interface Case {
  M: number;
  N: number;
  K: number;
  ta: boolean;
  tb: boolean;
  seed: number;
  pad: number;
}

// A[M,K] and B[K,N] stored inside larger arrays at offset `pad`, transposed on request.
function operands(c: Case) {
  const a = randomArray(c.M * c.K + 2 * c.pad, c.seed);
  const b = randomArray(c.K * c.N + 2 * c.pad, c.seed + 7);
  const [ars, acs] = c.ta ? [1, c.M] : [c.K, 1];
  const [brs, bcs] = c.tb ? [1, c.K] : [c.N, 1];
  return { a, b, ars, acs, brs, bcs };
}

function run(kernel: 'wasm' | 'js', c: Case): Float32Array {
  const { a, b, ars, acs, brs, bcs } = operands(c);
  const out = new Float32Array(c.M * c.N + c.pad);
  if (kernel === 'js') jsKernels.matmulF32(a, c.pad, ars, acs, b, c.pad, brs, bcs, out, c.pad, c.M, c.N, c.K);
  else expect(matmulWasm(ctx, a, c.pad, ars, acs, b, c.pad, brs, bcs, out, c.pad, c.M, c.N, c.K)).toBe(true);
  return out;
}

// Sizes around the 4×8 tile and the 256-deep k block: 1, primes, non-multiples.
const dim = fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33, 64, 67);
const depth = fc.constantFrom(1, 2, 3, 7, 8, 17, 64, 255, 256, 257, 300, 521);
const cases = fc.record({
  M: dim,
  N: dim,
  K: depth,
  ta: fc.boolean(),
  tb: fc.boolean(),
  seed: fc.integer({ min: 1, max: 1e6 }),
  pad: fc.constantFrom(0, 3),
});

describe('WebAssembly matmul', () => {
  beforeAll(async () => {
    ctx.maxThreads = 3;
    await ctx.warmWorkers();
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('equals the plain kernel within a tolerance growing with K, for every transpose and edge tile', () => {
    fc.assert(
      fc.property(cases, (c) => {
        const w = run('wasm', c);
        const j = run('js', c);
        const { a, b, ars, acs, brs, bcs } = operands(c);
        for (let i = 0; i < c.M; i++) {
          for (let n = 0; n < c.N; n++) {
            // |error| <= K · 2^-23 · Σ|a·b| bounds both sums' rounding.
            let mag = 0;
            for (let k = 0; k < c.K; k++) mag += Math.abs(a[c.pad + i * ars + k * acs]! * b[c.pad + k * brs + n * bcs]!);
            const tol = 2 * c.K * 2 ** -23 * mag + 1e-30;
            const at = c.pad + i * c.N + n;
            if (!(Math.abs(w[at]! - j[at]!) <= tol)) return false;
          }
        }
        // Nothing outside out[outOffset, outOffset + M·N) is written.
        for (let i = 0; i < c.pad; i++) if (w[i] !== 0) return false;
        return true;
      }),
      { numRuns: 60 },
    );
  });

  it('gives bit-identical results on 1, 2 and 3 threads', async () => {
    for (const [M, N, K] of [
      [130, 70, 300],
      [9, 1030, 129],
      [256, 256, 256],
    ] as const) {
      const c: Case = { M, N, K, ta: false, tb: true, seed: M + N + K, pad: 0 };
      const results: Float32Array[] = [];
      for (const threads of [1, 2, 3]) {
        ctx.maxThreads = threads;
        expect(ctx.threadsFor(M * N * K)).toBe(threads);
        results.push(run('wasm', c));
      }
      expect(results[1]).toEqual(results[0]);
      expect(results[2]).toEqual(results[0]);
    }
    ctx.maxThreads = 3;
  });

  it('computes a small product a reader can check', () => {
    // [[1,2],[3,4]] @ [[5,6],[7,8]] = [[19,22],[43,50]]
    const out = new Float32Array(4);
    matmulWasm(ctx, new Float32Array([1, 2, 3, 4]), 0, 2, 1, new Float32Array([5, 6, 7, 8]), 0, 2, 1, out, 0, 2, 2, 2);
    expect(Array.from(out)).toEqual([19, 22, 43, 50]);
  });

  it('leaves out untouched for empty shapes and zero-fills for K = 0', () => {
    const out = new Float32Array([9, 9, 9]);
    matmulWasm(ctx, new Float32Array(0), 0, 0, 1, new Float32Array(0), 0, 3, 1, out, 0, 1, 3, 0);
    expect(Array.from(out)).toEqual([0, 0, 0]);
    const untouched = new Float32Array([9]);
    matmulWasm(ctx, new Float32Array(0), 0, 1, 1, new Float32Array(3), 0, 1, 1, untouched, 0, 0, 1, 3);
    expect(untouched[0]).toBe(9);
  });
});
