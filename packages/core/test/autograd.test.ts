import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as core from '@myriad/core';
import { Rng, SparseGrad, tensor, type Tensor } from '@myriad/core';
import { arbShape, arbTensor, arbValues, installMatchers } from '@myriad/core/testing';

installMatchers(expect);

describe('noGrad and detach', () => {
  it('ops under noGrad record nothing; grad mode is restored, also after a throw', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = core.noGrad(() => x.mul(2));
    expect([y.requiresGrad, y.isLeaf, core.isGradEnabled()]).toEqual([false, true, true]);
    expect(() =>
      core.noGrad(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(core.isGradEnabled()).toBe(true);
    expect(() => y.backward()).toThrow(/backward: tensor does not require grad/);
  });

  it('detach shares data but cuts the graph', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const d = x.mul(2).detach();
    expect([d.requiresGrad, d.toArray()]).toEqual([false, [2, 4, 6]]);
    const y = x.mul(d).sum(); // d is a constant: dy/dx = d
    y.backward();
    expect((x.grad as Tensor).toArray()).toEqual([2, 4, 6]);
  });

  it('requiresGrad is refused on int32 and cannot be turned off on a non-leaf', () => {
    expect(() => tensor([1], { dtype: 'int32', requiresGrad: true })).toThrow(
      'requiresGrad: only float tensors can require gradients, got int32',
    );
    const y = tensor([1], { requiresGrad: true }).mul(2);
    expect(() => (y.requiresGrad = false)).toThrow(/non-leaf/);
  });
});

describe('gradient accumulation', () => {
  it('two backward calls accumulate: grad equals twice a single pass (dense and sparse)', () => {
    fc.assert(
      fc.property(arbTensor({ shape: arbShape({ minRank: 1, maxRank: 3, maxDim: 4 }), dtype: 'float64' }), (x0) => {
        const run = (times: number) => {
          const x = x0.detach().clone().requiresGrad_();
          for (let i = 0; i < times; i++) x.tanh().mul(x).sum().backward();
          return x.grad as Tensor;
        };
        expect(run(2)).toBeAllClose(run(1).mul(2), { atol: 1e-12 });
      }),
      { numRuns: 30 },
    );
    const table = core.randn([5, 3], { seed: 1, requiresGrad: true });
    const idx = tensor([1, 3, 1], { dtype: 'int32' });
    table.indexSelect(0, idx).sum().backward();
    table.indexSelect(0, idx).mul(2).sum().backward();
    const g = table.grad as SparseGrad;
    expect(g).toBeInstanceOf(SparseGrad);
    expect(g.toDense()).toBeAllClose([
      [0, 0, 0],
      [6, 6, 6],
      [0, 0, 0],
      [3, 3, 3],
      [0, 0, 0],
    ]);
  });

  it('a gradient of the wrong shape passed to backward() is refused', () => {
    const y = tensor([1, 2], { requiresGrad: true }).mul(2);
    expect(() => y.backward()).toThrow('backward: output of shape [2] is not a scalar; pass a gradient of that shape');
    expect(() => y.backward(tensor([1, 2, 3]))).toThrow('backward: gradient shape [3] does not match output shape [2]');
  });

  it('deep chains do not overflow the stack', () => {
    const x = tensor([1], { requiresGrad: true });
    let y: Tensor = x;
    for (let i = 0; i < 20000; i++) y = y.add(1);
    y.sum().backward();
    expect((x.grad as Tensor).toArray()).toEqual([1]);
  });
});

