import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  SafetensorsError,
  decodeSafetensors,
  encodeSafetensors,
  safetensorsItemSize,
  type SafetensorsDType,
  type SafetensorsEntryInput,
} from '../src/io/safetensors-format.js';

const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
const u64le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24, 0, 0, 0, 0];

/** A file image from a header text (written as is, unpadded) and data bytes. */
function file(header: string, data: number[] | Uint8Array = []): Uint8Array {
  const h = new TextEncoder().encode(header);
  return Uint8Array.from([...u64le(h.length), ...h, ...data]);
}

const DTYPES: SafetensorsDType[] = [
  'BOOL',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
];

describe('encodeSafetensors byte layout', () => {
  // Hand-computed; the same bytes as the reference implementation's own serialization tests.
  it('writes a single F32 tensor with space padding to a multiple of 8', () => {
    const json = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}';
    expect(json.length).toBe(65);
    const out = encodeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: Float32Array.of(0, 1, 2, 3, 4, 5) } });
    const expected = [
      ...u64le(72),
      ...ascii(json),
      ...ascii('       '),
      0,
      0,
      0,
      0,
      0,
      0,
      128,
      63,
      0,
      0,
      0,
      64,
      0,
      0,
      64,
      64,
      0,
      0,
      128,
      64,
      0,
      0,
      160,
      64,
    ];
    expect(Array.from(out)).toEqual(expected);
  });

  it('writes an empty file and metadata first', () => {
    expect(Array.from(encodeSafetensors({}))).toEqual([...u64le(8), ...ascii('{}      ')]);
    const withMeta = encodeSafetensors({}, { framework: 'pt' });
    expect(Array.from(withMeta)).toEqual([...u64le(40), ...ascii('{"__metadata__":{"framework":"pt"}}     ')]);
  });

  it('orders tensors by descending alignment, then by name, so each is aligned to its element size', () => {
    const out = encodeSafetensors({
      b: { dtype: 'F32', shape: [1], data: Float32Array.of(1) },
      a: { dtype: 'F16', shape: [3], data: new Uint16Array(3) },
      z: { dtype: 'F32', shape: [1], data: Float32Array.of(2) },
      c: { dtype: 'F64', shape: [1], data: Float64Array.of(3) },
    });
    const header = new TextDecoder().decode(out.subarray(8, 8 + out[0]!)).trimEnd();
    expect(header).toBe(
      '{"c":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},' +
        '"z":{"dtype":"F32","shape":[1],"data_offsets":[12,16]},"a":{"dtype":"F16","shape":[3],"data_offsets":[16,22]}}',
    );
  });

  it('refuses invalid entries with a clear message', () => {
    const bad = (entries: Record<string, SafetensorsEntryInput>, meta?: Record<string, string>) => () => encodeSafetensors(entries, meta);
    expect(bad({ x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(
      'safetensors: tensor "x": data has 8 bytes but shape [3] of F32 needs 12',
    );
    expect(bad({ x: { dtype: 'F17' as SafetensorsDType, shape: [], data: new Uint8Array(0) } })).toThrow('unknown dtype "F17"');
    expect(bad({ x: { dtype: 'U8', shape: [-1], data: new Uint8Array(0) } })).toThrow('not a non-negative integer: -1');
    expect(bad({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } })).toThrow('reserved');
    expect(bad({}, { k: 3 as unknown as string })).toThrow('metadata value for "k" must be a string');
  });
});

const entryArb = fc
  .record({
    dtype: fc.constantFrom(...DTYPES),
    shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }), // includes [] (scalar) and zero-size
  })
  .chain(({ dtype, shape }) => {
    const n = shape.reduce((a, b) => a * b, 1) * safetensorsItemSize(dtype);
    return fc.uint8Array({ minLength: n, maxLength: n }).map((data) => ({ dtype, shape, data }));
  });
const nameArb = fc.string({ unit: 'binary', maxLength: 6 }).filter((s) => s !== '__metadata__');
const filesArb = fc.record({
  entries: fc.dictionary(nameArb, entryArb, { maxKeys: 5 }),
  metadata: fc.option(
    fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 8 }), { maxKeys: 3 }),
    { nil: undefined },
  ),
});

