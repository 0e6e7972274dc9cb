import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as core from '@myriad/core';
import { tensor, type Tensor } from '@myriad/core';
import { arbBroadcastShapes, arbShape, arbTensor, arbValues, installMatchers } from '@myriad/core/testing';

installMatchers(expect);
const numRuns = 40;

/** Row-major multi-index of a flat position. */
function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d]!;
    flat = Math.floor(flat / shape[d]!);
  }
  return idx;
}
/** Element of nested toArray() output at a multi-index. */
const at = (nested: core.NestedArray, idx: readonly number[]): number =>
  idx.reduce<core.NestedArray>((n, i) => (n as core.NestedArray[])[i]!, nested) as number;
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

describe('broadcasting', () => {
  const ops: [string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => number][] = [
    ['add', core.add, (x, y) => x + y],
    ['sub', core.sub, (x, y) => x - y],
    ['mul', core.mul, (x, y) => x * y],
    ['maximum', core.maximum, Math.max],
    ['lt', core.lt, (x, y) => Number(x < y)],
    ['eq', core.eq, (x, y) => Number(x === y)],
  ];
  for (const [name, op, ref] of ops) {
    it(`${name} matches a naive index-based reference (strided operands included)`, () => {
      fc.assert(
        fc.property(
          arbBroadcastShapes({ maxRank: 4, maxDim: 4 }).chain(([sa, sb]) =>
            fc.tuple(
              arbTensor({ shape: sa, dtype: 'int32', min: -3, max: 3 }),
              arbTensor({ shape: sb, dtype: 'int32', min: -3, max: 3 }),
              fc.boolean(),
            ),
          ),
          ([a0, b, strided]) => {
            // A transposed-twice view of a has a's values but non-trivial strides when rank >= 2.
            const a = strided && a0.ndim >= 2 ? a0.transpose().contiguous().transpose() : a0;
            const out = op(a, b);
            const shape = core.broadcastShapes('test', a.shape, b.shape);
            expect(out.shape).toEqual(shape);
            const A = a.toArray();
            const B = b.toArray();
            const O = out.toArray();
            for (let i = 0; i < size(shape); i++) {
              const idx = unravel(i, shape);
              const pick = (s: readonly number[]) => idx.slice(idx.length - s.length).map((v, k) => (s[k] === 1 ? 0 : v));
              expect(at(O, idx)).toBe(ref(at(A, pick(a.shape)), at(B, pick(b.shape))) + 0); // + 0: int32 has no -0
            }
          },
        ),
        { numRuns },
      );
    });
  }

  it('incompatible shapes throw a ShapeError naming the op and both shapes', () => {
    expect(() => core.add(core.zeros([2, 3]), core.zeros([4, 3]))).toThrow(core.ShapeError);
    expect(() => core.mul(core.zeros([2, 3]), core.zeros([2]))).toThrow('mul: shapes [2,3] and [2] cannot be broadcast (dim -1: 3 vs 2)');
  });
});

describe('views', () => {
  it('transpose, permute, slice, expand and reshape of contiguous data share storage; writes show through', () => {
    fc.assert(
      fc.property(arbTensor({ shape: arbShape({ minRank: 2, maxRank: 4, maxDim: 4 }), dtype: 'float64' }), (x) => {
        const views = [
          x.transpose(),
          x.permute(x.shape.map((_, i) => x.ndim - 1 - i)),
          x.slice(0, 1),
          x.unsqueeze(0).expand([2, ...x.shape]),
          x.reshape([-1]),
          x.flatten(1),
        ];
        for (const v of views) expect(v.storage).toBe(x.storage);
        const s = x.slice(-1, 0, 1);
        s.assign(7);
        for (let i = 0; i < x.size; i++) {
          const idx = unravel(i, x.shape);
          if (idx[idx.length - 1] === 0) expect(at(x.toArray(), idx)).toBe(7);
        }
        if (!x.transpose().isContiguous()) expect(x.transpose().contiguous().storage).not.toBe(x.storage);
        expect(x.contiguous()).toBe(x);
      }),
      { numRuns },
    );
  });

  it('writing through .data of a clone does not touch the original', () => {
    const x = tensor([1, 2, 3]);
    const c = x.clone();
    c.data[0] = 9;
    expect(x.toArray()).toEqual([1, 2, 3]);
    expect(() => x.transpose(0, 0).slice(0, 1).data).toThrow(/data: tensor \[2\] is a strided view/);
  });

  it('reshape round trip and permute / inverse-permute round trip restore the values', () => {
    fc.assert(
      fc.property(
        arbTensor({ shape: arbShape({ minRank: 1, maxRank: 4, maxDim: 4 }), dtype: 'int32' }).chain((x) =>
          fc.tuple(
            fc.constant(x),
            fc.shuffledSubarray(
              x.shape.map((_, i) => i),
              { minLength: x.ndim, maxLength: x.ndim },
            ),
            fc.shuffledSubarray([...x.shape], { minLength: x.ndim, maxLength: x.ndim }),
          ),
        ),
        ([x, perm, reordered]) => {
          const inverse = perm.map((_, i) => perm.indexOf(i));
          expect(x.permute(perm).permute(inverse).toArray()).toEqual(x.toArray());
          // Reshape a permuted (non-contiguous) view to another shape with the same size and back.
          const p = x.permute(perm);
          expect(p.reshape(reordered).reshape(p.shape).toArray()).toEqual(p.toArray());
          expect(Array.from(p.reshape([-1]).toTypedArray())).toEqual(Array.from(p.contiguous().toTypedArray()));
        },
      ),
      { numRuns },
    );
  });
});

