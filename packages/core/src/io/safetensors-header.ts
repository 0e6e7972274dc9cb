// The safetensors header read against its schema, as strictly as the reference reader (Rust serde_json):
//   { "__metadata__"?: {string: string} | null, <name>: {dtype: string, shape: [uint], data_offsets: [uint, uint], ...ignored} }
// Integers must be written as plain digits: `4.0`, `4e0` and `-0` are refused (serde_json refuses them
// for unsigned fields; JSON.parse would quietly turn them into 4 and 0). A key given twice at the top
// level, in an entry or in the metadata is refused rather than silently resolved. Every quote of
// the header in an error message is clipped (json-cursor.ts), and nesting is bounded.
import { JsonCursor, clip, quoteString } from './json-cursor.js';

/** One header entry, still unchecked against the data buffer. */
interface HeaderEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** A parsed header: metadata strings and tensor entries in header order. */
export interface ParsedHeader {
  metadata: Record<string, string>;
  entries: HeaderEntry[];
}

const UINT = /^(?:0|[1-9][0-9]*)$/;

/** A tensor name as messages show it: `tensor "name"`, clipped. */
export function tensorLabel(name: string): string {
  return `tensor ${quoteString(name)}`;
}

/**
 * Parses a header text. `fail` throws (a SafetensorsError); `syntax` prefixes messages about the JSON
 * itself, so they read "header (N bytes) is not valid JSON: …".
 */
export function parseSafetensorsHeader(text: string, fail: (message: string) => never, syntax: string): ParsedHeader {
  const cur = new JsonCursor(text, (m) => fail(`${syntax}: ${m}`));
  if (text.charCodeAt(0) === 0xfeff) fail(`${syntax}: it starts with a byte order mark (EF BB BF), which JSON forbids`);
  const k = cur.kind();
  if (k !== 'object') {
    const got = k === 'array' ? 'an array' : cur.skipAndQuote(0);
    fail(`header must be a JSON object, got ${got}`);
  }
  cur.expect('{');
  let metadata: Record<string, string> | null = null;
  const entries: HeaderEntry[] = [];
  const names = new Set<string>();
  if (!cur.eat('}')) {
    do {
      const name = cur.memberKey();
      if (names.has(name)) fail(`header names ${quoteString(name)} more than once`);
      names.add(name);
      if (name === '__metadata__') metadata = readMetadata(cur, fail);
      else entries.push(readEntry(cur, name, fail));
    } while (cur.more('}'));
  }
  if (!cur.atEnd()) cur.unexpected('the end of the header (only whitespace may follow the object)');
  return { metadata: metadata ?? {}, entries };
}

function readMetadata(cur: JsonCursor, fail: (message: string) => never): Record<string, string> {
  const k = cur.kind();
  if (k === 'literal') {
    const start = cur.pos;
    if (cur.literal() === null) return {}; // serde reads an Option: null means absent
    fail(`"__metadata__" must be an object of strings, got ${cur.excerpt(start)}`);
  }
  if (k !== 'object') fail(`"__metadata__" must be an object of strings, got ${cur.skipAndQuote(1)}`);
  cur.expect('{');
  // A null-prototype object: "__proto__" and "constructor" are plain keys here.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const keys = new Set<string>();
  if (cur.eat('}')) return {};
  do {
    const key = cur.memberKey();
    if (keys.has(key)) fail(`"__metadata__" names ${quoteString(key)} more than once`);
    keys.add(key);
    if (cur.kind() !== 'string') fail(`"__metadata__" value for ${quoteString(key)} must be a string, got ${cur.skipAndQuote(2)}`);
    out[key] = cur.string();
  } while (cur.more('}'));
  return Object.fromEntries(Object.entries(out)); // a plain object again; fromEntries keeps "__proto__" a key
}

function readEntry(cur: JsonCursor, name: string, fail: (message: string) => never): HeaderEntry {
  const what = tensorLabel(name);
  if (cur.kind() !== 'object') fail(`${what}: expected {dtype, shape, data_offsets}, got ${cur.skipAndQuote(1)}`);
  cur.expect('{');
  let dtype: string | undefined;
  let shape: number[] | undefined;
  let offsets: number[] | undefined;
  const fields = new Set<string>();
  if (!cur.eat('}')) {
    do {
      const field = cur.memberKey();
      if (fields.has(field)) fail(`${what}: field ${quoteString(field)} appears more than once`);
      fields.add(field);
      if (field === 'dtype') {
        if (cur.kind() !== 'string') fail(`${what}: unknown dtype ${cur.skipAndQuote(2)}`);
        dtype = cur.string();
      } else if (field === 'shape') {
        shape = readUints(cur, what, fail, (array, bad) =>
          bad === null
            ? `shape must be an array of integers, got ${array}`
            : `shape ${array} has a dimension that is not a non-negative integer${bad.tooLarge ? ' below 2^53' : ''}: ${bad.item}`,
        );
      } else if (field === 'data_offsets') {
        const spell = (array: string) => `data_offsets must be two non-negative integers [begin, end], got ${array}`;
        offsets = readUints(cur, what, fail, spell);
        if (offsets.length !== 2) fail(`${what}: ${spell(clip(`[${offsets.join(',')}]`))}`);
      } else {
        cur.skip(2); // the reference reader ignores unknown fields too
      }
    } while (cur.more('}'));
  }
  if (dtype === undefined) fail(`${what}: missing field "dtype"`);
  if (shape === undefined) fail(`${what}: missing field "shape"`);
  if (offsets === undefined) fail(`${what}: missing field "data_offsets"`);
  return { name, dtype, shape, begin: offsets[0]!, end: offsets[1]! };
}

/** An element of an integer array that is not a non-negative integer. */
interface BadItem {
  /** Its text, clipped. */
  item: string;
  /** It is written as plain digits, only too large to be exact. */
  tooLarge: boolean;
}

/**
 * Reads an array of non-negative integers written as plain digits. On a bad array (bad null) or a
 * bad element, fails with `describe(the array's text, clipped, bad)`.
 */
function readUints(
  cur: JsonCursor,
  what: string,
  fail: (message: string) => never,
  describe: (array: string, bad: BadItem | null) => string,
): number[] {
  cur.ws();
  const start = cur.pos;
  if (cur.kind() !== 'array') fail(`${what}: ${describe(cur.skipAndQuote(2), null)}`);
  cur.expect('[');
  const out: number[] = [];
  if (cur.eat(']')) return out;
  do {
    const raw = cur.kind() === 'number' ? cur.number() : null;
    const value = raw !== null && UINT.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(value)) {
      const bad = { item: raw !== null ? clip(raw) : cur.skipAndQuote(3), tooLarge: raw !== null && UINT.test(raw) };
      cur.pos = start; // re-read the whole array (validating it) to quote it next to the element
      fail(`${what}: ${describe(cur.skipAndQuote(2), bad)}`);
    }
    out.push(value);
  } while (cur.more(']'));
  return out;
}
