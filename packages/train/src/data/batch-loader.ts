// A seeded, shuffling loader of (input, target) windows over a token stream.
//
// Epoch e cuts the stream into windows of contextLength + 1 tokens at stride contextLength, starting at
// an offset drawn in [0, contextLength) so successive epochs see different alignments, and visits the
// windows in a shuffled order. Epoch e's generator is seeded from (seed, e) alone, so the loader's
// whole state is (epoch, cursor): it is saved in checkpoints and a resumed run sees the same batches.
import { Rng, tensor, type Tensor } from '@myriad/core';

/** Options for `BatchLoader`. */
export interface BatchLoaderOptions {
  /** Sequence length T: inputs are tokens[s .. s+T), targets tokens[s+1 .. s+T+1). */
  contextLength: number;
  /** Windows per batch B. */
  batchSize: number;
  /** Seed of the shuffle (default 0). */
  seed?: number;
  /** Shuffle windows and offsets (default true); false gives windows in order from offset 0 (for evaluation). */
  shuffle?: boolean;
  /** Name used in error messages, e.g. 'validation' (default 'corpus'). */
  name?: string;
}

/** One batch: int32 tensors of shape [batchSize, contextLength]; target is input shifted by one. */
export interface Batch {
  input: Tensor;
  target: Tensor;
}

/** Serialisable position of a loader; the other fields let `loadState` refuse a different loader. */
export interface BatchLoaderState {
  epoch: number;
  cursor: number;
  seed: number;
  contextLength: number;
  batchSize: number;
  shuffle: boolean;
  numTokens: number;
}

/** Deterministic, resumable batches of next-token windows. */
export class BatchLoader {
  readonly contextLength: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly shuffle: boolean;
  private epoch = 0;
  private cursor = 0;
  private order: Int32Array | null = null; // window start positions of the current epoch
  private orderEpoch = -1;

  /** A loader over `tokens`; throws if the stream is shorter than one window of contextLength + 1. */
  constructor(
    readonly tokens: Int32Array,
    options: BatchLoaderOptions,
  ) {
    const { contextLength, batchSize } = options;
    const name = options.name ?? 'corpus';
    if (!Number.isInteger(contextLength) || contextLength < 1) {
      throw new RangeError(`BatchLoader: contextLength must be a positive integer, got ${contextLength}`);
    }
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`BatchLoader: batchSize must be a positive integer, got ${batchSize}`);
    }
    if (tokens.length < contextLength + 1) {
      throw new RangeError(
        `BatchLoader: the ${name} has ${tokens.length} tokens, fewer than one window of contextLength + 1 = ` +
          `${contextLength + 1}; use a longer corpus or a shorter contextLength`,
      );
    }
    this.contextLength = contextLength;
    this.batchSize = batchSize;
    this.seed = (options.seed ?? 0) >>> 0;
    this.shuffle = options.shuffle ?? true;
  }

  /** Window start positions of `epoch`, in visiting order. */
  private epochOrder(epoch: number): Int32Array {
    if (this.orderEpoch === epoch && this.order) return this.order;
    const T = this.contextLength;
    const n = this.tokens.length;
    let offset = 0;
    let rng: Rng | null = null;
    if (this.shuffle) {
      rng = new Rng((this.seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
      offset = rng.int(Math.min(T, n - T)); // keeps at least one whole window after the offset
    }
    const count = Math.floor((n - 1 - offset) / T);
    const order = new Int32Array(count);
    for (let i = 0; i < count; i++) order[i] = offset + i * T;
    rng?.shuffle(order);
    this.order = order;
    this.orderEpoch = epoch;
    return order;
  }

  /** Number of windows in the current epoch. */
  get windowsPerEpoch(): number {
    return this.epochOrder(this.epoch).length;
  }

  /** The next batch; epochs roll over inside a batch when the windows run out. */
  next(): Batch {
    const T = this.contextLength;
    const B = this.batchSize;
    const input = new Int32Array(B * T);
    const target = new Int32Array(B * T);
    const tokens = this.tokens;
    for (let b = 0; b < B; b++) {
      let order = this.epochOrder(this.epoch);
      if (this.cursor >= order.length) {
        this.epoch++;
        this.cursor = 0;
        order = this.epochOrder(this.epoch);
      }
      const start = order[this.cursor++]!;
      input.set(tokens.subarray(start, start + T), b * T);
      target.set(tokens.subarray(start + 1, start + T + 1), b * T);
    }
    return {
      input: tensor(input, { shape: [B, T], dtype: 'int32' }),
      target: tensor(target, { shape: [B, T], dtype: 'int32' }),
    };
  }

  /** Starts again from epoch 0, window 0 (evaluation passes use this to see the same windows each time). */
  reset(): void {
    this.epoch = 0;
    this.cursor = 0;
  }

  /** The position to save in a checkpoint. */
  state(): BatchLoaderState {
    return {
      epoch: this.epoch,
      cursor: this.cursor,
      seed: this.seed,
      contextLength: this.contextLength,
      batchSize: this.batchSize,
      shuffle: this.shuffle,
      numTokens: this.tokens.length,
    };
  }

  /** Restores a position from `state()`; refuses a state from a loader over other data or settings. */
  loadState(state: BatchLoaderState): void {
    const mine = this.state();
    for (const key of ['seed', 'contextLength', 'batchSize', 'shuffle', 'numTokens'] as const) {
      if (state?.[key] !== mine[key]) {
        throw new Error(
          `BatchLoader.loadState: saved ${key} is ${JSON.stringify(state?.[key])} but this loader has ` +
            `${JSON.stringify(mine[key])}; resume with the same corpus, tokenizer, contextLength, batchSize and seed`,
        );
      }
    }
    if (!Number.isInteger(state.epoch) || state.epoch < 0 || !Number.isInteger(state.cursor) || state.cursor < 0) {
      throw new Error(`BatchLoader.loadState: invalid position epoch=${state.epoch} cursor=${state.cursor}`);
    }
    this.epoch = state.epoch;
    this.cursor = state.cursor;
  }
}