describe('round trip', () => {
  it('decode(encode(x)) gives back every entry and the metadata; layout is aligned and padded', () => {
    fc.assert(
      fc.property(filesArb, ({ entries, metadata }) => {
        const out = encodeSafetensors(entries, metadata);
        const n = out[0]! + out[1]! * 256 + out[2]! * 65536;
        expect(n % 8).toBe(0);
        const decoded = decodeSafetensors(out);
        expect(Object.keys(decoded.entries).sort()).toEqual(Object.keys(entries).sort());
        for (const [name, e] of Object.entries(entries)) {
          const d = decoded.entries[name]!;
          expect(d.dtype).toBe(e.dtype);
          expect(d.shape).toEqual(e.shape);
          expect(Array.from(d.bytes)).toEqual(Array.from(e.data));
          expect((d.bytes.byteOffset - 8 - n) % safetensorsItemSize(d.dtype)).toBe(0);
        }
        expect({ ...decoded.metadata }).toEqual(metadata ?? {});
      }),
      { numRuns: 200 },
    );
  });

  it('accepts zero-size tensors sharing an offset, and a header with extra whitespace', () => {
    const f = file(
      ' { "e": {"dtype":"F32","shape":[0,3],"data_offsets":[4,4]}, "s": {"dtype":"I32","shape":[],"data_offsets":[0,4]},' +
        '"f": {"dtype":"F64","shape":[2,0],"data_offsets":[4,4]} } \n',
      [7, 0, 0, 0],
    );
    const { entries, metadata } = decodeSafetensors(f);
    expect(Object.keys(entries)).toEqual(['s', 'e', 'f']);
    expect(entries['e']!.shape).toEqual([0, 3]);
    expect(Array.from(entries['s']!.bytes)).toEqual([7, 0, 0, 0]);
    expect({ ...metadata }).toEqual({});
  });
});

describe('decodeSafetensors refuses malformed files', () => {
  const ok = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const data8 = [0, 0, 128, 63, 0, 0, 0, 64];
  const cases: [string, Uint8Array, string][] = [
    ['short file', Uint8Array.of(1, 2, 3), 'safetensors: file is 3 bytes, shorter than the 8-byte header length'],
    [
      'header length beyond the file',
      Uint8Array.from([...u64le(100), ...ascii('{}')]),
      'safetensors: header length 100 exceeds the 2 bytes that follow the length field',
    ],
    [
      'u64 header length near 2^64',
      Uint8Array.from([255, 255, 255, 255, 255, 255, 255, 255, ...ascii('{}')]),
      'safetensors: header length 18446744073709551615 exceeds the 2 bytes',
    ],
    ['invalid UTF-8', Uint8Array.from([...u64le(3), 0x7b, 0xff, 0x7d]), 'safetensors: header (3 bytes) is not valid UTF-8'],
    ['invalid JSON', file('{"a":'), 'safetensors: header (5 bytes) is not valid JSON'],
    ['JSON array', file('[1,2]'), 'safetensors: header must be a JSON object, got an array'],
    ['JSON number', file('42'), 'safetensors: header must be a JSON object, got 42'],
    ['entry not an object', file('{"a":3}'), 'safetensors: tensor "a": expected {dtype, shape, data_offsets}, got 3'],
    ['missing dtype', file('{"a":{"shape":[2],"data_offsets":[0,8]}}', data8), 'safetensors: tensor "a": missing field "dtype"'],
    ['missing shape', file('{"a":{"dtype":"F32","data_offsets":[0,8]}}', data8), 'safetensors: tensor "a": missing field "shape"'],
    ['missing offsets', file('{"a":{"dtype":"F32","shape":[2]}}', data8), 'safetensors: tensor "a": missing field "data_offsets"'],
    [
      'unknown dtype',
      file('{"a":{"dtype":"F128","shape":[2],"data_offsets":[0,8]}}', data8),
      'safetensors: tensor "a": unknown dtype "F128"; expected one of BOOL, U8',
    ],
    [
      'negative dim',
      file('{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', data8),
      'safetensors: tensor "a": shape [-2] has a dimension that is not a non-negative integer: -2',
    ],
    ['fractional dim', file('{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}}', data8), 'not a non-negative integer: 1.5'],
    ['string dim', file('{"a":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}', data8), 'not a non-negative integer: "2"'],
    [
      'shape not an array',
      file('{"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}', data8),
      'shape must be an array of integers, got 2',
    ],
    [
      'offsets malformed',
      file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}', data8),
      'safetensors: tensor "a": data_offsets must be two non-negative integers [begin, end], got [0]',
    ],
    ['negative offset', file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}', data8), 'got [-8,0]'],
    [
      'end before begin',
      file('{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}', data8),
      'safetensors: tensor "a": data_offsets [8,0] has end 0 < begin 8',
    ],
    [
      'offsets beyond data',
      file('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', data8),
      'safetensors: tensor "a": data_offsets [0,16] beyond the 8-byte data buffer',
    ],
    [
      'size mismatch',
      file('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', data8),
      'safetensors: tensor "a": data_offsets [0,8] span 8 bytes but shape [3] of F32 needs 12',
    ],
    [
      'overlap',
      file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', data8),
      'safetensors: tensor "b" at [4,8] overlaps tensor "a" ending at 8',
    ],
    [
      'hole in the middle',
      file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}}', data8),
      'safetensors: data bytes [4,6) before tensor "b" belong to no tensor',
    ],
    [
      'hole at the start',
      file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', data8),
      'safetensors: data bytes [0,4) before tensor "a" belong to no tensor',
    ],
    ['trailing bytes', file(ok, [...data8, 9, 9]), 'safetensors: data bytes [8,10) after the last tensor belong to no tensor'],
    ['metadata not an object', file('{"__metadata__":"x"}'), 'safetensors: "__metadata__" must be an object of strings, got "x"'],
    [
      'metadata value not a string',
      file('{"__metadata__":{"epoch":3}}'),
      'safetensors: "__metadata__" value for "epoch" must be a string, got 3',
    ],
    [
      'duplicate name',
      file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}, "a" :{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', data8),
      'safetensors: header names "a" more than once',
    ],
    [
      'duplicate name spelled with an escape',
      file('{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"\\u0061":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'),
      'safetensors: header names "a" more than once',
    ],
  ];
  it.each(cases)('%s', (_, bytes, message) => {
    expect(() => decodeSafetensors(bytes)).toThrow(SafetensorsError);
    expect(() => decodeSafetensors(bytes)).toThrow(message);
  });

  it('accepts the same file when well-formed, and nested duplicate-looking keys', () => {
    expect(Array.from(decodeSafetensors(file(ok, data8)).entries['a']!.bytes)).toEqual(data8);
    const nested = file('{"__metadata__":{"a":"x"},"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0],"x":{"a":"\\"a\\":"}}}');
    expect(decodeSafetensors(nested).entries['a']!.shape).toEqual([0]);
  });
});

