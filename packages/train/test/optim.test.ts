import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SparseGrad, indexSelect, tensor, randn, slice, type Tensor } from '@myriad/core';
import { Adam, AdamW, SGD, clipGradNorm, weightDecayGroups, warmupCosine, type Optimizer, type BaseHyper } from '../src/optim/index.js';

const f64 = (values: number[], shape = [values.length]) => tensor(values, { shape, dtype: 'float64', requiresGrad: true });
const setGrad = (p: Tensor, values: number[]) => {
  p.grad = tensor(values, { shape: [...p.shape], dtype: p.dtype });
};
const arr = (t: Tensor) => Array.from(t.toTypedArray());

describe('SGD', () => {
  it('plain step: p - lr·g, with L2 weight decay added to g', () => {
    const p = f64([1, 2]);
    const opt = new SGD([p], { lr: 0.1 });
    setGrad(p, [0.5, -1]);
    opt.step();
    expect(arr(p)).toEqual([1 - 0.05, 2 + 0.1]);
    const q = f64([1, 2]);
    const wd = new SGD([q], { lr: 0.1, weightDecay: 0.5 });
    setGrad(q, [0.5, -1]);
    wd.step(); // g' = g + 0.5·p = [1, 0]
    expect(arr(q)).toEqual([0.9, 2]);
  });

  it('momentum and Nesterov over two steps of the same gradient', () => {
    const p = f64([1]);
    const q = f64([1]);
    const m = new SGD([p], { lr: 0.1, momentum: 0.9 });
    const n = new SGD([q], { lr: 0.1, momentum: 0.9, nesterov: true });
    for (let i = 0; i < 2; i++) {
      setGrad(p, [1]);
      setGrad(q, [1]);
      m.step();
      n.step();
    }
    // momentum: buffers 1 then 1.9 → p = 1 − 0.1·(1 + 1.9)
    expect(p.item()).toBeCloseTo(1 - 0.29, 14);
    // nesterov: updates 1 + 0.9·1 = 1.9 then 1 + 0.9·1.9 = 2.71 → p = 1 − 0.1·4.61
    expect(q.item()).toBeCloseTo(1 - 0.461, 14);
  });

  it('validates hyper-parameters and parameters', () => {
    expect(() => new SGD([f64([1])], { lr: 0.1, nesterov: true })).toThrow(/nesterov with momentum 0/);
    expect(() => new SGD([f64([1])], { lr: -1 })).toThrow(/lr=-1; expected >= 0/);
    const p = f64([1]);
    expect(() => new SGD([{ params: [p] }, { params: [p] }], { lr: 0.1 })).toThrow(/appears twice/);
    expect(() => new SGD([], { lr: 0.1 })).toThrow(/no parameters/);
  });
});

