import { describe, it } from 'vitest';
import fc from 'fast-check';
import * as core from '@myriad/core';
import { tensor, type Tensor } from '@myriad/core';
import { arbShape, arbTensor, gradCheck } from '@myriad/core/testing';

// Gradient checks (central differences in float64) for the everyday ops PyTorch users reach for:
// trigonometry, variance, sorting, triangles, splitting, and the regression / binary losses.
const numRuns = 10;
const f64 = { dtype: 'float64' as const };
const shape = arbShape({ minRank: 1, maxRank: 3, maxDim: 4 });
const matrixShape = arbShape({ minRank: 2, maxRank: 3, maxDim: 4 });

describe('gradCheck: everyday ops', () => {
  it('sin, cos', () => {
    fc.assert(
      fc.property(arbTensor({ shape, ...f64, min: -4, max: 4 }), (x) => void (gradCheck(core.sin, [x]), gradCheck(core.cos, [x]))),
      { numRuns },
    );
  });

  it('clamp with tensor bounds', () => {
    const lo = tensor([-0.5, -0.25, 0], f64);
    const hi = tensor([0.5, 0.75, 0.05], f64);
    fc.assert(
      fc.property(
        arbTensor({ shape: [2, 3], ...f64, min: -2, max: 2, avoid: [-0.5, -0.25, 0, 0.05, 0.5, 0.75], margin: 0.01 }),
        (x) => void gradCheck((a, l, h) => core.clamp(a, l, h), [x, lo, hi]),
      ),
      { numRuns },
    );
  });

  it('var and std over dims, biased and unbiased, keepdim', () => {
    const arb = fc.tuple(
      arbTensor({ shape: arbShape({ minRank: 1, maxRank: 3, minDim: 2, maxDim: 4 }), ...f64, distinct: true }),
      fc.boolean(),
      fc.boolean(),
      fc.nat(),
    );
    fc.assert(
      fc.property(arb, ([x, unbiased, keepdim, k]) => {
        const dim = k % x.ndim;
        gradCheck((a) => core.variance(a, dim, { unbiased, keepdim }), [x]);
        gradCheck((a) => core.std(a, undefined, { unbiased }), [x]);
      }),
      { numRuns },
    );
  });

  it('sort values (ascending and descending) along any dim', () => {
    const arb = fc.tuple(arbTensor({ shape, ...f64, distinct: true }), fc.boolean(), fc.nat());
    fc.assert(
      fc.property(arb, ([x, descending, k]) => void gradCheck((a) => core.sort(a, k % x.ndim, descending).values, [x])),
      { numRuns },
    );
  });

  it('tril, triu with diagonals', () => {
    const arb = fc.tuple(arbTensor({ shape: matrixShape, ...f64 }), fc.integer({ min: -2, max: 2 }));
    fc.assert(
      fc.property(arb, ([x, d]) => void (gradCheck((a) => core.tril(a, d), [x]), gradCheck((a) => a.triu(d), [x]))),
      { numRuns },
    );
  });

  it('split, chunk, cat', () => {
    const arb = fc.tuple(arbTensor({ shape, ...f64 }), fc.integer({ min: 1, max: 3 }));
    fc.assert(
      fc.property(arb, ([x, n]) => {
        // Weighting each piece differently makes every piece's gradient distinct.
        gradCheck(
          (a) =>
            core.cat(
              core.split(a, n, -1).map((p, i) => p.mul(i + 1)),
              -1,
            ),
          [x],
        );
        gradCheck(
          (a) =>
            core.cat(
              a.chunk(n, 0).map((p, i) => p.mul(i + 2)),
              0,
            ),
          [x],
        );
      }),
      { numRuns },
    );
  });

  it('mseLoss and l1Loss, every reduction', () => {
    const arb = shape.chain((s) =>
      fc.tuple(arbTensor({ shape: s, ...f64, min: -2, max: 2, distinct: true }), arbTensor({ shape: s, ...f64, min: -2, max: 2 })),
    );
    fc.assert(
      fc.property(arb, ([a, b]) => {
        // l1 has a kink at a = b: cases with any |a − b| under the finite-difference step's reach are
        // left out (the shift off a's grid alone did not keep them apart: a can sit at −2 + 1/192 too).
        const b2 = b.add(1 / 3 / 64);
        const av = a.toTypedArray();
        const bv = b2.toTypedArray();
        fc.pre(av.every((v, i) => Math.abs(v - bv[i]!) > 1e-3));
        for (const reduction of ['mean', 'sum', 'none'] as const) {
          gradCheck((x, y) => core.mseLoss(x, y, { reduction }), [a, b]);
          gradCheck((x) => core.l1Loss(x, b2, { reduction }), [a]);
        }
      }),
      { numRuns },
    );
  });

  it('binaryCrossEntropy (probabilities and targets)', () => {
    const arb = shape.chain((s) =>
      fc.tuple(arbTensor({ shape: s, ...f64, min: 0.05, max: 0.95 }), arbTensor({ shape: s, ...f64, min: 0, max: 1 })),
    );
    fc.assert(
      fc.property(arb, ([p, y]) => void gradCheck((a, b) => core.binaryCrossEntropy(a, b), [p, y])),
      { numRuns },
    );
  });

  it('binaryCrossEntropyWithLogits, with and without posWeight, at 0 too', () => {
    const arb = shape.chain((s) =>
      fc.tuple(arbTensor({ shape: s, ...f64, min: -6, max: 6 }), arbTensor({ shape: s, ...f64, min: 0, max: 1 })),
    );
    fc.assert(
      fc.property(arb, ([x, y]) => {
        gradCheck((a, b) => core.binaryCrossEntropyWithLogits(a, b), [x, y]);
        gradCheck((a, b) => core.binaryCrossEntropyWithLogits(a, b, { posWeight: 2.5, reduction: 'sum' }), [x, y]);
        gradCheck((a, w) => core.binaryCrossEntropyWithLogits(a, y, { posWeight: w, reduction: 'none' }), [x, tensor([1.5], f64)]);
      }),
      { numRuns },
    );
    // Logits exactly 0 (a zero-initialised head): d/dx = σ(0) − y = 0.5 − y, not −y.
    gradCheck((a) => core.binaryCrossEntropyWithLogits(a, tensor([0, 1, 0.25], f64), { reduction: 'sum' }), [core.zeros([3], f64)]);
  });

  it('to(backend) passes the gradient back', () => {
    const other = { ...core.cpuBackend, name: 'cpu-copy' };
    fc.assert(
      fc.property(arbTensor({ shape, ...f64 }), (x) => void gradCheck((a) => (a.to(other) as Tensor).mul(2).to(core.cpuBackend), [x])),
      { numRuns: 4 },
    );
  });
});
