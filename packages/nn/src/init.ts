// Weight initialisers drawing from a seeded generator, so a module built with { seed } is reproducible.
import { Rng, ShapeError, getGlobalRng, shapeSize, tensor, type Tensor } from '@myriad/core';
import type { InitOptions } from './module.js';

/** The generator a module initialises from: `rng`, else a fresh one from `seed`, else the global one. */
export function initRng(options: InitOptions = {}): Rng {
  return options.rng ?? (options.seed !== undefined ? new Rng(options.seed) : getGlobalRng());
}

/** The parameter dtype of `options` (float32 by default). */
export function initDType(options: InitOptions = {}): 'float32' | 'float64' {
  return options.dtype ?? 'float32';
}

function allocFloat(dtype: 'float32' | 'float64', n: number): Float32Array | Float64Array {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

/** Samples from U(−bound, bound). */
export function uniformInit(shape: readonly number[], bound: number, rng: Rng, dtype: 'float32' | 'float64' = 'float32'): Tensor {
  const n = shapeSize(shape);
  const out = allocFloat(dtype, n);
  for (let i = 0; i < n; i++) out[i] = (2 * rng.random() - 1) * bound;
  return tensor(out, { shape });
}

/** Samples from N(0, std²). */
export function normalInit(shape: readonly number[], std: number, rng: Rng, dtype: 'float32' | 'float64' = 'float32'): Tensor {
  const n = shapeSize(shape);
  const out = allocFloat(dtype, n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
  return tensor(out, { shape });
}

/** A tensor filled with `value`. */
export function constantInit(shape: readonly number[], value: number, dtype: 'float32' | 'float64' = 'float32'): Tensor {
  const n = shapeSize(shape);
  const out = allocFloat(dtype, n);
  out.fill(value);
  return tensor(out, { shape });
}

/**
 * PyTorch's default Linear init: kaiming_uniform(a = √5) on weight [out, in] gives U(±1/√in);
 * the bias uses the same bound.
 */
export function linearBound(inFeatures: number): number {
  return inFeatures > 0 ? 1 / Math.sqrt(inFeatures) : 0;
}

/** Throws a RangeError unless `value` is a positive integer, naming the layer and option. */
export function requirePositiveInt(layer: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${layer}: ${name} must be a positive integer, got ${value}`);
}

/** Throws a ShapeError naming the layer unless `x` is [..., size]: "Linear.forward: input [2, 3] must end in inFeatures = 4". */
export function requireLastDim(op: string, x: Tensor, name: string, size: number): void {
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== size)
    throw new ShapeError(`${op}: input [${x.shape.join(', ')}] must end in ${name} = ${size}`);
}
