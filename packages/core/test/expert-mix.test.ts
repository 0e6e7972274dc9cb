// expertMix: the fused CPU loop equals the composed ops (indexSelect + matmul + activation + mul +
// matmul) in value and in every gradient, over random shapes including k = 1, k = numKeys, experts
// repeated across tokens and heads sharing experts; float32 and float64; plus a gradient check. The
// same for the path other backends take (rowDots → activation → embeddingBag on their kernels), run on
// a host-less copy of the CPU backend.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expertMix, SparseGrad, tensor, type DType, type ExpertActivation } from '../src/index.js';
import { expertMixComposed, expertMixFused } from '../src/ops/expert-mix.js';
import { gradCheck } from '../src/testing/index.js';
import { onDeviceLike } from './helpers/device-like.js';
import { expectClose } from './helpers/expect-close.js';

interface Case {
  T: number;
  heads: number;
  k: number;
  N: number;
  D: number;
  Do: number;
  idx: number[];
  values: number[];
  act: ExpertActivation;
}

const ACTS: ExpertActivation[] = ['gelu', 'relu', 'silu', 'tanh'];

// k = 1, k = N (every expert, in a random order per head), or anything between; indices may repeat
// across tokens and heads (small N makes that common).
const cases: fc.Arbitrary<Case> = fc
  .record({
    T: fc.integer({ min: 1, max: 5 }),
    heads: fc.integer({ min: 1, max: 3 }),
    N: fc.integer({ min: 1, max: 7 }),
    D: fc.integer({ min: 1, max: 9 }),
    Do: fc.integer({ min: 1, max: 9 }),
    kind: fc.constantFrom('one', 'all', 'some'),
    act: fc.constantFrom(...ACTS),
  })
  .chain(({ T, heads, N, D, Do, kind, act }) => {
    const kArb = kind === 'one' ? fc.constant(1) : kind === 'all' ? fc.constant(N) : fc.integer({ min: 1, max: N });
    return kArb.chain((k) => {
      const slot =
        kind === 'all'
          ? fc.shuffledSubarray([...Array(N).keys()], { minLength: N, maxLength: N })
          : fc.array(fc.nat(N - 1), { minLength: k, maxLength: k });
      const n = T * (N * D + N * Do + T * D) + T * heads * k;
      return fc.record({
        T: fc.constant(T),
        heads: fc.constant(heads),
        k: fc.constant(k),
        N: fc.constant(N),
        D: fc.constant(D),
        Do: fc.constant(Do),
        idx: fc.array(slot, { minLength: T * heads, maxLength: T * heads }).map((rows) => rows.flat()),
        values: fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: n, maxLength: n }),
        act: fc.constant(act),
      });
    });
  });

function inputs(c: Case, dtype: DType) {
  const S = c.heads * c.k;
  let at = 0;
  const take = (n: number, shape: number[]) => {
    const t = tensor(c.values.slice(at, at + n), { shape, dtype, requiresGrad: true });
    at += n;
    return t;
  };
  const x = take(c.T * c.D, [c.T, c.D]);
  const down = take(c.N * c.D, [c.N, c.D]);
  const up = take(c.N * c.Do, [c.N, c.Do]);
  const gates = take(c.T * S, [c.T, S]);
  const indices = tensor(c.idx, { shape: [c.T, S], dtype: 'int32' });
  return { x, down, up, gates, indices };
}

type Mix = typeof expertMix;

/** y and the four gradients of sum(y · w) for a fixed w. */
function run(mix: Mix, c: Case, dtype: DType) {
  const { x, down, up, gates, indices } = inputs(c, dtype);
  const y = mix(x, down, up, indices, gates, c.act);
  const w = tensor(
    Array.from({ length: y.size }, (_, i) => Math.sin(i + 1)),
    { shape: y.shape, dtype },
  );
  y.mul(w).sum().backward();
  return { y, x, down, up, gates };
}

