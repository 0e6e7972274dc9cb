// Optimizers work directly on typed arrays: the live storage of parameters (updated in place, so
// modules keep their tensors) and read-only views of gradients.
import type { Tensor, TypedArray } from '@myriad/core';

/** A float typed array (parameters and their state). */
export type FloatArray = Float32Array | Float64Array;

/** The live storage of `t` when it is a contiguous host tensor owning its storage, else null. */
export function liveData(t: Tensor): TypedArray | null {
  if (!t.isContiguous() || t.offset !== 0) return null;
  try {
    return t.data;
  } catch {
    return null; // a view of larger storage, or a device tensor
  }
}

/** The elements of a gradient in row-major order (the live storage when possible, else a copy). */
export function gradData(g: Tensor): FloatArray {
  const data = liveData(g) ?? g.toTypedArray();
  if (data instanceof Int32Array) throw new TypeError(`gradient of shape [${g.shape}] has dtype int32; expected a float dtype`);
  return data;
}
