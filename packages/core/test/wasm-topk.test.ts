import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { jsKernels } from '../src/cpu/kernels.js';
import { getWasmContext, type WasmContext } from '../src/cpu/wasm/context.js';
import { topkWasm } from '../src/cpu/wasm/topk.js';

const ctx = getWasmContext() as WasmContext;

function both(x: Float32Array, rows: number, n: number, k: number) {
  const wv = new Float32Array(rows * k),
    wi = new Int32Array(rows * k);
  const jv = new Float32Array(rows * k),
    ji = new Int32Array(rows * k);
  expect(topkWasm(ctx, x, rows, n, k, wv, wi)).toBe(true);
  jsKernels.topkRowsF32(x, rows, n, k, jv, ji);
  return { wv, wi, jv, ji };
}

// Values from a small set (many ties) plus ±inf, -0 and NaN, so tie-breaking and NaN ordering matter.
const value = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: -5, max: 5 }).map((v) => v / 2) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, -0) },
  { weight: 4, arbitrary: fc.float({ noNaN: true }) },
);
const shapes = fc
  .record({ rows: fc.integer({ min: 1, max: 5 }), n: fc.constantFrom(1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 97, 300) })
  .chain(({ rows, n }) =>
    fc.record({
      rows: fc.constant(rows),
      n: fc.constant(n),
      k: fc.integer({ min: 1, max: n }),
      data: fc.array(value, { minLength: rows * n, maxLength: rows * n }),
    }),
  );

describe('WebAssembly top-k', () => {
  afterAll(async () => {
    await ctx.close();
  });

  it('equals the plain kernel exactly: values, indices, ties to the lower index, NaN first', () => {
    fc.assert(
      fc.property(shapes, ({ rows, n, k, data }) => {
        const { wv, wi, jv, ji } = both(Float32Array.from(data), rows, n, k);
        expect(Array.from(wi)).toEqual(Array.from(ji));
        expect(Array.from(wv)).toEqual(Array.from(jv));
      }),
      { numRuns: 200 },
    );
  });

  it('picks the largest values of a row a reader can check', () => {
    const x = new Float32Array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3]);
    const v = new Float32Array(4),
      i = new Int32Array(4);
    topkWasm(ctx, x, 1, 18, 4, v, i);
    expect(Array.from(v)).toEqual([9, 9, 9, 8]);
    expect(Array.from(i)).toEqual([5, 12, 14, 11]);
  });

  it('splits rows over threads without changing the result', async () => {
    ctx.maxThreads = 2;
    await ctx.warmWorkers();
    const rows = 160,
      n = 4099,
      k = 9;
    const x = new Float32Array(rows * n);
    for (let j = 0; j < x.length; j++) x[j] = (Math.sin(j * 12.9898) * 43758.5453) % 1;
    expect(ctx.threadsFor(rows * n * 2)).toBe(2);
    const { wv, wi, jv, ji } = both(x, rows, n, k);
    expect(wi).toEqual(ji);
    expect(wv).toEqual(jv);
  });
});
