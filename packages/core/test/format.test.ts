import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as core from '@myriad/core';
import { tensor } from '@myriad/core';
import { arbShape, arbTensor } from '@myriad/core/testing';

// Printing follows PyTorch: one width and format for every shown number, summarised past 1000
// elements, then shape, dtype and the gradient state.
describe('printing tensors', () => {
  it('String(t) and console.log(t) show values, shape and dtype', () => {
    const t = tensor([
      [1, 2],
      [3, 4],
    ]);
    const text = 'tensor([[1., 2.],\n        [3., 4.]], shape=[2, 2], dtype=float32)';
    expect(String(t)).toBe(text);
    expect(inspect(t)).toBe(text);
    expect(`${tensor([1.5, -2.25])}`).toBe('tensor([ 1.5000, -2.2500], shape=[2], dtype=float32)');
    expect(String(core.arange(3))).toBe('tensor([0, 1, 2], shape=[3], dtype=int32)');
    expect(String(tensor(7, { dtype: 'float64' }))).toBe('tensor(7., shape=[], dtype=float64)');
    expect(String(tensor([1e-6, 1, NaN, Infinity]))).toBe(
      'tensor([1.0000e-06, 1.0000e+00,        nan,        inf], shape=[4], dtype=float32)',
    );
    expect(String(core.zeros([0, 3]))).toBe('tensor([], shape=[0, 3], dtype=float32)');
  });

  it('shows requiresGrad on leaves and the producing op (gradFn) on results', () => {
    const w = tensor([1, 2], { requiresGrad: true });
    expect(String(w)).toBe('tensor([1., 2.], shape=[2], dtype=float32, requiresGrad=true)');
    expect(String(w.mul(2).sum())).toBe('tensor(6., shape=[], dtype=float32, gradFn=sum)');
  });

  it('summarises tensors of more than 1000 elements with 3 edge items per dim', () => {
    expect(String(core.arange(2000))).toBe('tensor([   0,    1,    2, ..., 1997, 1998, 1999], shape=[2000], dtype=int32)');
    const lines = String(core.arange(40 * 40).reshape(40, 40)).split('\n');
    expect(lines).toHaveLength(7);
    expect(lines[0]).toBe('tensor([[   0,    1,    2, ...,   37,   38,   39],');
    expect(lines[3]).toBe('        ...,');
  });

  it('wraps long rows at 80 columns', () => {
    const lines = String(core.arange(30)).split('\n');
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.every((l) => l.length <= 80 + 'shape=[30], dtype=int32)'.length)).toBe(true);
  });

  it('prints every element of small tensors (property: the numbers round-trip)', () => {
    fc.assert(
      fc.property(arbTensor({ shape: arbShape({ maxRank: 3, maxDim: 4 }), dtype: 'int32', min: -50, max: 50 }), (t) => {
        const text = String(t);
        const body = text.slice('tensor('.length, text.lastIndexOf(', shape='));
        const numbers = body.match(/-?\d+/g)?.map(Number) ?? [];
        expect(numbers).toEqual(Array.from(t.toTypedArray()));
        expect(text).toContain(`shape=[${t.shape.join(', ')}], dtype=int32`);
      }),
      { numRuns: 30 },
    );
  });
});

describe('moving tensors between backends', () => {
  const other = { ...core.cpuBackend, name: 'cpu-copy' };
  it("t.to(backend) copies to that backend (values equal, storage not shared) and 'cpu' moves back", () => {
    const t = tensor([
      [1, 2],
      [3, 4],
    ]).transpose();
    const moved = t.to(other);
    expect(moved.backend).toBe(other);
    expect(moved.storage).not.toBe(t.storage);
    expect(moved.toArray()).toEqual(t.toArray());
    expect(moved.to('cpu').backend).toBe(core.cpuBackend);
    expect(t.to(core.cpuBackend)).toBe(t);
    expect(String(moved)).toContain('backend=cpu-copy');
  });
  it('ops refuse tensors on different backends, naming both', () => {
    expect(() => core.add(tensor([1]), tensor([1]).to(other))).toThrow(
      'add: tensors live on different backends (cpu and cpu-copy); move them first',
    );
  });
  it('toAsync moves through read()', async () => {
    expect((await tensor([5]).toAsync(other)).backend).toBe(other);
  });
});

describe('denseGrad', () => {
  it('gives .grad as a Tensor without a cast, densifying row-sparse gradients', () => {
    const table = tensor(
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      { requiresGrad: true },
    );
    expect(table.denseGrad()).toBeNull();
    core
      .indexSelect(table, 0, tensor([2, 2], { dtype: 'int32' }))
      .sum()
      .backward();
    expect(table.grad).toBeInstanceOf(core.SparseGrad);
    expect(table.denseGrad()!.toArray()).toEqual([
      [0, 0],
      [0, 0],
      [2, 2],
    ]);
  });
});
