import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ByteTokenizer, CharTokenizer, tokenizerFromJSON } from '../src/tokenizers/index.js';

// Well-formed strings over the whole Unicode range (astral code points included, no lone surrogates).
const unicodeString = fc.string({ unit: 'binary', maxLength: 64 });

describe('ByteTokenizer', () => {
  const tok = new ByteTokenizer();

  it('encodes UTF-8 bytes', () => {
    expect(Array.from(tok.encode('aé€😀'))).toEqual([0x61, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]);
    expect(tok.vocabSize).toBe(256);
  });

  it('round-trips every well-formed string', () => {
    fc.assert(
      fc.property(unicodeString, (s) => tok.decode(tok.encode(s)) === s),
      { numRuns: 200 },
    );
  });

  it('decodes invalid UTF-8 to U+FFFD and rejects ids outside [0, 255]', () => {
    expect(tok.decode([0x61, 0xff])).toBe('a\ufffd');
    expect(() => tok.decode([256])).toThrow(/token 0 is 256; expected an integer in \[0, 255\]/);
  });
});

describe('CharTokenizer', () => {
  it('assigns ids in code-point order', () => {
    const tok = CharTokenizer.fromText('hello world');
    expect(tok.chars).toEqual([' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
    expect(Array.from(tok.encode('hello'))).toEqual([3, 2, 4, 4, 5]);
  });

  it('round-trips any string over its vocabulary, astral characters included', () => {
    fc.assert(
      fc.property(unicodeString, fc.integer({ min: 0, max: 3 }), (s, cut) => {
        const tok = CharTokenizer.fromText(s + 'x');
        // Any string built from the vocabulary round-trips, not just the corpus itself.
        const t = [...s].slice(cut).reverse().join('') + s;
        return tok.decode(tok.encode(t)) === t && tok.encode(t).length === [...t].length;
      }),
      { numRuns: 200 },
    );
  });

  it('survives toJSON / fromJSON with identical ids', () => {
    fc.assert(
      fc.property(
        unicodeString.filter((s) => s.length > 0),
        (s) => {
          const tok = CharTokenizer.fromText(s);
          const back = tokenizerFromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
          expect(back.vocabSize).toBe(tok.vocabSize);
          expect(Array.from(back.encode(s))).toEqual(Array.from(tok.encode(s)));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses unknown characters by default, naming the character', () => {
    const tok = CharTokenizer.fromText('abc');
    expect(() => tok.encode('abz')).toThrow(/character 'z' \(U\+007A\) at offset 2 is not in the vocabulary of 3/);
  });

  it('applies an explicit unknown policy', () => {
    expect(Array.from(CharTokenizer.fromText('abc', { unknown: 'skip' }).encode('azc'))).toEqual([0, 2]);
    const rep = CharTokenizer.fromText('abc', { unknown: { replaceWith: '?' }, extraChars: '?' });
    expect(rep.decode(rep.encode('azc'))).toBe('a?c');
    expect(() => CharTokenizer.fromText('abc', { unknown: { replaceWith: '?' } })).toThrow(/add it with extraChars/);
  });

  it('rejects an empty vocabulary and out-of-range ids', () => {
    expect(() => CharTokenizer.fromText('')).toThrow(/vocabulary is empty/);
    expect(() => CharTokenizer.fromText('ab').decode([2])).toThrow(/token 0 is 2; expected an integer in \[0, 1\]/);
    expect(() => tokenizerFromJSON({ type: 'bpe' } as never)).toThrow(/unknown tokenizer type "bpe"/);
  });

  it('decodes long sequences (beyond the fromCodePoint argument limit)', () => {
    const text = 'ab'.repeat(100_000);
    const tok = CharTokenizer.fromText(text);
    expect(tok.decode(tok.encode(text))).toBe(text);
  });
});
