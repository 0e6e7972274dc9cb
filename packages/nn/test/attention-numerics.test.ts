// Issue 13: the causal mask and every routing feed-forward raise no false alarm under
// setCheckNumerics(true); the mask masks exactly, and
// is built on the host (a backend that keeps tensors on the device has no `data` to write through).
import { afterEach, describe, expect, it } from 'vitest';
import { cpuBackend, randn, setBackend, setCheckNumerics, softmax, tensor, type Backend } from '@myriad/core';
import { CausalSelfAttention, FeedForward, MoE, PEER, PKM, TransformerLM, type FeedForwardLayer } from '@myriad/nn';

afterEach(() => {
  setCheckNumerics(false);
  setBackend(cpuBackend);
});

const ids = (rows: number[][]) => tensor(rows, { dtype: 'int32' });

describe('causal mask', () => {
  it('a healthy TransformerLM runs forward and backward under setCheckNumerics(true)', () => {
    const m = new TransformerLM({ vocabSize: 11, dim: 8, depth: 2, heads: 2, contextLength: 8, seed: 1 });
    setCheckNumerics(true);
    const loss = m.loss(ids([[1, 2, 3, 4, 5, 6]]), ids([[2, 3, 4, 5, 6, 7]]));
    expect(Number.isFinite(loss.item())).toBe(true);
    loss.backward();
  });

  // Every routing feed-forward the demo ships, in the middle block: no op of a healthy model's step may
  // trip the check (masks, capacity drops and empty expert slots included).
  const FFWS: Array<[string, () => FeedForwardLayer]> = [
    ['MoE top-k', () => new MoE({ dim: 8, hidden: 8, numExperts: 4, topK: 2, seed: 3 })],
    ['MoE top-k with capacity', () => new MoE({ dim: 8, hidden: 8, numExperts: 4, topK: 2, capacityFactor: 0.5, seed: 3 })],
    ['MoE expert-choice', () => new MoE({ dim: 8, hidden: 8, numExperts: 4, topK: 2, router: 'expert-choice', seed: 3 })],
    ['MoE hash', () => new MoE({ dim: 8, hidden: 8, numExperts: 4, topK: 1, router: 'hash', seed: 3 })],
    ['PKM', () => new PKM({ dim: 8, heads: 2, numKeys: 4, topK: 3, dimKey: 4, seed: 3 })],
    ['PEER', () => new PEER({ dim: 8, heads: 2, numExperts: 16, topK: 3, dimKey: 4, seed: 3 })],
  ];
  for (const [name, make] of FFWS) {
    it(`a TransformerLM with ${name} runs forward and backward under setCheckNumerics(true)`, () => {
      const m = new TransformerLM({
        vocabSize: 11,
        dim: 8,
        depth: 3,
        heads: 2,
        contextLength: 8,
        seed: 1,
        ffw: (l) => (l === 1 ? make() : new FeedForward({ dim: 8, hidden: 16, seed: l })),
      });
      setCheckNumerics(true);
      const loss = m.loss(
        ids([
          [1, 2, 3, 4, 5, 6],
          [6, 5, 4, 3, 2, 1],
        ]),
        ids([
          [2, 3, 4, 5, 6, 7],
          [5, 4, 3, 2, 1, 0],
        ]),
      );
      expect(Number.isFinite(loss.item())).toBe(true);
      loss.backward();
    });
  }

  it('checkNumerics still catches a real NaN in attention', () => {
    const attn = new CausalSelfAttention({ dim: 4, heads: 2, seed: 0 });
    setCheckNumerics(true);
    expect(() =>
      attn.forward(
        tensor(
          [
            [
              [1, NaN, 0, 0],
              [0, 1, 0, 0],
            ],
          ],
          { dtype: 'float32' },
        ),
      ),
    ).toThrow(/checkNumerics: .* produced NaN/);
  });

  it('masked weights are exactly 0 and rows sum to 1, in float32 and float64', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const attn = new CausalSelfAttention({ dim: 4, heads: 1, seed: 0, dtype });
      // The mask as the layer adds it, applied to large and small scores alike.
      const mask = (attn as unknown as { causalMask(T: number, d: string): ReturnType<typeof tensor> }).causalMask(5, dtype);
      const scores = randn([5, 5], { seed: 3, dtype }).mul(30);
      const w = softmax(scores.add(mask), -1).toArray() as number[][];
      for (let i = 0; i < 5; i++) {
        for (let j = i + 1; j < 5; j++) expect(w[i]![j]).toBe(0);
        expect(w[i]!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      }
    }
  });

  it('is built without writing through tensor.data, so a device-style backend can run attention', () => {
    // The CPU kernels, but with no host view of storage: what a GPU backend reports.
    const deviceLike: Backend = { ...cpuBackend, name: 'device-like', hostData: () => null };
    const run = () => new CausalSelfAttention({ dim: 4, heads: 2, seed: 0 }).forward(randn([1, 3, 4], { seed: 1 }));
    const want = run().toTypedArray();
    setBackend(deviceLike);
    expect(() => randn([2]).data).toThrow('keeps tensors on the device'); // the fake is faithful
    const onDevice = run();
    expect(onDevice.backend.name).toBe('device-like');
    expect(Array.from(onDevice.toTypedArray())).toEqual(Array.from(want));
  });
});
