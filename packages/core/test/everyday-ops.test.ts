import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as core from '@myriad/core';
import { tensor, type NestedArray, type Tensor } from '@myriad/core';
import { arbShape, arbTensor, installMatchers } from '@myriad/core/testing';

// Properties (laws against plain-JavaScript references) of the everyday ops; their gradients are
// checked in grad-everyday.test.ts.
installMatchers(expect);
const numRuns = 30;
const shape = arbShape({ minRank: 1, maxRank: 3, maxDim: 5 });
const flat = (t: Tensor): number[] => Array.from(t.toTypedArray());
/** Rows of the last dim after moving `dim` last: one list of numbers per row. */
const rowsAlong = (t: Tensor, dim: number): number[][] => {
  const moved = t.transpose(dim, -1).contiguous();
  const n = moved.shape[moved.ndim - 1]!;
  const v = flat(moved);
  return Array.from({ length: n === 0 ? 0 : v.length / n }, (_, r) => v.slice(r * n, r * n + n));
};

describe('sin, cos', () => {
  it('match Math.sin / Math.cos and satisfy sin² + cos² = 1', () => {
    fc.assert(
      fc.property(arbTensor({ shape, dtype: 'float64', min: -10, max: 10 }), (x) => {
        expect(flat(core.sin(x))).toEqual(flat(x).map(Math.sin));
        expect(flat(x.cos())).toEqual(flat(x).map(Math.cos));
        expect(x.sin().square().add(x.cos().square())).toBeAllClose(core.onesLike(x), { atol: 1e-12 });
      }),
      { numRuns },
    );
  });
  it('cast int32 input to float32', () => {
    expect(core.sin(tensor([0, 1], { dtype: 'int32' })).dtype).toBe('float32');
  });
});

describe('sign', () => {
  it('is −1, 0 or 1 by the sign of x, with sign(±0) = sign(NaN) = 0 (as torch.sign), on every dtype', () => {
    fc.assert(
      fc.property(arbTensor({ shape, dtype: 'float64', min: -3, max: 3 }), (x) => {
        const xs = flat(x);
        expect(flat(core.sign(x))).toEqual(xs.map((v) => (v > 0 ? 1 : v < 0 ? -1 : 0)));
        expect(core.sign(x).dtype).toBe('float64');
        // |x|·sign(x) = x
        expect(flat(core.mul(core.abs(x), core.sign(x)))).toEqual(xs.map((v) => (v === 0 ? 0 : v)));
      }),
      { numRuns },
    );
    const special = tensor([NaN, -0, 0, -2.5, 3, Infinity, -Infinity]);
    expect(flat(core.sign(special))).toEqual([0, 0, 0, -1, 1, 1, -1]);
    expect(flat(core.sign(tensor([-7, 0, 4], { dtype: 'int32' })))).toEqual([-1, 0, 1]);
    expect(core.sign(tensor([-7, 0, 4], { dtype: 'int32' })).dtype).toBe('int32');
  });
});

describe('var, std', () => {
  it('equal the two-pass reference along a dim, biased and unbiased; std² = var; shift-invariant', () => {
    const arb = fc.tuple(
      arbTensor({ shape: arbShape({ minRank: 1, maxRank: 3, minDim: 2, maxDim: 5 }), dtype: 'float64', min: -3, max: 3 }),
      fc.nat(),
      fc.boolean(),
    );
    fc.assert(
      fc.property(arb, ([x, k, unbiased]) => {
        const dim = k % x.ndim;
        const ref = rowsAlong(x, dim).map((r) => {
          const m = r.reduce((a, b) => a + b, 0) / r.length;
          return r.reduce((a, b) => a + (b - m) ** 2, 0) / (r.length - (unbiased ? 1 : 0));
        });
        const v = x.var(dim, { unbiased });
        // keepdim + the same transpose as rowsAlong puts the results in the reference's row order.
        expect(flat(x.var(dim, { unbiased, keepdim: true }).transpose(dim, -1).contiguous())).toBeAllClose(ref, { atol: 1e-12 });
        expect(x.std(dim, { unbiased }).square()).toBeAllClose(v, { atol: 1e-12 });
        expect(x.add(7).var(dim, { unbiased })).toBeAllClose(v, { atol: 1e-9 });
        expect(x.var(dim, { keepdim: true }).shape).toEqual(x.shape.map((d, i) => (i === dim ? 1 : d)));
      }),
      { numRuns },
    );
  });
  it('default to unbiased over all elements, like torch.var', () => {
    expect(tensor([1, 2, 3, 4]).var().item()).toBeCloseTo(5 / 3, 6);
    expect(tensor([1, 2, 3, 4]).std(undefined, { unbiased: false }).item()).toBeCloseTo(Math.sqrt(1.25), 6);
  });
});

