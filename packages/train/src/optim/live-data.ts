// Optimizers work directly on typed arrays: the live storage of parameters (updated in place, so
// modules keep their tensors) and read-only views of gradients. They read these arrays only while the
// tensors are alive (within one step), so unlike `Tensor.data` they leave the CPU backend free to reuse
// a gradient's buffer once the gradient is gone.
import type { Tensor, TypedArray } from '@myriad/core';

/** A float typed array (parameters and their state). */
export type FloatArray = Float32Array | Float64Array;

/** The live storage of `t` when it is a contiguous host tensor owning its whole storage, else null. */
export function liveData(t: Tensor): TypedArray | null {
  const host = t.backend.hostData(t.storage);
  return host !== null && t.offset === 0 && t.isContiguous() && host.length === t.size ? host : null;
}

/** The elements of a gradient in row-major order (the live storage when possible, else a copy). */
export function gradData(g: Tensor): FloatArray {
  const data = liveData(g) ?? g.toTypedArray();
  if (data instanceof Int32Array) throw new TypeError(`gradient of shape [${g.shape}] has dtype int32; expected a float dtype`);
  return data;
}
