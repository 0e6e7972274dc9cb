import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed, tensor, writeSafetensorsFile } from '@myriad/core';
import {
  AdamW,
  BatchLoader,
  CharTokenizer,
  Trainer,
  loadCheckpoint,
  readCheckpoint,
  saveCheckpoint,
  tokenizerFromJSON,
  trainValidationSplit,
  warmupCosine,
} from '../src/index.js';
import { TinyLM } from './helpers/tiny-lm.js';

const dir = mkdtempSync(join(tmpdir(), 'myriad-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const text = 'Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse. '.repeat(8);
const tokenizer = CharTokenizer.fromText(text);
const { train, validation } = trainValidationSplit(tokenizer.encode(text), 0.2);
const config = { vocab: tokenizer.vocabSize, dim: 8, seed: 5 };

function setup(modelSeed: number) {
  const model = new TinyLM(config.vocab, config.dim, modelSeed);
  const optimizer = new AdamW(model.parameters(), { lr: 0.05, weightDecay: 0.01 });
  const trainLoader = new BatchLoader(train, { contextLength: 6, batchSize: 4, seed: config.seed });
  const valLoader = new BatchLoader(validation, { contextLength: 6, batchSize: 4, shuffle: false, name: 'validation set' });
  return { model, optimizer, trainLoader, valLoader };
}

function trainer(s: ReturnType<typeof setup>, steps: number, path?: string) {
  return new Trainer({
    ...s,
    loss: (m, b) => m.loss(b),
    steps,
    schedule: warmupCosine({ lr: 0.05, minLr: 0.005, warmupSteps: 3, totalSteps: 10 }),
    gradClip: 1,
    evalEvery: 3,
    evalBatches: 2,
    progress: 'none',
    checkpoint: path ? { path, config, tokenizer } : null,
  });
}

describe('checkpoints', () => {
  it('resume continues the exact run: same losses as an uninterrupted one', async () => {
    manualSeed(1);
    const straight = await trainer(setup(config.seed), 10).run();

    manualSeed(1);
    const path = join(dir, 'half.safetensors');
    const first = await trainer(setup(config.seed), 5, path).run();

    manualSeed(999); // resume must restore the RNG, not rely on the caller's seed
    const fresh = setup(123); // different init: the checkpoint must overwrite it
    const t2 = trainer(fresh, 10);
    const ckpt = await t2.resume(path, { config });
    expect(ckpt.step).toBe(5);
    const second = await t2.run();

    expect([...first.losses, ...second.losses]).toEqual(straight.losses);
    expect(second.final!.valLoss).toBe(straight.final!.valLoss);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]); // atomic write left no temp file
  });

  it('stores config, step, tokenizer and loader state as metadata', async () => {
    const s = setup(1);
    const path = join(dir, 'meta.safetensors');
    s.trainLoader.next();
    await saveCheckpoint(path, { model: s.model, optimizer: s.optimizer, step: 7, tokenizer, config, loader: s.trainLoader });
    const ckpt = await readCheckpoint(path);
    expect(ckpt.step).toBe(7);
    expect(ckpt.config).toEqual(config);
    expect(ckpt.loader).toEqual(s.trainLoader.state());
    expect(Object.keys(ckpt.model).sort()).toEqual(['emb.weight', 'head.bias', 'head.weight']);
    const tok = tokenizerFromJSON(ckpt.tokenizer!);
    expect(tok.decode(tok.encode('Ishmael'))).toBe('Ishmael');
    expect(ckpt.optimizer!.type).toBe('AdamW');
  });

  describe('refuses bad files', () => {
    const good = join(dir, 'good.safetensors');
    const makeGood = async () => {
      const s = setup(1);
      await saveCheckpoint(good, { model: s.model, optimizer: s.optimizer, step: 1, config, loader: s.trainLoader });
      return readFileSync(good);
    };

    it('a truncated file', async () => {
      const bytes = await makeGood();
      const p = join(dir, 'truncated.safetensors');
      writeFileSync(p, bytes.subarray(0, bytes.length - 10));
      await expect(readCheckpoint(p)).rejects.toThrow(/truncated\.safetensors is not a valid safetensors file/);
    });

    it('a file with a damaged tensor', async () => {
      const bytes = Buffer.from(await makeGood());
      bytes[bytes.length - 3]! ^= 0x10;
      const p = join(dir, 'flipped.safetensors');
      writeFileSync(p, bytes);
      await expect(readCheckpoint(p)).rejects.toThrow(/flipped\.safetensors is corrupt: tensor checksum/);
    });

    it('a safetensors file that is not a checkpoint, and a missing file', async () => {
      const p = join(dir, 'plain.safetensors');
      await writeSafetensorsFile(p, { w: tensor([1, 2]) });
      await expect(readCheckpoint(p)).rejects.toThrow(/not a Myriad checkpoint/);
      await expect(readCheckpoint(join(dir, 'nope.safetensors'))).rejects.toThrow(/cannot read .*nope\.safetensors: no such file/);
    });

    it('a different config, with the differing field named', async () => {
      await makeGood();
      const s = setup(1);
      await expect(loadCheckpoint(good, { model: s.model, config: { ...config, dim: 16 } })).rejects.toThrow(
        /saved with another config: dim: checkpoint has 8, given 16/,
      );
    });

    it('a model with other shapes or keys, leaving the model untouched', async () => {
      await makeGood();
      const wider = new TinyLM(config.vocab, 16, 1);
      const before = wider.emb.toTypedArray();
      await expect(loadCheckpoint(good, { model: wider })).rejects.toThrow(
        /does not fit this model .*shape or dtype mismatch: emb\.weight: checkpoint float32 \[\d+,8\], model float32 \[\d+,16\]/,
      );
      expect(wider.emb.toTypedArray()).toEqual(before);
      const renamed = {
        parameters: () => wider.parameters(),
        namedParameters: (): Array<[string, typeof wider.emb]> => [['embedding', wider.emb]],
      };
      await expect(loadCheckpoint(good, { model: renamed })).rejects.toThrow(
        /missing keys: embedding; unexpected keys: emb\.weight, head\.bias, head\.weight/,
      );
    });

    it('a loader with other settings, leaving the loader where it was', async () => {
      await makeGood();
      const s = setup(1);
      const other = new BatchLoader(train, { contextLength: 6, batchSize: 5, seed: config.seed });
      other.next();
      const before = other.state();
      await expect(loadCheckpoint(good, { model: s.model, optimizer: s.optimizer, loader: other })).rejects.toThrow(
        /saved batchSize is 4 but this loader has 5/,
      );
      expect(other.state()).toEqual(before);
    });
  });
});
