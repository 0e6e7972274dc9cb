import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { UNARY_OPS, type BinaryOp, type UnaryOp, type View } from '../src/backend.js';
import { cpuBackend } from '../src/cpu/cpu-backend.js';
import { binaryLoops } from '../src/cpu/elementwise.js';
import { installKernels, jsKernels, kernels, resetKernels } from '../src/cpu/kernels.js';
import { getWasmContext, type WasmContext } from '../src/cpu/wasm/context.js';
import { wasmKernels } from '../src/cpu/wasm/install.js';
import { UNARY_EXPORTS } from '../src/cpu/wasm/unary-module.js';
import { contiguousStrides, shapeSize } from '../src/shape.js';

// The elementwise and reduction entries of the kernel seam (unaryF32, binaryF32, sumAxisF32) and the
// CPU backend paths that use them, on both kernel sets. Node 20 has WebAssembly SIMD, so its absence
// is a failure here.
const ctx = getWasmContext() as WasmContext;
const wasm = wasmKernels()!;
const kernelSets = { wasm: () => installKernels(wasm), js: () => resetKernels() } as const;

const special = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 3, 1e-30, -2.5e38, 1e-42];
const value = fc.oneof(fc.float({ noNaN: false }), fc.float({ min: -8, max: 8, noNaN: true }), fc.constantFrom(...special));
// Lengths: 1, primes, non-multiples of 4 and 8, and both sides of the wasm thresholds (64, 256).
const length = fc.constantFrom(1, 2, 3, 5, 7, 8, 9, 13, 31, 63, 64, 67, 97, 255, 256, 257, 263, 1031);
const dim = fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 9, 13, 17, 31, 64, 67);

function fill(n: number, values: number[]): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = values[i % values.length]!;
  return out;
}

/** A view of `own` (right-aligned in `outShape`, size-1 dims broadcast) at `offset`, row- or column-major. */
function view(own: number[], outShape: number[], offset: number, columnMajor: boolean, values: number[]): View {
  const size = shapeSize(own);
  const stored = columnMajor ? contiguousStrides([...own].reverse()).reverse() : contiguousStrides(own);
  const lead = outShape.length - own.length;
  const strides = outShape.map((d, i) => (i < lead || own[i - lead] === 1 ? 0 : stored[i - lead]!));
  return { storage: fill(offset + size, values), shape: outShape, strides, offset, dtype: 'float32' };
}

// The broadcast element by element from the views' strides, through the plain one-element loop.
function referenceBinary(op: BinaryOp, a: View, b: View): Float32Array {
  const shape = a.shape;
  const n = shapeSize(shape);
  const out = new Float32Array(n);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let ia = a.offset,
      ib = b.offset;
    for (let d = 0; d < shape.length; d++) {
      ia += idx[d]! * a.strides[d]!;
      ib += idx[d]! * b.strides[d]!;
    }
    binaryLoops[op](a.storage as Float32Array, ia, 0, b.storage as Float32Array, ib, 0, out, i, 0, 1);
    for (let d = shape.length - 1; d >= 0 && ++idx[d]! === shape[d]; d--) idx[d] = 0;
  }
  return out;
}

