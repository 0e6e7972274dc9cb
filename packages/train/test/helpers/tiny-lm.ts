// A tiny language model built from core ops only (embedding → dropout → linear), enough to exercise
// optimizers (its embedding gets a row-sparse gradient), checkpoints and the trainer.
import { crossEntropy, dropout, indexSelect, randn, zeros, type Tensor } from '@myriad/core';
import type { Batch } from '../../src/index.js';

export class TinyLM {
  training = true;
  readonly emb: Tensor;
  readonly head: Tensor;
  readonly bias: Tensor;

  constructor(
    readonly vocab: number,
    readonly dim: number,
    seed: number,
    readonly dropoutP = 0.1,
  ) {
    this.emb = randn([vocab, dim], { seed, requiresGrad: true });
    this.head = randn([dim, vocab], { seed: seed + 1, requiresGrad: true });
    this.bias = zeros([vocab], { requiresGrad: true });
  }

  parameters(): Tensor[] {
    return [this.emb, this.head, this.bias];
  }

  namedParameters(): Array<[string, Tensor]> {
    return [
      ['emb.weight', this.emb],
      ['head.weight', this.head],
      ['head.bias', this.bias],
    ];
  }

  train(): void {
    this.training = true;
  }

  eval(): void {
    this.training = false;
  }

  /** Mean next-token cross entropy of a batch. */
  loss(batch: Batch): Tensor {
    const n = batch.input.size;
    let h = indexSelect(this.emb, 0, batch.input.reshape([n]));
    // Dropout draws from the global RNG, so exact resume needs the RNG state restored.
    if (this.training && this.dropoutP > 0) h = dropout(h, this.dropoutP, { training: true });
    return crossEntropy(h.matmul(this.head).add(this.bias), batch.target.reshape([n]));
  }
}
