// Character-level tokenizer: one token per Unicode code point, vocabulary built from a corpus.
import type { Tokenizer, TokenizerJSON, UnknownPolicy } from './tokenizer.js';

/** Options for `CharTokenizer.fromText`. */
export interface CharTokenizerOptions {
  /** What `encode` does with a character outside the vocabulary (default 'error'). */
  unknown?: UnknownPolicy;
  /** Characters to include even if the corpus lacks them (e.g. a replacement character). */
  extraChars?: string;
}

function describeChar(cp: number): string {
  const hex = cp.toString(16).toUpperCase().padStart(4, '0');
  return cp >= 0x20 && cp !== 0x7f ? `'${String.fromCodePoint(cp)}' (U+${hex})` : `U+${hex}`;
}

/**
 * Code-point tokenizer: id i is the i-th smallest code point of the corpus.
 * `decode(encode(s)) === s` for every well-formed string made of vocabulary characters.
 */
export class CharTokenizer implements Tokenizer {
  readonly type = 'char' as const;
  readonly vocabSize: number;
  /** The vocabulary, one character (code point) per id, sorted by code point. */
  readonly chars: readonly string[];
  readonly unknown: UnknownPolicy;
  private readonly codePoints: Int32Array;
  private readonly idOf = new Map<number, number>();
  private readonly replacementId: number;

  /** Builds a tokenizer over exactly `chars` (distinct single code points, any order; stored sorted). */
  constructor(chars: Iterable<string>, unknown: UnknownPolicy = 'error') {
    const cps: number[] = [];
    const seen = new Set<number>();
    for (const c of chars) {
      const cp = c.codePointAt(0);
      if (cp === undefined || String.fromCodePoint(cp) !== c) {
        throw new TypeError(`CharTokenizer: vocabulary entry ${JSON.stringify(c)} is not a single code point`);
      }
      if (seen.has(cp)) throw new TypeError(`CharTokenizer: vocabulary lists ${describeChar(cp)} twice`);
      seen.add(cp);
      cps.push(cp);
    }
    if (cps.length === 0) throw new RangeError('CharTokenizer: the vocabulary is empty (was the corpus empty?)');
    cps.sort((a, b) => a - b);
    this.codePoints = Int32Array.from(cps);
    this.chars = cps.map((cp) => String.fromCodePoint(cp));
    cps.forEach((cp, i) => this.idOf.set(cp, i));
    this.vocabSize = cps.length;
    this.unknown = unknown;
    this.replacementId = -1;
    if (typeof unknown === 'object') {
      const cp = unknown.replaceWith.codePointAt(0);
      const id = cp === undefined ? undefined : this.idOf.get(cp);
      if (id === undefined || String.fromCodePoint(cp!) !== unknown.replaceWith) {
        throw new RangeError(
          `CharTokenizer: replaceWith ${JSON.stringify(unknown.replaceWith)} must be one character of the vocabulary ` +
            `(add it with extraChars)`,
        );
      }
      this.replacementId = id;
    } else if (unknown !== 'error' && unknown !== 'skip') {
      throw new TypeError(`CharTokenizer: unknown policy ${JSON.stringify(unknown)}; expected 'error', 'skip' or { replaceWith }`);
    }
  }

  /** The sorted set of code points of `text` (plus `extraChars`) as a tokenizer. */
  static fromText(text: string, options: CharTokenizerOptions = {}): CharTokenizer {
    const seen = new Set<number>();
    const all = options.extraChars ? text + options.extraChars : text;
    for (let i = 0; i < all.length; i++) {
      const cp = all.codePointAt(i)!;
      if (cp > 0xffff) i++; // a surrogate pair is one code point
      seen.add(cp);
    }
    return new CharTokenizer(
      Array.from(seen, (cp) => String.fromCodePoint(cp)),
      options.unknown ?? 'error',
    );
  }

  /** Rebuilds a tokenizer saved with `toJSON()`. */
  static fromJSON(json: TokenizerJSON): CharTokenizer {
    if (json.type !== 'char' || !Array.isArray(json.chars)) {
      throw new TypeError(`CharTokenizer.fromJSON: expected { type: 'char', chars: [...] }, got type ${JSON.stringify(json.type)}`);
    }
    return new CharTokenizer(json.chars, json.unknown ?? 'error');
  }

  /** One id per code point of `text`; unknown characters follow the `unknown` policy. */
  encode(text: string): Int32Array {
    const out = new Int32Array(text.length); // code points <= UTF-16 units
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      const cp = text.codePointAt(i)!;
      if (cp > 0xffff) i++;
      const id = this.idOf.get(cp);
      if (id !== undefined) {
        out[n++] = id;
      } else if (this.replacementId >= 0) {
        out[n++] = this.replacementId;
      } else if (this.unknown !== 'skip') {
        throw new RangeError(
          `CharTokenizer.encode: character ${describeChar(cp)} at offset ${i} is not in the vocabulary of ` +
            `${this.vocabSize} characters; build the tokenizer from a corpus that contains it, or pass ` +
            `unknown: 'skip' or { replaceWith }`,
        );
      }
    }
    return n === out.length ? out : out.slice(0, n);
  }

  /** The characters of `ids`, concatenated. */
  decode(ids: ArrayLike<number>): string {
    const parts: string[] = [];
    const chunk: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new RangeError(`CharTokenizer.decode: token ${i} is ${id}; expected an integer in [0, ${this.vocabSize - 1}]`);
      }
      chunk.push(this.codePoints[id]!);
      // fromCodePoint takes its arguments on the stack: flush in bounded chunks.
      if (chunk.length === 8192) {
        parts.push(String.fromCodePoint(...chunk));
        chunk.length = 0;
      }
    }
    if (chunk.length > 0) parts.push(String.fromCodePoint(...chunk));
    return parts.join('');
  }

  /** `{ type: 'char', chars, unknown }`, enough to rebuild the same ids. */
  toJSON(): TokenizerJSON {
    return { type: 'char', chars: [...this.chars], unknown: this.unknown };
  }
}
