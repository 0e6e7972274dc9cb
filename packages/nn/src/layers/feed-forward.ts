// The transformer's position-wise MLP: y = down(act(up(x))).
import { gelu, relu, silu, tanh, type Tensor } from '@myriad/core';
import { Module, type InitOptions } from '../module.js';
import { initRng, requireLastDim, requirePositiveInt } from '../init.js';
import { Linear } from './linear.js';

/** Activations available to FeedForward (and routing layers); 'gelu' is the exact erf form. */
export type Activation = 'gelu' | 'relu' | 'silu' | 'tanh';

const ACTIVATIONS: Readonly<Record<Activation, (x: Tensor) => Tensor>> = { gelu, relu, silu, tanh };

/** The function of an activation name; throws naming the valid ones. */
export function activationFn(name: Activation, layer = 'activation'): (x: Tensor) => Tensor {
  const fn = (ACTIVATIONS as Record<string, ((x: Tensor) => Tensor) | undefined>)[name];
  if (fn === undefined)
    throw new RangeError(`${layer}: unknown activation '${String(name)}'; expected one of ${Object.keys(ACTIVATIONS).join(', ')}`);
  return fn;
}

export interface FeedForwardOptions extends InitOptions {
  dim: number;
  hidden: number;
  /** Output size (default dim). */
  dimOut?: number;
  /** Default 'gelu' (exact). */
  activation?: Activation;
  /** Biases on up and down (default true). */
  bias?: boolean;
}

/** Two-layer MLP: up (Linear dim→hidden), activation, down (Linear hidden→dimOut). */
export class FeedForward extends Module {
  up: Linear;
  down: Linear;
  readonly activation: Activation;
  private readonly act: (x: Tensor) => Tensor;

  /** An MLP with PyTorch-initialised Linear layers. */
  constructor(options: FeedForwardOptions) {
    super();
    const { dim, hidden, dimOut = dim, activation = 'gelu', bias = true } = options;
    requirePositiveInt('FeedForward', 'dim', dim);
    requirePositiveInt('FeedForward', 'hidden', hidden);
    requirePositiveInt('FeedForward', 'dimOut', dimOut);
    this.activation = activation;
    this.act = activationFn(activation, 'FeedForward');
    const rng = initRng(options);
    this.up = new Linear(dim, hidden, { bias, rng, dtype: options.dtype });
    this.down = new Linear(hidden, dimOut, { bias, rng, dtype: options.dtype });
  }

  /** x [..., dim] → [..., dimOut]. */
  forward(x: Tensor): Tensor {
    requireLastDim('FeedForward.forward', x, 'dim', this.up.inFeatures);
    return this.down.forward(this.act(this.up.forward(x)));
  }
}
