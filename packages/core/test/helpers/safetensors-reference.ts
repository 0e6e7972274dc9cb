// An independent, deliberately plain reading of the safetensors rules, for the fuzz test and the
// fuzz script to compare the real decoder against: a recursive-descent JSON parser that builds the
// whole tree (the decoder streams against a schema instead), then the checks the reference reader
// (Rust, serde_json) makes. Also a seeded mutation generator over valid files.
import { encodeSafetensors, type SafetensorsDType } from '../../src/io/safetensors-format.js';

type J =
  | { t: 'obj'; members: [string, J][] }
  | { t: 'arr'; items: J[] }
  | { t: 'str'; v: string }
  | { t: 'num'; raw: string }
  | { t: 'lit'; v: boolean | null };

class Refused extends Error {}
const refuse = (why: string): never => {
  throw new Refused(why);
};

const SIZES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

function parseJson(s: string): J {
  let i = 0;
  const isWs = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r';
  const ws = () => {
    while (isWs(s[i])) i++;
  };
  const str = (): string => {
    if (s[i] !== '"') refuse('string expected');
    i++;
    const units: number[] = [];
    for (;;) {
      if (i >= s.length) refuse('unterminated string');
      const c = s.charCodeAt(i);
      if (c === 34) break;
      if (c < 32) refuse('control character');
      if (c !== 92) {
        units.push(c);
        i++;
        continue;
      }
      const e = s[i + 1];
      const simple: Record<string, number> = { '"': 34, '\\': 92, '/': 47, b: 8, f: 12, n: 10, r: 13, t: 9 };
      if (e !== undefined && e in simple) {
        units.push(simple[e]!);
        i += 2;
      } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
        units.push(parseInt(s.slice(i + 2, i + 6), 16));
        i += 6;
      } else refuse('bad escape');
    }
    i++;
    // serde_json refuses unpaired surrogates coming from escapes.
    for (let k = 0; k < units.length; k++) {
      const u = units[k]!;
      if (u >= 0xd800 && u <= 0xdbff) {
        const next = units[k + 1];
        if (next === undefined || next < 0xdc00 || next > 0xdfff) refuse('lone surrogate');
        k++;
      } else if (u >= 0xdc00 && u <= 0xdfff) refuse('lone surrogate');
    }
    let out = '';
    for (let k = 0; k < units.length; k += 8192) out += String.fromCharCode(...units.slice(k, k + 8192));
    return out;
  };
  const value = (depth: number): J => {
    ws();
    const c = s[i];
    if (c === '{' || c === '[') {
      if (depth + 1 > 128) refuse('too deep');
      i++;
      ws();
      if (c === '{') {
        const members: [string, J][] = [];
        if (s[i] === '}') {
          i++;
          return { t: 'obj', members };
        }
        for (;;) {
          ws();
          const k = str();
          ws();
          if (s[i++] !== ':') refuse('colon expected');
          members.push([k, value(depth + 1)]);
          ws();
          const d = s[i++];
          if (d === '}') return { t: 'obj', members };
          if (d !== ',') refuse('comma expected');
        }
      }
      const items: J[] = [];
      if (s[i] === ']') {
        i++;
        return { t: 'arr', items };
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        const d = s[i++];
        if (d === ']') return { t: 'arr', items };
        if (d !== ',') refuse('comma expected');
      }
    }
    if (c === '"') return { t: 'str', v: str() };
    for (const [w, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (s.startsWith(w, i)) {
        i += w.length;
        return { t: 'lit', v };
      }
    }
    const num = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
    num.lastIndex = i;
    const m = num.exec(s);
    if (!m || m[0].length === 0) refuse('value expected');
    // A number token must not run on into more number characters ("01", "1.", "1e").
    if (/[0-9.eE+-]/.test(s[i + m![0].length] ?? '')) refuse('bad number');
    i += m![0].length;
    return { t: 'num', raw: m![0] };
  };
  const v = value(0);
  ws();
  if (i !== s.length) refuse('trailing characters');
  return v;
}

function uint(j: J): number {
  if (j.t !== 'num' || !/^(0|[1-9]\d*)$/.test(j.raw)) return refuse('not a plain unsigned integer');
  const n = Number(j.raw);
  if (!Number.isSafeInteger(n)) refuse('integer too large');
  return n;
}

