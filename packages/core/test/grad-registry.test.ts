import { describe, expect, it } from 'vitest';
import * as core from '@myriad/core';
import { SparseGrad, cpuBackend, type Backend, type Tensor } from '@myriad/core';
import { gradCheck } from '@myriad/core/testing';
import {
  GRAD_CHECK_ADJUSTMENTS,
  NO_GRADIENT,
  PROBES,
  collectOps,
  deviceLikeBackend,
  gradCheckInputs,
  probeOutput,
} from './helpers/op-list.js';

// A gradient check for every differentiable op, generated from the op registry: helpers/op-list.ts has
// a probe for every op @myriad/core exports (op-list.test.ts fails when one lacks it), and every op whose
// probe output joins the autograd graph is gradient-checked here through that probe, on random float64
// inputs kept away from kinks, on the CPU backend and on a device-like one (the CPU backend without host
// arrays: ops such as expertMix take their gpu-backend path there). A new op thus cannot be differentiable without a passing gradient check,
// nor silently lose its gradient (NO_GRADIENT must name it). The per-op tests in grad-*.test.ts check
// more shapes, dims and options; this one guarantees none is missing. docs/core.md's op table lists the
// backward nodes each check runs through.
const ops = collectOps();
const differentiable = ops.filter((o) => o.differentiable === true).map((o) => o.name);
const SEEDS = [1, 2, 3];
const BACKENDS: [string, Backend][] = [
  ['cpu', cpuBackend],
  ['device-like', deviceLikeBackend()],
];

/** The gradient check of one op's probe on the inputs of `seed`; returns the largest |analytic gradient|. */
function checkProbe(name: string, seed: number): number {
  const probe = PROBES[name]!;
  const adjust = GRAD_CHECK_ADJUSTMENTS[name];
  const { x, pos, ids } = gradCheckInputs(seed);
  const fn = (a: Tensor, b: Tensor): Tensor => {
    const out = probeOutput(probe({ x: a, pos: b, ids }));
    return adjust?.finish ? adjust.finish(out) : out;
  };
  gradCheck(fn, [x, pos], adjust?.options);
  // Not vacuous: the analytic gradient of some input is nonzero (a check of a constant passes trivially).
  // Random output weights, since a plain sum is constant for some ops (softmax, layerNorm).
  const [a, b] = [x, pos].map((t) => t.detach().requiresGrad_());
  const out = fn(a!, b!);
  core.sum(core.mul(out, core.rand(out.shape, { seed, dtype: 'float64' }))).backward();
  let largest = 0;
  for (const t of [a!, b!]) {
    const g = t.grad;
    if (g === null) continue;
    const dense = g instanceof SparseGrad ? g.toDense() : g;
    for (const v of dense.toTypedArray()) largest = Math.max(largest, Math.abs(v));
  }
  return largest;
}

describe('gradient check of every differentiable op (generated from the op registry)', () => {
  it('every op without a gradient is listed, with the reason, in NO_GRADIENT', () => {
    const without = ops.filter((o) => o.differentiable === false).map((o) => o.name);
    expect(without.sort()).toEqual(Object.keys(NO_GRADIENT).sort());
    expect(Object.keys(GRAD_CHECK_ADJUSTMENTS).filter((n) => !differentiable.includes(n))).toEqual([]);
    expect(differentiable.length).toBeGreaterThan(60);
  });

  for (const name of differentiable) {
    it(name, () => {
      for (const [label, backend] of BACKENDS) {
        const previous = core.getBackend();
        core.setBackend(backend);
        try {
          for (const seed of SEEDS) {
            expect(checkProbe(name, seed), `${name} on ${label}: the gradient is zero everywhere (seed ${seed})`).toBeGreaterThan(0);
          }
        } finally {
          core.setBackend(previous);
        }
      }
    });
  }

  it('the check catches a wrong gradient', () => {
    // A gradient that is off by a factor of 2: the mechanism above would report it.
    const wrong = (t: Tensor) => core.mul(t.detach(), t);
    expect(() => gradCheck(wrong, [gradCheckInputs(1).x])).toThrow(/analytic and numerical gradients differ/);
  });
});
