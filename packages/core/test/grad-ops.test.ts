import { describe, it } from 'vitest';
import fc from 'fast-check';
import * as core from '@myriad/core';
import { Rng, tensor } from '@myriad/core';
import { arbMatmulShapes, arbShape, arbTensor, arbValues, gradCheck } from '@myriad/core/testing';

// Gradient checks for every non-elementwise differentiable op over random shapes and arguments.
const numRuns = 10;
const f64 = (shape: fc.Arbitrary<number[]> | number[], extra: Parameters<typeof arbTensor>[0] = {}) =>
  arbTensor({ shape, dtype: 'float64', ...extra });
const shape = arbShape({ minRank: 1, maxRank: 3, maxDim: 4 });
/** A float64 tensor and a dim index into it (negative dims included). */
const withDim = (extra: Parameters<typeof arbTensor>[0] = {}) =>
  f64(shape, extra).chain((x) => fc.tuple(fc.constant(x), fc.integer({ min: -x.ndim, max: x.ndim - 1 })));
/** A random subset of dims (as a sorted list). */
const withDims = (extra: Parameters<typeof arbTensor>[0] = {}) =>
  f64(shape, extra).chain((x) =>
    fc.tuple(
      fc.constant(x),
      fc.subarray(
        x.shape.map((_, i) => i),
        { minLength: 1 },
      ),
      fc.boolean(),
    ),
  );
const check = <T>(arb: fc.Arbitrary<T>, body: (v: T) => void, runs = numRuns) => fc.assert(fc.property(arb, body), { numRuns: runs });

describe('gradCheck: reductions', () => {
  it('sum over all dims, one dim, several dims, keepdim', () => {
    check(withDims(), ([x, dims, keep]) => {
      gradCheck((t) => t.sum(), [x]);
      gradCheck((t) => t.sum(dims, keep), [x]);
    });
  });
  it('sum, mean, max, min of a 0-d result and over no dims keep the graph behind them', () => {
    // They used to return their input itself when there was nothing to reduce, and record() then
    // replaced that tensor's grad node: loss.sum() or loss.mean() of a scalar loss cut its gradient.
    check(f64(shape), (x) => {
      for (const reduce of [core.sum, core.mean, core.max, core.min]) gradCheck((t) => reduce(core.mul(core.sum(t), 2)), [x]);
      gradCheck((t) => core.sum(core.mul(t, t), []), [x]);
      gradCheck((t) => core.sum(core.mul(t, t), [], true), [x]);
    });
  });
  it('cumsum along a random dim', () => check(withDim(), ([x, dim]) => void gradCheck((t) => t.cumsum(dim), [x])));
  it('cumsum equals a running sum by hand', () => {
    const x = tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      { dtype: 'float64' },
    );
    if (JSON.stringify(x.cumsum(1).toArray()) !== '[[1,3,6],[4,9,15]]')
      throw new Error(`cumsum dim 1: ${JSON.stringify(x.cumsum(1).toArray())}`);
    if (JSON.stringify(x.cumsum(0).toArray()) !== '[[1,2,3],[5,7,9]]')
      throw new Error(`cumsum dim 0: ${JSON.stringify(x.cumsum(0).toArray())}`);
  });
  it('mean over random dims', () => check(withDims(), ([x, dims, keep]) => void gradCheck((t) => t.mean(dims, keep), [x])));
  it('max and min over random dims (distinct values)', () =>
    check(withDims({ distinct: true }), ([x, dims, keep]) => {
      gradCheck((t) => t.max(dims, keep), [x]);
      gradCheck((t) => t.min(dims, keep), [x]);
      gradCheck((t) => t.max(), [x]);
    }));
  it('softmax and logSoftmax along a random dim', () =>
    check(withDim({ min: -3, max: 3 }), ([x, d]) => {
      gradCheck((t) => core.softmax(t, d), [x]);
      gradCheck((t) => core.logSoftmax(t, d), [x]);
    }));
  it('logsumexp over one or several dims', () =>
    check(withDims({ min: -3, max: 3 }), ([x, dims, keep]) => {
      gradCheck((t) => core.logsumexp(t, dims, keep), [x]);
      gradCheck((t) => core.logsumexp(t, -1), [x]);
    }));
});

