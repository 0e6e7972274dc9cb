// Issue 13: a diverged run never replaces a good checkpoint, a killed save leaves nothing behind
// for long, and a resumed run's log holds every step once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor } from '@myriad/core';
import { JsonlLog } from '../src/trainer/jsonl-log.js';
import { findNonFinite, loadCheckpoint, readCheckpoint, saveCheckpoint } from '../src/index.js';
import { TinyLM } from './helpers/tiny-lm.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'myriad-ckpt-rel-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

/** Sets element `i` of a parameter (in place, through its data). */
function poison(model: TinyLM, value: number, i = 3): void {
  model.head.assign(
    tensor(
      Float32Array.from(model.head.toTypedArray(), (v, j) => (j === i ? value : v)),
      { shape: model.head.shape },
    ),
  );
}

describe('non-finite weights', () => {
  it('saveCheckpoint refuses to replace a checkpoint with NaN weights, naming the first bad tensor; the old file stays', async () => {
    const path = join(dir, 'checkpoint.safetensors');
    const model = new TinyLM(5, 4, 1, 0);
    await saveCheckpoint(path, { model, step: 3, rng: null });
    const before = readFileSync(path);
    poison(model, NaN, 3);
    await expect(saveCheckpoint(path, { model, step: 4, rng: null })).rejects.toThrow(
      `saveCheckpoint: model tensor "model.head.weight" holds NaN at flat index 3 (1 non-finite value); refusing to replace ${path}`,
    );
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(['checkpoint.safetensors']);
    expect((await readCheckpoint(path)).step).toBe(3);
  });

  it('counts every bad value and tensor; Infinity and -Infinity count too', async () => {
    const path = join(dir, 'c.safetensors');
    const model = new TinyLM(5, 4, 1, 0);
    await saveCheckpoint(path, { model, step: 1, rng: null });
    model.emb.assign(
      tensor(
        Float32Array.from(model.emb.toTypedArray(), (v, j) => (j === 7 ? -Infinity : j === 9 ? Infinity : v)),
        { shape: model.emb.shape },
      ),
    );
    poison(model, NaN, 0);
    await expect(saveCheckpoint(path, { model, step: 2, rng: null })).rejects.toThrow(
      'model tensor "model.emb.weight" holds -Infinity at flat index 7 (2 non-finite values); 2 tensors hold non-finite values in all',
    );
  });

  it('writes non-finite weights where no checkpoint exists, or when allowed, and readCheckpoint lists them', async () => {
    const path = join(dir, 'first.safetensors');
    const model = new TinyLM(5, 4, 1, 0);
    poison(model, Infinity, 5);
    await saveCheckpoint(path, { model, step: 1, rng: null });
    const ckpt = await readCheckpoint(path);
    expect(ckpt.nonFinite).toEqual([{ name: 'model.head.weight', count: 1, firstIndex: 5, firstValue: Infinity }]);
    poison(model, NaN, 6);
    await saveCheckpoint(path, { model, step: 2, rng: null, allowNonFinite: true });
    expect((await readCheckpoint(path)).nonFinite).toEqual([{ name: 'model.head.weight', count: 2, firstIndex: 5, firstValue: Infinity }]);
  });

  it('a healthy checkpoint reports no non-finite tensors; int32 tensors are skipped', async () => {
    const path = join(dir, 'ok.safetensors');
    await saveCheckpoint(path, { model: new TinyLM(5, 4, 1, 0), step: 0, rng: null });
    expect((await readCheckpoint(path)).nonFinite).toEqual([]);
    expect(findNonFinite({ i: tensor([1, 2], { dtype: 'int32' }), f: tensor([1, NaN], { dtype: 'float64' }) })).toEqual([
      { name: 'f', count: 1, firstIndex: 1, firstValue: NaN },
    ]);
  });
});

describe('temp files of a killed save', () => {
  it('are removed by the next save, and by reading or loading the checkpoint', async () => {
    const path = join(dir, 'checkpoint.safetensors');
    const model = new TinyLM(5, 4, 1, 0);
    const stale = () => join(dir, `checkpoint.safetensors.tmp-${deadPid()}-a1b2c3d4`);
    writeFileSync(stale(), 'torn');
    await saveCheckpoint(path, { model, step: 1, rng: null });
    expect(readdirSync(dir)).toEqual(['checkpoint.safetensors']);

    writeFileSync(stale(), 'torn');
    await readCheckpoint(path);
    expect(readdirSync(dir)).toEqual(['checkpoint.safetensors']);

    writeFileSync(stale(), 'torn');
    await loadCheckpoint(path, { model: new TinyLM(5, 4, 2, 0), restoreRng: false });
    expect(readdirSync(dir)).toEqual(['checkpoint.safetensors']);
  });

  it('a leftover next to a missing checkpoint is removed, and the missing file still reported', async () => {
    const path = join(dir, 'never.safetensors');
    const t = join(dir, `never.safetensors.tmp-${deadPid()}-zzzz0000`);
    writeFileSync(t, 'torn');
    await expect(readCheckpoint(path)).rejects.toThrow(`readCheckpoint: cannot read ${path}: no such file`);
    expect(existsSync(t)).toBe(false);
  });
});

describe('JsonlLog reopened for a resume', () => {
  const rec = (step: number, kind = 'train') => JSON.stringify({ kind, step, loss: step / 10 });

  it('drops records after the resume step and a torn last line, atomically', () => {
    const path = join(dir, 'log.jsonl');
    writeFileSync(path, [rec(1), rec(2), rec(2, 'eval'), rec(3), 'not json', rec(4), '{"kind":"train","st'].join('\n'));
    const log = new JsonlLog(path, true, 2);
    expect(readFileSync(path, 'utf8')).toBe([rec(1), rec(2), rec(2, 'eval'), 'not json', ''].join('\n'));
    log.write({ kind: 'train', step: 3, loss: 0.3 });
    expect(
      readFileSync(path, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => (l.startsWith('{') ? JSON.parse(l).step : l)),
    ).toEqual([1, 2, 2, 'not json', 3]);
    expect(readdirSync(dir)).toEqual(['log.jsonl']);
  });

  it('leaves the file alone when nothing is after the step; the two-argument form still appends or truncates', () => {
    const path = join(dir, 'log.jsonl');
    const text = `${rec(1)}\n${rec(2)}\n`;
    writeFileSync(path, text);
    new JsonlLog(path, true, 5);
    expect(readFileSync(path, 'utf8')).toBe(text);
    new JsonlLog(path, true);
    expect(readFileSync(path, 'utf8')).toBe(text);
    new JsonlLog(join(dir, 'sub', 'new.jsonl'), true, 3); // no file yet: nothing to drop
    new JsonlLog(path, false);
    expect(readFileSync(path, 'utf8')).toBe('');
  });

  it('refuses a resume step that is not a non-negative integer', () => {
    expect(() => new JsonlLog(join(dir, 'l.jsonl'), true, -1)).toThrow('JsonlLog: resumeStep must be a non-negative integer, got -1');
    expect(() => new JsonlLog(join(dir, 'l.jsonl'), true, 1.5)).toThrow('got 1.5');
  });
});
