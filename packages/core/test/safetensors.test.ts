import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Tensor, tensor } from '@myriad/core';
import {
  loadSafetensors,
  loadSafetensorsWithMetadata,
  readSafetensorsMetadata,
  saveSafetensors,
  SafetensorsError,
} from '../src/io/safetensors.js';

const u64le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24, 0, 0, 0, 0];
/** A file image from a header text (unpadded) and data bytes. */
function file(header: string, data: number[]): Uint8Array {
  const h = new TextEncoder().encode(header);
  return Uint8Array.from([...u64le(h.length), ...h, ...data]);
}
const bytesOf = (a: ArrayBufferView) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
const one = (name: string, dtype: string, shape: number[], data: number[]) =>
  loadSafetensors(file(`{"${name}":{"dtype":"${dtype}","shape":[${shape}],"data_offsets":[0,${data.length}]}}`, data))[name]!;

const tensorArb = fc
  .record({
    dtype: fc.constantFrom('float32', 'float64', 'int32') as fc.Arbitrary<'float32' | 'float64' | 'int32'>,
    shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }),
  })
  .chain(({ dtype, shape }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values =
      dtype === 'int32'
        ? fc.int32Array({ minLength: n, maxLength: n })
        : dtype === 'float32'
          ? fc.float32Array({ minLength: n, maxLength: n })
          : fc.float64Array({ minLength: n, maxLength: n });
    return values.map((data) => tensor(data, { shape, dtype }));
  });

