import { describe, it } from 'vitest';
import fc from 'fast-check';
import * as core from '@myriad/core';
import type { Tensor } from '@myriad/core';
import { arbBroadcastShapes, arbShape, arbTensor, arbTensorPair, gradCheck, type ValueOptions } from '@myriad/core/testing';

// Gradient checks (central differences in float64) for every elementwise op, over random shapes
// including scalars, size-1 dims and broadcasting. Kinks (relu/abs at 0, clamp bounds, ties of
// maximum/minimum) are kept out of the eps-neighbourhood by the arbitraries.
const numRuns = 12;
const shape = arbShape({ maxRank: 3, maxDim: 4 });

type Unary = (x: Tensor) => Tensor;
const unaryCases: [string, Unary, ValueOptions][] = [
  ['neg', core.neg, {}],
  ['exp', core.exp, { min: -2, max: 2 }],
  ['log', core.log, { min: 0.1, max: 3 }],
  ['sqrt', core.sqrt, { min: 0.1, max: 3 }],
  ['abs', core.abs, { min: -2, max: 2, avoid: [0], margin: 0.01 }],
  ['tanh', core.tanh, { min: -3, max: 3 }],
  ['sigmoid', core.sigmoid, { min: -4, max: 4 }],
  ['relu', core.relu, { min: -2, max: 2, avoid: [0], margin: 0.01 }],
  ['gelu', core.gelu, { min: -3, max: 3 }],
  ['silu', core.silu, { min: -3, max: 3 }],
  ['erf', core.erf, { min: -2, max: 2 }],
  ['square', core.square, { min: -2, max: 2 }],
  ['reciprocal', core.reciprocal, { min: -3, max: 3, avoid: [0], margin: 0.3 }],
  ['clamp(-0.5, 0.7)', (x) => core.clamp(x, -0.5, 0.7), { min: -2, max: 2, avoid: [-0.5, 0.7], margin: 0.01 }],
  ['clamp(min only)', (x) => core.clamp(x, 0.25), { min: -2, max: 2, avoid: [0.25], margin: 0.01 }],
  ['method chain x.mul(x).sigmoid()', (x) => x.mul(x).sigmoid(), {}],
];

describe('gradCheck: unary ops', () => {
  for (const [name, fn, values] of unaryCases) {
    it(name, () => {
      fc.assert(
        fc.property(arbTensor({ shape, dtype: 'float64', ...values }), (x) => void gradCheck(fn, [x])),
        { numRuns },
      );
    });
  }
});

type Binary = (a: Tensor, b: Tensor) => Tensor;
const binaryCases: [string, Binary, ValueOptions, ValueOptions][] = [
  ['add', core.add, {}, {}],
  ['sub', core.sub, {}, {}],
  ['mul', core.mul, { min: -2, max: 2 }, { min: -2, max: 2 }],
  ['div', core.div, { min: -2, max: 2 }, { min: -2, max: 2, avoid: [0], margin: 0.3 }],
  ['pow', core.pow, { min: 0.2, max: 2 }, { min: -2, max: 2 }],
];

describe('gradCheck: binary ops with broadcasting', () => {
  for (const [name, fn, va, vb] of binaryCases) {
    it(name, () => {
      const arb = arbBroadcastShapes({ maxRank: 3, maxDim: 4 }).chain(([sa, sb]) =>
        fc.tuple(arbTensor({ shape: sa, dtype: 'float64', ...va }), arbTensor({ shape: sb, dtype: 'float64', ...vb })),
      );
      fc.assert(
        fc.property(arb, ([a, b]) => void gradCheck(fn, [a, b])),
        { numRuns },
      );
    });
  }

  // a on the grid 0.1·k and b on 0.1·k + 0.05 never tie, so maximum/minimum are differentiable there.
  for (const [name, fn] of [
    ['maximum', core.maximum],
    ['minimum', core.minimum],
  ] as const) {
    it(name, () => {
      const arb = arbTensorPair({ maxRank: 3, maxDim: 4, dtype: 'float64', min: -1, max: 1 });
      fc.assert(
        fc.property(arb, ([a, b]) => {
          const grid = (t: Tensor, shift: number) =>
            core.tensor(
              Array.from(t.toTypedArray(), (v) => Math.round(v * 10) / 10 + shift),
              { shape: t.shape, dtype: 'float64' },
            );
          gradCheck(fn, [grid(a, 0), grid(b, 0.05)]);
        }),
        { numRuns },
      );
    });
  }

  it('scalar operands (x * 3 - 1) / 2 ** x', () => {
    fc.assert(
      fc.property(arbTensor({ shape, dtype: 'float64' }), (x) => void gradCheck((t) => t.mul(3).sub(1).div(core.pow(2, t)), [x])),
      { numRuns },
    );
  });

  it('the same tensor used twice (x * x + x)', () => {
    fc.assert(
      fc.property(arbTensor({ shape, dtype: 'float64' }), (x) => void gradCheck((t) => t.mul(t).add(t), [x])),
      { numRuns },
    );
  });
});

describe('gradCheck: cast', () => {
  it('float64 -> float32 -> float64 passes gradients through (eps sized for float32 rounding)', () => {
    fc.assert(
      fc.property(
        arbTensor({ shape, dtype: 'float64' }),
        (x) => void gradCheck((t) => t.to('float32').mul(2).to('float64'), [x], { eps: 1e-2, atol: 1e-4, rtol: 1e-4 }),
      ),
      { numRuns },
    );
  });
});