describe('fuzz', () => {
  const valid = encodeSafetensors(
    {
      w: { dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) },
      h: { dtype: 'F16', shape: [3], data: Uint16Array.of(0x3c00, 0, 0x7c00) },
      n: { dtype: 'I64', shape: [], data: BigInt64Array.of(-5n) },
    },
    { step: '12' },
  );
  const headerEnd = 8 + valid[0]!;
  // Mutations aim mostly at the header, with characters that keep it JSON-like so deeper checks are reached.
  const mutation = fc.oneof(
    fc.record({ at: fc.integer({ min: 0, max: valid.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ at: fc.integer({ min: 8, max: headerEnd - 1 }), byte: fc.constantFrom(...ascii('0123456789-[]{},:" e.')) }),
  );

  it('random mutations and truncations either decode or throw a SafetensorsError', () => {
    fc.assert(
      fc.property(
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.option(fc.integer({ min: 0, max: valid.length + 8 })),
        (muts, cut) => {
          let bytes = valid.slice();
          for (const { at, byte } of muts) bytes[at] = byte;
          if (cut !== null)
            bytes =
              cut <= bytes.length ? bytes.slice(0, cut) : Uint8Array.from([...bytes, ...new Array<number>(cut - bytes.length).fill(0)]);
          try {
            const { entries } = decodeSafetensors(bytes);
            for (const e of Object.values(entries))
              expect(e.bytes.length).toBe(e.shape.reduce((a, b) => a * b, 1) * safetensorsItemSize(e.dtype));
          } catch (e) {
            if (!(e instanceof SafetensorsError) || !e.message.startsWith('safetensors: ')) throw e;
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('a corrupt header length is refused before anything is allocated', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: BigInt(valid.length - 7), max: 2n ** 64n - 1n }), (n) => {
        const bytes = valid.slice();
        new DataView(bytes.buffer).setBigUint64(0, n, true);
        expect(() => decodeSafetensors(bytes)).toThrow(`safetensors: header length ${n} exceeds`);
      }),
      { numRuns: 200 },
    );
  });
});
