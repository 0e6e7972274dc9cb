// embeddingBag and its adjoint rowDots: the fused CPU loops, and the path other backends take (their
// embeddingBag / rowDots kernels, run here on a host-less copy of the CPU backend), equal the composed
// ops (indexSelect + batched matmul) in value and in every gradient, over random shapes including S = 1,
// every row read once, and rows repeated across tokens; float32 and float64; plus gradient checks and
// the errors a user meets.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { embeddingBag, rowDots, SparseGrad, tensor, type DType } from '../src/index.js';
import { embeddingBagComposed, embeddingBagFused, rowDotsComposed } from '../src/ops/embedding-bag.js';
import { gradCheck } from '../src/testing/index.js';
import { deviceLike, onDeviceLike } from './helpers/device-like.js';
import { expectClose } from './helpers/expect-close.js';

interface Case {
  T: number;
  S: number;
  N: number;
  D: number;
  idx: number[];
  values: number[];
}

// S = 1, S = N (every row, in a random order per token), or anything between; rows repeat across tokens
// (small N makes that common) and within a token.
const cases: fc.Arbitrary<Case> = fc
  .record({
    T: fc.integer({ min: 1, max: 6 }),
    N: fc.integer({ min: 1, max: 11 }),
    D: fc.integer({ min: 1, max: 13 }),
    kind: fc.constantFrom('one', 'all', 'some'),
  })
  .chain(({ T, N, D, kind }) => {
    const sArb = kind === 'one' ? fc.constant(1) : kind === 'all' ? fc.constant(N) : fc.integer({ min: 1, max: 2 * N });
    return sArb.chain((S) => {
      const slot =
        kind === 'all'
          ? fc.shuffledSubarray([...Array(N).keys()], { minLength: N, maxLength: N })
          : fc.array(fc.nat(N - 1), { minLength: S, maxLength: S });
      const n = N * D + T * S + T * D;
      return fc.record({
        T: fc.constant(T),
        S: fc.constant(S),
        N: fc.constant(N),
        D: fc.constant(D),
        idx: fc.array(slot, { minLength: T, maxLength: T }).map((rows) => rows.flat()),
        values: fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: n, maxLength: n }),
      });
    });
  });

function inputs(c: Case, dtype: DType) {
  const table = tensor(c.values.slice(0, c.N * c.D), { shape: [c.N, c.D], dtype, requiresGrad: true });
  const weights = tensor(c.values.slice(c.N * c.D, c.N * c.D + c.T * c.S), { shape: [c.T, c.S], dtype, requiresGrad: true });
  const x = tensor(c.values.slice(c.N * c.D + c.T * c.S), { shape: [c.T, c.D], dtype, requiresGrad: true });
  const indices = tensor(c.idx, { shape: [c.T, c.S], dtype: 'int32' });
  return { table, weights, x, indices };
}

/** sum(y · w) for a fixed w, so every output element gets its own gradient. */
function backwardWeighted(y: ReturnType<typeof tensor>, dtype: DType): void {
  const w = tensor(
    Array.from({ length: y.size }, (_, i) => Math.sin(i + 1)),
    { shape: y.shape, dtype },
  );
  y.mul(w).sum().backward();
}

/** y and the gradients of sum(y · w) for a fixed w. */
function run(bag: typeof embeddingBag, c: Case, dtype: DType) {
  const { table, weights, indices } = inputs(c, dtype);
  const y = bag(table, indices, weights);
  backwardWeighted(y, dtype);
  return { y, table, weights };
}

/** rowDots' z and the gradients of sum(z · w) for a fixed w. */
function runDots(dots: typeof rowDots, c: Case, dtype: DType) {
  const { table, x, indices } = inputs(c, dtype);
  const z = dots(table, indices, x);
  backwardWeighted(z, dtype);
  return { z, table, x };
}

describe('embeddingBag (fused CPU loop) against the composed ops', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    const tol = dtype === 'float64' ? 1e-12 : 2e-5;
    it(`${dtype}: output and the gradients of the table and the weights agree`, () => {
      fc.assert(
        fc.property(cases, (c) => {
          const f = run(embeddingBagFused, c, dtype);
          const r = run(embeddingBagComposed, c, dtype);
          expectClose(f.y, r.y, tol, 'y');
          expectClose(f.weights.denseGrad(), r.weights.denseGrad(), tol, 'dweights');
          expectClose(f.table.denseGrad(), r.table.denseGrad(), tol, 'dtable');
          // The table's gradient is row-sparse, one row per distinct index, ascending.
          const g = f.table.grad as SparseGrad;
          expect(g).toBeInstanceOf(SparseGrad);
          expect(g.coalesced).toBe(true);
          expect(Array.from(g.indices.toTypedArray())).toEqual([...new Set(c.idx)].sort((a, b) => a - b));
        }),
        { numRuns: 150 },
      );
    });
  }

  it('passes a float64 gradient check for the table and the weights', () => {
    fc.assert(
      fc.property(cases, (c) => {
        const { table, weights, indices } = inputs(c, 'float64');
        gradCheck((V, W) => embeddingBagFused(V!, indices, W!), [table, weights]);
      }),
      { numRuns: 40 },
    );
  });

  it('takes the fused loop on the CPU backend and skips the work of inputs that need no gradient', () => {
    const table = tensor([[1, 2], [3, 4], [5, 6]], { requiresGrad: true }); // prettier-ignore
    const weights = tensor([
      [0.5, 2],
      [1, -1],
    ]);
    const y = embeddingBag(
      table,
      tensor(
        [
          [2, 0],
          [1, 1],
        ],
        { dtype: 'int32' },
      ),
      weights,
    );
    expect(y.gradNode?.op).toBe('embeddingBag');
    expect(Array.from(y.toTypedArray())).toEqual([4.5, 7, 0, 0]);
    y.sum().backward();
    expect(weights.grad).toBeNull();
    const g = table.grad as SparseGrad;
    expect(Array.from(g.indices.toTypedArray())).toEqual([0, 1, 2]);
    expect(Array.from(g.values.toTypedArray())).toEqual([2, 2, 0, 0, 0.5, 0.5]);
  });

  it('names the op, the shapes or the index for bad input', () => {
    const table = tensor([[1, 2], [3, 4]]); // prettier-ignore
    expect(() => embeddingBag(table, tensor([[2]], { dtype: 'int32' }), tensor([[1]]))).toThrow(
      'embeddingBag: index 2 at slot 0 out of range for tables of 2 rows',
    );
    expect(() => embeddingBag(table, tensor([[0, 1]], { dtype: 'int32' }), tensor([[1]]))).toThrow(
      'embeddingBag: expected table [N, D], indices [T, S] and weights [T, S]; got table [2,2], indices [1,2], weights [1,1]',
    );
    expect(() => embeddingBag(table, tensor([[0]]), tensor([[1]]))).toThrow('embeddingBag: indices must be int32, got float32 [1,1]');
    expect(() => embeddingBag(table, tensor([[0]], { dtype: 'int32' }), tensor([[1]], { dtype: 'float64' }))).toThrow(
      'embeddingBag: weights are float64 but the table is float32; cast one of them',
    );
  });
});