describe('sort, argsort', () => {
  it('sort stably along any dim, ascending and descending; argsort = sort().indices', () => {
    // Few distinct integer values: many ties, so stability is exercised.
    const arb = fc.tuple(arbTensor({ shape, dtype: 'int32', min: -2, max: 2 }), fc.nat(), fc.boolean(), fc.boolean());
    fc.assert(
      fc.property(arb, ([x0, k, descending, asFloat]) => {
        const x = asFloat ? x0.to('float32') : x0;
        const dim = k % x.ndim;
        const { values, indices } = core.sort(x, dim, descending);
        expect(indices.dtype).toBe('int32');
        const rows = rowsAlong(x, dim);
        const vRows = rowsAlong(values, dim);
        const iRows = rowsAlong(indices, dim);
        rows.forEach((row, r) => {
          // The reference: a stable sort of positions by value (Array.prototype.sort is stable).
          const order = row.map((_, i) => i).sort((a, b) => (descending ? row[b]! - row[a]! : row[a]! - row[b]!));
          expect(iRows[r]).toEqual(order);
          expect(vRows[r]).toEqual(order.map((i) => row[i]!));
        });
        expect(flat(x.argsort(dim, descending))).toEqual(flat(indices));
        expect(core.gather(x, dim, indices)).toBeAllClose(values);
      }),
      { numRuns },
    );
  });
  it('sort a scalar to itself', () => {
    const { values, indices } = core.sort(tensor(3));
    expect([values.item(), indices.item(), values.shape]).toEqual([3, 0, []]);
  });
});

describe('tril, triu', () => {
  it('keep col − row ≤ k (tril) / ≥ k (triu); tril(k) + triu(k + 1) = x', () => {
    const arb = fc.tuple(
      arbTensor({ shape: arbShape({ minRank: 2, maxRank: 4, maxDim: 5 }), dtype: 'int32' }),
      fc.integer({ min: -5, max: 5 }),
    );
    fc.assert(
      fc.property(arb, ([x, k]) => {
        const [rows, cols] = x.shape.slice(-2) as [number, number];
        const lower = flat(core.tril(x, k));
        const upper = flat(x.triu(k));
        flat(x).forEach((v, i) => {
          const c = i % cols;
          const r = Math.floor(i / cols) % rows;
          expect(lower[i]).toBe(c - r <= k ? v : 0);
          expect(upper[i]).toBe(c - r >= k ? v : 0);
        });
        expect(flat(core.tril(x, k).add(core.triu(x, k + 1)))).toEqual(flat(x));
        expect(core.tril(x, k).dtype).toBe('int32');
      }),
      { numRuns },
    );
  });
});