/** Naive triple loop over 2-d nested arrays. */
function naiveMatmul(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
}

describe('matmul', () => {
  it('matches a naive triple loop for A·B, Aᵀ·B, A·Bᵀ, Aᵀ·Bᵀ (batched, sizes around the 4-row block)', () => {
    fc.assert(
      fc.property(
        fc
          .record({
            m: fc.integer({ min: 1, max: 9 }),
            k: fc.integer({ min: 1, max: 9 }),
            n: fc.integer({ min: 1, max: 9 }),
            batch: fc.integer({ min: 1, max: 3 }),
            ta: fc.boolean(),
            tb: fc.boolean(),
            dtype: fc.constantFrom<core.DType>('float32', 'float64'),
          })
          .chain((r) =>
            fc.tuple(
              fc.constant(r),
              arbValues(r.batch * r.m * r.k, { dtype: 'int32', min: -4, max: 4 }),
              arbValues(r.batch * r.k * r.n, { dtype: 'int32', min: -4, max: 4 }),
            ),
          ),
        ([{ m, k, n, batch, ta, tb, dtype }, va, vb]) => {
          const a = ta ? tensor(va, { shape: [batch, k, m], dtype }).transpose() : tensor(va, { shape: [batch, m, k], dtype });
          const b = tb ? tensor(vb, { shape: [batch, n, k], dtype }).transpose() : tensor(vb, { shape: [batch, k, n], dtype });
          const out = core.matmul(a, b);
          const A = a.toArray() as number[][][];
          const B = b.toArray() as number[][][];
          // Small integers: every product and sum is exact, so equality is exact.
          expect(out.toArray()).toEqual(A.map((ai, i) => naiveMatmul(ai, B[i]!)));
        },
      ),
      { numRuns },
    );
  });

  it('1-d operands and broadcast batch dims follow NumPy', () => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    expect(core.matmul(tensor([1, 1]), a).toArray()).toEqual([4, 6]);
    expect(core.matmul(a, tensor([1, 1])).toArray()).toEqual([3, 7]);
    expect(core.matmul(tensor([1, 2]), tensor([3, 4])).toArray()).toEqual(11);
    expect(core.matmul(core.ones([3, 1, 2, 2]), core.ones([4, 2, 2])).shape).toEqual([3, 4, 2, 2]);
  });
});