describe('Adam / AdamW', () => {
  it('first Adam step moves each weight by lr·g/(|g| + eps)', () => {
    const p = f64([1, -2, 3]);
    const opt = new Adam([p], { lr: 0.1 });
    setGrad(p, [0.5, -4, 0]);
    opt.step();
    const got = arr(p);
    expect(got[0]).toBeCloseTo(1 - (0.1 * 0.5) / (0.5 + 1e-8), 14);
    expect(got[1]).toBeCloseTo(-2 + (0.1 * 4) / (4 + 1e-8), 14);
    expect(got[2]).toBe(3);
  });

  it('second Adam step matches the hand-computed moments and bias corrections', () => {
    const p = f64([1]);
    const opt = new Adam([p], { lr: 0.01, betas: [0.8, 0.9], eps: 1e-6, weightDecay: 0.1 });
    setGrad(p, [2]);
    opt.step();
    // step 1: g = 2 + 0.1·1 = 2.1; m = 0.42, v = 0.441; p = 1 − (0.01/0.2)·0.42/(√0.441/√0.1 + 1e-6)
    const p1 = 1 - ((0.01 / 0.2) * 0.42) / (Math.sqrt(0.441) / Math.sqrt(0.1) + 1e-6);
    expect(p.item()).toBeCloseTo(p1, 14);
    setGrad(p, [-1]);
    opt.step();
    const g2 = -1 + 0.1 * p1;
    const m2 = 0.8 * 0.42 + 0.2 * g2;
    const v2 = 0.9 * 0.441 + 0.1 * g2 * g2;
    const p2 = p1 - ((0.01 / (1 - 0.64)) * m2) / (Math.sqrt(v2) / Math.sqrt(1 - 0.81) + 1e-6);
    expect(p.item()).toBeCloseTo(p2, 14);
  });

  it('AdamW decays the weight directly: p·(1 − lr·λ) − lr·g/(|g| + eps)', () => {
    const p = f64([2]);
    const opt = new AdamW([p], { lr: 0.1, weightDecay: 0.5 });
    setGrad(p, [3]);
    opt.step();
    expect(p.item()).toBeCloseTo(2 * (1 - 0.05) - (0.1 * 3) / (3 + 1e-8), 14);
    expect(new AdamW([f64([1])]).groups[0]!.weightDecay).toBe(0.01);
  });

  it('uses per-group hyper-parameters and scales them with setLr', () => {
    const a = f64([1]);
    const b = f64([1]);
    const opt = new AdamW([{ params: [a] }, { params: [b], weightDecay: 0, lr: 0.2 }], { lr: 0.1, weightDecay: 0.5 });
    expect(opt.groups.map((g) => [g.lr, g.weightDecay])).toEqual([
      [0.1, 0.5],
      [0.2, 0],
    ]);
    opt.setLr(0.05);
    expect(opt.groups.map((g) => g.lr)).toEqual([0.05, 0.1]);
  });

  it('leaves parameters without gradients and their state alone', () => {
    const a = f64([1]);
    const b = f64([1]);
    const opt = new Adam([a, b], { lr: 0.1 });
    setGrad(a, [1]);
    opt.step();
    expect(b.item()).toBe(1);
    expect(Object.keys(opt.stateDict().steps)).toEqual(['0']);
    opt.zeroGrad();
    expect(a.grad).toBeNull();
  });
});

