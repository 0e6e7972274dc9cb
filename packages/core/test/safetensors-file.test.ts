import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor, type Tensor } from '@myriad/core';
import { spawnSync } from 'node:child_process';
import {
  readSafetensorsFile,
  readSafetensorsFileWithMetadata,
  removeStaleTempFiles,
  writeFileAtomic,
  writeSafetensorsFile,
} from '../src/io/safetensors-file.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'myriad-safetensors-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('safetensors files', () => {
  it('writes and reads back tensors and metadata, leaving no temp file', async () => {
    const path = join(dir, 'model.safetensors');
    const w = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { dtype: 'float32' },
    );
    const step = tensor(7, { dtype: 'int32' });
    await writeSafetensorsFile(path, { w, step }, { epoch: '3' });
    expect(await readdir(dir)).toEqual(['model.safetensors']);
    const { tensors, metadata } = await readSafetensorsFileWithMetadata(path);
    expect(tensors['w']!.toArray()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect([tensors['step']!.dtype, tensors['step']!.shape, tensors['step']!.item()]).toEqual(['int32', [], 7]);
    expect(metadata['epoch']).toBe('3');
    expect(Object.keys(await readSafetensorsFile(path)).sort()).toEqual(['step', 'w']);
  });

  it('replaces an existing file', async () => {
    const path = join(dir, 'ckpt.safetensors');
    await writeSafetensorsFile(path, { a: tensor([1], { dtype: 'float32' }) });
    await writeSafetensorsFile(path, { b: tensor([2, 3], { dtype: 'float64' }) });
    const t = await readSafetensorsFile(path);
    expect(Object.keys(t)).toEqual(['b']);
    expect(t['b']!.toArray()).toEqual([2, 3]);
    expect(await readdir(dir)).toEqual(['ckpt.safetensors']);
  });

  it('leaves the old file intact when the new content cannot be encoded', async () => {
    const path = join(dir, 'ckpt.safetensors');
    await writeSafetensorsFile(path, { a: tensor([1], { dtype: 'float32' }) });
    const before = await readFile(path);
    const bad = writeSafetensorsFile(path, { a: tensor([5], { dtype: 'float32' }) }, { step: 1 as unknown as string });
    await expect(bad).rejects.toThrow('safetensors: metadata value for "step" must be a string');
    expect((await readFile(path)).equals(before)).toBe(true);
    expect(await readdir(dir)).toEqual(['ckpt.safetensors']);
  });

  it('removes its temp file when the final rename fails, leaving the target untouched', async () => {
    const target = join(dir, 'occupied');
    await mkdir(target);
    await writeFile(join(target, 'keep'), 'x'); // renaming a file over a non-empty directory fails
    await expect(writeFileAtomic(target, Uint8Array.of(1, 2, 3))).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['occupied']);
    expect(await readdir(target)).toEqual(['keep']);
  });

  it('fails cleanly when the directory does not exist', async () => {
    await expect(writeFileAtomic(join(dir, 'missing', 'f.bin'), Uint8Array.of(1))).rejects.toThrow(/ENOENT/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('concurrent writers leave one complete version, never a mix', async () => {
    const path = join(dir, 'race.bin');
    const versions = Array.from({ length: 8 }, (_, i) => new Uint8Array(1 << 16).fill(i + 1));
    await Promise.all(versions.map((v) => writeFileAtomic(path, v)));
    const final = await readFile(path);
    expect(final.length).toBe(1 << 16);
    expect(final.every((b) => b === final[0])).toBe(true);
    expect(await readdir(dir)).toEqual(['race.bin']);
  });

  it('names the file when it is malformed', async () => {
    const path = join(dir, 'bad.safetensors');
    await writeFile(path, Uint8Array.of(1, 2, 3));
    await expect(readSafetensorsFile(path)).rejects.toThrow(`safetensors: ${path}: file is 3 bytes, shorter than the 8-byte header length`);
  });

  it('round-trips a larger state dict', async () => {
    const path = join(dir, 'big.safetensors');
    const tensors: Record<string, Tensor> = {};
    for (let i = 0; i < 20; i++)
      tensors[`layers.${i}.weight`] = tensor(
        Float32Array.from({ length: 4096 }, (_, j) => i + j / 4096),
        { shape: [64, 64] },
      );
    await writeSafetensorsFile(path, tensors);
    const back = await readSafetensorsFile(path);
    for (const [name, t] of Object.entries(tensors)) expect(Array.from(back[name]!.toTypedArray())).toEqual(Array.from(t.toTypedArray()));
  });

  it("removes temp files that dead writers left, on the next write and on request; keeps live writers' and unrelated files", async () => {
    const path = join(dir, 'ckpt.safetensors');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const deadTemp = `ckpt.safetensors.tmp-${dead}-k3j9x0aa`;
    const ownTemp = `ckpt.safetensors.tmp-${process.pid}-zz00aa11`; // ours, but no write of ours is running
    const liveTemp = `ckpt.safetensors.tmp-${process.ppid}-abcd1234`; // the parent process is alive: it may be writing
    const keep = ['ckpt.safetensors.tmp-notes', 'other.safetensors.tmp-1-abc', 'ckpt.safetensors.bak'];
    for (const f of [deadTemp, ownTemp, liveTemp, ...keep]) await writeFile(join(dir, f), 'partial');
    await writeSafetensorsFile(path, { a: tensor([1], { dtype: 'float32' }) });
    expect((await readdir(dir)).sort()).toEqual(['ckpt.safetensors', liveTemp, ...keep].sort());

    await writeFile(join(dir, deadTemp), 'partial');
    expect(await removeStaleTempFiles(path)).toEqual([join(dir, deadTemp)]);
    expect(await removeStaleTempFiles(join(dir, 'missing-dir', 'x'))).toEqual([]);
  });
});
