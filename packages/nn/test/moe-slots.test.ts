// The device-side ('slots') dispatch of MoE must compute exactly what host grouping computes: the same
// outputs, gradients, routing decision, load, dropped fraction, balancing loss and bias updates, for
// any capacity, k, renormalisation and balancing mode. Run on the CPU backend in float64.
import { randint, randn, sum, tensor, type Tensor } from '@myriad/core';
import { assertAllClose } from '@myriad/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MoE, type MoEForwardOptions, type MoEOptions } from '../src/routing/moe.js';

function run(opts: MoEOptions, dispatch: 'grouped' | 'slots', x: Tensor, forwardOptions: MoEForwardOptions = {}) {
  const m = new MoE({ ...opts, dispatch });
  const xi = x.detach().clone().requiresGrad_();
  const y = m.forward(xi, forwardOptions);
  const aux = m.auxLoss();
  const loss = aux ? sum(y.mul(y)).add(aux) : sum(y.mul(y));
  loss.backward();
  const grads = m.namedParameters();
  return {
    y: y.toTypedArray(),
    dx: xi.grad instanceof Object && 'toTypedArray' in xi.grad ? (xi.grad as Tensor).toTypedArray() : null,
    grads: Array.from(
      grads,
      ([name, p]) => [name, p.grad === null ? null : ('toDense' in p.grad ? p.grad.toDense() : p.grad).toTypedArray()] as const,
    ),
    indices: Array.from(m.lastRouting!.indices),
    scores: Array.from(m.lastRouting!.scores),
    load: Array.from(m.lastLoad!),
    dropped: m.droppedFraction,
    aux: aux?.item() ?? null,
    bias: m.expertBias?.toTypedArray() ?? null,
  };
}

