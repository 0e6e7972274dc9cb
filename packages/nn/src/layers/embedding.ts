// A lookup table: row i of weight is the vector of token i. Lookups go through indexSelect, so the
// gradient of the table is row-sparse (only the rows looked up).
import { ShapeError, cpuBackend, indexSelect, type Tensor } from '@myriad/core';
import { Module, param, type InitOptions } from '../module.js';
import { initDType, initRng, normalInit, requirePositiveInt } from '../init.js';

export interface EmbeddingOptions extends InitOptions {
  /** Standard deviation of the N(0, std²) init (PyTorch: 1; GPT-2: 0.02). */
  std?: number;
}

/** Embedding table weight [numEmbeddings, dim]: int32 ids [...] → vectors [..., dim]. */
export class Embedding extends Module {
  /** [numEmbeddings, dim]. */
  weight: Tensor;

  /** A table of numEmbeddings rows of size dim, initialised N(0, std²). */
  constructor(
    readonly numEmbeddings: number,
    readonly dim: number,
    options: EmbeddingOptions = {},
  ) {
    super();
    requirePositiveInt('Embedding', 'numEmbeddings', numEmbeddings);
    requirePositiveInt('Embedding', 'dim', dim);
    const std = options.std ?? 1;
    if (!(std >= 0)) throw new RangeError(`Embedding: std must be >= 0, got ${std}`);
    this.weight = param(normalInit([numEmbeddings, dim], std, initRng(options), initDType(options)));
  }

  /**
   * ids int32 [...] → [..., dim]; ids outside [0, numEmbeddings) throw on the CPU backend. On a device
   * backend the check would cost a read-back per step, so there the lookup kernel's own bounds apply.
   */
  forward(ids: Tensor): Tensor {
    if (ids.dtype !== 'int32') throw new TypeError(`Embedding.forward: ids must be int32, got ${ids.dtype} [${ids.shape.join(', ')}]`);
    if (ids.backend === cpuBackend) {
      const data = ids.toTypedArray();
      const n = this.numEmbeddings;
      for (let i = 0; i < data.length; i++) {
        const v = data[i]!;
        if (v < 0 || v >= n) throw new ShapeError(`Embedding.forward: id ${v} at flat index ${i} is outside [0, ${n})`);
      }
    }
    return indexSelect(this.weight, 0, ids);
  }
}
