// Checkpoints: model, optimizer, step, RNG state, tokenizer, config and loader position in ONE
// safetensors file. Tensors are named `model.<key>` and `optim.<param>.<buffer>`; everything else is
// JSON in the metadata. Written atomically (temp file + rename), so a crash never leaves a torn file.
import {
  Tensor,
  cpuBackend,
  getRngState,
  loadSafetensorsWithMetadata,
  removeStaleTempFiles,
  saveSafetensors,
  setRngState,
  writeFileAtomic,
} from '@myriad/core';
import type { BatchLoader, BatchLoaderState } from '../data/batch-loader.js';
import type { BaseHyper, Optimizer, OptimizerStateDict } from '../optim/optimizer.js';
import type { HasParameters } from '../optim/param-groups.js';
import type { Tokenizer, TokenizerJSON } from '../tokenizers/tokenizer.js';
import { tensorsChecksum } from './checksum.js';
import { configDiff } from './config-diff.js';
import { describeNonFinite, findNonFinite, type NonFiniteTensor } from './non-finite.js';
import { nodeBuiltin } from '../node-builtin.js';

const FORMAT = 'myriad-checkpoint';
const VERSION = '1';

/** A model a checkpoint can hold: parameters, and optionally named state (parameters + buffers). */
export interface CheckpointModel extends HasParameters {
  stateDict?(): Record<string, Tensor>;
  loadStateDict?(dict: Record<string, Tensor>, options?: { strict?: boolean }): void;
}

/** What `saveCheckpoint` stores. */
export interface SaveCheckpointOptions {
  model: CheckpointModel;
  optimizer?: Optimizer<BaseHyper> | null;
  /** Optimizer steps taken so far. */
  step: number;
  /** RNG state to restore on resume (default: the global generator's, `getRngState()`). */
  rng?: readonly number[] | null;
  tokenizer?: Tokenizer | TokenizerJSON | null;
  /** Model / run configuration (JSON); `loadCheckpoint` can refuse a file whose config differs. */
  config?: unknown;
  loader?: BatchLoader | BatchLoaderState | null;
  /** Any other JSON to keep with the run (e.g. the metrics history). */
  extra?: Record<string, unknown>;
  /**
   * Write even when model tensors hold NaN or ±Infinity and a file already exists at the path
   * (default false: saveCheckpoint refuses, so a diverged run never replaces the last good checkpoint).
   */
  allowNonFinite?: boolean;
}

/** The parsed contents of a checkpoint file. */
export interface Checkpoint {
  path: string;
  step: number;
  config: unknown;
  tokenizer: TokenizerJSON | null;
  rng: number[] | null;
  loader: BatchLoaderState | null;
  /** Model tensors by state-dict key (without the `model.` prefix). */
  model: Record<string, Tensor>;
  optimizer: OptimizerStateDict | null;
  extra: Record<string, unknown>;
  /** Tensors holding NaN or ±Infinity, by stored name (`model.<key>`, `optim.<key>`); empty for a healthy run. */
  nonFinite: NonFiniteTensor[];
}

/** What `loadCheckpoint` restores into; only `model` is required. */
export interface LoadCheckpointTargets {
  model: CheckpointModel;
  optimizer?: Optimizer<BaseHyper> | null;
  loader?: BatchLoader | null;
  /** When given, the checkpoint's config must equal it (compared as JSON). */
  config?: unknown;
  /** Restore the global RNG state (default true). */
  restoreRng?: boolean;
}

/** The tensors a model is saved as: stateDict(), else namedParameters(), else parameters() numbered. */
export function modelTensors(model: CheckpointModel): Record<string, Tensor> {
  if (model.stateDict) return model.stateDict();
  const out: Record<string, Tensor> = {};
  if (model.namedParameters) for (const [name, p] of model.namedParameters()) out[name] = p;
  else Array.from(model.parameters()).forEach((p, i) => (out[String(i)] = p));
  return out;
}

function json(value: unknown): string {
  return JSON.stringify(value ?? null);
}

/**
 * Saves a training run to one safetensors file at `path`, atomically. Refuses (unless
 * `allowNonFinite`) to replace an existing file with model weights holding NaN or ±Infinity.
 * Temp files that a killed earlier save left next to `path` are removed.
 */
export async function saveCheckpoint(path: string, options: SaveCheckpointOptions): Promise<void> {
  const { tensors, optimizer } = collect(options);
  // Device tensors (WebGPU answers only asynchronously) are read here, once, into host tensors.
  const host = await onHost(tensors);
  if (!options.allowNonFinite) {
    const bad = findNonFinite(Object.fromEntries(Object.entries(host).filter(([k]) => k.startsWith('model.'))));
    if (bad.length > 0 && nodeBuiltin('node:fs', 'saveCheckpoint').existsSync(path)) {
      throw new Error(
        `saveCheckpoint: model ${describeNonFinite(bad)}; refusing to replace ${path}, which may be the last good checkpoint ` +
          '(the run has diverged: lower the learning rate, or clip gradients if they are not clipped yet; pass allowNonFinite: true to write anyway)',
      );
    }
  }
  await writeFileAtomic(path, encode(options, host, optimizer));
}