describe('gradCheck: matmul', () => {
  it('batched, broadcast batch dims, 1-d operands', () =>
    check(
      arbMatmulShapes({ maxDim: 4 }).chain(([sa, sb]) => fc.tuple(f64(sa), f64(sb))),
      ([a, b]) => void gradCheck(core.matmul, [a, b]),
    ));
  it('transposed (strided) inputs: A·B, Aᵀ·B, A·Bᵀ, Aᵀ·Bᵀ', () =>
    check(
      fc
        .record({
          m: fc.integer({ min: 1, max: 5 }),
          k: fc.integer({ min: 1, max: 5 }),
          n: fc.integer({ min: 1, max: 5 }),
          ta: fc.boolean(),
          tb: fc.boolean(),
          batch: fc.constantFrom([], [2]),
        })
        .chain(({ m, k, n, ta, tb, batch }) =>
          fc.tuple(
            f64([...batch, ...(ta ? [k, m] : [m, k])]),
            f64([...batch, ...(tb ? [n, k] : [k, n])]),
            fc.constant(ta),
            fc.constant(tb),
          ),
        ),
      ([a, b, ta, tb]) => void gradCheck((x, y) => core.matmul(ta ? x.transpose() : x, tb ? y.transpose() : y), [a, b]),
    ));
});

describe('gradCheck: movement ops', () => {
  it('reshape (of contiguous and of transposed input) and flatten', () =>
    check(f64(arbShape({ minRank: 2, maxRank: 3, maxDim: 4 })), (x) => {
      gradCheck((t) => t.reshape([-1]), [x]);
      gradCheck((t) => t.transpose(0, -1).reshape([x.shape[x.ndim - 1]!, -1]), [x]);
      gradCheck((t) => t.flatten(1), [x]);
    }));
  it('transpose and permute', () =>
    check(
      f64(shape).chain((x) =>
        fc.tuple(
          fc.constant(x),
          fc.shuffledSubarray(
            x.shape.map((_, i) => i),
            { minLength: x.ndim, maxLength: x.ndim },
          ),
        ),
      ),
      ([x, perm]) => {
        gradCheck(
          (t) =>
            t.permute(perm).mul(
              tensor(
                Array.from({ length: t.size }, (_, i) => i + 1),
                { shape: perm.map((p) => x.shape[p]!), dtype: 'float64' },
              ),
            ),
          [x],
        );
        gradCheck((t) => t.transpose(0, -1).contiguous(), [x]);
      },
    ));
  it('expand of size-1 and new leading dims', () =>
    check(
      f64(arbShape({ minRank: 1, maxRank: 3, minDim: 1, maxDim: 1 })),
      (x) => void gradCheck((t) => t.expand([3, ...x.shape.map((_, i) => i + 2)]), [x]),
    ));
  it('concat and stack along a random dim', () =>
    check(
      withDim().chain(([x, d]) =>
        fc.tuple(fc.constant(x), fc.constant(d), f64(x.shape.map((v, i) => (i === (d + x.ndim) % x.ndim ? v + 1 : v))), f64([...x.shape])),
      ),
      ([x, d, y, z]) => {
        gradCheck((a, b) => core.concat([a, b, a], d), [x, y]);
        gradCheck((a, b) => core.stack([a, b], d), [x, z]);
      },
    ));
  it('slice with random (negative, clamped) bounds', () =>
    check(
      withDim().chain(([x, d]) =>
        fc.tuple(fc.constant(x), fc.constant(d), fc.integer({ min: -5, max: 5 }), fc.integer({ min: -5, max: 6 })),
      ),
      ([x, d, s, e]) => void gradCheck((t) => t.slice(d, s, e).mul(2), [x]),
    ));
  it('unsqueeze, squeeze', () =>
    check(f64(arbShape({ maxRank: 3, maxDim: 3 })), (x) => {
      gradCheck((t) => t.unsqueeze(0).unsqueeze(-1), [x]);
      gradCheck((t) => t.unsqueeze(0).squeeze(), [x]);
      gradCheck((t) => t.unsqueeze(0).squeeze(0), [x]);
    }));
  it('clone and contiguous of a strided view', () =>
    check(
      f64(arbShape({ minRank: 2, maxRank: 3, maxDim: 4 })),
      (x) => void gradCheck((t) => t.transpose().clone().mul(t.transpose().contiguous()), [x]),
    ));
});

/** An int32 index tensor of `shape` with entries in [0, n). */
const arbIndex = (shape: number[], n: number) =>
  arbValues(
    shape.reduce((a, b) => a * b, 1),
    { dtype: 'int32', min: 0, max: n - 1 },
  ).map((v) => tensor(v, { shape, dtype: 'int32' }));

