// RMSNorm (Zhang & Sennrich 2019): y = x / √(mean(x²) + eps) · weight — no centring, no bias.
import { add, mean, mul, sqrt, div, type Tensor } from '@myriad/core';
import { Module, param, type InitOptions } from '../module.js';
import { constantInit, initDType, requireLastDim, requirePositiveInt } from '../init.js';

export interface RMSNormOptions extends Pick<InitOptions, 'dtype'> {
  /** Added to the mean square (default 1e-6). */
  eps?: number;
}

/** Root-mean-square normalisation over the last dim of size `dim`, weight 1 at init. */
export class RMSNorm extends Module {
  /** [dim]. */
  weight: Tensor;
  readonly eps: number;

  /** An RMSNorm over features of size dim. */
  constructor(
    readonly dim: number,
    options: RMSNormOptions = {},
  ) {
    super();
    requirePositiveInt('RMSNorm', 'dim', dim);
    this.eps = options.eps ?? 1e-6;
    this.weight = param(constantInit([dim], 1, initDType(options)));
  }

  /** x [..., dim] → same shape. */
  forward(x: Tensor): Tensor {
    requireLastDim('RMSNorm.forward', x, 'dim', this.dim);
    const rms = sqrt(add(mean(mul(x, x), -1, true), this.eps));
    return mul(div(x, rms), this.weight);
  }
}
