import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { cpuBufferPool, manualSeed, type Tensor } from '@myriad/core';
import { Adam, BatchLoader, SGD, Trainer, formatDuration, type Batch, type RoutingSource, type ProgressStream } from '../src/index.js';
import { TinyLM } from './helpers/tiny-lm.js';

const dir = mkdtempSync(join(tmpdir(), 'myriad-trainer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tokens = Int32Array.from({ length: 400 }, (_, i) => (i * 7) % 11);

class Sink implements ProgressStream {
  text = '';
  constructor(readonly isTTY = false) {}
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

function setup(valLoader = true) {
  manualSeed(3);
  const model = new TinyLM(11, 6, 1, 0);
  return {
    model,
    optimizer: new Adam(model.parameters(), { lr: 0.05 }),
    trainLoader: new BatchLoader(tokens.subarray(0, 300), { contextLength: 8, batchSize: 4, seed: 1 }),
    valLoader: valLoader ? new BatchLoader(tokens.subarray(300), { contextLength: 8, batchSize: 4, shuffle: false }) : null,
    loss: (m: TinyLM, b: Batch) => m.loss(b),
  };
}

describe('Trainer', () => {
  // Finalizers, which give the CPU backend the buffers of collected tensors, run only in a task of
  // their own: without a yield each step (the Trainer's read of its loss), a run would never reuse a buffer.
  it('yields to the event loop every step, so the CPU backend reuses buffers', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    manualSeed(3);
    const model = new TinyLM(11, 256, 1, 0); // [64 tokens, 256] activations: 64 KiB, a pooled size
    const before = cpuBufferPool.stats().reused;
    await new Trainer({
      model,
      optimizer: new SGD(model.parameters(), { lr: 0.01 }),
      trainLoader: new BatchLoader(tokens.subarray(0, 300), { contextLength: 8, batchSize: 8, seed: 1 }),
      valLoader: null,
      loss: (m: TinyLM, b: Batch) => m.loss(b),
      steps: 10,
      evalEvery: 0,
      output: new Sink(),
      hooks: { afterStep: () => gc() },
    }).run();
    expect(cpuBufferPool.stats().reused - before).toBeGreaterThan(0);
  });

  it('logs every step and every evaluation as JSON lines, and learns', async () => {
    const logFile = join(dir, 'nested', 'log.jsonl');
    const out = new Sink();
    const result = await new Trainer({ ...setup(), steps: 30, evalEvery: 10, evalBatches: 2, logFile, output: out, logEvery: 10 }).run();
    const records = readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const train = records.filter((r) => r.kind === 'train');
    const evals = records.filter((r) => r.kind === 'eval');
    expect(train.map((r) => r.step)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(evals.map((r) => r.step)).toEqual([10, 20, 30]);
    expect(evals[0].perplexity).toBeCloseTo(Math.exp(evals[0].valLoss), 10);
    expect(evals[0].tokens).toBe(2 * 4 * 8);
    expect(train[0].tokens).toBe(32);
    expect(train[29].tokensPerSecond).toBeGreaterThan(0);
    expect(result.losses).toEqual(train.map((r) => r.loss));
    // A smoke check on top of the exact tests elsewhere: the periodic sequence is learnable.
    expect(evals[2].valLoss).toBeLessThan(evals[0].valLoss);
    // Plain lines (not a TTY): step 1, every 10th step, evaluations.
    expect(out.text).toMatch(/^step 1\/30 \| loss \d+\.\d{4} \| lr 5\.00e-2 \| [\d.]+k? tok\/s \| ETA /);
    expect(out.text).toMatch(/\nstep 10\/30 /);
    expect(out.text).toMatch(/\neval step 30: val loss \d+\.\d{4}, perplexity \d+\.\d{2}\n/);
    expect(out.text).not.toMatch(/\r/);
  });

  it('draws a redrawn bar on a TTY', async () => {
    const out = new Sink(true);
    await new Trainer({ ...setup(), steps: 3, evalEvery: 0, evalBatches: 1, output: out }).run();
    // eslint-disable-next-line no-control-regex -- the progress bar redraws with ESC [K
    expect(out.text).toMatch(/\r\x1b\[K\[#+-*\] +\d+% \d\/3 loss/);
    expect(out.text).toMatch(/100% 3\/3/);
    expect(out.text).toMatch(/eval step 3: val loss/);
  });

  it('reports routing metrics of routing layers over the evaluation window', async () => {
    // A fake routing layer: each forward pass routes all tokens to expert (pass % 2), gate 1.
    let passes = 0;
    const layer: RoutingSource & { lastRouting: RoutingSource['lastRouting'] } = { lastRouting: null, numExperts: 4, droppedFraction: 0.1 };
    const s = setup();
    const model = Object.assign(s.model, { routingLayers: (): Iterable<[string, RoutingSource]> => [['blocks.0.ffw', layer]] });
    const loss = (m: TinyLM, b: Batch): Tensor => {
      const n = b.input.size;
      layer.lastRouting = { tokens: n, heads: 1, k: 1, indices: new Int32Array(n).fill(passes++ % 2), scores: new Float32Array(n).fill(1) };
      return m.loss(b);
    };
    const onEval: Array<Record<string, unknown>> = [];
    const result = await new Trainer({
      ...s,
      model,
      loss,
      steps: 1,
      evalBatches: 2,
      progress: 'none',
      hooks: { onEval: (e) => onEval.push(e.routing) },
    }).run();
    // Two evaluation batches went to experts 1 and 0 (passes 1 and 2): z = [½, ½, 0, 0].
    const r = result.final!.routing['blocks.0.ffw']!;
    expect(r.usage).toBe(0.5);
    expect(r.unevenness).toBeCloseTo(Math.log(4) + Math.log(0.5), 12);
    expect(r.droppedFraction).toBeCloseTo(0.1, 12);
    expect(r.tokens).toBe(64);
    expect(onEval).toHaveLength(1);
  });

  it('without a validation set, reports routing over the training steps since the last evaluation', async () => {
    const layer: RoutingSource & { lastRouting: RoutingSource['lastRouting'] } = { lastRouting: null, numExperts: 2 };
    const s = setup(false);
    const model = Object.assign(s.model, { routingLayers: (): Iterable<[string, RoutingSource]> => [['moe', layer]] });
    const loss = (m: TinyLM, b: Batch): Tensor => {
      layer.lastRouting = { tokens: 1, heads: 1, k: 2, indices: Int32Array.from([0, 1]), scores: Float32Array.from([0.75, 0.25]) };
      return m.loss(b);
    };
    const result = await new Trainer({ ...s, model, loss, steps: 4, evalEvery: 2, progress: 'none' }).run();
    expect(result.evals.map((e) => e.routing.moe!.tokens)).toEqual([2, 2]);
    expect(result.evals[0]!.valLoss).toBeNaN();
    expect(result.evals[0]!.routing.moe!.unevenness).toBeCloseTo(Math.log(2) + 0.75 * Math.log(0.75) + 0.25 * Math.log(0.25), 12);
  });

  it('calls afterStep hooks and stops with a clear message when the loss diverges', async () => {
    const steps: number[] = [];
    const s = setup();
    const optimizer = new SGD(s.model.parameters(), { lr: 1e6 });
    const t = new Trainer({ ...s, optimizer, steps: 50, progress: 'none', hooks: { afterStep: (r) => steps.push(r.step) } });
    await expect(t.run()).rejects.toThrow(
      /the loss is (NaN|Infinity) at step \d+ \(lr 1\.00e\+6\); lower the learning rate or set gradClip/,
    );
    expect(steps[0]).toBe(1);
  });

  it('validates its options', () => {
    expect(() => new Trainer({ ...setup(), steps: 0 })).toThrow(/steps must be a positive integer, got 0/);
    expect(() => new Trainer({ ...setup(), steps: 5, gradClip: -1 })).toThrow(/gradClip must be > 0/);
    expect(formatDuration(3723)).toBe('1h 02m');
    expect(formatDuration(187)).toBe('3m 07s');
  });
});