describe('oneHot', () => {
  it('has one 1 per position, at the index (argmax round trip)', () => {
    const arb = fc
      .integer({ min: 1, max: 6 })
      .chain((n) =>
        fc.tuple(fc.constant(n), arbTensor({ shape: arbShape({ maxRank: 3, maxDim: 4 }), dtype: 'int32', min: 0, max: n - 1 })),
      );
    fc.assert(
      fc.property(arb, ([n, idx]) => {
        const h = core.oneHot(idx, n);
        expect(h.shape).toEqual([...idx.shape, n]);
        expect(h.dtype).toBe('int32');
        expect(flat(h.sum(-1))).toEqual(flat(idx).map(() => 1));
        expect(flat(h.argmax(-1))).toEqual(flat(idx));
      }),
      { numRuns },
    );
  });
  it('infers numClasses as max + 1', () => {
    expect(core.oneHot(tensor([2, 0], { dtype: 'int32' })).toArray()).toEqual([
      [0, 0, 1],
      [1, 0, 0],
    ]);
  });
});

describe('arange, linspace', () => {
  it('linspace hits both ends exactly, with steps values, evenly spaced', () => {
    const arb = fc.tuple(
      fc.double({ min: -100, max: 100, noNaN: true }),
      fc.double({ min: -100, max: 100, noNaN: true }),
      fc.integer({ min: 2, max: 50 }),
    );
    fc.assert(
      fc.property(arb, ([a, b, n]) => {
        const v = flat(core.linspace(a, b, n, { dtype: 'float64' }));
        expect([v.length, v[0], v[n - 1]]).toEqual([n, a, b]);
        v.forEach((x, i) =>
          expect(Math.abs(x - (a + ((b - a) * i) / (n - 1)))).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(a) + Math.abs(b))),
        );
      }),
      { numRuns },
    );
    expect(core.linspace(3, 5, 1).toArray()).toEqual([3]);
    expect(core.linspace(3, 5, 0).shape).toEqual([0]);
  });
  it('arange counts like Python range', () => {
    fc.assert(
      fc.property(fc.integer({ min: -20, max: 20 }), fc.integer({ min: -20, max: 20 }), fc.integer({ min: 1, max: 5 }), (a, b, s) => {
        const ref: number[] = [];
        for (let v = a; v < b; v += s) ref.push(v);
        expect(flat(core.arange(a, b, s))).toEqual(ref);
      }),
      { numRuns },
    );
  });
});

describe('cat, stack, split, chunk', () => {
  it('cat(split(x)) = x and the pieces have the requested sizes; chunk gives ⌈n/chunks⌉-sized views', () => {
    const arb = fc.tuple(
      arbTensor({ shape: arbShape({ minRank: 1, maxRank: 3, maxDim: 7 }), dtype: 'int32' }),
      fc.nat(),
      fc.integer({ min: 1, max: 8 }),
    );
    fc.assert(
      fc.property(arb, ([x, k, size]) => {
        const dim = k % x.ndim;
        const n = x.shape[dim]!;
        const pieces = core.split(x, size, dim);
        expect(pieces.map((p) => p.shape[dim])).toEqual(
          Array.from({ length: Math.ceil(n / size) }, (_, i) => Math.min(size, n - i * size)),
        );
        expect(flat(core.cat(pieces, dim))).toEqual(flat(x));
        const chunks = x.chunk(size, dim);
        expect(chunks.length).toBeLessThanOrEqual(size);
        expect(chunks.every((c) => c.storage === x.storage)).toBe(true);
        expect(flat(core.cat(chunks, dim))).toEqual(flat(x));
        const sections = [Math.floor(n / 2), n - Math.floor(n / 2)];
        expect(x.split(sections, dim).map((p) => p.shape[dim])).toEqual(sections);
        expect(flat(core.stack(pieces.slice(0, 1), 0).squeeze(0))).toEqual(flat(pieces[0]!));
      }),
      { numRuns },
    );
  });
});

