import { describe, expect, it } from 'vitest';
import { jsKernels } from '../src/cpu/kernels.js';
import { getWasmContext, type WasmContext } from '../src/cpu/wasm/context.js';
import { Layout } from '../src/cpu/wasm/runtime.js';

const ctx = getWasmContext() as WasmContext;

describe('WebAssembly gatherRowsCopy (the memcpy reference for row gathers)', () => {
  it('copies the indexed rows, as the plain gather does', () => {
    const width = 5,
      rows = 13;
    const table = Float32Array.from({ length: rows * width }, (_, i) => i * 0.5 - 3);
    const idx = Int32Array.from([12, 0, 7, 7, 3, 12, 1]);
    const lay = new Layout();
    const t = lay.take(table.length * 4),
      ix = lay.take(idx.length * 4),
      o = lay.take(idx.length * width * 4);
    expect(ctx.rt.ensure(lay.end)).toBe(true);
    ctx.rt.f32.set(table, t >> 2);
    ctx.rt.i32.set(idx, ix >> 2);
    ctx.rt.exports.gatherRowsCopy(t, width * 4, ix, idx.length, o);
    const expected = new Float32Array(idx.length * width);
    jsKernels.gatherRowsF32(table, width, idx, expected);
    expect(ctx.rt.f32.slice(o >> 2, (o >> 2) + expected.length)).toEqual(expected);
  });
});