describe('rowDots (fused CPU loop) against the composed ops', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    const tol = dtype === 'float64' ? 1e-12 : 2e-5;
    it(`${dtype}: output and the gradients of the table and x agree`, () => {
      fc.assert(
        fc.property(cases, (c) => {
          const f = runDots(rowDots, c, dtype);
          const r = runDots(rowDotsComposed, c, dtype);
          expectClose(f.z, r.z, tol, 'z');
          expectClose(f.x.denseGrad(), r.x.denseGrad(), tol, 'dx');
          expectClose(f.table.denseGrad(), r.table.denseGrad(), tol, 'dtable');
          const g = f.table.grad as SparseGrad;
          expect(g.coalesced).toBe(true);
          expect(Array.from(g.indices.toTypedArray())).toEqual([...new Set(c.idx)].sort((a, b) => a - b));
        }),
        { numRuns: 100 },
      );
    });
  }

  it('passes a float64 gradient check for the table and x', () => {
    fc.assert(
      fc.property(cases, (c) => {
        const { table, x, indices } = inputs(c, 'float64');
        gradCheck((V, X) => rowDots(V!, indices, X!), [table, x]);
      }),
      { numRuns: 40 },
    );
  });

  it('names the op, the shapes or the index for bad input', () => {
    const table = tensor([[1, 2], [3, 4]]); // prettier-ignore
    expect(() => rowDots(table, tensor([[2]], { dtype: 'int32' }), tensor([[1, 1]]))).toThrow(
      'rowDots: index 2 at slot 0 out of range for tables of 2 rows',
    );
    expect(() => rowDots(table, tensor([[0, 1]], { dtype: 'int32' }), tensor([[1, 1, 1]]))).toThrow(
      'rowDots: expected table [N, D], indices [T, S] and x [T, D]; got table [2,2], indices [1,2], x [1,3]',
    );
    expect(() => rowDots(table, tensor([[0]], { dtype: 'int32' }), tensor([[1, 1]], { dtype: 'float64' }))).toThrow(
      'rowDots: x is float64 but the table is float32; cast one of them',
    );
  });
});

describe("embeddingBag and rowDots on a device backend's kernels against the composed ops", () => {
  for (const dtype of ['float64', 'float32'] as const) {
    const tol = dtype === 'float64' ? 1e-12 : 2e-5;
    it(`${dtype}: outputs and every gradient agree; the tables' gradients are one row per slot`, () => {
      fc.assert(
        fc.property(cases, (c) => {
          const bag = onDeviceLike(() => run(embeddingBag, c, dtype));
          const dots = onDeviceLike(() => runDots(rowDots, c, dtype));
          expect(bag.y.backend).toBe(deviceLike);
          expect(bag.y.gradNode?.op).toBe('embeddingBag');
          expect(dots.z.gradNode?.op).toBe('rowDots');
          const rb = run(embeddingBagComposed, c, dtype);
          const rd = runDots(rowDotsComposed, c, dtype);
          expectClose(bag.y, rb.y, tol, 'y');
          expectClose(bag.weights.denseGrad(), rb.weights.denseGrad(), tol, 'dweights');
          expectClose(bag.table.denseGrad(), rb.table.denseGrad(), tol, 'dtable (embeddingBag)');
          expectClose(dots.z, rd.z, tol, 'z');
          expectClose(dots.x.denseGrad(), rd.x.denseGrad(), tol, 'dx');
          expectClose(dots.table.denseGrad(), rd.table.denseGrad(), tol, 'dtable (rowDots)');
          for (const g of [bag.table.grad, dots.table.grad] as SparseGrad[]) {
            expect(g.nnz).toBe(c.T * c.S);
            expect(Array.from(g.indices.toTypedArray())).toEqual(c.idx);
          }
        }),
        { numRuns: 100 },
      );
    });
  }

  it('passes float64 gradient checks', () => {
    fc.assert(
      fc.property(cases, (c) => {
        onDeviceLike(() => {
          const { table, weights, x, indices } = inputs(c, 'float64');
          gradCheck((V, W) => embeddingBag(V!, indices, W!), [table, weights]);
          gradCheck((V, X) => rowDots(V!, indices, X!), [table, x]);
        });
      }),
      { numRuns: 30 },
    );
  });
});
