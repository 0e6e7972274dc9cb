/**
 * Index arithmetic for generated kernels. gpu.js types every declared variable as a float, and
 * float index math is exact only below 2^24, so kernels never store an index in a variable: each
 * array offset is one inline integer expression in `this.thread.{x,y,z}` and literals, and an
 * output space is laid out as gpu.js's 3-D output [x = innermost dim, y = next, z = the rest].
 */
import { coalesceDims } from '@myriad/core';

/** Largest element count a kernel buffer may have: gpu.js's WebAssembly loops index in f32. */
export const MAX_KERNEL_ELEMENTS = 1 << 24;

/** An output space: coalesced dims (outer → inner) and, per operand, its strides over them. */
export interface Space {
  readonly dims: readonly number[];
  readonly strides: readonly (readonly number[])[];
  /** gpu.js output [X, Y, Z]. */
  readonly output: readonly [number, number, number];
}

/** Drops size-1 dims and merges dims that are contiguous in every operand (core's `coalesceDims`, as the CPU backend does). */
export function planSpace(shape: readonly number[], stridesList: readonly (readonly number[])[]): Space {
  const { shape: dims, strides } = coalesceDims(shape, stridesList);
  const m = dims.length;
  const X = m >= 1 ? dims[m - 1]! : 1;
  const Y = m >= 2 ? dims[m - 2]! : 1;
  let Z = 1;
  for (let d = 0; d < m - 2; d++) Z *= dims[d]!;
  return { dims, strides, output: [X, Y, Z] };
}

/** Inline expression for the coordinate of coalesced dim `d` of `space`. */
export function coordExpr(space: Space, d: number): string {
  const m = space.dims.length;
  if (d === m - 1) return 'this.thread.x';
  if (d === m - 2) return 'this.thread.y';
  // Outer dims fold into z: z = ((c0·d1 + c1)·d2 + c2)…; z stays far below 2^22, where
  // floor((z + 0.5) / P) is exact even with WGSL's 2.5-ulp division.
  const outer = m - 2;
  if (outer === 1) return 'this.thread.z';
  let below = 1;
  for (let t = d + 1; t < outer; t++) below *= space.dims[t]!;
  const q = below === 1 ? 'this.thread.z' : `Math.floor((this.thread.z + 0.5) / ${below})`;
  if (d === 0) return q;
  const n = space.dims[d]!;
  return `(${q} - Math.floor((this.thread.z + 0.5) / ${below * n}) * ${n})`;
}

/** Inline integer expression for operand `k`'s element offset at the current thread. */
export function offsetExpr(space: Space, k: number, base: number): string {
  const terms: string[] = [];
  if (base !== 0) terms.push(String(base));
  const s = space.strides[k]!;
  for (let d = 0; d < space.dims.length; d++) {
    if (s[d] === 0) continue;
    const c = coordExpr(space, d);
    terms.push(s[d] === 1 ? c : `${c} * ${s[d]}`);
  }
  return terms.length === 0 ? '0' : terms.join(' + ');
}

/** Number literal that gpu.js reads as a float (it types `2` as an integer). */
export function f(x: number): string {
  if (x === Infinity) return '3.4028234663852886e38';
  if (x === -Infinity) return '-3.4028234663852886e38';
  return Number.isInteger(x) ? `${x}.0` : String(x);
}
