// Tensors to and from safetensors file images (see safetensors-format.ts for the container).
// Saving writes float32 -> F32, float64 -> F64, int32 -> I32. Loading widens what it can do exactly
// or checks it: F16/BF16/F32 -> float32, F64 -> float64, integer types -> int32 (range-checked).
import { getBackend } from '../backend.js';
import { dtypeOfTyped, type DType, type TypedArray } from '../dtype.js';
import { Tensor } from '../tensor.js';
import { bfloat16ToFloat32, float16ToFloat32 } from './half.js';
import {
  SafetensorsError,
  decodeSafetensors,
  encodeSafetensors,
  type SafetensorsDType,
  type SafetensorsEntry,
  type SafetensorsEntryInput,
} from './safetensors-format.js';
import { tensorLabel } from './safetensors-header.js';

export { SafetensorsError, type SafetensorsDType } from './safetensors-format.js';

const SAVED_AS: Readonly<Record<DType, SafetensorsDType>> = { float32: 'F32', float64: 'F64', int32: 'I32' };

/** Serialises named tensors (and optional string metadata) into a safetensors file image. */
export function saveSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const entries = Object.entries(tensors).map(([name, t]): [string, SafetensorsEntryInput] => {
    if (!(t instanceof Tensor)) throw new TypeError(`saveSafetensors: "${name}" is not a Tensor (got ${t === null ? 'null' : typeof t})`);
    return [name, { dtype: SAVED_AS[t.dtype], shape: t.shape, data: t.toTypedArray() }];
  });
  return encodeSafetensors(Object.fromEntries(entries), metadata);
}

/** Loads every tensor of a safetensors file image; the tensors own their data (no view into `bytes`). */
export function loadSafetensors(bytes: Uint8Array): Record<string, Tensor> {
  return tensorsOf(decodeSafetensors(bytes).entries);
}

/** Loads the tensors and the `__metadata__` strings of a safetensors file image. */
export function loadSafetensorsWithMetadata(bytes: Uint8Array): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const { entries, metadata } = decodeSafetensors(bytes);
  return { tensors: tensorsOf(entries), metadata };
}

/** The `__metadata__` strings of a safetensors file image ({} when absent); the file is validated, no tensor is copied. */
export function readSafetensorsMetadata(bytes: Uint8Array): Record<string, string> {
  return decodeSafetensors(bytes).metadata;
}

function tensorsOf(entries: Record<string, SafetensorsEntry>): Record<string, Tensor> {
  const backend = getBackend();
  return Object.fromEntries(
    Object.entries(entries).map(([name, e]) => {
      // The typed array is always fresh, so the tensor takes it over instead of copying it again.
      const data = typedArrayOf(name, e);
      return [name, Tensor._make(backend, backend.fromTypedArray(data), e.shape, dtypeOfTyped(data))];
    }),
  );
}

/** `bytes` where its offset suits elements of `itemSize` bytes, else an aligned copy. */
function aligned(bytes: Uint8Array, itemSize: number): Uint8Array {
  // new Uint8Array(view) copies; a Node Buffer's slice() would return a view at the same misaligned offset.
  return bytes.byteOffset % itemSize === 0 ? bytes : new Uint8Array(bytes);
}

/** Fills the fresh (hence aligned) array `out` with a copy of `bytes`. */
function copyInto<T extends TypedArray>(out: T, bytes: Uint8Array): T {
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
  return out;
}

function typedArrayOf(name: string, { dtype, bytes }: SafetensorsEntry): TypedArray {
  switch (dtype) {
    case 'F32':
      return copyInto(new Float32Array(bytes.length / 4), bytes);
    case 'F64':
      return copyInto(new Float64Array(bytes.length / 8), bytes);
    case 'I32':
      return copyInto(new Int32Array(bytes.length / 4), bytes);
    case 'F16':
    case 'BF16': {
      const b = aligned(bytes, 2);
      const bits = new Uint16Array(b.buffer, b.byteOffset, b.length / 2);
      return dtype === 'F16' ? float16ToFloat32(bits) : bfloat16ToFloat32(bits);
    }
    case 'BOOL':
      return Int32Array.from(bytes, (v) => (v === 0 ? 0 : 1));
    case 'U8':
      return Int32Array.from(bytes);
    case 'I8':
      return Int32Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length));
    case 'I16':
    case 'U16': {
      const b = aligned(bytes, 2);
      const n = b.length / 2;
      return Int32Array.from(dtype === 'I16' ? new Int16Array(b.buffer, b.byteOffset, n) : new Uint16Array(b.buffer, b.byteOffset, n));
    }
    case 'U32':
    case 'I64':
    case 'U64':
      return narrowToInt32(name, dtype, bytes);
    case 'F8_E5M2':
    case 'F8_E4M3':
      throw new SafetensorsError(
        `safetensors: ${tensorLabel(name)} has dtype ${dtype}, which loadSafetensors does not convert; supported: F16, BF16, F32, F64 and integer types`,
      );
  }
}

// U32/I64/U64 values are kept when they fit int32 and refused otherwise, never wrapped. The refusal is a
// SafetensorsError like any other problem of the file, so readSafetensorsFile names the path.
function narrowToInt32(name: string, dtype: 'U32' | 'I64' | 'U64', bytes: Uint8Array): Int32Array {
  const words = dtype === 'U32' ? 1 : 2;
  const b = aligned(bytes, 4);
  const w = new Int32Array(b.buffer, b.byteOffset, b.length / 4);
  const out = new Int32Array(w.length / words);
  for (let i = 0; i < out.length; i++) {
    const lo = w[i * words]!;
    // Little-endian words: an I64 fits when its high word is the sign extension of the low word.
    const hi = words === 1 ? 0 : w[i * words + 1]!;
    const fits = dtype === 'I64' ? hi === lo >> 31 : hi === 0 && lo >= 0;
    if (!fits) {
      const dv = new DataView(bytes.buffer, bytes.byteOffset);
      const value =
        dtype === 'U32' ? dv.getUint32(i * 4, true) : dtype === 'I64' ? dv.getBigInt64(i * 8, true) : dv.getBigUint64(i * 8, true);
      throw new SafetensorsError(
        `safetensors: ${tensorLabel(name)} (${dtype}) element ${i} is ${value}, outside the int32 range [-2147483648, 2147483647]`,
      );
    }
    out[i] = lo;
  }
  return out;
}