describe('SparseGrad', () => {
  const arbSparse = fc
    .record({ rows: fc.integer({ min: 1, max: 8 }), width: fc.integer({ min: 1, max: 4 }), nnz: fc.integer({ min: 0, max: 10 }) })
    .chain(({ rows, width, nnz }) =>
      fc.tuple(
        fc.constant(rows),
        fc.constant(width),
        arbValues(nnz, { dtype: 'int32', min: 0, max: rows - 1 }),
        arbValues(nnz * width, { dtype: 'float64', min: -2, max: 2 }),
      ),
    );
  it('toDense equals a naive scatter-add; coalesce gives unique ascending rows with the same dense value', () => {
    fc.assert(
      fc.property(arbSparse, ([rows, width, idx, vals]) => {
        const g = new SparseGrad(
          tensor(idx, { shape: [idx.length], dtype: 'int32' }),
          tensor(vals, { shape: [idx.length, width], dtype: 'float64' }),
          [rows, width],
        );
        const naive = Array.from({ length: rows }, () => new Array<number>(width).fill(0));
        idx.forEach((r, i) => {
          for (let j = 0; j < width; j++) naive[r]![j]! += vals[i * width + j]!;
        });
        expect(g.toDense()).toBeAllClose(naive, { atol: 1e-12 });
        const c = g.coalesce();
        const ci = Array.from(c.indices.toTypedArray());
        expect(ci).toEqual([...new Set(idx)].sort((a, b) => a - b));
        expect(c.toDense()).toBeAllClose(naive, { atol: 1e-12 });
        expect(g.addSparse(g).toDense()).toBeAllClose(g.toDense().mul(2), { atol: 1e-12 });
      }),
      { numRuns: 50 },
    );
  });

  it('a lookup into a large table records only the touched rows', () => {
    const table = core.zeros([1_000_000, 4], { requiresGrad: true });
    table
      .indexSelect(
        0,
        tensor(
          [
            [7, 999_999],
            [7, 3],
          ],
          { dtype: 'int32' },
        ),
      )
      .sum()
      .backward();
    const g = table.grad as SparseGrad;
    expect(g.shape).toEqual([1_000_000, 4]);
    expect(g.values.shape).toEqual([4, 4]);
    expect(Array.from(g.coalesce().indices.toTypedArray())).toEqual([3, 7, 999_999]);
  });

  it('a non-leaf use of a lookup gets a dense gradient; mismatched tables are refused', () => {
    const table = core.randn([4, 2], { seed: 3 }).requiresGrad_();
    const scaled = table.mul(1); // non-leaf: the lookup's sparse gradient is densified on the way
    scaled
      .indexSelect(0, tensor([2], { dtype: 'int32' }))
      .sum()
      .backward();
    expect(table.grad).toBeInstanceOf(core.Tensor);
    const a = new SparseGrad(tensor([0], { dtype: 'int32' }), core.zeros([1, 2]), [4, 2]);
    const b = new SparseGrad(tensor([0], { dtype: 'int32' }), core.zeros([1, 3]), [4, 3]);
    expect(() => a.addSparse(b)).toThrow('SparseGrad.add: table shapes differ: [4,2] vs [4,3]');
    expect(() => new SparseGrad(tensor([0, 1], { dtype: 'int32' }), core.zeros([1, 2]), [4, 2])).toThrow(
      /SparseGrad: values \[1,2\] do not fit indices \[2\]/,
    );
  });
});

describe('checkNumerics', () => {
  afterEach(() => core.setCheckNumerics(false));
  it('throws at the first op producing NaN/Inf, naming the op and shapes', () => {
    core.setCheckNumerics(true);
    const x = tensor([
      [1, 0],
      [2, 3],
    ]);
    expect(() => x.log().mul(2)).toThrow('checkNumerics: log produced -Infinity at flat index 1 of its output [2,2] (inputs: [2,2])');
    expect(() => tensor([-1]).sqrt()).toThrow(/checkNumerics: sqrt produced NaN/);
    expect(() => tensor([1, 2]).div(tensor([[1], [0]]))).toThrow(
      'checkNumerics: div produced Infinity at flat index 2 of its output [2,2] (inputs: [2], [2,1])',
    );
    expect(x.add(1).toArray()).toEqual([
      [2, 1],
      [3, 4],
    ]);
  });
  it('is off by default', () => {
    expect(core.getCheckNumerics()).toBe(false);
    expect(tensor([0]).log().item()).toBe(-Infinity);
  });
});

