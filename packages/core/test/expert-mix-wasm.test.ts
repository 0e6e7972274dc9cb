// The WebAssembly SIMD fused expert mix (cpu/wasm/expert-mix.ts): float32 expertMix on the installed
// kernels equals the composed ops in value and all four gradients over random shapes (widths 1, primes,
// non-multiples of 4 and 16, k = 1, experts repeated across tokens); its kernels equal the plain loops;
// it gives the same bits on one thread and on several, and whether it reads a small table whole or
// stages its rows; bad indices are a clear RangeError.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { expertMix, SparseGrad, tensor, type ExpertActivation, type Tensor } from '../src/index.js';
import { jsKernels, kernels } from '../src/cpu/kernels.js';
import { sortSlotsByRow } from '../src/cpu/expert-mix.js';
import { getWasmContext, type WasmContext } from '../src/cpu/wasm/context.js';
import { expertMixBackwardWasm, expertMixForwardWasm, expertTableGradWasm, wholeTables } from '../src/cpu/wasm/expert-mix.js';
import { expertMixComposed, expertMixFused } from '../src/ops/expert-mix.js';
import { randomArray, randomIndices } from './helpers/random-arrays.js';

// Node 20 has WebAssembly SIMD, so its absence is a failure here.
const ctx = getWasmContext() as WasmContext;
const ACTS: ExpertActivation[] = ['gelu', 'relu', 'silu', 'tanh'];

interface Case {
  T: number;
  S: number;
  N: number;
  D: number;
  Do: number;
  act: ExpertActivation;
  seed: number;
}

// Widths around the 4- and 16-float blocks; few rows, so experts repeat across tokens and slots.
const width = fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 13, 16, 17, 31, 33, 64, 67);
const cases: fc.Arbitrary<Case> = fc.record({
  T: fc.constantFrom(1, 2, 3, 5, 7, 11),
  S: fc.constantFrom(1, 2, 3, 5, 8, 13),
  N: fc.constantFrom(1, 2, 3, 7, 29),
  D: width,
  Do: width,
  act: fc.constantFrom(...ACTS),
  seed: fc.integer({ min: 1, max: 1e6 }),
});

function inputs(c: Case) {
  const t = (data: Float32Array, shape: number[]) => tensor(data, { shape, requiresGrad: true });
  return {
    x: t(randomArray(c.T * c.D, c.seed), [c.T, c.D]),
    down: t(randomArray(c.N * c.D, c.seed + 1, 0.5), [c.N, c.D]),
    up: t(randomArray(c.N * c.Do, c.seed + 2), [c.N, c.Do]),
    gates: t(randomArray(c.T * c.S, c.seed + 3), [c.T, c.S]),
    indices: tensor(randomIndices(c.T * c.S, c.N, c.seed + 4), { shape: [c.T, c.S], dtype: 'int32' }),
  };
}

/** y and the four gradients of sum(y · w) for a fixed w. */
function run(mix: typeof expertMix, c: Case) {
  const { x, down, up, gates, indices } = inputs(c);
  const y = mix(x, down, up, indices, gates, c.act);
  y.mul(tensor(randomArray(y.size, c.seed + 5), { shape: y.shape }))
    .sum()
    .backward();
  return { y, x, down, up, gates, indices };
}

// Float32 sums of up to max(D, Do) terms of size ~1, in a different order than the composed ops.
function close(a: Tensor | null, b: Tensor | null, tol: number, what: string): void {
  expect(a, what).not.toBeNull();
  const A = a!.toTypedArray();
  const B = b!.toTypedArray();
  expect(A.length, what).toBe(B.length);
  for (let i = 0; i < A.length; i++) {
    const err = Math.abs(A[i]! - B[i]!);
    if (!(err <= tol * (1 + Math.abs(B[i]!)))) expect.fail(`${what}[${i}]: ${A[i]} vs ${B[i]}`);
  }
}

