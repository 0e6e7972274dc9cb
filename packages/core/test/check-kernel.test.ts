import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as core from '@myriad/core';
import { tensor, type Tensor } from '@myriad/core';
import { checkKernel } from '@myriad/core/testing';

// checkKernel pins a kernel to a reference op; a wrong kernel is shrunk to its smallest failing case.
describe('checkKernel', () => {
  it('passes a correct kernel returning a flat array, over several dtypes', async () => {
    const addKernel = (a: Tensor, b: Tensor) => {
      const x = a.toTypedArray();
      const y = b.toTypedArray();
      return Array.from(x, (v, i) => v + y[i]!);
    };
    const r = await checkKernel(addKernel, core.add, { dtypes: ['float32', 'float64', 'int32'], numRuns: 50 });
    expect(r).toMatchObject({ ok: true, numRuns: 50 });
  });

  it('accepts async kernels returning tensors, fixed shapes and an arbitrary of shapes', async () => {
    await checkKernel(async (x: Tensor) => x.exp(), core.exp, { shapes: [[3, 4]], numRuns: 10 });
    const matmulShapes = fc
      .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }))
      .map(([m, k, n]) => [
        [m, k],
        [k, n],
      ]);
    await checkKernel((a: Tensor, b: Tensor) => core.matmul(a, b), core.matmul, {
      shapes: matmulShapes,
      numRuns: 20,
      tolerances: { float32: { atol: 1e-5, rtol: 1e-4 } },
    });
  });

  it('shrinks a wrong kernel to the smallest failing shape and values, naming the worst element', async () => {
    // Wrong only for elements above 0.5: the smallest failing case is one element of value 0.5 < v.
    const relu = (x: Tensor) => Array.from(x.toTypedArray(), (v) => (v > 0.5 ? v * 1.01 : Math.max(v, 0)));
    const failure = await checkKernel(relu, core.relu, { numRuns: 200, seed: 42 }).then(
      () => null,
      (e: Error & { result?: { counterexample: { shapes: number[][]; inputs: number[][] } } }) => e,
    );
    expect(failure).not.toBeNull();
    expect(failure!.message).toMatch(/^checkKernel: kernel differs from reference \(shrunk to the smallest failing case/);
    expect(failure!.message).toMatch(/worst element \[[0,]*\]: kernel [\d.]+, reference [\d.]+, \|diff\|/);
    const ce = failure!.result!.counterexample;
    expect(ce.inputs[0]!.length).toBe(1); // one element
    expect(ce.shapes[0]!.every((d) => d === 1)).toBe(true);
    expect(ce.inputs[0]![0]).toBeGreaterThan(0.5);
  });

  it('reports a kernel that throws, and an output of the wrong size', async () => {
    await expect(
      checkKernel(
        () => {
          throw new Error('boom');
        },
        core.neg,
        { numRuns: 5 },
      ),
    ).rejects.toThrow('kernel threw: boom');
    await expect(checkKernel((x: Tensor) => tensor([...x.toTypedArray(), 0]), core.neg, { numRuns: 5 })).rejects.toThrow('shapes differ');
  });
});
