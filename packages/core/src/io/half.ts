// 16-bit float formats stored as raw bit patterns in Uint16Array:
//   float16 (IEEE 754 binary16): 1 sign, 5 exponent (bias 15), 10 mantissa bits.
//   bfloat16: the top 16 bits of a float32 (1 sign, 8 exponent, 7 mantissa bits).
// Both widen to float32 exactly; narrowing rounds to nearest, ties to even.
// Bits are moved through a Uint32Array view of the float32 data so NaN payloads survive.

/** Bits of a float32 array as an Int32Array view over the same memory (int32, so V8 keeps them unboxed). */
function bitsOf(x: Float32Array): Int32Array {
  return new Int32Array(x.buffer, x.byteOffset, x.length);
}

/** Widens float16 bit patterns to float32 values (exact, including subnormals, ±Inf and NaN). */
export function float16ToFloat32(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  if (out.length !== bits.length) throw new RangeError(`float16ToFloat32: output length ${out.length} != input length ${bits.length}`);
  const o = bitsOf(out);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) {
      o[i] = sign | 0x7f800000 | (mant << 13); // Inf, or NaN with its payload
    } else if (exp !== 0) {
      o[i] = sign | ((exp + 112) << 23) | (mant << 13); // rebias 15 -> 127
    } else {
      out[i] = (sign ? -mant : mant) * 5.960464477539063e-8; // subnormal or ±0: mant * 2^-24, exact
    }
  }
  return out;
}

/** Narrows float32 values to float16 bit patterns, rounding to nearest even; overflow gives ±Inf. */
export function float32ToFloat16(x: Float32Array, out = new Uint16Array(x.length)): Uint16Array {
  if (out.length !== x.length) throw new RangeError(`float32ToFloat16: output length ${out.length} != input length ${x.length}`);
  const xb = bitsOf(x);
  for (let i = 0; i < x.length; i++) {
    const f = xb[i]!;
    const sign = (f >>> 16) & 0x8000;
    const abs = f & 0x7fffffff;
    let h: number;
    if (abs > 0x7f800000) {
      h = 0x7e00 | ((abs >>> 13) & 0x3ff); // NaN: keep the top payload bits, force quiet
    } else if (abs >= 0x477ff000) {
      h = 0x7c00; // >= 65520 (halfway past the largest half, 65504) rounds to Inf; Inf stays Inf
    } else if (abs >= 0x38800000) {
      // Normal half (>= 2^-14): rebias exponent 127 -> 15 and round the 13 dropped bits to even.
      h = (abs - 0x38000000 + 0xfff + ((abs >>> 13) & 1)) >>> 13;
    } else {
      // Subnormal half: value / 2^-24, rounded to even (a carry to 0x400 is the smallest normal).
      const s = Math.abs(x[i]!) * 16777216;
      let r = Math.floor(s);
      const d = s - r;
      if (d > 0.5 || (d === 0.5 && (r & 1) === 1)) r++;
      h = r;
    }
    out[i] = sign | h;
  }
  return out;
}

/** Widens bfloat16 bit patterns to float32 values (exact). */
export function bfloat16ToFloat32(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  if (out.length !== bits.length) throw new RangeError(`bfloat16ToFloat32: output length ${out.length} != input length ${bits.length}`);
  const o = bitsOf(out);
  for (let i = 0; i < bits.length; i++) o[i] = bits[i]! << 16;
  return out;
}

/** Narrows float32 values to bfloat16 bit patterns, rounding to nearest even; NaN stays NaN. */
export function float32ToBfloat16(x: Float32Array, out = new Uint16Array(x.length)): Uint16Array {
  if (out.length !== x.length) throw new RangeError(`float32ToBfloat16: output length ${out.length} != input length ${x.length}`);
  const xb = bitsOf(x);
  for (let i = 0; i < x.length; i++) {
    const f = xb[i]!;
    if ((f & 0x7fffffff) > 0x7f800000)
      out[i] = (f >>> 16) | 0x0040; // NaN: truncating could give Inf, so force quiet
    else out[i] = (f + 0x7fff + ((f >>> 16) & 1)) >>> 16; // round to even; finite max may carry to Inf, as it should
  }
  return out;
}
