// y = x·Wᵀ + b with PyTorch's layout (weight [out, in]) and default init U(±1/√in).
import { add, matmul, type Tensor } from '@myriad/core';
import { Module, param, type InitOptions } from '../module.js';
import { initDType, initRng, linearBound, requireLastDim, requirePositiveInt, uniformInit } from '../init.js';

export interface LinearOptions extends InitOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

/** Affine map y = x·Wᵀ + b over the last dim: [..., inFeatures] → [..., outFeatures]. */
export class Linear extends Module {
  /** [outFeatures, inFeatures]. */
  weight: Tensor;
  /** [outFeatures], or null without bias. */
  bias: Tensor | null;

  /** A Linear layer with PyTorch's default initialisation from a seeded generator. */
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    requirePositiveInt('Linear', 'inFeatures', inFeatures);
    requirePositiveInt('Linear', 'outFeatures', outFeatures);
    const rng = initRng(options);
    const dtype = initDType(options);
    const bound = linearBound(inFeatures);
    this.weight = param(uniformInit([outFeatures, inFeatures], bound, rng, dtype));
    this.bias = options.bias === false ? null : param(uniformInit([outFeatures], bound, rng, dtype));
  }

  /** x [..., inFeatures] → [..., outFeatures]. */
  forward(x: Tensor): Tensor {
    const inF = this.inFeatures;
    requireLastDim('Linear.forward', x, 'inFeatures', inF);
    // One [N, in] @ [in, out] product instead of a batch of small ones.
    const lead = x.shape.slice(0, -1);
    const flat = x.ndim === 2 ? x : x.reshape([-1, inF]);
    let y = matmul(flat, this.weight.transpose(0, 1));
    if (this.bias !== null) y = add(y, this.bias);
    return x.ndim === 2 ? y : y.reshape([...lead, this.outFeatures]);
  }
}
