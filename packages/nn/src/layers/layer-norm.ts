// LayerNorm over the last dim: y = (x − μ)/√(σ² + eps)·weight + bias, σ² the biased variance.
import { layerNorm, type Tensor } from '@myriad/core';
import { Module, param, type InitOptions } from '../module.js';
import { constantInit, initDType, requireLastDim, requirePositiveInt } from '../init.js';

export interface LayerNormOptions extends Pick<InitOptions, 'dtype'> {
  /** Added to the variance (default 1e-5, as PyTorch). */
  eps?: number;
  /** Learn a bias (default true). */
  bias?: boolean;
}

/** Layer normalisation over the last dim of size `dim`, weight 1 and bias 0 at init. */
export class LayerNorm extends Module {
  /** [dim]. */
  weight: Tensor;
  /** [dim], or null without bias. */
  bias: Tensor | null;
  readonly eps: number;

  /** A LayerNorm over features of size dim. */
  constructor(
    readonly dim: number,
    options: LayerNormOptions = {},
  ) {
    super();
    requirePositiveInt('LayerNorm', 'dim', dim);
    this.eps = options.eps ?? 1e-5;
    const dtype = initDType(options);
    this.weight = param(constantInit([dim], 1, dtype));
    this.bias = options.bias === false ? null : param(constantInit([dim], 0, dtype));
  }

  /** x [..., dim] → same shape. */
  forward(x: Tensor): Tensor {
    requireLastDim('LayerNorm.forward', x, 'dim', this.dim);
    return layerNorm(x, 1, this.weight, this.bias, this.eps);
  }
}
