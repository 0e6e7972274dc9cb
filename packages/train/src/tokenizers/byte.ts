// Byte-level tokenizer: a token is one byte of the UTF-8 encoding, so the vocabulary is fixed at 256
// and every string can be encoded.
import type { Tokenizer, TokenizerJSON } from './tokenizer.js';

const encoder = new TextEncoder();
// Not fatal: a model may generate byte sequences that are not valid UTF-8; those decode to U+FFFD.
const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** UTF-8 byte tokenizer (vocabulary 256). `decode(encode(s)) === s` for every well-formed string. */
export class ByteTokenizer implements Tokenizer {
  readonly type = 'byte' as const;
  readonly vocabSize = 256;

  /** The UTF-8 bytes of `text`, one token each. */
  encode(text: string): Int32Array {
    return Int32Array.from(encoder.encode(text));
  }

  /** UTF-8 decode; invalid sequences (possible in generated text) become U+FFFD. */
  decode(ids: ArrayLike<number>): string {
    const bytes = new Uint8Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id > 255) {
        throw new RangeError(`ByteTokenizer.decode: token ${i} is ${id}; expected an integer in [0, 255]`);
      }
      bytes[i] = id;
    }
    return decoder.decode(bytes);
  }

  /** `{ type: 'byte' }`. */
  toJSON(): TokenizerJSON {
    return { type: 'byte' };
  }
}