describe('losses', () => {
  const pair = shape.chain((s) =>
    fc.tuple(arbTensor({ shape: s, dtype: 'float64', min: -3, max: 3 }), arbTensor({ shape: s, dtype: 'float64', min: -3, max: 3 })),
  );
  it('mseLoss and l1Loss equal the mean / sum / elementwise references', () => {
    fc.assert(
      fc.property(pair, ([a, b]) => {
        const d = flat(a).map((v, i) => v - flat(b)[i]!);
        const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
        expect(core.mseLoss(a, b).item()).toBeCloseTo(mean(d.map((v) => v * v)), 10);
        expect(core.l1Loss(a, b, { reduction: 'sum' }).item()).toBeCloseTo(
          d.reduce((s, v) => s + Math.abs(v), 0),
          10,
        );
        expect(flat(core.mseLoss(a, b, { reduction: 'none' }))).toBeAllClose(
          d.map((v) => v * v),
          { atol: 1e-12 },
        );
      }),
      { numRuns },
    );
  });
  it('binaryCrossEntropyWithLogits equals binaryCrossEntropy(sigmoid(x)) and stays finite for huge logits', () => {
    const arb = shape.chain((s) =>
      fc.tuple(arbTensor({ shape: s, dtype: 'float64', min: -8, max: 8 }), arbTensor({ shape: s, dtype: 'float64', min: 0, max: 1 })),
    );
    fc.assert(
      fc.property(arb, ([x, y]) => {
        const ref = core.binaryCrossEntropy(x.sigmoid(), y, { reduction: 'none' });
        expect(core.binaryCrossEntropyWithLogits(x, y, { reduction: 'none' })).toBeAllClose(ref, { atol: 1e-9, rtol: 1e-7 });
        // posWeight 1 is no weighting.
        expect(core.binaryCrossEntropyWithLogits(x, y, { posWeight: 1 })).toBeAllClose(core.binaryCrossEntropyWithLogits(x, y), {
          atol: 1e-12,
        });
      }),
      { numRuns },
    );
    const loss = core.binaryCrossEntropyWithLogits(tensor([1000, -1000, 1000, 40]), tensor([0, 1, 1, 1]), { reduction: 'none' });
    expect(flat(loss)).toBeAllClose([1000, 1000, 0, Math.exp(-40)], { rtol: 1e-6, atol: 1e-7 });
    // p = 0 or 1 gives log(0) = −inf, clamped at −100 as PyTorch does.
    expect(flat(core.binaryCrossEntropy(tensor([0, 1]), tensor([1, 0]), { reduction: 'none' }))).toEqual([100, 100]);
  });
});

describe('PyTorch varargs forms', () => {
  it('x.reshape(2, 3), x.view(...), x.permute(2, 0, 1), x.expand(...) equal the array forms', () => {
    fc.assert(
      fc.property(arbTensor({ shape: arbShape({ minRank: 1, maxRank: 4, maxDim: 3 }), dtype: 'int32' }), (x) => {
        const rev = x.shape.map((_, i) => x.ndim - 1 - i);
        expect(x.permute(...rev).toArray()).toEqual(x.permute(rev).toArray());
        expect(x.reshape(...[...x.shape].reverse()).toArray()).toEqual(x.reshape([...x.shape].reverse()).toArray());
        expect(x.view(-1).shape).toEqual([x.size]);
        expect(x.expand(2, ...x.shape).shape).toEqual([2, ...x.shape]);
      }),
      { numRuns },
    );
  });
  it('x.where(cond, other) is torch.where(cond, x, other)', () => {
    const x = tensor([1, 2, 3]);
    expect(x.where(tensor([1, 0, 1]), -1).toArray()).toEqual([1, -1, 3]);
  });
});

describe('where and maskedFill with scalars', () => {
  it('where(cond, scalar, scalar) and where(cond, tensor, scalar) broadcast like torch.where', () => {
    const cond = tensor([
      [1, 0],
      [0, 1],
    ]);
    expect(core.where(cond, 1, 0).toArray()).toEqual([
      [1, 0],
      [0, 1],
    ]);
    expect(core.where(cond, tensor([5, 6]), 0).toArray()).toEqual([
      [5, 0],
      [0, 6],
    ]);
    expect(
      tensor([1, 2])
        .maskedFill(tensor([0, 1]), -Infinity)
        .toArray(),
    ).toEqual([1, -Infinity]);
  });
});

const nested = (t: Tensor): NestedArray => t.toArray();
void nested;
