// A train-lm model rebuilt from a checkpoint's own config (older configs without a layer block get
// today's default sizes), for `sample` and `--resume`.
import type { TransformerLM } from '@myriad/nn';
import { loadCheckpoint, readCheckpoint, type Checkpoint } from '@myriad/train';
import { buildModel, resolveModelConfig, type ResolvedModelConfig } from './models.js';
import { UsageError } from './parse.js';

/** Reads a checkpoint named by `flag` (--resume, --checkpoint); any failure is a one-line UsageError. */
export async function readRunCheckpoint(path: string, flag: string): Promise<Checkpoint> {
  try {
    return await readCheckpoint(path);
  } catch (e) {
    throw new UsageError(`${flag}: ${(e as Error).message.replace(/^readCheckpoint: /, '')}`);
  }
}

/** The model config a checkpoint records, checked and completed with the default layer sizes. */
export function checkpointModelConfig(ckpt: Checkpoint, flag: string): ResolvedModelConfig {
  const { train: _plan, ...model } = (ckpt.config ?? {}) as Record<string, unknown>;
  try {
    return resolveModelConfig(model);
  } catch (e) {
    throw new UsageError(`${flag}: ${ckpt.path} is not a train-lm checkpoint: ${(e as Error).message}`);
  }
}

/** Builds the checkpoint's model from its config and loads its weights (in eval mode; the RNG is left alone). */
export async function loadCheckpointModel(ckpt: Checkpoint, flag: string): Promise<{ model: TransformerLM; config: ResolvedModelConfig }> {
  const config = checkpointModelConfig(ckpt, flag);
  const { model } = buildModel(config);
  try {
    await loadCheckpoint(ckpt, { model, restoreRng: false });
  } catch (e) {
    throw new UsageError(`${flag}: ${(e as Error).message.replace(/^loadCheckpoint: /, '')}`);
  }
  model.eval();
  return { model, config };
}
