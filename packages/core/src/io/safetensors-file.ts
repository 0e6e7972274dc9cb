// Node file helpers. node:fs is imported dynamically inside each function so that @myriad/core
// still bundles for browsers, where only the in-memory saveSafetensors/loadSafetensors apply.
import type { Tensor } from '../tensor.js';
import { SafetensorsError } from './safetensors-format.js';
import { loadSafetensorsWithMetadata, saveSafetensors } from './safetensors.js';

/**
 * Writes `bytes` to `path` atomically: a temp file in the same directory is written, fsynced and
 * renamed over the target, so readers see the old file or the new one, never a torn one.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const fs = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  try {
    const handle = await fs.open(tmp, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => undefined); // keep the original error
    throw e;
  }
  // Persist the rename itself. Best effort: some platforms (Windows) cannot open a directory.
  try {
    const dir = await fs.open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    /* the file is already in place; only durability across a power cut is weaker */
  }
}

/** Saves named tensors (and optional string metadata) to a safetensors file, atomically. */
export async function writeSafetensorsFile(path: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): Promise<void> {
  await writeFileAtomic(path, saveSafetensors(tensors, metadata));
}

/** Loads the tensors and the `__metadata__` strings of a safetensors file. */
export async function readSafetensorsFileWithMetadata(path: string): Promise<{ tensors: Record<string, Tensor>; metadata: Record<string, string> }> {
  const { readFile } = await import('node:fs/promises');
  const bytes = await readFile(path);
  try {
    return loadSafetensorsWithMetadata(bytes);
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw e;
    throw new SafetensorsError(e.message.replace(/^safetensors: /, `safetensors: ${path}: `), { cause: e });
  }
}

/** Loads every tensor of a safetensors file. */
export async function readSafetensorsFile(path: string): Promise<Record<string, Tensor>> {
  return (await readSafetensorsFileWithMetadata(path)).tensors;
}