describe('gradCheck: indexing ops', () => {
  it('gather along a random dim (repeated indices accumulate)', () =>
    check(
      withDim().chain(([x, d]) => {
        const dd = (d + x.ndim) % x.ndim;
        return fc.integer({ min: 1, max: 4 }).chain((m) =>
          fc.tuple(
            fc.constant(x),
            fc.constant(d),
            arbIndex(
              x.shape.map((v, i) => (i === dd ? m : v)),
              x.shape[dd]!,
            ),
          ),
        );
      }),
      ([x, d, idx]) => void gradCheck((t) => core.gather(t, d, idx), [x, idx]),
    ));
  it('indexSelect dim 0 (SparseGrad, any-shaped indices) and dim 1 (dense)', () =>
    check(
      f64(arbShape({ minRank: 2, maxRank: 3, maxDim: 4 })).chain((x) =>
        fc.tuple(
          fc.constant(x),
          arbShape({ minRank: 1, maxRank: 2, maxDim: 4 }).chain((s) => arbIndex(s, x.shape[0]!)),
          fc.integer({ min: 1, max: 5 }).chain((n) => arbIndex([n], x.shape[1]!)),
        ),
      ),
      ([x, rows, cols]) => {
        gradCheck((t) => core.indexSelect(t, 0, rows), [x, rows]);
        gradCheck((t) => core.indexSelect(t, 1, cols), [x, cols]);
        gradCheck(
          (t) =>
            core
              .indexSelect(t, 0, rows)
              .sum()
              .add(core.indexSelect(t, 0, rows).square().sum()),
          [x, rows],
        ); // two sparse grads accumulate
      },
    ));
  it('scatterAdd: gradients for x and src', () =>
    check(
      withDim().chain(([x, d]) => {
        const dd = (d + x.ndim) % x.ndim;
        return fc.integer({ min: 1, max: 4 }).chain((m) => {
          const s = x.shape.map((v, i) => (i === dd ? m : v));
          return fc.tuple(fc.constant(x), fc.constant(d), arbIndex(s, x.shape[dd]!), f64(s));
        });
      }),
      ([x, d, idx, src]) => void gradCheck((t, u) => core.scatterAdd(t, d, idx, u).square(), [x, idx, src]),
    ));
  it('topk values (distinct inputs) along a random dim', () =>
    check(
      withDim({ distinct: true }).chain(([x, d]) =>
        fc.tuple(fc.constant(x), fc.constant(d), fc.integer({ min: 0, max: x.shape[(d + x.ndim) % x.ndim]! })),
      ),
      ([x, d, k]) => void gradCheck((t) => core.topk(t, k, d).values, [x]),
    ));
  it('where with broadcast condition and operands; maskedFill', () =>
    check(
      f64(shape).chain((x) => fc.tuple(fc.constant(x), f64(x.shape.slice(1)), arbIndex([...x.shape.slice(0, -1), 1], 2))),
      ([x, y, mask]) => {
        gradCheck((a, b) => core.where(mask, a, b), [x, y]);
        gradCheck((a) => core.where(mask, 2, a), [x]);
        gradCheck((a) => core.maskedFill(a, mask, -1), [x]);
      },
    ));
});

describe('gradCheck: nn ops', () => {
  const ceArb = fc
    .record({
      lead: arbShape({ minRank: 1, maxRank: 2, maxDim: 4 }),
      c: fc.integer({ min: 2, max: 5 }),
      smoothing: fc.constantFrom(0, 0.1, 0.3),
      reduction: fc.constantFrom('mean', 'sum', 'none') as fc.Arbitrary<'mean' | 'sum' | 'none'>,
    })
    .chain(({ lead, c, smoothing, reduction }) =>
      fc.tuple(
        f64([...lead, c], { min: -3, max: 3 }),
        arbValues(
          lead.reduce((a, b) => a * b, 1),
          { dtype: 'int32', min: -1, max: c - 1 },
        ).map((v) =>
          tensor(
            v.map((t) => (t < 0 ? -100 : t)),
            { shape: lead, dtype: 'int32' },
          ),
        ),
        fc.constant(smoothing),
        fc.constant(reduction),
      ),
    );
  it('crossEntropy (ignoreIndex, label smoothing, every reduction)', () =>
    check(ceArb, ([logits, targets, labelSmoothing, reduction]) => {
      gradCheck((l) => core.crossEntropy(l, targets, { ignoreIndex: -100, labelSmoothing, reduction }), [logits, targets]);
    }));
  it('layerNorm over 1 or 2 dims, with and without weight and bias', () =>
    check(
      f64(arbShape({ minRank: 2, maxRank: 3, minDim: 2, maxDim: 4 }), { min: -2, max: 2 }).chain((x) =>
        fc
          .integer({ min: 1, max: 2 })
          .chain((nd) => fc.tuple(fc.constant(x), fc.constant(nd), f64(x.shape.slice(-nd)), f64(x.shape.slice(-nd)))),
      ),
      ([x, nd, w, b]) => {
        gradCheck((t) => core.layerNorm(t, nd), [x], { atol: 1e-4 });
        gradCheck((t, g, h) => core.layerNorm(t, nd, g, h), [x, w, b], { atol: 1e-4 });
      },
    ));
  it('dropout with a fixed rng (the same mask on every evaluation)', () =>
    check(
      fc.tuple(f64(shape), fc.nat(), fc.constantFrom(0.1, 0.5)),
      ([x, seed, p]) => void gradCheck((t) => core.dropout(t, p, { rng: new Rng(seed) }), [x]),
    ));
});