describe('seeded randomness', () => {
  it('the same seed gives the same numbers; different seeds differ', () => {
    fc.assert(
      fc.property(fc.nat(), (seed) => {
        expect(Array.from(core.randn([16], { seed }).toTypedArray())).toEqual(Array.from(core.randn([16], { seed }).toTypedArray()));
        expect(core.rand([8], { seed }).toArray()).not.toEqual(core.rand([8], { seed: seed + 1 }).toArray());
      }),
      { numRuns: 20 },
    );
  });

  it('xoshiro128** core: state [1,2,3,4] gives 11520 first (rotl(2·5, 7)·9)', () => {
    const r = new Rng(0);
    r.setState([1, 2, 3, 4, NaN]);
    expect(r.nextUint32()).toBe(11520);
  });

  it('pins the first values of known seeds (same on every run and platform)', () => {
    const r = new Rng(42);
    expect([r.nextUint32(), r.nextUint32(), r.nextUint32()]).toEqual([2837322924, 544945897, 479756282]);
    expect(Array.from(core.randn([3], { seed: 7, dtype: 'float64' }).toTypedArray())).toEqual([
      -1.6997666603638308, -0.13089946149672535, 0.590717715269077,
    ]);
    core.manualSeed(123);
    expect(Array.from(core.rand([3], { dtype: 'float64' }).toTypedArray())).toEqual([
      0.732650596415624, 0.4456029471475631, 0.5029474918264896,
    ]);
    expect(Array.from(core.randint(0, 100, [4]).toTypedArray())).toEqual([80, 94, 8, 84]);
  });

  it('getState/setState resumes the exact sequence (including a cached normal)', () => {
    const r = new Rng(5);
    r.normal();
    const state = r.getState();
    const next = [r.normal(), r.normal(), r.random()];
    const s = new Rng(99);
    s.setState(state);
    expect([s.normal(), s.normal(), s.random()]).toEqual(next);
    core.manualSeed(1);
    const g = core.getRngState();
    const a = core.rand([4]).toArray();
    core.setRngState(g);
    expect(core.rand([4]).toArray()).toEqual(a);
  });

  it('randint stays in range and int() has no modulo bias over small n', () => {
    const t = Array.from(core.randint(-3, 4, [2000], { seed: 2 }).toTypedArray());
    expect(Math.min(...t)).toBe(-3);
    expect(Math.max(...t)).toBe(3);
    const counts = new Array<number>(7).fill(0);
    for (const v of t) counts[v + 3]!++;
    for (const c of counts) expect(c).toBeGreaterThan(2000 / 7 - 80);
  });

  it('dropout with the same rng seed drops the same elements', () => {
    const x = core.ones([64]);
    const a = core.dropout(x, 0.5, { rng: new Rng(3) }).toArray();
    expect(core.dropout(x, 0.5, { rng: new Rng(3) }).toArray()).toEqual(a);
    expect((a as number[]).every((v) => v === 0 || v === 2)).toBe(true);
    expect(core.dropout(x, 0.5, { training: false })).toBe(x);
  });
});

describe('leaf gradients never share storage', () => {
  const grads = (...ts: Tensor[]) => ts.map((t) => t.grad as Tensor);

  it('one upstream gradient handed to two leaves (add) gives each its own copy', () => {
    const a = tensor([1, 2, 3], { requiresGrad: true });
    const b = tensor([4, 5, 6], { requiresGrad: true });
    a.add(b)
      .mul(tensor([1, 2, 3]))
      .sum()
      .backward();
    const [ga, gb] = grads(a, b);
    ga!.data.fill(0); // optimizers and clipGradNorm update .grad in place
    expect(gb!.toArray()).toEqual([1, 2, 3]);
  });

  it('a view of another leaf’s gradient, or of the seed, is copied', () => {
    const a = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { requiresGrad: true },
    );
    const b = tensor([1, 2, 3, 4], { requiresGrad: true });
    a.reshape([4])
      .add(b)
      .backward(tensor([1, 1, 1, 1]));
    const seed = tensor([1, 1, 1, 1]);
    const c = tensor([0, 0, 0, 0], { requiresGrad: true });
    c.backward(seed);
    for (const t of [a, b, c]) expect((t.grad as Tensor).isContiguous()).toBe(true);
    (b.grad as Tensor).data.fill(7);
    (c.grad as Tensor).data.fill(9);
    expect((a.grad as Tensor).toArray()).toEqual([
      [1, 1],
      [1, 1],
    ]);
    expect(seed.toArray()).toEqual([1, 1, 1, 1]);
  });

  it('sparse gradients of two tables looked up by one index tensor do not share indices', () => {
    const t1 = core.randn([10, 2], { seed: 0, requiresGrad: true });
    const t2 = core.randn([10, 2], { seed: 1, requiresGrad: true });
    const idx = tensor([1, 3], { dtype: 'int32' });
    core
      .indexSelect(t1, 0, idx)
      .add(core.indexSelect(t2, 0, idx))
      .sum()
      .backward();
    const g1 = t1.grad as SparseGrad;
    const g2 = t2.grad as SparseGrad;
    g1.values.data.fill(0);
    expect(g2.values.toArray()).toEqual([
      [1, 1],
      [1, 1],
    ]);
    g1.indices.data.fill(0);
    expect(g2.indices.toArray()).toEqual([1, 3]);
    expect(idx.toArray()).toEqual([1, 3]); // nor the index tensor of the forward pass
  });
});
