// Laws over random sizes and seeds (fast-check, modest run counts).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randn, randint } from '@myriad/core';
import { BatchNorm1d, CausalSelfAttention, Linear, TransformerLM } from '@myriad/nn';
import { referenceAttention, referenceLinear } from './helpers/reference.js';

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

describe('layer laws', () => {
  it('Linear equals the loop reference for any leading shape', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        fc.nat(1000),
        (lead, inF, outF, bias, seed) => {
          const lin = new Linear(inF, outF, { bias, seed, dtype: 'float64' });
          const x = randn([...lead, inF], { seed: seed + 1, dtype: 'float64' });
          const y = lin.forward(x);
          expect(y.shape).toEqual([...lead, outF]);
          expect(maxDiff(y.toTypedArray(), referenceLinear(lin, x))).toBeLessThan(1e-12);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('CausalSelfAttention equals the loop reference for any batch, length and head split', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.nat(1000),
        (B, T, H, hd, seed) => {
          const attn = new CausalSelfAttention({ dim: H * hd, heads: H, seed, dtype: 'float64' });
          const x = randn([B, T, H * hd], { seed: seed + 1, dtype: 'float64' });
          expect(maxDiff(attn.forward(x).toTypedArray(), referenceAttention(attn, x))).toBeLessThan(1e-12);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('BatchNorm1d in training gives each feature mean 0 and biased variance v/(v + eps) before the affine map', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.nat(1000),
        (rows, extra, d, seed) => {
          const bn = new BatchNorm1d(d, { dtype: 'float64', affine: false });
          const x = randn([rows, extra, d], { seed, dtype: 'float64' }).mul(3).add(1);
          const y = bn.forward(x).reshape([-1, d]);
          const mu = y.mean(0).toTypedArray();
          const xf = x.reshape([-1, d]);
          const vx = xf.sub(xf.mean(0)).square().mean(0).toTypedArray();
          const vy = y.square().mean(0).toTypedArray();
          for (let j = 0; j < d; j++) {
            expect(Math.abs(mu[j]!)).toBeLessThan(1e-12);
            expect(Math.abs(vy[j]! - vx[j]! / (vx[j]! + 1e-5))).toBeLessThan(1e-9);
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it('loadStateDict(a.stateDict()) makes any differently seeded model compute the same logits', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.nat(1000), fc.boolean(), (sa, sb, tieWeights) => {
        const config = { vocabSize: 7, dim: 4, depth: 1, heads: 2, contextLength: 5, tieWeights };
        const a = new TransformerLM({ ...config, seed: sa });
        const b = new TransformerLM({ ...config, seed: sb });
        b.loadStateDict(a.stateDict());
        const ids = randint(0, 7, [2, 5], { seed: sa + sb });
        expect(Array.from(b.forward(ids).toTypedArray())).toEqual(Array.from(a.forward(ids).toTypedArray()));
      }),
      { numRuns: 15 },
    );
  });
});
