import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { unaryLoops } from '../src/cpu/elementwise.js';
import { getWasmContext, type WasmContext } from '../src/cpu/wasm/context.js';
import { unaryWasm } from '../src/cpu/wasm/unary.js';
import { UNARY_EXPORTS, type WasmUnaryOp } from '../src/cpu/wasm/unary-module.js';

const ctx = getWasmContext() as WasmContext;
const ops = Object.keys(UNARY_EXPORTS) as WasmUnaryOp[];

// Allowed |wasm - js| per op: a few f32 ulps of the result, erf's 4e-7 absolute (scaled by |x|
// for gelu), and a floor at the f32 denormal range where exp results flush differently.
function tolerance(op: WasmUnaryOp, x: number, y: number): number {
  const ulps = 4 * 2 ** -23 * Math.abs(y) + 1e-40;
  if (op === 'erf') return ulps + 4e-7;
  if (op === 'gelu') return ulps + 4e-7 * Math.abs(x);
  if (op === 'geluGrad') return ulps + 6e-7; // erf's error halved, plus x·φ(x)'s ulps (|x·φ(x)| < 0.25)
  if (op === 'tanh') return ulps + 2 ** -24; // 1 - 2/(e+1) rounds near |tanh| = 1
  return ulps;
}

function check(op: WasmUnaryOp, x: Float32Array): void {
  const w = new Float32Array(x.length + 2).fill(7),
    j = new Float32Array(x.length);
  expect(unaryWasm(ctx, op, x, 0, w, 1, x.length)).toBe(true);
  unaryLoops[op](x, 0, 1, j, 0, 1, x.length);
  expect(w[0]).toBe(7);
  expect(w[x.length + 1]).toBe(7);
  for (let i = 0; i < x.length; i++) {
    const a = w[i + 1]!,
      b = j[i]!;
    if (Number.isNaN(b) || !Number.isFinite(b)) {
      expect(a, `${op}(${x[i]})`).toBe(b);
    } else if (!(Math.abs(a - b) <= tolerance(op, x[i]!, b))) {
      expect.fail(`${op}(${x[i]}): wasm ${a}, js ${b}, diff ${Math.abs(a - b)} > ${tolerance(op, x[i]!, b)}`);
    }
  }
}

describe('WebAssembly elementwise transcendentals', () => {
  afterAll(async () => {
    await ctx.close();
  });

  it('equal the plain kernels on random values of every scale and length', () => {
    const value = fc.oneof(
      fc.float({ min: -10, max: 10, noNaN: true }),
      fc.float({ noNaN: true }),
      fc.constantFrom(NaN, Infinity, -Infinity, 0, -0, 88.7, 88.8, -87.5, -103, -105, 0.625, -0.625, 1e-30, 4.5),
    );
    fc.assert(
      fc.property(fc.constantFrom(...ops), fc.array(value, { minLength: 1, maxLength: 67 }), (op, data) =>
        check(op, Float32Array.from(data)),
      ),
      { numRuns: 300 },
    );
  });

  it('silu below -88.72, where exp(-x) overflows f32, still equals the plain kernel (regression)', () => {
    check('silu', Float32Array.of(-88.72283935546875, -88.8, -95, -103, -Infinity, Infinity, NaN, -0, 88.8));
  });

  it('sigmoid below -88.72 gives the denormal the plain kernel gives, not 0 (regression: a property run drew -89)', () => {
    check('sigmoid', Float32Array.of(-88.72283935546875, -89, -95, -103, -104.5, -Infinity, Infinity, NaN, -0, 88.8));
  });

  it('equal the plain kernels on a dense sweep of [-20, 20]', () => {
    const x = Float32Array.from({ length: 40001 }, (_, i) => -20 + i * 0.001);
    for (const op of ops) check(op, x);
  });

  it('give values a reader can check', () => {
    const out = new Float32Array(3);
    unaryWasm(ctx, 'exp', new Float32Array([0, 1, Math.log(10)]), 0, out, 0, 3);
    expect(Array.from(out).map((v) => +v.toPrecision(6))).toEqual([1, 2.71828, 10]);
    unaryWasm(ctx, 'tanh', new Float32Array([0, 100, -100]), 0, out, 0, 3);
    expect(Array.from(out)).toEqual([0, 1, -1]);
  });

  it('leaves ops without a WebAssembly version to the caller', () => {
    expect(unaryWasm(ctx, 'log', new Float32Array(4), 0, new Float32Array(4), 0, 4)).toBe(false);
  });

  it('splits long runs over threads without changing the result', async () => {
    const x = Float32Array.from({ length: 300_001 }, (_, i) => Math.sin(i) * 6);
    const one = new Float32Array(x.length),
      two = new Float32Array(x.length);
    ctx.maxThreads = 1;
    unaryWasm(ctx, 'gelu', x, 0, one, 0, x.length);
    ctx.maxThreads = 2;
    await ctx.warmWorkers();
    expect(ctx.threadsFor(x.length * 16)).toBe(2);
    unaryWasm(ctx, 'gelu', x, 0, two, 0, x.length);
    expect(two).toEqual(one);
  });
});
