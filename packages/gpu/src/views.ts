// Views as the kernel sources and the backend methods pass them around.
import { contiguousStrides, type DType, type View } from '@myriad/core';
import type { Operand } from './kernels/source.js';
import type { GpuStorage } from './storage.js';

/** A view's strides and offset: how a kernel source reads it. */
export function operand(x: View): Operand {
  return { strides: x.strides, offset: x.offset };
}

/** A contiguous view over a whole storage. */
export function viewOf(storage: GpuStorage, shape: readonly number[], dtype: DType): View {
  return { storage, shape, strides: contiguousStrides(shape), offset: 0, dtype };
}
