// layerNorm at any scale (issue 13): rows of 1e30 in float32 used to square to Infinity and come out
// as zeros. Compared with a float64 reference written out here, and gradients against float64.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { layerNorm, tensor, type Tensor } from '../src/index.js';
import { gradCheck } from '../src/testing/index.js';

/** layerNorm of each row of `rows`, in plain float64 arithmetic (no overflow below |x| ~ 1e150). */
function reference(rows: number[][], eps = 1e-5): number[][] {
  return rows.map((r) => {
    const mu = r.reduce((a, b) => a + b, 0) / r.length;
    const v = r.reduce((a, b) => a + (b - mu) ** 2, 0) / r.length;
    return r.map((x) => (x - mu) / Math.sqrt(v + eps));
  });
}

const close = (got: Tensor, want: number[][], tol: number) => {
  const g = got.toArray() as number[][];
  want.forEach((row, i) => row.forEach((w, j) => expect(Math.abs(g[i]![j]! - w)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(w)))));
};

describe('layerNorm of huge values', () => {
  it('rows of 1e30 (float32) and 1e130 (float64) normalise like any other row', () => {
    const rows = [
      [1e30, -1e30, 3e30, 0],
      [1e19, 2e19, 3e19, 4e19],
      [3.4e38, -3.4e38, 1e38, 0],
      [0.5, -0.25, 0.125, 1],
      [7, 7, 7, 7],
    ];
    const scaled = rows.map((r) => r.map((x) => Math.fround(x)));
    close(layerNorm(tensor(scaled, { dtype: 'float32' })), reference(scaled), 1e-5);
    const huge = rows.map((r) => r.map((x) => x * 1e100)); // up to 3.4e138: the reference squares it without overflow
    close(layerNorm(tensor(huge, { dtype: 'float64' })), reference(huge), 1e-12);
  });

  it('property: float32 layerNorm matches the float64 reference at scales from 1e-3 to 1e37', () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: -1, max: 1, noNaN: true, noDefaultInfinity: true }), { minLength: 2, maxLength: 9 }),
        fc.integer({ min: -3, max: 37 }),
        (base, e) => {
          const row = base.map((x) => Math.fround(x * 10 ** e));
          const want = reference([row]);
          // Centring cancels: float32 rounding of the mean (≈ n ulps of max|x|) is amplified by max|x| / std,
          // so rows of near-equal values (e.g. [-9997.3, -9994.3]) are ill-conditioned in any float32 layerNorm.
          const maxAbs = Math.max(...row.map(Math.abs));
          const mu = row.reduce((a, b) => a + b, 0) / row.length;
          const std = Math.sqrt(row.reduce((a, b) => a + (b - mu) ** 2, 0) / row.length + 1e-5);
          const conditioning = maxAbs / std;
          close(layerNorm(tensor([row], { dtype: 'float32' })), want, 2e-4 + 4 * row.length * 2 ** -24 * conditioning);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rows within [-1, 1] give the same bits as the plain formula (the scaling is then exactly 1)', () => {
    const x = tensor(
      [
        [0.5, -1, 0.25, 0.75],
        [0, 0.1, -0.2, 0.3],
      ],
      { dtype: 'float32' },
    );
    const mu = x.mean(-1, true);
    const c = x.sub(mu);
    const plain = c.div(c.mul(c).mean(-1, true).add(1e-5).sqrt());
    expect(Array.from(layerNorm(x).toTypedArray())).toEqual(Array.from(plain.toTypedArray()));
  });

  it('gradients: finite differences in float64 with rows far outside [-1, 1], weight and bias', () => {
    const x = tensor(
      [
        [300, -120, 55, 800, -4],
        [0.2, 0.1, -0.3, 0.05, 0.4],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    const w = tensor([1.5, -0.5, 2, 1, 0.25], { dtype: 'float64', requiresGrad: true });
    const b = tensor([0.1, 0, -0.2, 0.3, 0], { dtype: 'float64', requiresGrad: true });
    const r = gradCheck(
      (a, ww, bb) =>
        layerNorm(a, 1, ww, bb)
          .mul(tensor([[1, 2, 3, 4, 5]], { dtype: 'float64' }))
          .sum(),
      [x, w, b],
      { throwOnFail: false },
    );
    expect(r.message).toBe(r.ok ? r.message : 'ok');
    expect(r.ok).toBe(true);
  });

  it('gradients at 1e30 in float32 equal the float64 gradients (no overflow in backward either)', () => {
    const row = [1e30, -2e30, 5e29, 3e30];
    const grads = (dtype: 'float32' | 'float64') => {
      const x = tensor([row], { dtype, requiresGrad: true });
      layerNorm(x)
        .mul(tensor([[1, -2, 3, 0.5]], { dtype }))
        .sum()
        .backward();
      return Array.from((x.grad as Tensor).toTypedArray());
    };
    const g32 = grads('float32');
    const g64 = grads('float64');
    expect(g64.every((g) => Number.isFinite(g) && g !== 0)).toBe(true);
    g32.forEach((g, i) => expect(Math.abs(g - g64[i]!)).toBeLessThanOrEqual(1e-4 * Math.abs(g64[i]!)));
  });
});
