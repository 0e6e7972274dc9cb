import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16, float32ToFloat16 } from '../src/io/half.js';

const f16 = (...bits: number[]) => Array.from(float16ToFloat32(Uint16Array.from(bits)));
const bf16 = (...bits: number[]) => Array.from(bfloat16ToFloat32(Uint16Array.from(bits)));
const toF16 = (...xs: number[]) => Array.from(float32ToFloat16(Float32Array.from(xs)));
const toBf16 = (...xs: number[]) => Array.from(float32ToBfloat16(Float32Array.from(xs)));
const fromBits32 = (bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);
const allBits = () => Uint16Array.from({ length: 65536 }, (_, i) => i);
const isNaN16 = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

describe('float16', () => {
  it('decodes known bit patterns', () => {
    expect(f16(0x3c00, 0xc000, 0x7bff, 0x3555, 0x0400)).toEqual([1, -2, 65504, 0.333251953125, 2 ** -14]);
    expect(f16(0x0001, 0x03ff, 0x8001)).toEqual([2 ** -24, 1023 * 2 ** -24, -(2 ** -24)]); // subnormals
    expect(f16(0x7c00, 0xfc00)).toEqual([Infinity, -Infinity]);
    expect(Object.is(f16(0x8000)[0], -0)).toBe(true);
    expect(Number.isNaN(f16(0x7e00)[0])).toBe(true);
    expect(Number.isNaN(f16(0xfc01)[0])).toBe(true); // signalling NaN stays NaN
  });

  it('round-trips every one of the 65536 bit patterns (NaNs stay NaN)', () => {
    const bits = allBits();
    const back = float32ToFloat16(float16ToFloat32(bits));
    for (let h = 0; h < 65536; h++) {
      if (isNaN16(h)) expect(isNaN16(back[h]!)).toBe(true);
      else if (back[h] !== h) expect.fail(`0x${h.toString(16)} came back as 0x${back[h]!.toString(16)}`);
    }
  });

  it('rounds to nearest, ties to even, overflowing to Inf', () => {
    expect(toF16(1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -20)).toEqual([0x3c00, 0x3c02, 0x3c01]);
    expect(toF16(65519, 65520, -70000, 1e38)).toEqual([0x7bff, 0x7c00, 0xfc00, 0x7c00]);
    // Subnormal range, in units of 2^-24: 0.5 -> 0 (even), 0.75 -> 1, 1.5 -> 2, 2.5 -> 2.
    expect(toF16(2 ** -25, 0.75 * 2 ** -24, 1.5 * 2 ** -24, 2.5 * 2 ** -24, -(2 ** -30))).toEqual([0, 1, 2, 2, 0x8000]);
    expect(toF16(1023.5 * 2 ** -24)).toEqual([0x0400]); // carries into the smallest normal
    expect(isNaN16(toF16(NaN)[0]!)).toBe(true);
    expect(isNaN16(float32ToFloat16(fromBits32([0x7f800001]))[0]!)).toBe(true); // low-payload NaN is not Inf
  });

  it('picks the nearest half for random float32 values (law checked against both neighbours)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7f7fffff }), fc.boolean(), (abs, neg) => {
        const x = fromBits32([abs])[0]!;
        const h = float32ToFloat16(fromBits32([abs]))[0]!;
        if (x >= 65520) return h === 0x7c00;
        const [lo, mid, hi] = f16(Math.max(h - 1, 0), h, h + 1);
        const err = Math.abs(mid! - x);
        const errLo = h === 0 ? Infinity : Math.abs(lo! - x);
        const errHi = Math.abs(hi! - x);
        const ok = err <= errLo && err <= errHi && ((err !== errLo && err !== errHi) || (h & 1) === 0);
        const signed = float32ToFloat16(fromBits32([(abs | (neg ? 0x80000000 : 0)) >>> 0]))[0]!;
        return ok && signed === (h | (neg ? 0x8000 : 0));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('bfloat16', () => {
  it('decodes known bit patterns', () => {
    expect(bf16(0x3f80, 0xc000, 0x4049, 0x0001, 0x7f80, 0xff80)).toEqual([1, -2, 3.140625, 2 ** -133, Infinity, -Infinity]);
    expect(Number.isNaN(bf16(0x7fc0)[0])).toBe(true);
  });

  it('round-trips every one of the 65536 bit patterns (NaNs stay NaN)', () => {
    const bits = allBits();
    const back = float32ToBfloat16(bfloat16ToFloat32(bits));
    for (let h = 0; h < 65536; h++) {
      const nan = (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
      if (nan) expect((back[h]! & 0x7f80) === 0x7f80 && (back[h]! & 0x7f) !== 0).toBe(true);
      else if (back[h] !== h) expect.fail(`0x${h.toString(16)} came back as 0x${back[h]!.toString(16)}`);
    }
  });

  it('rounds to nearest, ties to even', () => {
    expect(toBf16(Math.PI, -Math.PI)).toEqual([0x4049, 0xc049]);
    const ties = float32ToBfloat16(fromBits32([0x3f808000, 0x3f818000, 0x3f808001, 0x7f7fffff]));
    expect(Array.from(ties)).toEqual([0x3f80, 0x3f82, 0x3f81, 0x7f80]);
    const nan = float32ToBfloat16(fromBits32([0x7f800001]))[0]!;
    expect((nan & 0x7f80) === 0x7f80 && (nan & 0x7f) !== 0).toBe(true);
  });
});