/** The bytes of the checkpoint `saveCheckpoint` writes (for a browser download, a network send, ...); synchronous backends only, else `checkpointToBytesAsync`. */
export function checkpointToBytes(options: SaveCheckpointOptions): Uint8Array {
  const { tensors, optimizer } = collect(options);
  return encode(options, tensors, optimizer);
}

/** `checkpointToBytes` on every backend: device tensors are read asynchronously first. */
export async function checkpointToBytesAsync(options: SaveCheckpointOptions): Promise<Uint8Array> {
  const { tensors, optimizer } = collect(options);
  return encode(options, await onHost(tensors), optimizer);
}

/** The tensors of a checkpoint (`model.*`, `optim.*`) and the optimizer's other state. */
function collect(options: SaveCheckpointOptions): {
  tensors: Record<string, Tensor>;
  optimizer: Omit<OptimizerStateDict, 'tensors'> | null;
} {
  const tensors: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(modelTensors(options.model))) tensors[`model.${k}`] = t;
  let optimizer: Omit<OptimizerStateDict, 'tensors'> | null = null;
  if (options.optimizer) {
    const { tensors: optTensors, ...meta } = options.optimizer.stateDict();
    for (const [k, t] of Object.entries(optTensors)) tensors[`optim.${k}`] = t;
    optimizer = meta;
  }
  return { tensors, optimizer };
}

/** Host (CPU backend) copies of tensors that live on another backend; CPU tensors as they are. */
async function onHost(tensors: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const out: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(tensors))
    out[k] = t.backend === cpuBackend ? t : Tensor._make(cpuBackend, await t.read(), t.shape, t.dtype);
  return out;
}

function encode(
  options: SaveCheckpointOptions,
  tensors: Record<string, Tensor>,
  optimMeta: Omit<OptimizerStateDict, 'tensors'> | null,
): Uint8Array {
  const { step } = options;
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`saveCheckpoint: step must be a non-negative integer, got ${step}`);
  const tok = options.tokenizer;
  const loader = options.loader;
  const metadata: Record<string, string> = {
    format: FORMAT,
    version: VERSION,
    step: String(step),
    config: json(options.config),
    tokenizer: json(tok && 'toJSON' in tok ? tok.toJSON() : tok),
    rng: json(options.rng === undefined ? getRngState() : options.rng),
    loader: json(loader && 'state' in loader ? loader.state() : loader),
    optimizer: json(optimMeta),
    extra: json(options.extra ?? {}),
    checksum: tensorsChecksum(tensors),
  };
  return saveSafetensors(tensors, metadata);
}

function parseField<T>(path: string, metadata: Record<string, string>, key: string): T {
  const raw = metadata[key];
  if (raw === undefined)
    throw new Error(`readCheckpoint: ${path} lacks the "${key}" metadata entry; the file is damaged or from another tool`);
  try {
    return JSON.parse(raw) as T;
  } catch {
    throw new Error(`readCheckpoint: ${path} has unreadable "${key}" metadata (not JSON); the file is damaged`);
  }
}

/**
 * Reads and validates a checkpoint file (format, checksum, fields) without applying it to anything;
 * `nonFinite` lists tensors holding NaN or ±Infinity. Removes temp files a killed save left behind.
 */
