// A finite loss with a non-finite gradient (sqrt at 0 has an infinite derivative) must never reach the
// weights: the Trainer skips such updates, says so, and stops after maxSkippedSteps in a row.
import { describe, expect, it } from 'vitest';
import { add, manualSeed, mul, sqrt, sum, type Tensor } from '@myriad/core';
import { Adam, BatchLoader, Trainer, type Batch, type ProgressStream } from '../src/index.js';
import { TinyLM } from './helpers/tiny-lm.js';

class Sink implements ProgressStream {
  text = '';
  readonly isTTY = false;
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

const tokens = Int32Array.from({ length: 300 }, (_, i) => (i * 5) % 11);

function setup(poisonFrom: number) {
  manualSeed(1);
  const model = new TinyLM(11, 6, 1, 0);
  let step = 0;
  // From step `poisonFrom` on, add sqrt(0·w): zero loss, but a NaN gradient (∞·0) on every weight.
  const loss = (m: TinyLM, b: Batch): Tensor => {
    step++;
    const base = m.loss(b);
    if (step < poisonFrom) return base;
    const w = m.parameters()[0]!;
    return add(base, sum(sqrt(mul(w, 0))));
  };
  return {
    model,
    loss,
    optimizer: new Adam(model.parameters(), { lr: 0.05 }),
    trainLoader: new BatchLoader(tokens, { contextLength: 8, batchSize: 2, seed: 3 }),
  };
}

describe('Trainer with non-finite gradients', () => {
  it('skips the update (weights unchanged, record marked), then stops with a clear message after maxSkippedSteps', async () => {
    const s = setup(3);
    const out = new Sink();
    const records: { step: number; skipped?: boolean }[] = [];
    let before: Float32Array | null = null;
    const trainer = new Trainer({
      ...s,
      steps: 20,
      evalEvery: 0,
      output: out,
      maxSkippedSteps: 3,
      hooks: {
        afterStep: (r) => {
          records.push(r);
          if (r.step === 2) before = Float32Array.from(s.model.parameters()[0]!.toTypedArray());
        },
      },
    });
    await expect(trainer.run()).rejects.toThrow(/3 steps in a row had a non-finite gradient \(last at step 5\)/);
    expect(records.map((r) => r.skipped ?? false)).toEqual([false, false, true, true]);
    const after = s.model.parameters()[0]!.toTypedArray();
    expect(Array.from(after)).toEqual(Array.from(before!));
    expect(after.every((v) => Number.isFinite(v))).toBe(true);
    expect(out.text).toMatch(/step 3: the gradient norm is NaN; update skipped \(weights unchanged\)/);
  });

  it('carries on when finite gradients come back', async () => {
    const s = setup(1000);
    const result = await new Trainer({ ...s, steps: 4, evalEvery: 0, output: new Sink() }).run();
    expect(result.losses.every((l) => Number.isFinite(l))).toBe(true);
  });
});