describe('expertMix (fused CPU loop) against the composed ops', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    const tol = dtype === 'float64' ? 1e-12 : 2e-5;
    it(`${dtype}: output and the gradients of x, gates, down and up agree`, () => {
      fc.assert(
        fc.property(cases, (c) => {
          const f = run(expertMixFused, c, dtype);
          const r = run(expertMixComposed, c, dtype);
          expectClose(f.y, r.y, tol, 'y');
          expectClose(f.x.denseGrad(), r.x.denseGrad(), tol, 'dx');
          expectClose(f.gates.denseGrad(), r.gates.denseGrad(), tol, 'dgates');
          expectClose(f.down.denseGrad(), r.down.denseGrad(), tol, 'ddown');
          expectClose(f.up.denseGrad(), r.up.denseGrad(), tol, 'dup');
          // The tables' gradients are row-sparse, one row per distinct expert, ascending.
          for (const table of [f.down, f.up]) {
            const g = table.grad as SparseGrad;
            expect(g).toBeInstanceOf(SparseGrad);
            expect(g.coalesced).toBe(true);
            const rows = Array.from(g.indices.toTypedArray());
            expect(rows).toEqual([...new Set(c.idx)].sort((a, b) => a - b));
          }
        }),
        { numRuns: 150 },
      );
    });
  }

  it('passes a float64 gradient check for x, down, up and gates', () => {
    fc.assert(
      fc.property(
        cases.filter((c) => c.act !== 'relu'),
        (c) => {
          const { x, down, up, gates, indices } = inputs(c, 'float64');
          gradCheck((X, W, U, G) => expertMixFused(X!, W!, U!, indices, G!, c.act), [x, down, up, gates]);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('expertMix takes the fused loop for float64 (coalesced table gradients)', () => {
    const c: Case = {
      T: 2,
      heads: 1,
      k: 2,
      N: 3,
      D: 2,
      Do: 2,
      idx: [0, 2, 2, 0],
      values: Array.from({ length: 40 }, (_, i) => Math.sin(i)),
      act: 'gelu',
    };
    const { x, down, up, gates, indices } = inputs(c, 'float64');
    expertMix(x, down, up, indices, gates, 'gelu').sum().backward();
    expect((down.grad as SparseGrad).coalesced).toBe(true);
    expect(Array.from((up.grad as SparseGrad).indices.toTypedArray())).toEqual([0, 2]);
  });

  it('leaves tables that need no gradient alone and skips their work', () => {
    const c: Case = {
      T: 2,
      heads: 2,
      k: 1,
      N: 3,
      D: 2,
      Do: 2,
      idx: [0, 2, 2, 1],
      values: Array.from({ length: 40 }, (_, i) => Math.cos(i)),
      act: 'gelu',
    };
    const { x, down, up, gates, indices } = inputs(c, 'float64');
    down.requiresGrad = false;
    expertMixFused(x, down, up, indices, gates, 'gelu').sum().backward();
    expect(down.grad).toBeNull();
    expect(up.grad).toBeInstanceOf(SparseGrad);
    expect(x.grad).not.toBeNull();
  });

  it('names the op, the index and the table size for an index out of range', () => {
    const x = tensor([[1, 2]]);
    const table = tensor([
      [1, 2],
      [3, 4],
    ]);
    expect(() => expertMixFused(x, table, table, tensor([[2]], { dtype: 'int32' }), tensor([[1]]), 'gelu')).toThrow(
      'expertMix: index 2 at slot 0 out of range for tables of 2 rows',
    );
    expect(() => expertMix(x, table, table, tensor([[0, 1]], { dtype: 'int32' }), tensor([[1]]), 'gelu')).toThrow(
      /gates \[1,1\] must match indices \[1,2\]/,
    );
  });
});

describe("expertMix on a device backend's kernels (rowDots, embeddingBag) against the composed ops", () => {
  for (const dtype of ['float64', 'float32'] as const) {
    const tol = dtype === 'float64' ? 1e-12 : 2e-5;
    it(`${dtype}: output and the gradients of x, gates, down and up agree`, () => {
      fc.assert(
        fc.property(cases, (c) => {
          const d = onDeviceLike(() => run(expertMix, c, dtype));
          expect(d.y.gradNode?.op).toBe('embeddingBag');
          const r = run(expertMixComposed, c, dtype);
          expectClose(d.y, r.y, tol, 'y');
          expectClose(d.x.denseGrad(), r.x.denseGrad(), tol, 'dx');
          expectClose(d.gates.denseGrad(), r.gates.denseGrad(), tol, 'dgates');
          expectClose(d.down.denseGrad(), r.down.denseGrad(), tol, 'ddown');
          expectClose(d.up.denseGrad(), r.up.denseGrad(), tol, 'dup');
        }),
        { numRuns: 100 },
      );
    });
  }

  it('passes a float64 gradient check for x, down, up and gates', () => {
    fc.assert(
      fc.property(
        cases.filter((c) => c.act !== 'relu'),
        (c) => {
          onDeviceLike(() => {
            const { x, down, up, gates, indices } = inputs(c, 'float64');
            gradCheck((X, W, U, G) => expertMix(X!, W!, U!, indices, G!, c.act), [x, down, up, gates]);
          });
        },
      ),
      { numRuns: 30 },
    );
  });
});