function noDuplicates(members: [string, J][]): void {
  if (new Set(members.map(([k]) => k)).size !== members.length) refuse('duplicate key');
}

export interface ReferenceEntry {
  dtype: SafetensorsDType;
  shape: number[];
  bytes: Uint8Array;
}

export type ReferenceResult =
  { ok: true; entries: Map<string, ReferenceEntry>; metadata: Map<string, string> } | { ok: false; why: string };

/** The strict reference reading of a file image. */
export function referenceDecode(bytes: Uint8Array): ReferenceResult {
  try {
    if (bytes.length < 8) refuse('short');
    let n = 0n;
    for (let k = 7; k >= 0; k--) n = n * 256n + BigInt(bytes[k]!);
    if (n > BigInt(bytes.length - 8) || n > 100_000_000n) refuse('header length');
    const hb = bytes.subarray(8, 8 + Number(n));
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(hb);
    } catch {
      return refuse('utf-8');
    }
    const root = parseJson(text);
    if (root.t !== 'obj') refuse('not an object');
    const top = (root as { members: [string, J][] }).members;
    noDuplicates(top);
    const metadata = new Map<string, string>();
    const found: { name: string; dtype: SafetensorsDType; shape: number[]; b: number; e: number }[] = [];
    for (const [name, v] of top) {
      if (name === '__metadata__') {
        if (v.t === 'lit' && v.v === null) continue;
        if (v.t !== 'obj') refuse('metadata type');
        const members = (v as { members: [string, J][] }).members;
        noDuplicates(members);
        for (const [k, x] of members) {
          if (x.t !== 'str') refuse('metadata value');
          metadata.set(k, (x as { v: string }).v);
        }
        continue;
      }
      if (v.t !== 'obj') refuse('entry type');
      const members = (v as { members: [string, J][] }).members;
      noDuplicates(members);
      const f = new Map(members);
      const dt = f.get('dtype');
      const sh = f.get('shape');
      const off = f.get('data_offsets');
      if (!dt || !sh || !off) refuse('missing field');
      if (dt!.t !== 'str' || !((dt as { v: string }).v in SIZES)) refuse('dtype');
      if (sh!.t !== 'arr' || off!.t !== 'arr') refuse('array expected');
      const shape = (sh as { items: J[] }).items.map(uint);
      const offs = (off as { items: J[] }).items.map(uint);
      if (offs.length !== 2) refuse('two offsets');
      found.push({ name, dtype: (dt as { v: string }).v as SafetensorsDType, shape, b: offs[0]!, e: offs[1]! });
    }
    const dataStart = 8 + Number(n);
    const dataLength = bytes.length - dataStart;
    for (const t of found) {
      let numel = 1n;
      for (const d of t.shape) {
        numel *= BigInt(d);
        if (numel > BigInt(Number.MAX_SAFE_INTEGER)) refuse('numel overflow');
      }
      if (t.e < t.b || t.e > dataLength || BigInt(t.e - t.b) !== numel * BigInt(SIZES[t.dtype]!)) refuse('offsets');
    }
    found.sort((a, b) => a.b - b.b || a.e - b.e);
    let at = 0;
    const entries = new Map<string, ReferenceEntry>();
    for (const t of found) {
      if (t.b !== at) refuse('not contiguous');
      at = t.e;
      entries.set(t.name, { dtype: t.dtype, shape: t.shape, bytes: bytes.subarray(dataStart + t.b, dataStart + t.e) });
    }
    if (at !== dataLength) refuse('trailing data');
    return { ok: true, entries, metadata };
  } catch (e) {
    if (e instanceof Refused) return { ok: false, why: e.message };
    throw e;
  }
}