describe('softmax, topk, argmax', () => {
  it('softmax along a random dim is positive and sums to 1; logSoftmax = log(softmax)', () => {
    fc.assert(
      fc.property(
        arbTensor({ shape: arbShape({ minRank: 1, maxRank: 3, maxDim: 5 }), dtype: 'float64', min: -30, max: 30 }).chain((x) =>
          fc.tuple(fc.constant(x), fc.integer({ min: -x.ndim, max: x.ndim - 1 })),
        ),
        ([x, d]) => {
          const s = core.softmax(x, d);
          expect(Array.from(s.toTypedArray()).every((v) => v >= 0)).toBe(true);
          expect(s.sum(d)).toBeAllClose(core.ones(s.sum(d).shape, { dtype: 'float64' }), { atol: 1e-12 });
          expect(core.logSoftmax(x, d)).toBeAllClose(s.log(), { atol: 1e-9 });
        },
      ),
      { numRuns },
    );
  });

  it('softmax is stable for large logits (float32)', () => {
    expect(core.softmax(tensor([1000, 1000, -1000]))).toBeAllClose([0.5, 0.5, 0]);
  });

  it('topk matches a stable full sort (descending, ties to the lower index) along a random dim', () => {
    fc.assert(
      fc.property(
        // Integer-valued float32 entries in [-3, 3]: many ties.
        arbTensor({ shape: arbShape({ minRank: 1, maxRank: 3, maxDim: 6 }), dtype: 'int32', min: -3, max: 3 })
          .map((x) => x.to('float32'))
          .chain((x) => fc.tuple(fc.constant(x), fc.integer({ min: -x.ndim, max: x.ndim - 1 })))
          .chain(([x, d]) => fc.tuple(fc.constant(x), fc.constant(d), fc.integer({ min: 0, max: x.shape[(d + x.ndim) % x.ndim]! }))),
        ([x, d, k]) => {
          const { values, indices } = core.topk(x, k, d);
          const dd = (d + x.ndim) % x.ndim;
          const moved = x.transpose(dd, -1).contiguous();
          const n = x.shape[dd]!;
          const flat = Array.from(moved.toTypedArray());
          const vals = Array.from(values.transpose(dd, -1).contiguous().toTypedArray());
          const idxs = Array.from(indices.transpose(dd, -1).contiguous().toTypedArray());
          expect(indices.dtype).toBe('int32');
          for (let r = 0; r < flat.length / n; r++) {
            const row = flat.slice(r * n, r * n + n);
            const order = row
              .map((_, i) => i)
              .sort((i, j) => row[j]! - row[i]! || i - j)
              .slice(0, k);
            expect(idxs.slice(r * k, r * k + k)).toEqual(order);
            expect(vals.slice(r * k, r * k + k)).toEqual(order.map((i) => row[i]!));
          }
        },
      ),
      { numRuns },
    );
  });

  it('argmax returns the first maximum along a dim and over the flattened tensor', () => {
    fc.assert(
      fc.property(
        arbTensor({ shape: arbShape({ minRank: 1, maxRank: 3, maxDim: 5 }), dtype: 'int32', min: 0, max: 3 }).chain((x) =>
          fc.tuple(fc.constant(x), fc.integer({ min: -x.ndim, max: x.ndim - 1 })),
        ),
        ([x, d]) => {
          const flat = Array.from(x.toTypedArray());
          expect(core.argmax(x).item()).toBe(flat.indexOf(Math.max(...flat)));
          const dd = (d + x.ndim) % x.ndim;
          const moved = Array.from(x.transpose(dd, -1).contiguous().toTypedArray());
          const n = x.shape[dd]!;
          const expected = Array.from({ length: moved.length / n }, (_, r) => {
            const row = moved.slice(r * n, r * n + n);
            return row.indexOf(Math.max(...row));
          });
          const got = core.argmax(x, d, true);
          expect(got.shape).toEqual(x.shape.map((v, i) => (i === dd ? 1 : v)));
          expect(Array.from(core.argmax(x, d).unsqueeze(dd).transpose(dd, -1).contiguous().toTypedArray())).toEqual(expected);
          expect(Array.from(core.argmax(x.transpose(dd, -1), -1).toTypedArray())).toEqual(expected);
        },
      ),
      { numRuns },
    );
  });
});

describe('empty tensors and ties (hand-checkable cases)', () => {
  it('reductions, row ops, matmul and topk accept zero-size dims', () => {
    expect(core.zeros([0, 3]).sum(0).toArray()).toEqual([0, 0, 0]);
    expect(core.logsumexp(core.zeros([2, 0])).toArray()).toEqual([-Infinity, -Infinity]);
    expect(core.softmax(core.zeros([2, 0])).shape).toEqual([2, 0]);
    expect(core.matmul(core.zeros([2, 0]), core.zeros([0, 3])).toArray()).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(core.topk(core.zeros([2, 3]), 0).values.shape).toEqual([2, 0]);
    expect(core.concat([core.zeros([0, 2]), core.ones([1, 2])]).toArray()).toEqual([[1, 1]]);
  });

  it('max shares its gradient among tied maxima; maximum sends it to the first operand on ties', () => {
    const x = tensor([1, 3, 3], { requiresGrad: true });
    x.max().backward();
    expect((x.grad as Tensor).toArray()).toEqual([0, 0.5, 0.5]);
    const a = tensor([1, 3], { requiresGrad: true });
    const b = tensor([1, 2], { requiresGrad: true });
    a.maximum(b).sum().backward();
    expect([(a.grad as Tensor).toArray(), (b.grad as Tensor).toArray()]).toEqual([
      [1, 1],
      [0, 0],
    ]);
  });

  it('NaN: argmax and topk rank it first, max propagates it', () => {
    expect(tensor([1, NaN, 3]).argmax().item()).toBe(1);
    expect(core.topk(tensor([1, NaN, 3]), 2).indices.toArray()).toEqual([1, 2]);
    expect(tensor([1, NaN, 3]).max().item()).toBeNaN();
  });
});
