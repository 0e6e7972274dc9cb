// Node file helpers. node:fs is imported dynamically inside each function so that @myriad/core
// still bundles for browsers, where only the in-memory saveSafetensors/loadSafetensors apply.
import type { Tensor } from '../tensor.js';
import { SafetensorsError } from './safetensors-format.js';
import { loadSafetensorsWithMetadata, saveSafetensors } from './safetensors.js';
import { writeFileAtomic } from './atomic-file.js';

export { removeStaleTempFiles, writeFileAtomic } from './atomic-file.js';

/** Saves named tensors (and optional string metadata) to a safetensors file, atomically. */
export async function writeSafetensorsFile(
  path: string,
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, saveSafetensors(tensors, metadata));
}

/** Loads the tensors and the `__metadata__` strings of a safetensors file. */
export async function readSafetensorsFileWithMetadata(
  path: string,
): Promise<{ tensors: Record<string, Tensor>; metadata: Record<string, string> }> {
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