/** A small seeded generator (mulberry32), so the script and the test replay the same cases. */
export class Prng {
  constructor(private s: number) {}
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

/** Valid files to start from: every dtype, zero-size and scalar tensors, metadata or none. */
export function baseFiles(): Uint8Array[] {
  const f32 = Float32Array.of(1, -2, 3.5, 0, 1e30, -1e-30);
  return [
    encodeSafetensors(
      {
        w: { dtype: 'F32', shape: [2, 3], data: f32 },
        h: { dtype: 'F16', shape: [3], data: Uint16Array.of(0x3c00, 0, 0x7c00) },
        n: { dtype: 'I64', shape: [], data: BigInt64Array.of(-5n) },
      },
      { step: '12', format: 'pt' },
    ),
    encodeSafetensors({
      a: { dtype: 'U32', shape: [2], data: Uint32Array.of(7, 2 ** 31 - 1) },
      b: { dtype: 'U64', shape: [1, 1], data: BigUint64Array.of(3n) },
      c: { dtype: 'BOOL', shape: [3], data: Uint8Array.of(0, 1, 2) },
      e: { dtype: 'F64', shape: [0, 4], data: new Float64Array(0) },
      q: { dtype: 'F8_E4M3', shape: [2], data: Uint8Array.of(1, 2) },
    }),
    encodeSafetensors(
      {
        'layers.0.weight': { dtype: 'BF16', shape: [2, 2], data: Uint16Array.of(0x3f80, 0x4000, 0xc000, 0) },
        'layers.0.bias': { dtype: 'I32', shape: [2], data: Int32Array.of(-1, 2 ** 31 - 1) },
        i8: { dtype: 'I8', shape: [1], data: Int8Array.of(-7) },
        u16: { dtype: 'U16', shape: [2], data: Uint16Array.of(65535, 1) },
      },
      { note: 'ünïcode ✓ \u{1F600}' },
    ),
    encodeSafetensors({}),
  ];
}

const NUMBERS = [
  '4.0',
  '4e0',
  '-0',
  '0',
  '-1',
  '1e400',
  '99999999999999999999',
  '9007199254740993',
  '2',
  '8',
  '1.5',
  '00',
  '1e',
  '-',
  '0x10',
  '18446744073709551616',
];
const TOKENS = [
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '"',
  'null',
  'true',
  '"F32"',
  '"F8_E5M2"',
  '"__metadata__"',
  '\uFEFF',
  '\u0000',
  '\\ud800',
  '\\u0061',
  '\t',
  '"dtype":"U8",',
];

/** How one mutation changed the file, for the script's counts. */
export type MutationKind =
  | 'byte'
  | 'truncate'
  | 'extend'
  | 'length'
  | 'number'
  | 'token'
  | 'delete'
  | 'duplicate-field'
  | 'bom'
  | 'nesting'
  | 'huge-array'
  | 'huge-string'
  | 'swap';

const encoder = new TextEncoder();

function frame(header: Uint8Array, data: Uint8Array, declared = header.length): Uint8Array {
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declared), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

/** One random mutation of `file` (header edits keep the length field right, mostly, so deeper checks run). */
export function mutate(rng: Prng, file: Uint8Array, big = 1): { bytes: Uint8Array; kind: MutationKind } {
  const n = file.length < 8 ? 0 : Math.min(Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true)), file.length - 8);
  const header = file.length < 8 ? '' : new TextDecoder().decode(file.subarray(8, 8 + n));
  const data = file.subarray(Math.min(file.length, 8 + n));
  const editHeader = (text: string, kind: MutationKind) => {
    const h = encoder.encode(text);
    return { bytes: frame(h, data, rng.next() < 0.9 ? h.length : Math.max(0, h.length + rng.int(17) - 8)), kind };
  };
  const at = rng.int(header.length + 1);
  switch (rng.int(13)) {
    case 0: {
      const b = file.slice();
      if (b.length > 0) b[rng.next() < 0.7 ? 8 + rng.int(Math.max(1, n)) : rng.int(b.length)] = rng.int(256);
      return { bytes: b.subarray(0, b.length), kind: 'byte' };
    }
    case 1:
      return { bytes: file.slice(0, rng.int(file.length + 1)), kind: 'truncate' };
    case 2: {
      const b = new Uint8Array(file.length + 1 + rng.int(16));
      b.set(file);
      return { bytes: b, kind: 'extend' };
    }
    case 3: {
      const b = new Uint8Array(Math.max(8, file.length));
      b.set(file);
      const v = rng.next() < 0.5 ? BigInt(Math.max(0, n + rng.int(33) - 16)) : BigInt(rng.int(2 ** 31)) * BigInt(1 + rng.int(2 ** 31));
      new DataView(b.buffer).setBigUint64(0, v, true);
      return { bytes: b, kind: 'length' };
    }
    case 4: {
      // Replace one number of the header with a troublesome spelling.
      const spots = [...header.matchAll(/-?\d+/g)];
      if (spots.length === 0) return editHeader(header + rng.pick(NUMBERS), 'number');
      const m = rng.pick(spots);
      return editHeader(header.slice(0, m.index) + rng.pick(NUMBERS) + header.slice(m.index! + m[0].length), 'number');
    }
    case 5:
      return editHeader(header.slice(0, at) + rng.pick(TOKENS) + header.slice(at), 'token');
    case 6:
      return editHeader(header.slice(0, at) + header.slice(at + 1 + rng.int(4)), 'delete');
    case 7: {
      const f = rng.pick(['"dtype":"F32",', '"shape":[2],', '"data_offsets":[0,0],', '"step":"3",', '"x":1,', '"dtype":"I32",']);
      const spots = [...header.matchAll(/\{(?=")/g)];
      const i = spots.length ? rng.pick(spots).index! + 1 : at;
      return editHeader(header.slice(0, i) + f + header.slice(i), 'duplicate-field');
    }
    case 8:
      return { bytes: frame(encoder.encode('\uFEFF' + header), data), kind: 'bom' };
    case 9: {
      // A nesting bomb in place of a value: after a ':' or as an array element.
      const depth = rng.pick([127, 128, 129, 200, 5000, 20000 * big]);
      const open = rng.next() < 0.5 ? '[' : '{"a":';
      const close = open === '[' ? ']' : '}';
      const bomb = open.repeat(depth) + '1' + close.repeat(rng.next() < 0.9 ? depth : rng.int(depth));
      const spots = [...header.matchAll(/:(?=[[{"\d])/g)];
      const i = spots.length ? rng.pick(spots).index! + 1 : at;
      const rest = header.slice(i);
      const valueEnd = /^(\[[^\]]*\]|"[^"]*"|\{[^}]*\}|\d+)/.exec(rest)?.[0].length ?? 0;
      return editHeader(header.slice(0, i) + bomb + rest.slice(rng.next() < 0.8 ? valueEnd : 0), 'nesting');
    }
    case 10: {
      const count = rng.pick([1000, 10_000, 100_000 * big]);
      const arr = `[${new Array<string>(count).fill('1').join(',')}${rng.next() < 0.5 ? ',-1' : ''}]`;
      const spots = [...header.matchAll(/:(?=[[{"\d])/g)];
      const i = spots.length ? rng.pick(spots).index! + 1 : at;
      const rest = header.slice(i);
      const valueEnd = /^(\[[^\]]*\]|"[^"]*"|\d+)/.exec(rest)?.[0].length ?? 0;
      return editHeader(header.slice(0, i) + arr + rest.slice(valueEnd), 'huge-array');
    }
    case 11: {
      const s = `"${'x'.repeat(rng.pick([300, 100_000 * big]))}"`;
      const spots = [...header.matchAll(/"[^"]*"/g)];
      if (!spots.length) return editHeader(`{${s}:{}}`, 'huge-string');
      const m = rng.pick(spots);
      return editHeader(header.slice(0, m.index) + s + header.slice(m.index! + m[0].length), 'huge-string');
    }
    default: {
      // Swap two data_offsets pairs, or two shapes.
      const spots = [...header.matchAll(/\[[\d,]*\]/g)];
      if (spots.length < 2) return editHeader(header.slice(0, at) + header.slice(at).replace(/\d/, '9'), 'swap');
      const a = rng.pick(spots);
      const b = rng.pick(spots);
      if (a.index === b.index) return editHeader(header, 'swap');
      const [x, y] = a.index! < b.index! ? [a, b] : [b, a];
      const text =
        header.slice(0, x.index) + y[0] + header.slice(x.index! + x[0].length, y.index) + x[0] + header.slice(y.index! + y[0].length);
      return editHeader(text, 'swap');
    }
  }
}
