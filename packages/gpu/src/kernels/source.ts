/**
 * What every kernel builder returns. Kernels are gpu.js JavaScript-subset sources generated per shape
 * signature (shapes, strides and offsets baked in as literals so every index stays an exact integer
 * expression; see ../indexing.ts).
 */
import type { Space } from '../indexing.js';

/** A generated kernel: gpu.js source, output [X, Y, Z], and the cache key that identifies it. */
export interface KernelSource {
  readonly key: string;
  readonly source: string;
  readonly output: readonly [number, number, number];
  /** Values each thread returns (gpu.js `Array(4)` returns), stored consecutively; default 1. */
  readonly components?: 4;
}

/** Operand layout: strides over the output shape and the starting offset. */
export interface Operand {
  readonly strides: readonly number[];
  readonly offset: number;
}

/** The cache-key part naming a space and its operands' strides and offsets. */
export function sig(space: Space, offsets: readonly number[]): string {
  return `${space.dims.join('x')}|${space.strides.map((s, k) => `${s.join(',')}@${offsets[k] ?? 0}`).join('|')}`;
}