describe('kernel seam: elementwise and sum entries (WebAssembly and plain)', () => {
  afterEach(() => resetKernels());
  afterAll(async () => {
    resetKernels();
    await ctx.close();
  });

  it('binaryF32 gives bit-identical results for full, scalar and repeated-row operands', () => {
    const ops: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'maximum', 'pow', 'lt'];
    const lengths = (n: number): number[] => [1, n, ...[2, 3, 4, 7, 8, 13].filter((w) => w < n && n % w === 0)];
    fc.assert(
      fc.property(
        fc.constantFrom(...ops),
        length,
        fc.array(value, { minLength: 1, maxLength: 40 }),
        fc.array(value, { minLength: 1, maxLength: 40 }),
        fc.nat(),
        fc.nat(),
        fc.constantFrom(0, 5),
        (op, n, av, bv, ka, kb, pad) => {
          const la = lengths(n)[ka % lengths(n).length]!;
          const lb = lengths(n)[kb % lengths(n).length]!;
          const a = fill(pad + la, av),
            b = fill(pad + lb, bv);
          const expected = new Float32Array(n + 2 * pad);
          for (let i = 0; i < n; i++) binaryLoops[op](a, pad + (i % la), 0, b, pad + (i % lb), 0, expected, pad + i, 0, 1);
          for (const [name, k] of [
            ['wasm', wasm.binaryF32!],
            ['js', jsKernels.binaryF32],
          ] as const) {
            const out = new Float32Array(n + 2 * pad);
            k(op, a, pad, la, b, pad, lb, out, pad, n);
            expect(Array.from(out), `${name} ${op} n=${n} la=${la} lb=${lb}`).toEqual(Array.from(expected));
          }
        },
      ),
      { numRuns: 250 },
    );
  });

  it('the backend computes broadcast binary ops exactly, on both kernel sets', () => {
    const ops: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'minimum'];
    fc.assert(
      fc.property(
        fc.constantFrom(...ops),
        fc.array(dim, { minLength: 1, maxLength: 3 }),
        fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        fc.nat(3),
        fc.boolean(),
        fc.boolean(),
        fc.array(value, { minLength: 1, maxLength: 30 }),
        fc.array(value, { minLength: 1, maxLength: 30 }),
        (op, shape, ones, drop, colA, colB, av, bv) => {
          // b drops `drop` leading dims and broadcasts the dims flagged in `ones`.
          const own = shape.slice(Math.min(drop, shape.length)).map((d, i) => (ones[i] ? 1 : d));
          const a = view(shape, shape, 3, colA, av);
          const b = view(own, shape, 1, colB, bv);
          const expected = Array.from(referenceBinary(op, a, b));
          for (const [name, install] of Object.entries(kernelSets)) {
            install();
            expect(Array.from(cpuBackend.binary(op, a, b) as Float32Array), `${name} ${op} [${shape}] with [${own}]`).toEqual(expected);
            expect(Array.from(cpuBackend.binary(op, b, a) as Float32Array), `${name} ${op} [${own}] with [${shape}]`).toEqual(
              Array.from(referenceBinary(op, b, a)),
            );
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('unaryF32 equals the plain kernels (exactly without a WebAssembly version, within float32 error with one)', () => {
    const ops = UNARY_OPS; // every unary op the seam names, so a new one is checked here too
    const hasWasm = (op: UnaryOp): boolean => Object.prototype.hasOwnProperty.call(UNARY_EXPORTS, op);
    fc.assert(
      fc.property(
        fc.constantFrom(...ops),
        length,
        fc.array(value, { minLength: 1, maxLength: 50 }),
        fc.constantFrom(0, 3),
        (op, n, xs, pad) => {
          const x = fill(pad + n, xs);
          const w = new Float32Array(n + 2 * pad).fill(7),
            j = new Float32Array(n + 2 * pad).fill(7);
          wasm.unaryF32!(op, x, pad, w, pad, n);
          jsKernels.unaryF32(op, x, pad, j, pad, n);
          if (!hasWasm(op)) {
            expect(Array.from(w)).toEqual(Array.from(j));
            return;
          }
          for (let i = 0; i < w.length; i++) {
            const a = w[i]!,
              b = j[i]!,
              xi = i >= pad && i < pad + n ? x[i]! : 0;
            if (!Number.isFinite(b)) {
              expect(a, `${op}(${xi})`).toBe(b);
              continue;
            }
            // erf-based ops: both kernels carry a few 1e-7 of erf error (scaled by |x| in gelu).
            const tol =
              4 * 2 ** -23 * Math.abs(b) +
              1e-40 +
              (op === 'tanh' ? 2 ** -24 : 0) +
              (['erf', 'gelu', 'geluGrad'].includes(op) ? 8e-7 * Math.max(1, Math.abs(xi)) : 0);
            if (!(Math.abs(a - b) <= tol)) expect.fail(`${op}(${xi}): wasm ${a}, js ${b}, diff ${Math.abs(a - b)} > ${tol}`);
          }
        },
      ),
      { numRuns: 250 },
    );
  });

  it('sums an axis of a contiguous block exactly as the sequential float64 loop does', () => {
    fc.assert(
      fc.property(
        fc.array(dim, { minLength: 1, maxLength: 3 }),
        fc.nat(2),
        fc.array(value, { minLength: 1, maxLength: 30 }),
        (shape, ax, xs) => {
          const axis = ax % shape.length;
          const x = view(shape, shape, 2, false, xs);
          const outer = shapeSize(shape.slice(0, axis)),
            len = shape[axis]!,
            inner = shapeSize(shape.slice(axis + 1));
          const expected = new Float32Array(outer * inner);
          for (let o = 0; o < outer; o++) {
            for (let j = 0; j < inner; j++) {
              let acc = 0;
              for (let r = 0; r < len; r++) acc += (x.storage as Float32Array)[2 + (o * len + r) * inner + j]!;
              expected[o * inner + j] = acc;
            }
          }
          for (const install of Object.values(kernelSets)) {
            install();
            expect(Array.from(cpuBackend.reduce('sum', x, axis) as Float32Array)).toEqual(Array.from(expected));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('sumAxisF32 (column sums in f64x2 lanes) equals the plain kernel bit for bit', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 3),
        fc.constantFrom(1, 2, 7, 64, 257),
        fc.constantFrom(1, 2, 7, 8, 9, 16, 17, 31, 67, 1031),
        fc.array(value, { minLength: 1, maxLength: 40 }),
        (outer, len, inner, xs) => {
          const x = fill(5 + outer * len * inner, xs);
          const w = new Float32Array(outer * inner + 2).fill(7),
            j = new Float32Array(outer * inner + 2).fill(7);
          wasm.sumAxisF32!(x, 5, outer, len, inner, w.subarray(1, 1 + outer * inner));
          jsKernels.sumAxisF32(x, 5, outer, len, inner, j.subarray(1, 1 + outer * inner));
          expect(Array.from(w)).toEqual(Array.from(j));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('gives values a reader can check through the installed seam', () => {
    installKernels(wasm);
    const n = 300;
    const x = Float32Array.from({ length: n }, (_, i) => i - 150);
    const out = new Float32Array(n);
    kernels.binaryF32('mul', x, 0, n, Float32Array.of(0.5), 0, 1, out, 0, n);
    expect(out[0]).toBe(-75);
    expect(out[299]).toBe(74.5);
    kernels.binaryF32('sub', Float32Array.of(10, 20, 30), 0, 3, x, 0, n, out, 0, n);
    expect(Array.from(out.subarray(0, 4))).toEqual([160, 169, 178, 157]);
    kernels.unaryF32(
      'geluGrad',
      Float32Array.from({ length: n }, () => 0),
      0,
      out,
      0,
      n,
    );
    expect(out[17]).toBe(0.5);
  });
});
