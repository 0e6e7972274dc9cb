// A strict, non-recursive JSON reader for untrusted headers (RFC 8259 only: no BOM, no comments,
// no trailing commas, no lone surrogates). It is read piece by piece by a schema that knows what it
// expects, so nothing the schema does not need is materialised, numbers keep their exact text (JSON.parse
// turns `4.0`, `4e0` and `-0` into integers) and duplicate keys stay visible. Nesting is bounded and
// skipping walks an explicit stack, so no input can exhaust the call stack.

/** Deepest container nesting accepted; serde_json, which the reference reader uses, stops at 128 too. */
export const MAX_JSON_DEPTH = 128;

/** Longest excerpt of the input quoted in an error message. */
const MAX_QUOTE_CHARS = 200;

/** `s` cut to `max` characters, with "…" when cut, so no message quotes unbounded input. */
export function clip(s: string, max = MAX_QUOTE_CHARS): string {
  if (s.length <= max) return s;
  // Do not split a surrogate pair.
  const cut = s.charCodeAt(max - 1) >= 0xd800 && s.charCodeAt(max - 1) <= 0xdbff ? max - 1 : max;
  return `${s.slice(0, cut)}…`;
}

/** A decoded string quoted for a message: JSON-escaped and clipped. */
export function quoteString(s: string): string {
  return s.length <= MAX_QUOTE_CHARS ? JSON.stringify(s) : `${JSON.stringify(s.slice(0, MAX_QUOTE_CHARS))}…`;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4 = /[0-9a-fA-F]{4}/y;

/** What kind of value starts at the cursor. */
type JsonKind = 'object' | 'array' | 'string' | 'number' | 'literal';

/**
 * A position in a JSON text with strict readers for each piece. Every error goes through `fail`
 * (which must throw) with a message naming the character position.
 */
export class JsonCursor {
  pos = 0;

  constructor(
    readonly text: string,
    private readonly fail: (message: string) => never,
  ) {}

  /** Skips JSON whitespace (space, tab, LF, CR only). */
  ws(): void {
    const t = this.text;
    let i = this.pos;
    for (; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
    }
    this.pos = i;
  }

  /** Whether only whitespace remains. */
  atEnd(): boolean {
    this.ws();
    return this.pos >= this.text.length;
  }

  /** The kind of the value at the cursor (after whitespace); fails on anything that cannot start one. */
  kind(): JsonKind {
    this.ws();
    const c = this.text[this.pos];
    if (c === '{') return 'object';
    if (c === '[') return 'array';
    if (c === '"') return 'string';
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return 'number';
    if (c === 't' || c === 'f' || c === 'n') return 'literal';
    return this.unexpected('a value');
  }

  /** Consumes `ch` (after whitespace) if it is next; returns whether it was. */
  eat(ch: '{' | '}' | '[' | ']' | ',' | ':'): boolean {
    this.ws();
    if (this.text[this.pos] !== ch) return false;
    this.pos++;
    return true;
  }

  /** Consumes `ch` or fails. */
  expect(ch: '{' | '}' | '[' | ']' | ',' | ':', what = `'${ch}'`): void {
    if (!this.eat(ch)) this.unexpected(what);
  }

  /** After an element of an object or array: true if another follows (a ',' was eaten), false at `close`. */
  more(close: '}' | ']'): boolean {
    if (this.eat(',')) return true;
    if (this.eat(close)) return false;
    return this.unexpected(`',' or '${close}'`);
  }

  /** Fails naming what was expected and what is at the cursor. */
  unexpected(expected: string): never {
    const c = this.text[this.pos];
    const found = c === undefined ? 'the end of the header' : JSON.stringify(String.fromCodePoint(this.text.codePointAt(this.pos)!));
    return this.fail(`expected ${expected} at character ${this.pos}, found ${found}`);
  }

  /** Reads a string value and returns it decoded. */
  string(): string {
    this.ws();
    const t = this.text;
    const start = this.pos;
    if (t[start] !== '"') this.unexpected('a string');
    let escaped = false;
    let i = start + 1;
    for (;;) {
      const c = t.charCodeAt(i);
      if (Number.isNaN(c)) this.fail(`string starting at character ${start} is not closed`);
      if (c === 0x22) break;
      if (c < 0x20)
        this.fail(`string starting at character ${start} holds the control character U+${c.toString(16).padStart(4, '0')} unescaped`);
      if (c === 0x5c) {
        escaped = true;
        const e = t[i + 1];
        if (e === 'u') {
          HEX4.lastIndex = i + 2;
          if (!HEX4.test(t)) this.fail(`bad \\u escape at character ${i}: expected four hex digits`);
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) this.fail(`bad escape at character ${i}: \\${e ?? ''}`);
        i += 2;
        continue;
      }
      i++;
    }
    this.pos = i + 1;
    if (!escaped) return t.slice(start + 1, i);
    const value = JSON.parse(t.slice(start, i + 1)) as string; // the grammar is checked above
    if (LONE_SURROGATE.test(value)) this.fail(`string starting at character ${start} escapes a lone surrogate`);
    return value;
  }

  /** Reads a number and returns its exact text (validated against the JSON grammar). */
  number(): string {
    this.ws();
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (m === null) return this.unexpected('a number');
    const next = this.text.charCodeAt(this.pos + m[0].length);
    // "01", "1.", "1e" and "-" leave a digit, '.', 'e' or sign right after the longest valid prefix.
    if ((next >= 0x30 && next <= 0x39) || next === 0x2e || next === 0x65 || next === 0x45 || next === 0x2b || next === 0x2d) {
      this.fail(`malformed number at character ${this.pos}: ${clip(this.text.slice(this.pos, this.pos + 40), 40)}`);
    }
    this.pos += m[0].length;
    return m[0];
  }

  /** Reads true, false or null. */
  literal(): boolean | null {
    this.ws();
    for (const [word, value] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return value;
      }
    }
    return this.unexpected('true, false or null');
  }

  /**
   * Skips one value of any kind, validating it, with an explicit stack instead of recursion.
   * `depth` is the number of containers already open around it.
   */
  skip(depth: number): void {
    const open: ('}' | ']')[] = []; // closing bracket of each container opened here
    for (;;) {
      // Read one value; a container pushes and continues with its first element (or closes at once).
      const k = this.kind();
      if (k === 'object' || k === 'array') {
        if (depth + open.length + 1 > MAX_JSON_DEPTH) this.fail(`nesting deeper than ${MAX_JSON_DEPTH} levels at character ${this.pos}`);
        this.pos++;
        const close = k === 'object' ? '}' : ']';
        if (this.eat(close)) {
          if (!this.closeFinished(open)) return;
          continue;
        }
        open.push(close);
        if (close === '}') this.memberKey();
        continue;
      }
      if (k === 'string') this.string();
      else if (k === 'number') this.number();
      else this.literal();
      if (!this.closeFinished(open)) return;
    }
  }

  /** Reads `"key" :` of an object member. */
  memberKey(): string {
    const key = this.string();
    this.expect(':');
    return key;
  }

  /** After a value inside `open`: closes finished containers; true when another value must be read. */
  private closeFinished(open: ('}' | ']')[]): boolean {
    while (open.length > 0) {
      const close = open[open.length - 1]!;
      if (this.more(close)) {
        if (close === '}') this.memberKey();
        return true;
      }
      open.pop();
    }
    return false;
  }

  /** The input from `start` to the cursor, clipped for a message. */
  excerpt(start: number): string {
    return clip(this.text.slice(start, this.pos));
  }

  /** Skips the value at the cursor and returns its text, clipped for a message. */
  skipAndQuote(depth: number): string {
    this.ws();
    const start = this.pos;
    this.skip(depth);
    return this.excerpt(start);
  }
}