describe("MoE dispatch 'slots' (device-side) equals 'grouped' (host)", () => {
  it('for random capacities, k, renormalisation and balancing', () => {
    fc.assert(
      fc.property(
        fc.record({
          tokens: fc.integer({ min: 1, max: 9 }),
          numExperts: fc.integer({ min: 2, max: 5 }),
          k: fc.integer({ min: 1, max: 2 }),
          capacityFactor: fc.constantFrom(Infinity, 0.5, 1, 1.25),
          normalizeTopK: fc.boolean(),
          balance: fc.constantFrom('loss' as const, 'bias' as const, 'none' as const),
          numShared: fc.integer({ min: 0, max: 1 }),
          seed: fc.nat(1000),
        }),
        (c) => {
          const opts: MoEOptions = {
            dim: 3,
            hidden: 4,
            numExperts: c.numExperts,
            topK: Math.min(c.k, c.numExperts),
            capacityFactor: c.capacityFactor,
            normalizeTopK: c.normalizeTopK,
            balance: c.balance,
            numShared: c.numShared,
            seed: c.seed,
            dtype: 'float64',
            activation: 'relu',
          };
          const x = randn([c.tokens, 3], { seed: c.seed + 1, dtype: 'float64' });
          const a = run(opts, 'grouped', x);
          const b = run(opts, 'slots', x);
          const tol = { rtol: 1e-10, atol: 1e-12 };
          assertAllClose(b.y, a.y, tol);
          assertAllClose(b.dx!, a.dx!, tol);
          // An expert no token chose gets no gradient from grouping and a zero one from its slots (it
          // ran on empty slots): the same gradient, though an optimizer with momentum treats them apart.
          a.grads.forEach(([name, g], i) => {
            const h = b.grads[i]![1];
            if (g === null) expect([name, h === null || h.every((v) => v === 0)]).toEqual([name, true]);
            else assertAllClose(h!, g, tol);
          });
          expect(b.indices).toEqual(a.indices);
          assertAllClose(Float64Array.from(b.scores), Float64Array.from(a.scores), tol);
          expect(b.load).toEqual(a.load);
          expect(b.dropped).toBeCloseTo(a.dropped!, 12);
          if (a.aux === null) expect(b.aux).toBeNull();
          else expect(b.aux).toBeCloseTo(a.aux, 10);
          if (a.bias) assertAllClose(b.bias!, a.bias, { rtol: 0, atol: 1e-15 });
        },
      ),
      { numRuns: 40 },
    );
  });

  it("for the 'hash' router (its table looked up on the device) at random capacities and k", () => {
    fc.assert(
      fc.property(
        fc.record({
          tokens: fc.integer({ min: 1, max: 9 }),
          numExperts: fc.integer({ min: 2, max: 5 }),
          k: fc.integer({ min: 1, max: 2 }),
          vocabSize: fc.integer({ min: 1, max: 12 }),
          capacityFactor: fc.constantFrom(Infinity, 0.5, 1, 1.25),
          numShared: fc.integer({ min: 0, max: 1 }),
          seed: fc.nat(1000),
        }),
        (c) => {
          const opts: MoEOptions = {
            dim: 3,
            hidden: 4,
            numExperts: c.numExperts,
            topK: Math.min(c.k, c.numExperts),
            router: 'hash',
            hashSeed: c.seed % 7,
            capacityFactor: c.capacityFactor,
            numShared: c.numShared,
            seed: c.seed,
            dtype: 'float64',
            activation: 'relu',
          };
          const x = randn([c.tokens, 3], { seed: c.seed + 1, dtype: 'float64' });
          const tokenIds = randint(0, c.vocabSize, [c.tokens], { seed: c.seed + 2 });
          const a = run(opts, 'grouped', x, { tokenIds });
          const b = run(opts, 'slots', x, { tokenIds, vocabSize: c.vocabSize });
          const tol = { rtol: 1e-10, atol: 1e-12 };
          assertAllClose(b.y, a.y, tol);
          assertAllClose(b.dx!, a.dx!, tol);
          a.grads.forEach(([name, g], i) => {
            const h = b.grads[i]![1];
            if (g === null) expect([name, h === null || h.every((v) => v === 0)]).toEqual([name, true]);
            else assertAllClose(h!, g, tol);
          });
          expect(b.indices).toEqual(a.indices);
          assertAllClose(Float64Array.from(b.scores), Float64Array.from(a.scores), tol);
          expect(b.load).toEqual(a.load);
          expect(b.dropped).toBeCloseTo(a.dropped!, 12);
          expect(b.aux).toBeNull();
        },
      ),
      { numRuns: 30 },
    );
  });

  it("'hash' with dispatch 'slots' asks for the vocabulary size by name", () => {
    const m = new MoE({ dim: 2, hidden: 2, numExperts: 3, router: 'hash', dispatch: 'slots' });
    const x = randn([2, 2]);
    const tokenIds = randint(0, 5, [2]);
    expect(() => m.forward(x, { tokenIds })).toThrow(
      "MoE.forward: router 'hash' with dispatch 'slots' on the cpu backend needs the vocabulary size to look the hash up on the device: call forward(x, { tokenIds, vocabSize }) (TransformerLM passes it)",
    );
    expect(() => m.forward(x, { tokenIds, vocabSize: 0 })).toThrow(/vocabSize/);
    expect(m.forward(x, { tokenIds, vocabSize: 5 }).shape).toEqual([2, 2]);
    expect(() => m.forward(x, { tokenIds: tensor([1, 7], { dtype: 'int32' }), vocabSize: 5 })).toThrow(
      "MoE.forward: token id 7 at position 1 is outside [0, vocabSize = 5) of the 'hash' router's table",
    );
  });

  it("is what 'auto' picks off the CPU backend, and is refused by name when misspelt", () => {
    expect(new MoE({ dim: 2, hidden: 2, numExperts: 2 }).dispatch).toBe('auto');
    expect(() => new MoE({ dim: 2, hidden: 2, numExperts: 2, dispatch: 'sorted' as 'slots' })).toThrow(
      "MoE: unknown dispatch 'sorted'; expected auto, grouped or slots",
    );
  });
});
