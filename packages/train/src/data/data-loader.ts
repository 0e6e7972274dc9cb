// A general loader over (x, y, …) datasets, as torch.utils.data.DataLoader: batches of `batchSize`
// examples in order or shuffled, the last partial batch kept or dropped, iterated with for…of.
// Each for…of is one epoch; with a seed, epoch e's order depends on (seed, e) alone.
import { Rng, ShapeError, getGlobalRng, indexSelect, stack, tensor, type Tensor } from '@myriad/core';

/** Indexable examples: `get(i)` returns the i-th example's tensors (e.g. [x, y]). */
export interface Dataset<T extends readonly Tensor[] = Tensor[]> {
  readonly length: number;
  get(index: number): T;
}

/** Examples stored as rows of tensors that share their first dim (torch's TensorDataset). */
export class TensorDataset<T extends readonly Tensor[] = Tensor[]> implements Dataset<T> {
  readonly tensors: T;
  readonly length: number;

  /** A dataset whose i-th example is the i-th row of each tensor: `new TensorDataset(x, y)`. */
  constructor(...tensors: T) {
    if (tensors.length === 0) throw new ShapeError('TensorDataset: expected at least one tensor');
    const n = tensors[0]!.ndim === 0 ? -1 : tensors[0]!.shape[0]!;
    if (tensors.some((t) => t.ndim === 0 || t.shape[0] !== n)) {
      throw new ShapeError(
        `TensorDataset: every tensor needs the same first dim (the example count), got shapes ${tensors.map((t) => `[${t.shape.join(',')}]`).join(', ')}`,
      );
    }
    this.tensors = tensors;
    this.length = n;
  }

  /** Row `index` of each tensor. */
  get(index: number): T {
    if (!Number.isInteger(index) || index < 0 || index >= this.length)
      throw new RangeError(`TensorDataset.get: index ${index} out of range for ${this.length} examples`);
    return this.tensors.map((t) => t.slice(0, index, index + 1).squeeze(0)) as unknown as T;
  }
}

/** Options of `DataLoader`. */
export interface DataLoaderOptions {
  /** Examples per batch (default 1). */
  batchSize?: number;
  /** Visit examples in a new random order every epoch (default false). */
  shuffle?: boolean;
  /** Seed of the shuffle: epoch e's order depends only on (seed, e). Without it the global generator (manualSeed) is used. */
  seed?: number;
  /** Drop the last batch when it has fewer than batchSize examples (default false). */
  dropLast?: boolean;
}

/**
 * Batches of a dataset: `for (const [x, y] of new DataLoader(new TensorDataset(x, y), { batchSize: 32,
 * shuffle: true, seed: 0 }))`. Each batch stacks the examples' tensors along a new first dim.
 */
export class DataLoader<T extends readonly Tensor[] = Tensor[]> implements Iterable<T> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly seed: number | undefined;
  /** Epochs started so far (each for…of starts one). */
  epoch = 0;

  /** A loader over `dataset` (a Dataset, or an array of tensors sharing their first dim). */
  constructor(
    readonly dataset: Dataset<T> | T,
    options: DataLoaderOptions = {},
  ) {
    const { batchSize = 1, shuffle = false, dropLast = false, seed } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    if (seed !== undefined && !Number.isInteger(seed)) throw new RangeError(`DataLoader: seed must be an integer, got ${seed}`);
    if (Array.isArray(dataset)) this.dataset = new TensorDataset(...(dataset as T));
    else if (typeof (dataset as Dataset<T>).get !== 'function' || !Number.isInteger((dataset as Dataset<T>).length)) {
      throw new TypeError('DataLoader: dataset must have a length and get(index), or be an array of tensors sharing their first dim');
    }
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    this.seed = seed;
  }

  private get source(): Dataset<T> {
    return this.dataset as Dataset<T>;
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.source.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The example order of epoch `epoch` (identity without shuffle; Fisher–Yates otherwise). */
  order(epoch: number): number[] {
    const n = this.source.length;
    const order = Array.from({ length: n }, (_, i) => i);
    if (!this.shuffle) return order;
    const rng = this.seed === undefined ? getGlobalRng() : new Rng(this.seed * 1_000_003 + epoch);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return order;
  }

  /** One epoch of batches. */
  *[Symbol.iterator](): Iterator<T> {
    const order = this.order(this.epoch++);
    const source = this.source;
    for (let start = 0; start < order.length; start += this.batchSize) {
      const ids = order.slice(start, start + this.batchSize);
      if (ids.length < this.batchSize && this.dropLast) return;
      if (source instanceof TensorDataset) {
        // Rows picked with one indexSelect per tensor instead of one slice per example.
        const index = tensor(ids, { dtype: 'int32' });
        yield (source.tensors as readonly Tensor[]).map((t) =>
          indexSelect(t, 0, t.backend === index.backend ? index : index.to(t.backend)),
        ) as unknown as T;
      } else {
        const examples = ids.map((i) => source.get(i));
        yield examples[0]!.map((_, k) =>
          stack(
            examples.map((e) => e[k]!),
            0,
          ),
        ) as unknown as T;
      }
    }
  }
}
