import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { jsKernels } from '../src/cpu/kernels.js';
import { getWasmContext, type WasmContext } from '../src/cpu/wasm/context.js';
import { logSoftmaxWasm, logsumexpWasm, softmaxWasm } from '../src/cpu/wasm/softmax.js';

const ctx = getWasmContext() as WasmContext;

// Equal within `rel` relative plus `abs` absolute, NaN matching NaN, ±inf exactly.
function close(a: ArrayLike<number>, b: ArrayLike<number>, rel: number, abs = 1e-37): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!,
      y = b[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (!(Number.isNaN(x) && Number.isNaN(y))) return false;
    } else if (!Number.isFinite(x) || !Number.isFinite(y)) {
      if (x !== y) return false;
    } else if (Math.abs(x - y) > rel * Math.max(Math.abs(x), Math.abs(y)) + abs) return false;
  }
  return true;
}

const value = fc.oneof(
  { weight: 10, arbitrary: fc.float({ min: -30, max: 30, noNaN: true }) },
  { weight: 2, arbitrary: fc.float({ min: -200, max: 200, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, -0, 88, -88) },
);
const rowsOf = fc
  .record({ rows: fc.integer({ min: 1, max: 4 }), n: fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 13, 31, 64, 101) })
  .chain(({ rows, n }) =>
    fc.record({
      rows: fc.constant(rows),
      n: fc.constant(n),
      data: fc.array(value, { minLength: rows * n, maxLength: rows * n }),
    }),
  );

describe('WebAssembly softmax / log-softmax / logsumexp', () => {
  afterAll(async () => {
    await ctx.close();
  });

  it('equal the plain kernels (a few f32 ulps; NaN and ±inf rows alike)', () => {
    fc.assert(
      fc.property(rowsOf, ({ rows, n, data }) => {
        const x = Float32Array.from(data);
        const w = new Float32Array(rows * n),
          j = new Float32Array(rows * n);
        expect(softmaxWasm(ctx, x, rows, n, w)).toBe(true);
        jsKernels.softmaxRowsF32(x, rows, n, j);
        expect(close(w, j, 1e-6)).toBe(true);
        const wl = new Float32Array(rows),
          jl = new Float32Array(rows);
        expect(logsumexpWasm(ctx, x, rows, n, wl)).toBe(true);
        jsKernels.logsumexpRowsF32(x, rows, n, jl);
        // log(Σe) near 0 (one dominant term) is exact only to the f32 rounding of the small terms,
        // about 6e-8 absolute, and to the f64 summation order (1e-16 absolute).
        expect(close(wl, jl, 1e-6, 2e-7)).toBe(true);
        expect(logSoftmaxWasm(ctx, x, rows, n, w)).toBe(true);
        jsKernels.logSoftmaxRowsF32(x, rows, n, j);
        // x - lse loses relative precision when x ≈ lse; compare against the row's scale instead.
        for (let i = 0; i < w.length; i++) {
          const scale = Math.abs(jl[Math.floor(i / n)]!) + Math.abs(x[i]!) + 1;
          if (Number.isNaN(j[i]!)) expect(w[i]).toBeNaN();
          else if (!Number.isFinite(j[i]!)) expect(w[i]).toBe(j[i]);
          else expect(Math.abs(w[i]! - j[i]!)).toBeLessThanOrEqual(1e-6 * scale);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('gives a softmax a reader can check', () => {
    const out = new Float32Array(3);
    softmaxWasm(ctx, new Float32Array([0, Math.log(2), Math.log(5)]), 1, 3, out);
    expect(Array.from(out).map((v) => +v.toFixed(6))).toEqual([0.125, 0.25, 0.625]);
  });

  it('splits rows over threads without changing the result', async () => {
    const rows = 300,
      n = 1031;
    const x = Float32Array.from({ length: rows * n }, (_, i) => Math.sin(i * 0.37) * 20);
    const one = new Float32Array(rows * n),
      two = new Float32Array(rows * n);
    ctx.maxThreads = 1;
    softmaxWasm(ctx, x, rows, n, one);
    ctx.maxThreads = 2;
    await ctx.warmWorkers();
    expect(ctx.threadsFor(rows * n * 8)).toBe(2);
    softmaxWasm(ctx, x, rows, n, two);
    expect(two).toEqual(one);
  });
});
