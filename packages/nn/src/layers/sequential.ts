// torch.nn.Sequential: layers applied in order. Layers live in numbered fields (this[0], this[1], …),
// so state-dict keys are `0.weight`, `1.bias`, … exactly as PyTorch names them.
import type { Tensor } from '@myriad/core';
import { Module } from '../module.js';

/** A module that feeds its input through `layers` in order: forward(x) = layers[n−1](…layers[0](x)). */
export class Sequential extends Module {
  [index: number]: Module;

  /** A Sequential of the given modules (each must take one tensor and return one). */
  constructor(...layers: Module[]) {
    super();
    layers.forEach((layer, i) => {
      if (!(layer instanceof Module))
        throw new TypeError(`Sequential: argument ${i} is not a Module (got ${layer === null ? 'null' : typeof layer})`);
      this[i] = layer;
    });
  }

  /** Number of layers. */
  get length(): number {
    return this.children().length;
  }

  /** The layers in order. */
  *[Symbol.iterator](): Iterator<Module> {
    for (const [, m] of this.children()) yield m;
  }

  /** Applies each layer to the previous one's output. */
  forward(x: Tensor): Tensor {
    let y = x;
    for (const layer of this) y = (layer.forward as (input: Tensor) => Tensor).call(layer, y);
    return y;
  }
}