describe('saveSafetensors / loadSafetensors', () => {
  it('round-trip every dtype and shape bit-exactly (scalars, zero-size, NaN and -0 included)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ maxLength: 5 }).filter((s) => s !== '__metadata__'),
          tensorArb,
          { maxKeys: 4 },
        ),
        (tensors) => {
          const loaded = loadSafetensors(saveSafetensors(tensors));
          expect(Object.keys(loaded).sort()).toEqual(Object.keys(tensors).sort());
          for (const [name, t] of Object.entries(tensors)) {
            const u = loaded[name]!;
            expect(u).toBeInstanceOf(Tensor);
            expect([u.dtype, u.shape]).toEqual([t.dtype, t.shape]);
            expect(bytesOf(u.toTypedArray())).toEqual(bytesOf(t.toTypedArray()));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('saves the logical order of a strided view', () => {
    const t = tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      { dtype: 'float32' },
    ).transpose(0, 1);
    const u = loadSafetensors(saveSafetensors({ t }))['t']!;
    expect(u.shape).toEqual([3, 2]);
    expect(u.toArray()).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
  });

  it('gives tensors their own memory, not views into the file bytes', () => {
    const bytes = saveSafetensors({ x: tensor([1, 2, 3], { dtype: 'float32' }) });
    const x = loadSafetensors(bytes)['x']!;
    bytes.fill(0, bytes.length - 12);
    expect(x.toArray()).toEqual([1, 2, 3]);
  });

  it('keeps metadata', () => {
    const bytes = saveSafetensors({ w: tensor([1], { dtype: 'float64' }) }, { step: '42', format: 'pt' });
    expect({ ...readSafetensorsMetadata(bytes) }).toEqual({ step: '42', format: 'pt' });
    const { tensors, metadata } = loadSafetensorsWithMetadata(bytes);
    expect(tensors['w']!.toArray()).toEqual([1]);
    expect(metadata['step']).toBe('42');
    expect({ ...readSafetensorsMetadata(saveSafetensors({})) }).toEqual({});
  });

  it('keeps awkward names as plain keys of ordinary objects', () => {
    const names = ['__proto__', 'constructor', '', 'é/ü.0', '\u{1F600}'];
    const tensors = Object.fromEntries(names.map((n, i) => [n, tensor([i], { dtype: 'int32' })]));
    const loaded = loadSafetensors(saveSafetensors(tensors));
    expect(Object.getPrototypeOf(loaded)).toBe(Object.prototype);
    expect(Object.keys(loaded).sort()).toEqual([...names].sort());
    names.forEach((n, i) => expect(loaded[n]!.toArray()).toEqual([i]));
  });

  it('refuses what is not a tensor', () => {
    expect(() => saveSafetensors({ w: [1, 2] as unknown as Tensor })).toThrow('saveSafetensors: "w" is not a Tensor (got object)');
  });
});

describe('loading other dtypes', () => {
  it('widens F16 and BF16 to float32', () => {
    // F16: 1, -2, 65504, 2^-24, -0; BF16: 1, 3.140625, -Inf.
    const h = one('h', 'F16', [5], [0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, 0x00, 0x80]);
    expect(h.dtype).toBe('float32');
    expect(Array.from(h.toTypedArray())).toEqual([1, -2, 65504, 2 ** -24, -0]);
    expect(Object.is(h.toTypedArray()[4], -0)).toBe(true);
    const b = one('b', 'BF16', [3], [0x80, 0x3f, 0x49, 0x40, 0x80, 0xff]);
    expect([b.dtype, ...b.toTypedArray()]).toEqual(['float32', 1, 3.140625, -Infinity]);
  });

  it('narrows I64 to int32 when every value fits, else throws a RangeError', () => {
    const i64 = (...vs: bigint[]) => bytesOf(BigInt64Array.from(vs));
    const t = one('i', 'I64', [2, 2], i64(-1n, 2147483647n, -2147483648n, 7n));
    expect([t.dtype, t.shape, t.toArray()]).toEqual([
      'int32',
      [2, 2],
      [
        [-1, 2147483647],
        [-2147483648, 7],
      ],
    ]);
    expect(() => one('i', 'I64', [2], i64(0n, 2147483648n))).toThrow(SafetensorsError);
    expect(() => one('i', 'I64', [2], i64(0n, 2147483648n))).toThrow(
      'safetensors: tensor "i" (I64) element 1 is 2147483648, outside the int32 range',
    );
    expect(() => one('i', 'I64', [1], i64(-(2n ** 40n)))).toThrow('element 0 is -1099511627776');
    expect(() => one('u', 'U64', [1], bytesOf(BigUint64Array.of(2n ** 63n)))).toThrow('(U64) element 0 is 9223372036854775808');
    expect(() => one('u', 'U32', [1], [0, 0, 0, 0x80])).toThrow('(U32) element 0 is 2147483648');
  });

  it('widens the small integer types to int32', () => {
    expect(one('a', 'U8', [2], [0, 255]).toArray()).toEqual([0, 255]);
    expect(one('a', 'I8', [2], [0x7f, 0x80]).toArray()).toEqual([127, -128]);
    expect(one('a', 'I16', [2], [0x00, 0x80, 0xff, 0x7f]).toArray()).toEqual([-32768, 32767]);
    expect(one('a', 'U16', [1], [0xff, 0xff]).toArray()).toEqual([65535]);
    expect(one('a', 'U32', [1], [0xff, 0xff, 0xff, 0x7f]).toArray()).toEqual([2147483647]);
    expect(one('a', 'BOOL', [3], [0, 1, 1]).toArray()).toEqual([0, 1, 1]);
  });

  it('reads tensors at unaligned offsets (files from other writers need not align)', () => {
    const f32 = bytesOf(Float32Array.of(1.5, -2));
    const f64 = bytesOf(Float64Array.of(Math.PI));
    const header =
      '{"pad":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"f":{"dtype":"F32","shape":[2],"data_offsets":[1,9]},' +
      '"h":{"dtype":"F16","shape":[1],"data_offsets":[9,11]},"d":{"dtype":"F64","shape":[],"data_offsets":[11,19]},' +
      '"i":{"dtype":"I64","shape":[1],"data_offsets":[19,27]}}';
    const t = loadSafetensors(file(header, [7, ...f32, 0x00, 0x3c, ...f64, ...bytesOf(BigInt64Array.of(-3n))]));
    expect(t['f']!.toArray()).toEqual([1.5, -2]);
    expect(t['h']!.toArray()).toEqual([1]);
    expect([t['d']!.dtype, t['d']!.item()]).toEqual(['float64', Math.PI]);
    expect(t['i']!.toArray()).toEqual([-3]);
  });

  it('refuses the 8-bit float formats by name', () => {
    expect(() => one('q', 'F8_E4M3', [1], [0])).toThrow(SafetensorsError);
    expect(() => one('q', 'F8_E4M3', [1], [0])).toThrow(
      'safetensors: tensor "q" has dtype F8_E4M3, which loadSafetensors does not convert',
    );
  });
});
