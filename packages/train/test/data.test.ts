import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchLoader, TextDataset, trainValidationSplit } from '../src/data/index.js';
import { CharTokenizer } from '../src/tokenizers/index.js';

function stream(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

describe('TextDataset', () => {
  it('reads a directory recursively in sorted order, joined by the separator, skipping hidden files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'myriad-ds-'));
    try {
      writeFileSync(join(dir, 'b.txt'), 'second');
      writeFileSync(join(dir, 'a.txt'), 'first');
      writeFileSync(join(dir, '.hidden'), 'nope');
      mkdirSync(join(dir, 'c'));
      writeFileSync(join(dir, 'c', 'x.md'), 'third');
      expect(TextDataset.fromDirectory(dir, { separator: '|' }).text).toBe('first|second|third');
      expect(TextDataset.fromPath(dir, { extensions: ['.md'] }).text).toBe('third');
      expect(TextDataset.fromPath(join(dir, 'b.txt')).text).toBe('second');
      expect(() => TextDataset.fromDirectory(dir, { extensions: ['.csv'] })).toThrow(/contains no files ending in \.csv/);
      writeFileSync(join(dir, 'bin.dat'), new Uint8Array([0xff, 0xfe, 0x00]));
      expect(() => TextDataset.fromDirectory(dir)).toThrow(/bin\.dat is not valid UTF-8/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the path when it cannot be read', () => {
    expect(() => TextDataset.fromPath('/no/such/corpus.txt')).toThrow(
      /cannot read corpus \/no\/such\/corpus\.txt: no such file or directory/,
    );
    expect(() => TextDataset.fromFile('/no/such/corpus.txt')).toThrow(/cannot read \/no\/such\/corpus\.txt/);
  });

  it('bundles Moby-Dick as the default corpus', () => {
    const ds = TextDataset.mobyDick();
    expect(ds.text.startsWith('CHAPTER 1. Loomings.')).toBe(true);
    expect(ds.length).toBeGreaterThan(1_000_000);
    expect(CharTokenizer.fromText(ds.text).vocabSize).toBeLessThan(100);
  });
});

describe('trainValidationSplit', () => {
  it('holds out the tail', () => {
    const { train, validation } = trainValidationSplit(stream(100), 0.1);
    expect(train.length).toBe(90);
    expect(Array.from(validation)).toEqual(Array.from({ length: 10 }, (_, i) => 90 + i));
    expect(() => trainValidationSplit(stream(10), 1)).toThrow(/\[0, 1\)/);
  });
});

describe('BatchLoader', () => {
  it('yields int32 [B, T] windows whose target is the input shifted by one', () => {
    const loader = new BatchLoader(stream(1000), { contextLength: 8, batchSize: 4, seed: 1 });
    const { input, target } = loader.next();
    expect(input.shape).toEqual([4, 8]);
    expect(input.dtype).toBe('int32');
    const x = input.toTypedArray();
    const y = target.toTypedArray();
    for (let i = 0; i < x.length; i++) expect(y[i]).toBe(x[i]! + 1);
    for (let b = 0; b < 4; b++) for (let t = 1; t < 8; t++) expect(x[b * 8 + t]).toBe(x[b * 8 + t - 1]! + 1);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const take = (seed: number) => {
      const l = new BatchLoader(stream(5000), { contextLength: 16, batchSize: 8, seed });
      return [l.next(), l.next()].map((b) => Array.from(b.input.toTypedArray()));
    };
    expect(take(7)).toEqual(take(7));
    expect(take(7)).not.toEqual(take(8));
  });

  it('visits every window of an epoch exactly once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 300 }), fc.integer({ min: 1, max: 9 }), fc.nat(1000), (n, T, seed) => {
        const loader = new BatchLoader(stream(n), { contextLength: T, batchSize: 1, seed });
        const count = loader.windowsPerEpoch;
        const starts = new Set<number>();
        for (let i = 0; i < count; i++) starts.add(loader.next().input.toTypedArray()[0]!);
        expect(starts.size).toBe(count);
        const sorted = [...starts].sort((a, b) => a - b);
        for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBe(T); // stride T, one offset
        expect(sorted[sorted.length - 1]! + T + 1).toBeLessThanOrEqual(n);
        expect(loader.state().epoch).toBe(0);
        loader.next();
        expect(loader.state().epoch).toBe(1);
      }),
      { numRuns: 40 },
    );
  });

  it('resumes exactly from a saved state', () => {
    const opts = { contextLength: 5, batchSize: 7, seed: 3 };
    const a = new BatchLoader(stream(200), opts);
    for (let i = 0; i < 9; i++) a.next(); // crosses several epochs (39 windows each at most)
    const saved = JSON.parse(JSON.stringify(a.state()));
    const b = new BatchLoader(stream(200), opts);
    b.loadState(saved);
    for (let i = 0; i < 5; i++) expect(Array.from(b.next().input.toTypedArray())).toEqual(Array.from(a.next().input.toTypedArray()));
    const other = new BatchLoader(stream(200), { ...opts, seed: 4 });
    expect(() => other.loadState(saved)).toThrow(/saved seed is 3 but this loader has 4/);
  });

  it('without shuffling gives windows in order from the start', () => {
    const l = new BatchLoader(stream(30), { contextLength: 4, batchSize: 3, shuffle: false });
    expect(Array.from(l.next().input.toTypedArray())).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    l.reset();
    expect(l.next().input.toTypedArray()[0]).toBe(0);
  });

  it('refuses a corpus shorter than one window', () => {
    expect(() => new BatchLoader(stream(8), { contextLength: 8, batchSize: 1, name: 'validation set' })).toThrow(
      /the validation set has 8 tokens, fewer than one window of contextLength \+ 1 = 9/,
    );
    expect(() => new BatchLoader(stream(8), { contextLength: 0, batchSize: 1 })).toThrow(/contextLength must be a positive integer/);
  });
});
