// torch.nn.Dropout: inverted dropout while training, the identity after eval().
import { dropout, getGlobalRng, Rng, type Tensor } from '@myriad/core';
import { Module } from '../module.js';

/** Options of `Dropout`. */
export interface DropoutLayerOptions {
  /** Seed of a private generator for the masks (default: the global generator, see manualSeed). */
  seed?: number;
  /** Generator to draw the masks from (overrides seed). */
  rng?: Rng;
}

/** Zeroes each element with probability p and scales the rest by 1/(1 − p) in training mode; the identity in eval mode. */
export class Dropout extends Module {
  private readonly rng: Rng | null;

  /** A dropout layer with drop probability p in [0, 1) (default 0.5, as torch). */
  constructor(
    readonly p = 0.5,
    options: DropoutLayerOptions = {},
  ) {
    super();
    if (!(p >= 0 && p < 1)) throw new RangeError(`Dropout: p=${p} must be in [0, 1)`);
    this.rng = options.rng ?? (options.seed !== undefined ? new Rng(options.seed) : null);
  }

  /** x with dropout applied when `training`, else x itself. */
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training, rng: this.rng ?? getGlobalRng() });
  }
}
