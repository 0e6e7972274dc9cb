// Regression tests for issue 13: hostile headers are refused with a SafetensorsError of bounded
// length (no stack overflow, no megabyte messages), as strictly as the reference reader.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsError, decodeSafetensors } from '../src/io/safetensors-format.js';
import { readSafetensorsFile } from '../src/io/safetensors-file.js';
import { MAX_JSON_DEPTH } from '../src/io/json-cursor.js';
import { loadSafetensors } from '../src/index.js';

const u64le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24, 0, 0, 0, 0];

function file(header: string | Uint8Array, data: number[] = []): Uint8Array {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  return Uint8Array.from([...u64le(h.length), ...h, ...data]);
}

/** The SafetensorsError `bytes` is refused with (fails the test if it loads or throws anything else). */
function refusal(bytes: Uint8Array): string {
  try {
    decodeSafetensors(bytes);
  } catch (e) {
    if (e instanceof SafetensorsError) return e.message;
    throw new Error(`expected a SafetensorsError, got ${String(e)}`);
  }
  throw new Error('expected a refusal, but the file loaded');
}

const entry = (shape = '[2]', offsets = '[0,8]', dtype = '"F32"') => `{"dtype":${dtype},"shape":${shape},"data_offsets":${offsets}}`;
const data8 = [0, 0, 128, 63, 0, 0, 0, 64];

describe('nesting bombs are refused without recursion', () => {
  const bomb = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
  const objBomb = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  const places: [string, (b: string) => string][] = [
    ['__metadata__', (b) => `{"__metadata__":${b}}`],
    ['a metadata value', (b) => `{"__metadata__":{"k":${b}}}`],
    ['an entry', (b) => `{"a":${b}}`],
    ['dtype', (b) => `{"a":${entry('[2]', '[0,8]', b)}}`],
    ['shape', (b) => `{"a":${entry(b)}}`],
    ['a shape element', (b) => `{"a":${entry(`[2,${b}]`)}}`],
    ['data_offsets', (b) => `{"a":${entry('[2]', b)}}`],
    ['an unknown field', (b) => `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":${b}}}`],
    ['the whole header', (b) => b],
  ];
  it.each(places)('5,000 levels in %s', (_, make) => {
    for (const b of [bomb(5000), objBomb(5000)]) {
      const msg = refusal(file(make(b), data8));
      expect(msg.length).toBeLessThan(600);
      expect(msg).toMatch(/^safetensors: /);
    }
  });

  it('an unclosed bomb of 10^6 levels is refused at the nesting limit', () => {
    expect(refusal(file(`{"a":{"x":${'['.repeat(1_000_000)}}}`))).toContain(`nesting deeper than ${MAX_JSON_DEPTH} levels`);
  });

  it('nesting up to the limit in an ignored field is accepted, one more level is not', () => {
    // The header object and the entry hold two levels, so the field value may open 126 more.
    const at = (levels: number) => file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":${bomb(levels)}}}`, data8);
    expect(decodeSafetensors(at(MAX_JSON_DEPTH - 2)).entries['a']!.shape).toEqual([2]);
    expect(refusal(at(MAX_JSON_DEPTH - 1))).toContain(`nesting deeper than ${MAX_JSON_DEPTH} levels`);
  });
});

describe('messages quote the header with a bound', () => {
  const many = `[${new Array(1_000_000).fill(1).join(',')}]`;
  const cases: [string, string, string][] = [
    ['a metadata value of 10^6 numbers', `{"__metadata__":{"k":${many}}}`, '"__metadata__" value for "k" must be a string, got [1,1,1'],
    ['metadata of 10^6 numbers', `{"__metadata__":${many}}`, '"__metadata__" must be an object of strings, got [1,1'],
    ['an entry of 10^6 numbers', `{"a":${many}}`, 'tensor "a": expected {dtype, shape, data_offsets}, got [1,1'],
    ['a dtype of 10^6 numbers', `{"a":${entry('[2]', '[0,8]', many)}}`, 'tensor "a": unknown dtype [1,1'],
    [
      'a shape of 10^6 ones and a -1',
      `{"a":${entry(`${many.slice(0, -1)},-1]`)}}`,
      'has a dimension that is not a non-negative integer: -1',
    ],
    ['offsets of 10^6 numbers', `{"a":${entry('[2]', many)}}`, 'data_offsets must be two non-negative integers [begin, end], got [1,1'],
    ['a tensor name of 10^6 characters', `{"${'n'.repeat(1_000_000)}":3}`, 'tensor "nnnn'],
    ['a dtype string of 10^6 characters', `{"a":${entry('[2]', '[0,8]', `"${'F'.repeat(1_000_000)}"`)}}`, 'unknown dtype "FFFF'],
    ['a huge shape that overflows', `{"a":${entry(`[${new Array(1000).fill(4294967296).join(',')}]`)}}`, 'has more than 2^53 elements'],
  ];
  it.each(cases)('%s', (_, header, expected) => {
    const msg = refusal(file(header, data8));
    expect(msg).toContain(expected);
    expect(msg.length).toBeLessThan(700);
  });
});

