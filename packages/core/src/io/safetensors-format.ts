// The safetensors container, independent of any tensor class.
// Layout: u64 little-endian N | N bytes of UTF-8 JSON header, space-padded to a multiple of 8 |
// data buffer. The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]}
// (byte offsets into the data buffer) plus an optional "__metadata__": {string: string}.
// Values are little-endian, C order. The data buffer must be covered exactly: no holes, no overlaps.

import { clip, quoteString } from './json-cursor.js';
import { parseSafetensorsHeader, tensorLabel, type ParsedHeader } from './safetensors-header.js';

/** Element types of the safetensors format that this reader and writer know. */
export type SafetensorsDType =
  'BOOL' | 'U8' | 'I8' | 'F8_E5M2' | 'F8_E4M3' | 'I16' | 'U16' | 'F16' | 'BF16' | 'I32' | 'U32' | 'F32' | 'F64' | 'I64' | 'U64';

// Bytes per element, listed in the reference writer's dtype order: it writes tensors by
// descending position here, then by name, which keeps every tensor aligned to its element size.
const ITEM_SIZE: Readonly<Record<SafetensorsDType, number>> = {
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
const DTYPES = Object.keys(ITEM_SIZE) as SafetensorsDType[];
const RANK = new Map<string, number>(DTYPES.map((d, i) => [d, i]));

/** The reference reader's limit on the header size (100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

/** A malformed safetensors file or an invalid entry to encode; the message starts with `safetensors:`. */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** One tensor to encode: its raw little-endian bytes (any typed array view) with dtype and shape. */
export interface SafetensorsEntryInput {
  dtype: SafetensorsDType;
  shape: readonly number[];
  data: ArrayBufferView;
}

/** One decoded tensor: `bytes` is a view into the decoded file, not a copy. */
export interface SafetensorsEntry {
  dtype: SafetensorsDType;
  shape: number[];
  bytes: Uint8Array;
}

/** A decoded file: entries in data order, and the `__metadata__` strings (empty when absent). */
interface DecodedSafetensors {
  entries: Record<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

/** Longest error message; every quote of the input is clipped already, this is the last guard. */
const MAX_MESSAGE_CHARS = 2000;

function fail(message: string): never {
  throw new SafetensorsError(`safetensors: ${clip(message, MAX_MESSAGE_CHARS)}`);
}

/** Bytes per element of a safetensors dtype. */
export function safetensorsItemSize(dtype: SafetensorsDType): number {
  return ITEM_SIZE[dtype];
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// Typed arrays use host byte order and the format is little-endian; every JS engine we target is
// little-endian, so refuse loudly rather than silently swap bytes on an untested path.
function assertLittleEndianHost(): void {
  if (!LITTLE_ENDIAN_HOST) fail('this host is big-endian; only little-endian hosts are supported');
}

/** A caller's value named in a message without recursing into it or quoting it at length. */
function describe(v: unknown): string {
  if (typeof v === 'string') return quoteString(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v === null || v === undefined) return String(v);
  return Array.isArray(v) ? `an array of ${v.length}` : typeof v;
}

/** Element count of a shape to encode; `what` names the tensor for the error message. */
function checkedNumel(shape: unknown, what: string): number {
  if (!Array.isArray(shape)) fail(`${what}: shape must be an array of integers, got ${describe(shape)}`);
  let n = 1;
  for (const d of shape as unknown[]) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      fail(
        `${what}: shape ${clip(`[${shape.map(describe).join(',')}]`)} has a dimension that is not a non-negative integer: ${describe(d)}`,
      );
    }
    n *= d;
  }
  return n;
}

// Names sort by code point, i.e. by UTF-8 bytes, as the reference writer (Rust strings) does.
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/** Serialises raw tensors (and optional string metadata) into a safetensors file image. */
export function encodeSafetensors(entries: Record<string, SafetensorsEntryInput>, metadata?: Record<string, string>): Uint8Array {
  assertLittleEndianHost();
  const items = Object.keys(entries).map((name) => {
    const { dtype, shape, data } = entries[name]!;
    const what = tensorLabel(name);
    if (name === '__metadata__') fail('"__metadata__" is reserved and cannot name a tensor');
    if (!RANK.has(dtype)) fail(`${what}: unknown dtype ${describe(dtype)}; expected one of ${DTYPES.join(', ')}`);
    const expected = checkedNumel(shape, what) * ITEM_SIZE[dtype];
    if (data.byteLength !== expected) {
      fail(`${what}: data has ${data.byteLength} bytes but shape ${clip(`[${shape.join(',')}]`)} of ${dtype} needs ${expected}`);
    }
    return { name, dtype, shape: [...shape], bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  });
  items.sort((a, b) => RANK.get(b.dtype)! - RANK.get(a.dtype)! || compareCodePoints(a.name, b.name));

  // Built by hand (not JSON.stringify of an object) to fix the key order and allow any name, "__proto__" included.
  const parts: string[] = [];
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') fail(`metadata value for ${quoteString(k)} must be a string, got ${typeof v}`);
    }
    parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const it of items) {
    const end = offset + it.bytes.length;
    parts.push(`${JSON.stringify(it.name)}:{"dtype":"${it.dtype}","shape":[${it.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;

  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength % 2 ** 32, true);
  view.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength); // space padding, as the reference writer does
  let at = 8 + headerLength;
  for (const it of items) {
    out.set(it.bytes, at);
    at += it.bytes.length;
  }
  return out;
}

/** Parses and validates the header; returns it with the byte offset where the data buffer starts. */
function parseHeader(bytes: Uint8Array): { header: ParsedHeader; dataStart: number } {
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  // Checked before anything is decoded or allocated, so a corrupt length cannot cost memory.
  if (n64 > BigInt(bytes.length - 8)) {
    fail(`header length ${n64} exceeds the ${bytes.length - 8} bytes that follow the length field`);
  }
  const n = Number(n64);
  if (n > MAX_HEADER_BYTES) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  let text: string;
  try {
    // ignoreBOM: keep a byte order mark in the text so the JSON reader refuses it, as the reference does.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail(`header (${n} bytes) is not valid UTF-8`);
  }
  return { header: parseSafetensorsHeader(text, fail, `header (${n} bytes) is not valid JSON`), dataStart: 8 + n };
}

/** Element count of a shape read from a header, refusing a product that is not exact. */
function headerNumel(what: string, shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    // The reference multiplies with overflow checks in the same order, so it refuses the same shapes.
    if (d !== 0 && n > Number.MAX_SAFE_INTEGER / d) fail(`${what}: shape ${clip(`[${shape.join(',')}]`)} has more than 2^53 elements`);
    n *= d;
  }
  return n;
}

/** Parses and fully validates a safetensors file image; entry bytes are views into `bytes`. */
export function decodeSafetensors(bytes: Uint8Array): DecodedSafetensors {
  assertLittleEndianHost();
  const { header, dataStart } = parseHeader(bytes);
  const dataLength = bytes.length - dataStart;

  const found: { name: string; dtype: SafetensorsDType; shape: number[]; begin: number; end: number }[] = [];
  for (const { name, dtype, shape, begin, end } of header.entries) {
    const what = tensorLabel(name);
    if (!RANK.has(dtype)) fail(`${what}: unknown dtype ${quoteString(dtype)}; expected one of ${DTYPES.join(', ')}`);
    const numel = headerNumel(what, shape);
    if (end < begin) fail(`${what}: data_offsets [${begin},${end}] has end ${end} < begin ${begin}`);
    if (end > dataLength) fail(`${what}: data_offsets [${begin},${end}] beyond the ${dataLength}-byte data buffer`);
    const expected = numel * ITEM_SIZE[dtype as SafetensorsDType];
    if (end - begin !== expected) {
      fail(
        `${what}: data_offsets [${begin},${end}] span ${end - begin} bytes but shape ${clip(`[${shape.join(',')}]`)} of ${dtype} needs ${expected}`,
      );
    }
    found.push({ name, dtype: dtype as SafetensorsDType, shape, begin, end });
  }

  // In data order, each tensor must start exactly where the previous one ended.
  found.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const entries: [string, SafetensorsEntry][] = [];
  let covered = 0;
  let previous = '';
  for (const t of found) {
    if (t.begin < covered) fail(`${tensorLabel(t.name)} at [${t.begin},${t.end}] overlaps ${tensorLabel(previous)} ending at ${covered}`);
    if (t.begin > covered) fail(`data bytes [${covered},${t.begin}) before ${tensorLabel(t.name)} belong to no tensor`);
    covered = t.end;
    previous = t.name;
    entries.push([t.name, { dtype: t.dtype, shape: t.shape, bytes: bytes.subarray(dataStart + t.begin, dataStart + t.end) }]);
  }
  if (covered !== dataLength) fail(`data bytes [${covered},${dataLength}) after the last tensor belong to no tensor`);
  return { entries: Object.fromEntries(entries), metadata: header.metadata };
}
