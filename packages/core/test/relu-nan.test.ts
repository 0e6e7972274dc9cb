// relu propagates NaN (as PyTorch does) instead of hiding it as 0, on every kernel path: short and
// long (WebAssembly SIMD) float32 arrays, float64, and strided views.
import { relu, tensor } from '@myriad/core';
import { describe, expect, it } from 'vitest';

const input = [NaN, -1, -0, 0, 2, Infinity, -Infinity];
const expected = [NaN, 0, 0, 0, 2, Infinity, 0];

describe('relu and NaN', () => {
  it.each(['float32', 'float64'] as const)('relu(NaN) is NaN, relu(-x) is 0 (%s)', (dtype) => {
    expect(Array.from(relu(tensor(input, { dtype })).toTypedArray())).toEqual(expected);
  });
  it('on long float32 arrays (the vector kernel) and strided views', () => {
    const long = Array.from({ length: 700 }, (_, i) => input[i % input.length]!);
    expect(Array.from(relu(tensor(long)).toTypedArray())).toEqual(long.map((_, i) => expected[i % expected.length]));
    const strided = tensor(long, { shape: [100, 7] }).transpose(0, 1);
    const got = relu(strided).toTypedArray();
    expect(Number.isNaN(got[0])).toBe(true);
    expect(got[100]).toBe(0);
  });
});
