import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { broadcastShapes, tensor, type Tensor } from '@myriad/core';
import {
  allClose,
  arbBroadcastShapeList,
  arbBroadcastShapes,
  arbMatmulShapes,
  arbShape,
  arbTensor,
  arbTensorPair,
  arbValues,
  gradCheck,
  installMatchers,
} from '@myriad/core/testing';

installMatchers(expect);

describe('arbitraries', () => {
  it('arbShape respects rank and dim bounds', () => {
    fc.assert(
      fc.property(arbShape({ minRank: 1, maxRank: 3, minDim: 2, maxDim: 4 }), (s) => {
        expect(s.length).toBeGreaterThanOrEqual(1);
        expect(s.length).toBeLessThanOrEqual(3);
        for (const d of s) expect(d >= 2 && d <= 4).toBe(true);
      }),
    );
  });

  it('arbBroadcastShapes gives pairs that broadcast, with rank differences and size-1 dims over a run', () => {
    let rankDiff = false;
    let ones = false;
    fc.assert(
      fc.property(arbBroadcastShapes({ maxRank: 4, minDim: 2 }), ([a, b]) => {
        expect(() => broadcastShapes('test', a, b)).not.toThrow();
        if (a.length !== b.length) rankDiff = true;
        if (a.includes(1) || b.includes(1)) ones = true;
      }),
      { numRuns: 200 },
    );
    expect([rankDiff, ones]).toEqual([true, true]);
  });

  it('arbBroadcastShapeList shapes all broadcast together', () => {
    fc.assert(fc.property(arbBroadcastShapeList(3), ([a, b, c]) => void broadcastShapes('test', broadcastShapes('test', a!, b!), c!)));
  });

  it('arbTensor honours shape, dtype and value range; distinct and avoid options hold', () => {
    fc.assert(
      fc.property(arbTensor({ shape: [3, 4], dtype: 'float64', min: -2, max: 5, distinct: true, avoid: [0], margin: 0.1 }), (t) => {
        expect([t.shape, t.dtype]).toEqual([[3, 4], 'float64']);
        const v = Array.from(t.toTypedArray());
        for (const x of v) expect(x >= -2 && x <= 5 && Math.abs(x) >= 0.1 - 1e-12).toBe(true);
        expect(new Set(v).size).toBe(v.length);
      }),
    );
    fc.assert(
      fc.property(arbValues(20, { dtype: 'int32', min: -3, max: 3 }), (v) => v.every((x) => Number.isInteger(x) && x >= -3 && x <= 3)),
    );
  });

  it('arbTensorPair broadcasts; arbMatmulShapes gives multipliable shapes', () => {
    fc.assert(fc.property(arbTensorPair(), ([a, b]) => void a.add(b)));
    fc.assert(
      fc.property(
        arbMatmulShapes(),
        ([sa, sb]) =>
          void tensor(new Float32Array(sa.reduce((x, y) => x * y, 1)), { shape: sa }).matmul(
            tensor(new Float32Array(sb.reduce((x, y) => x * y, 1)), { shape: sb }),
          ),
      ),
    );
  });
});

describe('allClose', () => {
  it('accepts equal and nearly equal arrays, NaN == NaN by default', () => {
    expect(allClose([1, 2, NaN], [1, 2 + 1e-7, NaN]).ok).toBe(true);
    expect(allClose([NaN], [NaN], { equalNan: false }).ok).toBe(false);
    expect(allClose([Infinity], [Infinity]).ok).toBe(true);
    expect(allClose([Infinity], [-Infinity]).ok).toBe(false);
  });

  it('reports shape mismatches', () => {
    const r = allClose(tensor([[1, 2, 3]]), tensor([1, 2, 3]));
    expect(r.ok).toBe(false);
    expect(r.message).toContain('shapes differ: actual [1,3] vs expected [3]');
  });

  it('reports the count, the worst element with its index, and the first mismatches', () => {
    const r = allClose(
      tensor([
        [1, 2],
        [3, 4],
      ]),
      tensor([
        [1, 2.5],
        [3, 7],
      ]),
      { rtol: 0, atol: 0.1 },
    );
    expect(r).toMatchObject({ ok: false, mismatches: 2, maxAbsDiff: 3, worst: { index: [1, 1], actual: 4, expected: 7 } });
    expect(r.first.map((m) => m.index)).toEqual([
      [0, 1],
      [1, 1],
    ]);
    expect(r.message).toContain('2 of 4 elements differ');
    expect(r.message).toContain('worst at [1,1]: actual 4, expected 7');
  });

  it('toBeAllClose matcher passes and fails with the report', () => {
    expect(tensor([1, 2, 3])).toBeAllClose([1, 2, 3.000001]);
    expect(() => expect(tensor([1, 2, 3])).toBeAllClose([1, 2, 4], { atol: 0.5, rtol: 0 })).toThrow(/worst at \[2\]: actual 3, expected 4/);
    expect(tensor([1, 2])).not.toBeAllClose([1, 3]);
  });
});

describe('gradCheck', () => {
  it('passes on a correct gradient and returns the report', () => {
    const r = gradCheck((x) => x.square().sum(), [tensor([1, -2, 3])]);
    expect(r.ok).toBe(true);
    expect(r.maxAbsError).toBeLessThan(1e-6);
  });

  it('fails on a wrong gradient (a detached factor) and names the worst element', () => {
    const wrong = (x: Tensor) => x.mul(x.detach()); // analytic d/dx = x, true derivative 2x
    const r = gradCheck(
      wrong,
      [
        tensor([
          [0.5, -1],
          [2, 0.25],
        ]),
      ],
      { throwOnFail: false },
    );
    expect(r.ok).toBe(false);
    expect(r.worst!.input).toBe(0);
    expect(r.message).toMatch(/gradCheck: analytic and numerical gradients differ \(inputs \[2,2\]; .*worst at input 0 \[\d,\d\]/);
    expect(() => gradCheck(wrong, [tensor([1, 2])])).toThrow(/worst at input 0/);
  });

  it('checks only float inputs and refuses to differentiate an int32 input', () => {
    const idx = tensor([0, 2, 2], { dtype: 'int32' });
    expect(
      gradCheck(
        (t) => t.indexSelect(0, idx),
        [
          tensor([
            [1, 2],
            [3, 4],
            [5, 6],
          ]),
          idx,
        ],
      ).ok,
    ).toBe(true);
    expect(() => gradCheck((t) => t, [idx], { wrt: [0] })).toThrow(/input 0 is not a float tensor/);
  });

  it('works in float64 even for float32 inputs', () => {
    const r = gradCheck((x) => x.exp().sum(), [tensor([0.1, 0.2], { dtype: 'float32' })], { atol: 1e-9, rtol: 1e-7 });
    expect(r.ok).toBe(true);
  });
});
