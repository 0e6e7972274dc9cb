// BatchNorm1d with the feature dim LAST: in training, each feature is normalised with the mean and
// biased variance over every leading dim (all tokens of the batch), and the running statistics move
// toward the batch's mean and UNBIASED variance with `momentum` (PyTorch's convention). In eval the
// running statistics are used.
import { ShapeError, add, div, mean, mul, noGrad, sqrt, sub, type Tensor } from '@myriad/core';
import { Module, buffer, param, type InitOptions } from '../module.js';
import { constantInit, initDType, requireLastDim, requirePositiveInt } from '../init.js';

export interface BatchNorm1dOptions extends Pick<InitOptions, 'dtype'> {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Weight of the new batch statistic in the running average (default 0.1). */
  momentum?: number;
  /** Learn weight and bias (default true). */
  affine?: boolean;
}

/** Batch normalisation over features of size `dim` (last axis), normalising over all leading dims. */
export class BatchNorm1d extends Module {
  /** [dim], or null when not affine. */
  weight: Tensor | null;
  /** [dim], or null when not affine. */
  bias: Tensor | null;
  /** [dim] buffer: running mean of the features. */
  runningMean: Tensor;
  /** [dim] buffer: running unbiased variance of the features. */
  runningVar: Tensor;
  readonly eps: number;
  readonly momentum: number;

  /** A BatchNorm1d over features of size dim: weight 1, bias 0, running mean 0, running variance 1. */
  constructor(
    readonly dim: number,
    options: BatchNorm1dOptions = {},
  ) {
    super();
    requirePositiveInt('BatchNorm1d', 'dim', dim);
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum ?? 0.1;
    if (!(this.momentum >= 0 && this.momentum <= 1)) throw new RangeError(`BatchNorm1d: momentum must be in [0, 1], got ${this.momentum}`);
    const dtype = initDType(options);
    const affine = options.affine ?? true;
    this.weight = affine ? param(constantInit([dim], 1, dtype)) : null;
    this.bias = affine ? param(constantInit([dim], 0, dtype)) : null;
    this.runningMean = buffer(constantInit([dim], 0, dtype));
    this.runningVar = buffer(constantInit([dim], 1, dtype));
  }

  /** x [..., dim] → same shape. Training needs more than one row per feature. */
  forward(x: Tensor): Tensor {
    const d = this.dim;
    requireLastDim('BatchNorm1d.forward', x, 'dim', d);
    let y: Tensor;
    if (this.training) {
      const rows = x.size / d;
      if (rows < 2)
        throw new ShapeError(`BatchNorm1d.forward: training needs more than 1 value per feature, got input [${x.shape.join(', ')}]`);
      const flat = x.reshape([rows, d]);
      const mu = mean(flat, 0);
      const centered = sub(flat, mu);
      const variance = mean(mul(centered, centered), 0);
      y = div(centered, sqrt(add(variance, this.eps))).reshape(x.shape);
      const m = this.momentum;
      noGrad(() => {
        this.runningMean.assign(add(mul(this.runningMean, 1 - m), mul(mu.detach(), m)));
        this.runningVar.assign(add(mul(this.runningVar, 1 - m), mul(variance.detach(), (m * rows) / (rows - 1))));
      });
    } else {
      y = div(sub(x, this.runningMean), sqrt(add(this.runningVar, this.eps)));
    }
    if (this.weight !== null) y = mul(y, this.weight);
    if (this.bias !== null) y = add(y, this.bias);
    return y;
  }
}
