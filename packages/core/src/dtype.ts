/** Element types a tensor can hold. float64 exists for precise gradient checks on the CPU backend. */
export type DType = 'float32' | 'float64' | 'int32';

/** The typed arrays that back tensors of each dtype. */
export type TypedArray = Float32Array | Float64Array | Int32Array;

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32'];

/** Allocates a zeroed typed array for `dtype`. */
export function allocTyped(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'float64':
      return new Float64Array(size);
    case 'int32':
      return new Int32Array(size);
  }
}

/** The dtype matching a typed array's class. */
export function dtypeOfTyped(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  throw new TypeError(
    `tensor: unsupported typed array ${(a as object).constructor.name}; expected Float32Array, Float64Array or Int32Array`,
  );
}

/** Result dtype of a binary op (NumPy-like promotion: int32 < float32 < float64). */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  if (a === 'float64' || b === 'float64') return 'float64';
  return 'float32';
}

/** Checks that `dtype` names a dtype, with an error naming the op. */
export function assertDType(op: string, dtype: string): asserts dtype is DType {
  if (!(DTYPES as readonly string[]).includes(dtype)) {
    throw new TypeError(`${op}: unknown dtype '${dtype}'; expected one of ${DTYPES.join(', ')}`);
  }
}