describe('integers beyond int32 are a SafetensorsError, named with the file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'myriad-strict-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['I64', [0, 0, 0, 128, 0, 0, 0, 0], '(I64) element 0 is 2147483648'],
    ['U64', [255, 255, 255, 255, 255, 255, 255, 255], '(U64) element 0 is 18446744073709551615'],
    ['U32', [0, 0, 0, 128], '(U32) element 0 is 2147483648'],
  ] as const)('%s', async (dtype, bytes, expected) => {
    const path = join(dir, 'ints.safetensors');
    const header = `{"i":{"dtype":"${dtype}","shape":[1],"data_offsets":[0,${bytes.length}]}}`;
    await writeFile(path, file(header, [...bytes]));
    expect(() => loadSafetensors(file(header, [...bytes]))).toThrow(SafetensorsError);
    await expect(readSafetensorsFile(path)).rejects.toThrow(SafetensorsError);
    await expect(readSafetensorsFile(path)).rejects.toThrow(`safetensors: ${path}: tensor "i" ${expected}, outside the int32 range`);
  });
});

describe('as strict as the reference reader', () => {
  const cases: [string, Uint8Array, string][] = [
    [
      'a UTF-8 byte order mark before the header',
      file(Uint8Array.from([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(`{"a":${entry()}}`)]), data8),
      'byte order mark',
    ],
    [
      'a duplicate dtype inside an entry',
      file(`{"a":{"dtype":"I32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, data8),
      'tensor "a": field "dtype" appears more than once',
    ],
    [
      'a duplicate shape inside an entry',
      file(`{"a":{"dtype":"F32","shape":[1],"shape":[2],"data_offsets":[0,8]}}`, data8),
      'field "shape" appears more than once',
    ],
    [
      'duplicate data_offsets inside an entry',
      file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4],"data_offsets":[0,8]}}`, data8),
      'field "data_offsets" appears more than once',
    ],
    ['a duplicate metadata key', file('{"__metadata__":{"k":"1","k":"2"}}'), '"__metadata__" names "k" more than once'],
    [
      'an offset written 8.0',
      file(`{"a":${entry('[2]', '[0,8.0]')}}`, data8),
      'data_offsets must be two non-negative integers [begin, end], got [0,8.0]',
    ],
    ['an offset written 8e0', file(`{"a":${entry('[2]', '[0,8e0]')}}`, data8), 'got [0,8e0]'],
    ['an offset written -0', file(`{"a":${entry('[0]', '[-0,0]')}}`), 'got [-0,0]'],
    [
      'a dimension written 2.0',
      file(`{"a":${entry('[2.0]')}}`, data8),
      'shape [2.0] has a dimension that is not a non-negative integer: 2.0',
    ],
    ['a dimension written 2e0', file(`{"a":${entry('[2e0]')}}`, data8), 'not a non-negative integer: 2e0'],
    ['a dimension written 20E-1', file(`{"a":${entry('[20E-1]')}}`, data8), 'not a non-negative integer: 20E-1'],
    [
      'a dimension written -0',
      file(`{"a":${entry('[-0,2]', '[0,0]')}}`),
      'shape [-0,2] has a dimension that is not a non-negative integer: -0',
    ],
    [
      'a dimension beyond 2^53',
      file(`{"a":${entry('[9007199254740993]')}}`, data8),
      'not a non-negative integer below 2^53: 9007199254740993',
    ],
    ['a leading zero', file(`{"a":${entry('[02]')}}`, data8), 'malformed number'],
    ['a lone surrogate escape in a name', file(`{"\\ud800":${entry()}}`, data8), 'lone surrogate'],
    ['a raw control character in a string', file(`{"a\tb":${entry()}}`, data8), 'control character'],
    ['a trailing comma', file(`{"a":${entry()},}`, data8), 'expected'],
    ['NUL padding after the header', file(`{"a":${entry()}}\u0000\u0000`, data8), 'only whitespace may follow'],
    ['a second JSON value', file(`{"a":${entry()}} {}`, data8), 'only whitespace may follow'],
    ['single quotes', file(`{'a':${entry()}}`, data8), 'expected a string'],
  ];
  it.each(cases)('refuses %s', (_, bytes, expected) => {
    expect(refusal(bytes)).toContain(expected);
  });

  it('still accepts what the reference accepts: whitespace padding, escapes, null metadata, unknown fields, big integers in ignored fields', () => {
    const ok = file(
      ` \t\r\n{"__metadata__":null,"\\u0061\\ud83d\\ude00":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":[1e400,-0,4.0,{"y":"\\n"}]}}   `,
      data8,
    );
    const { entries, metadata } = decodeSafetensors(ok);
    expect(Object.keys(entries)).toEqual(['a\u{1F600}']);
    expect(metadata).toEqual({});
  });
});

describe('Node Buffers at any offset', () => {
  it('16- and 64-bit tensors at an odd offset inside a Buffer are copied to alignment, not misread', () => {
    // A header of odd length puts the data at an odd offset; Buffer.slice() would not copy.
    const header = '{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"n":{"dtype":"I64","shape":[1],"data_offsets":[2,10]}} ';
    const bytes = Buffer.from(file(header, [0x00, 0x3c, 0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    const t = loadSafetensors(bytes);
    expect([t['h']!.item(), t['n']!.item()]).toEqual([1, -5]);
  });
});