describe('lazy row-sparse updates', () => {
  // A table whose gradient comes from indexSelect: a SparseGrad with repeated rows.
  function sparseGradFor(table: Tensor, rows: number[], seed: number): void {
    const idx = tensor(rows, { dtype: 'int32' });
    const w = randn([rows.length, table.shape[1]!], { seed });
    indexSelect(table, 0, idx).mul(w).sum().backward();
  }
  const makeTable = (seed: number) => {
    const t = randn([40, 6], { seed });
    t.requiresGrad = true;
    return t;
  };
  const rowOf = (t: Tensor, r: number) => Array.from(t.toTypedArray().subarray(r * 6, r * 6 + 6));

  const cases: Array<[string, (ps: Tensor[]) => Optimizer<BaseHyper>]> = [
    ['SGD', (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
    ['Adam', (ps) => new Adam(ps, { lr: 0.01, weightDecay: 0.01 })],
    ['AdamW', (ps) => new AdamW(ps, { lr: 0.01, weightDecay: 0.1 })],
  ];

  for (const [name, make] of cases) {
    it(`${name}: touched rows equal the dense update, untouched rows stay bit-identical`, () => {
      const lazy = makeTable(1);
      const dense = makeTable(1);
      const before = lazy.toTypedArray();
      const lazyOpt = make([lazy]);
      const denseOpt = make([dense]);
      const rows = [3, 17, 3, 39, 0];
      for (let step = 0; step < 3; step++) {
        sparseGradFor(lazy, rows, 10 + step);
        expect(lazy.grad).toBeInstanceOf(SparseGrad);
        dense.grad = (lazy.grad as SparseGrad).toDense();
        lazyOpt.step();
        denseOpt.step();
        lazyOpt.zeroGrad();
        denseOpt.zeroGrad();
      }
      for (const r of [0, 3, 17, 39]) expect(rowOf(lazy, r)).toEqual(rowOf(dense, r));
      const after = lazy.toTypedArray();
      for (let r = 0; r < 40; r++) {
        if ([0, 3, 17, 39].includes(r)) continue;
        expect(after.subarray(r * 6, r * 6 + 6)).toEqual(before.subarray(r * 6, r * 6 + 6));
      }
    });
  }

  it('lazy equals dense on touched rows for random lookups (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 39 }), { minLength: 1, maxLength: 30 }),
        fc.constantFrom(0, 1, 2),
        fc.nat(1000),
        (rows, which, seed) => {
          const lazy = makeTable(seed);
          const dense = makeTable(seed);
          const before = lazy.toTypedArray();
          const lazyOpt = cases[which]![1]([lazy]);
          const denseOpt = cases[which]![1]([dense]);
          sparseGradFor(lazy, rows, seed + 1);
          dense.grad = (lazy.grad as SparseGrad).toDense();
          lazyOpt.step();
          denseOpt.step();
          const after = lazy.toTypedArray();
          for (let r = 0; r < 40; r++) {
            const expected = rows.includes(r) ? rowOf(dense, r) : Array.from(before.subarray(r * 6, r * 6 + 6));
            expect(Array.from(after.subarray(r * 6, r * 6 + 6))).toEqual(expected);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('Adam: a row touched late keeps the moments of earlier steps (lazy, as SparseAdam)', () => {
    const table = makeTable(2);
    const opt = new Adam([table], { lr: 0.01 });
    sparseGradFor(table, [1], 5);
    opt.step();
    opt.zeroGrad();
    const mid = table.toTypedArray();
    sparseGradFor(table, [2], 6);
    opt.step();
    expect(Array.from(table.toTypedArray().subarray(6, 12))).toEqual(Array.from(mid.subarray(6, 12))); // row 1 untouched now
    const { tensors, steps } = opt.stateDict();
    expect(steps[0]).toBe(2);
    expect(Array.from(tensors['0.expAvg']!.toTypedArray().subarray(0, 6))).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe('optimizer state', () => {
  it('stateDict / loadStateDict continues a run exactly', () => {
    const init = randn([5, 3], { seed: 3, dtype: 'float64' }).toTypedArray();
    const mk = () => tensor(Float64Array.from(init), { shape: [5, 3], dtype: 'float64', requiresGrad: true });
    const grads = Array.from({ length: 5 }, (_, i) => randn([5, 3], { seed: 100 + i, dtype: 'float64' }));
    const a = mk();
    const optA = new AdamW([a], { lr: 0.01 });
    for (let i = 0; i < 5; i++) {
      a.grad = grads[i]!;
      optA.step();
    }
    const b = mk();
    const optB0 = new AdamW([b], { lr: 0.01 });
    for (let i = 0; i < 3; i++) {
      b.grad = grads[i]!;
      optB0.step();
    }
    const c = tensor(b.toTypedArray(), { shape: [5, 3], dtype: 'float64', requiresGrad: true });
    const optC = new AdamW([c], { lr: 0.5 });
    optC.loadStateDict(optB0.stateDict());
    expect(optC.groups[0]!.lr).toBe(0.01);
    for (let i = 3; i < 5; i++) {
      c.grad = grads[i]!;
      optC.step();
    }
    expect(arr(c)).toEqual(arr(a));
  });

  it('refuses state from another optimizer or other shapes', () => {
    const p = f64([1, 2]);
    const opt = new Adam([p]);
    setGrad(p, [1, 1]);
    opt.step();
    const dict = opt.stateDict();
    expect(() => new SGD([f64([1, 2])], { lr: 1 }).loadStateDict(dict)).toThrow(/state is from "Adam", not SGD/);
    expect(() => new Adam([f64([1, 2, 3])]).loadStateDict(dict)).toThrow(/shape \[2\] in the state, \[3\] here/);
    expect(() => new Adam([f64([1, 2]), f64([1])]).loadStateDict(dict)).toThrow(/1 parameters in the state, 2 here/);
    const { ['0.expAvgSq']: _dropped, ...partial } = dict.tensors;
    const target = new Adam([f64([1, 2])]);
    expect(() => target.loadStateDict({ ...dict, tensors: partial })).toThrow(/missing buffer "0\.expAvgSq"/);
    expect(target.stateDict().steps).toEqual({}); // refused before anything changed
  });

  it('names its state by `kind`, not by the class name a minifier would rename', () => {
    const renamed = [SGD, Adam, AdamW].map((cls) => [cls, Object.getOwnPropertyDescriptor(cls, 'name')!] as const);
    try {
      // What a bundler's minifier does to the classes of a production page build.
      renamed.forEach(([cls], i) => Object.defineProperty(cls, 'name', { value: ['e', 't', 'n'][i] }));
      expect(new SGD([f64([1])], { lr: 1 }).stateDict().type).toBe('SGD');
      expect(new Adam([f64([1])]).stateDict().type).toBe('Adam');
      const adamW = new AdamW([f64([1])]);
      expect(adamW.stateDict().type).toBe('AdamW');
      expect(() => new Adam([f64([1])]).loadStateDict(adamW.stateDict())).toThrow(/state is from "AdamW", not Adam/);
      class Lion extends SGD {} // a user's own optimizer without a static kind is named by its class
      expect(new Lion([f64([1])], { lr: 1 }).kind).toBe('Lion');
    } finally {
      renamed.forEach(([cls, name]) => Object.defineProperty(cls, 'name', name));
    }
  });
});

describe('parameters without host storage', () => {
  it('a strided-view parameter is updated through a host copy and assign(), like a contiguous one', () => {
    const base = tensor([9, 1, 2, 3, 9], { dtype: 'float64' });
    const view = slice(base, 0, 1, 4).detach(); // offset 1: no live typed array of its own
    view.requiresGrad = true;
    expect(() => view.data).toThrow(/strided view/);
    const plain = f64([1, 2, 3]);
    const a = new Adam([view], { lr: 0.1 });
    const b = new Adam([plain], { lr: 0.1 });
    for (let i = 0; i < 2; i++) {
      setGrad(view, [0.5, -1, 2]);
      setGrad(plain, [0.5, -1, 2]);
      a.step();
      b.step();
    }
    expect(arr(view)).toEqual(arr(plain));
    expect([arr(base)[0], arr(base)[4]]).toEqual([9, 9]); // neighbours untouched
  });
});

describe('weightDecayGroups', () => {
  it('exempts biases, norms and keys', () => {
    const w = randn([4, 4]);
    const bias = randn([4]);
    const normW = randn([4]);
    const keys = randn([2, 2, 4, 2]);
    const model = {
      parameters: () => [w, bias, normW, keys],
      namedParameters: (): Iterable<[string, Tensor]> => [
        ['blocks.0.attn.qkv.weight', w],
        ['blocks.0.attn.qkv.bias', bias],
        ['blocks.0.norm1.weight', normW],
        ['blocks.0.ffw.keys', keys],
      ],
    };
    const groups = weightDecayGroups(model, { weightDecay: 0.1 });
    expect(groups.map((g) => [g.params.length, g.weightDecay])).toEqual([
      [1, 0.1],
      [3, 0],
    ]);
    expect(groups[0]!.params[0]).toBe(w);
  });
});

describe('clipGradNorm', () => {
  it('scales dense and sparse gradients to the max norm and returns the norm before', () => {
    const a = f64([0, 0]);
    setGrad(a, [3, 0]);
    const table = tensor(new Float64Array(8), { shape: [4, 2], dtype: 'float64', requiresGrad: true });
    // rows 1 and 1 again: coalesced to [0, 4]; the norm counts the summed row once.
    table.grad = new SparseGrad(
      tensor([1, 1], { dtype: 'int32' }),
      tensor(
        [
          [0, 2],
          [0, 2],
        ],
        { dtype: 'float64' },
      ),
      [4, 2],
    );
    const norm = clipGradNorm([a, table], 1);
    expect(norm).toBeCloseTo(5, 12);
    expect(arr(a.grad as Tensor)[0]).toBeCloseTo(3 / (5 + 1e-6), 12);
    const sg = table.grad as SparseGrad; // still sparse, rows scaled in place
    expect(arr(sg.indices)).toEqual([1, 1]);
    expect(arr(sg.toDense())[3]).toBeCloseTo(4 / (5 + 1e-6), 12);
    // Under the limit nothing changes.
    setGrad(a, [0.3, 0.4]);
    expect(clipGradNorm([a], 1)).toBeCloseTo(0.5, 12);
    expect(arr(a.grad as Tensor)).toEqual([0.3, 0.4]);
  });
});

describe('warmupCosine', () => {
  it('warms up linearly then follows a half cosine to minLr', () => {
    const lr = warmupCosine({ lr: 1, minLr: 0.1, warmupSteps: 4, totalSteps: 14 });
    expect([0, 1, 2, 3].map(lr)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(lr(4)).toBe(1);
    expect(lr(9)).toBeCloseTo(0.55, 12); // halfway: minLr + (lr − minLr)/2
    expect(lr(14)).toBe(0.1);
    expect(lr(100)).toBe(0.1);
    expect(() => warmupCosine({ lr: 1, warmupSteps: 5, totalSteps: 4 })).toThrow(/warmupSteps <= totalSteps/);
  });
});