export async function readCheckpoint(path: string): Promise<Checkpoint> {
  const { readFile } = nodeBuiltin('node:fs', 'readCheckpoint').promises;
  // A save killed mid-write left a temp file that nothing else removes; this is the next chance.
  await removeStaleTempFiles(path).catch(() => undefined);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`readCheckpoint: cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  return checkpointFromBytes(bytes, path);
}

/**
 * Parses and validates checkpoint bytes (what `checkpointToBytes` or a checkpoint file holds);
 * `path` names the source in messages and in the result (e.g. an uploaded file's name).
 */
export function checkpointFromBytes(bytes: Uint8Array, path: string): Checkpoint {
  let metadata: Record<string, string>;
  let tensors: Record<string, Tensor>;
  try {
    ({ tensors, metadata } = loadSafetensorsWithMetadata(bytes));
  } catch (err) {
    throw new Error(`readCheckpoint: ${path} is not a valid safetensors file (truncated or corrupt?): ${(err as Error).message}`);
  }
  if (metadata.format !== FORMAT) {
    throw new Error(
      `readCheckpoint: ${path} is a safetensors file but not a Myriad checkpoint (metadata format is ${JSON.stringify(metadata.format)})`,
    );
  }
  if (metadata.version !== VERSION) {
    throw new Error(
      `readCheckpoint: ${path} has checkpoint version ${metadata.version}; this version of @myriad/train reads version ${VERSION}`,
    );
  }
  const sum = tensorsChecksum(tensors);
  if (metadata.checksum !== sum) {
    throw new Error(`readCheckpoint: ${path} is corrupt: tensor checksum ${sum} differs from the recorded ${metadata.checksum}`);
  }
  const step = Number(metadata.step);
  if (!Number.isInteger(step) || step < 0)
    throw new Error(`readCheckpoint: ${path} records an invalid step ${JSON.stringify(metadata.step)}`);
  const model: Record<string, Tensor> = {};
  const optimTensors: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(tensors)) {
    if (k.startsWith('model.')) model[k.slice(6)] = t;
    else if (k.startsWith('optim.')) optimTensors[k.slice(6)] = t;
    else throw new Error(`readCheckpoint: ${path} holds tensor "${k}", which is neither model.* nor optim.*`);
  }
  const optimMeta = parseField<Omit<OptimizerStateDict, 'tensors'> | null>(path, metadata, 'optimizer');
  return {
    path,
    step,
    config: parseField(path, metadata, 'config'),
    tokenizer: parseField(path, metadata, 'tokenizer'),
    rng: parseField(path, metadata, 'rng'),
    loader: parseField(path, metadata, 'loader'),
    model,
    optimizer: optimMeta ? { ...optimMeta, tensors: optimTensors } : null,
    extra: parseField(path, metadata, 'extra') ?? {},
    nonFinite: findNonFinite(tensors),
  };
}

function checkModelTensors(path: string, saved: Record<string, Tensor>, expected: Record<string, Tensor>): void {
  const missing = Object.keys(expected).filter((k) => !(k in saved));
  const unexpected = Object.keys(saved).filter((k) => !(k in expected));
  const shapes = Object.keys(expected)
    .filter((k) => k in saved)
    .filter((k) => saved[k]!.shape.join() !== expected[k]!.shape.join() || saved[k]!.dtype !== expected[k]!.dtype)
    .map((k) => `${k}: checkpoint ${saved[k]!.dtype} [${saved[k]!.shape}], model ${expected[k]!.dtype} [${expected[k]!.shape}]`);
  const problems: string[] = [];
  const few = (ks: string[]) => ks.slice(0, 5).join(', ') + (ks.length > 5 ? `, … (${ks.length} in all)` : '');
  if (missing.length) problems.push(`missing keys: ${few(missing)}`);
  if (unexpected.length) problems.push(`unexpected keys: ${few(unexpected)}`);
  if (shapes.length) problems.push(`shape or dtype mismatch: ${few(shapes)}`);
  if (problems.length) {
    throw new Error(`loadCheckpoint: ${path} does not fit this model (was it saved from another configuration?): ${problems.join('; ')}`);
  }
}

/**
 * Reads a checkpoint (or takes one from `readCheckpoint`), checks it against `targets` and restores
 * model weights, optimizer state, loader position and the global RNG. Nothing is modified unless
 * every check passes: config, model keys, shapes and dtypes, optimizer type and layout, loader settings.
 */
export async function loadCheckpoint(source: string | Checkpoint, targets: LoadCheckpointTargets): Promise<Checkpoint> {
  const ckpt = typeof source === 'string' ? await readCheckpoint(source) : source;
  const path = ckpt.path;
  if (targets.config !== undefined) {
    const diff = configDiff(ckpt.config, targets.config);
    if (diff.length) throw new Error(`loadCheckpoint: ${path} was saved with another config: ${diff.join('; ')}`);
  }
  const expected = modelTensors(targets.model);
  checkModelTensors(path, ckpt.model, expected);
  if (targets.optimizer && !ckpt.optimizer) throw new Error(`loadCheckpoint: ${path} holds no optimizer state to resume from`);
  if (targets.loader && !ckpt.loader) throw new Error(`loadCheckpoint: ${path} holds no loader position to resume from`);
  if (targets.restoreRng !== false && ckpt.rng === null)
    throw new Error(`loadCheckpoint: ${path} holds no RNG state; pass restoreRng: false`);

  // The loader and the optimizer check everything before they change anything; if the optimizer
  // refuses, the loader goes back to where it was, so a refused checkpoint leaves no trace.
  const loaderBefore = targets.loader?.state();
  try {
    targets.loader?.loadState(ckpt.loader!);
    targets.optimizer?.loadStateDict(ckpt.optimizer!);
  } catch (err) {
    if (loaderBefore) targets.loader!.loadState(loaderBefore);
    throw new Error(`loadCheckpoint: ${path}: ${(err as Error).message}`);
  }
  if (targets.model.loadStateDict) {
    targets.model.loadStateDict(ckpt.model, { strict: true });
  } else {
    for (const [k, t] of Object.entries(expected)) t.assign(ckpt.model[k]!); // in place, on any backend
  }
  if (targets.restoreRng !== false) setRngState(ckpt.rng!);
  return ckpt;
}