describe('expertMix on the WebAssembly SIMD kernel (float32)', () => {
  afterAll(async () => {
    ctx.maxThreads = 1;
    await ctx.close();
  });

  it('is the installed kernel, and float32 expertMix takes it', () => {
    expect(kernels.expertMixForwardF32).not.toBe(jsKernels.expertMixForwardF32);
    expect(kernels.expertMixBackwardF32).not.toBe(jsKernels.expertMixBackwardF32);
    expect(kernels.expertTableGradF32).not.toBe(jsKernels.expertTableGradF32);
  });

  it('equals the composed ops: output and the gradients of x, gates, down and up', () => {
    fc.assert(
      fc.property(cases, (c) => {
        const f = run(expertMixFused, c);
        const r = run(expertMixComposed, c);
        const tol = 4e-6 * Math.max(c.D, c.Do, c.S);
        close(f.y, r.y, tol, 'y');
        close(f.x.denseGrad(), r.x.denseGrad(), tol, 'dx');
        close(f.gates.denseGrad(), r.gates.denseGrad(), tol, 'dgates');
        close(f.down.denseGrad(), r.down.denseGrad(), tol, 'ddown');
        close(f.up.denseGrad(), r.up.denseGrad(), tol, 'dup');
        for (const table of [f.down, f.up]) {
          const g = table.grad as SparseGrad;
          expect(g).toBeInstanceOf(SparseGrad);
          expect(g.coalesced).toBe(true);
          const rows = Array.from(g.indices.toTypedArray());
          expect(rows).toEqual([...new Set(f.indices.toTypedArray())].sort((a, b) => a - b));
        }
      }),
      { numRuns: 120 },
    );
  });

  it('its kernels equal the plain loops (z, y, dx, dgates, dz, c and both table gradients)', () => {
    fc.assert(
      fc.property(cases, (c) => {
        const { T, S, D, Do, act } = c;
        const x = randomArray(T * D, c.seed);
        const down = randomArray(c.N * D, c.seed + 1, 0.5);
        const up = randomArray(c.N * Do, c.seed + 2);
        const gates = randomArray(T * S, c.seed + 3);
        const idx = randomIndices(T * S, c.N, c.seed + 4);
        const dy = randomArray(T * Do, c.seed + 5);
        const tol = 4e-6 * Math.max(D, Do, S);
        const out = () => ({
          y: new Float32Array(T * Do),
          z: new Float32Array(T * S),
          dx: new Float32Array(T * D),
          dg: new Float32Array(T * S),
          dz: new Float64Array(T * S),
          c: new Float64Array(T * S),
        });
        const w = out();
        const j = out();
        expect(expertMixForwardWasm(ctx, x, down, up, idx, gates, T, S, D, Do, act, w.y, w.z)).toBe(true);
        jsKernels.expertMixForwardF32(x, down, up, idx, gates, T, S, D, Do, act, j.y, j.z);
        expect(expertMixBackwardWasm(ctx, down, up, idx, gates, j.z, dy, T, S, D, Do, act, w.dx, w.dg, w.dz, w.c)).toBe(true);
        jsKernels.expertMixBackwardF32(down, up, idx, gates, j.z, dy, T, S, D, Do, act, j.dx, j.dg, j.dz, j.c);
        const near = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
          for (let i = 0; i < b.length; i++) {
            if (!(Math.abs(a[i]! - b[i]!) <= tol * (1 + Math.abs(b[i]!)))) expect.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
          }
        };
        near(w.z, j.z, 'z');
        near(w.y, j.y, 'y');
        near(w.dx, j.dx, 'dx');
        near(w.dg, j.dg, 'dgates');
        near(w.dz, j.dz, 'dz');
        near(w.c, j.c, 'c');
        const sorted = sortSlotsByRow(idx);
        for (const [coef, src, W] of [
          [j.dz, x, D],
          [j.c, dy, Do],
        ] as const) {
          const a = expertTableGradWasm(ctx, coef, src, S, W, sorted)!;
          const b = jsKernels.expertTableGradF32(coef, src, S, W, sorted);
          expect(Array.from(a.rows)).toEqual(Array.from(b.rows));
          near(a.values, b.values, 'table');
        }
      }),
      { numRuns: 80 },
    );
  });

  it('gives the same bits reading small tables whole (N ≤ T·S) as staging their rows', () => {
    fc.assert(
      fc.property(cases, (c) => {
        const { T, S, D, Do, act } = c;
        const [x, down, up] = [randomArray(T * D, c.seed), randomArray(c.N * D, c.seed + 1, 0.5), randomArray(c.N * Do, c.seed + 2)];
        const [gates, idx, dy] = [randomArray(T * S, c.seed + 3), randomIndices(T * S, c.N, c.seed + 4), randomArray(T * Do, c.seed + 5)];
        const once = (whole: boolean) => {
          wholeTables.enabled = whole;
          try {
            const [y, z, dx, dg] = [new Float32Array(T * Do), new Float32Array(T * S), new Float32Array(T * D), new Float32Array(T * S)];
            const [dz, cc] = [new Float64Array(T * S), new Float64Array(T * S)];
            expect(expertMixForwardWasm(ctx, x, down, up, idx, gates, T, S, D, Do, act, y, z)).toBe(true);
            expect(expertMixBackwardWasm(ctx, down, up, idx, gates, z, dy, T, S, D, Do, act, dx, dg, dz, cc)).toBe(true);
            return [y, z, dx, dg, dz, cc].map((a) => Array.from(a));
          } finally {
            wholeTables.enabled = true;
          }
        };
        expect(once(true)).toEqual(once(false));
      }),
      { numRuns: 60 },
    );
  });

  it('gives the same bits on one thread and on several', async () => {
    // The table gradients here are split over the pool (≥ 2^20 multiply-adds a job); the staged
    // forward/backward blocks (≤ 2^19 each) run on one thread, so their bits are compared as well.
    const [T, S, N, D, Do] = [160, 40, 300, 203, 197];
    const x = randomArray(T * D, 11);
    const down = randomArray(N * D, 12, 0.2);
    const up = randomArray(N * Do, 13);
    const gates = randomArray(T * S, 14);
    const idx = randomIndices(T * S, N, 15);
    const dy = randomArray(T * Do, 16);
    const sorted = sortSlotsByRow(idx);
    const once = () => {
      const y = new Float32Array(T * Do);
      const z = new Float32Array(T * S);
      const dx = new Float32Array(T * D);
      const dg = new Float32Array(T * S);
      const dz = new Float64Array(T * S);
      const c = new Float64Array(T * S);
      expect(expertMixForwardWasm(ctx, x, down, up, idx, gates, T, S, D, Do, 'gelu', y, z)).toBe(true);
      expect(expertMixBackwardWasm(ctx, down, up, idx, gates, z, dy, T, S, D, Do, 'gelu', dx, dg, dz, c)).toBe(true);
      const gd = expertTableGradWasm(ctx, dz, x, S, D, sorted)!;
      const gu = expertTableGradWasm(ctx, c, dy, S, Do, sorted)!;
      return [y, z, dx, dg, gd.values, gu.values].map((a) => Array.from(new Uint32Array(a.buffer)));
    };
    ctx.maxThreads = 1;
    const one = once();
    ctx.maxThreads = 3;
    expect(await ctx.warmWorkers()).toBe(3);
    expect(ctx.threadsFor(S * T * Math.min(D, Do))).toBe(3);
    const many = once();
    for (let i = 0; i < one.length; i++) expect(many[i], `output ${i}`).toEqual(one[i]);
  });

  it('throws a RangeError naming the index, the slot and the table size', () => {
    const x = tensor([[1, 2, 3, 4, 5]]);
    const table = tensor(randomArray(10, 3), { shape: [2, 5] });
    for (const bad of [2, -1]) {
      expect(() => expertMix(x, table, table, tensor([[0, bad]], { dtype: 'int32' }), tensor([[1, 1]]), 'gelu')).toThrow(RangeError);
      expect(() => expertMix(x, table, table, tensor([[0, bad]], { dtype: 'int32' }), tensor([[1, 1]]), 'gelu')).toThrow(
        `expertMix: index ${bad} at slot 1 out of range for tables of 2 rows`,
      );
      const y = new Float32Array(5);
      expect(() =>
        expertMixForwardWasm(
          ctx,
          x.toTypedArray() as Float32Array,
          table.toTypedArray() as Float32Array,
          table.toTypedArray() as Float32Array,
          Int32Array.of(0, bad),
          Float32Array.of(1, 1),
          1,
          2,
          5,
          5,
          'relu',
          y,
          new Float32Array(2),
        ),
      ).toThrow(RangeError);
    }
  });
});
