// Rebuilds any tokenizer from its JSON form (used when loading a checkpoint).
import { ByteTokenizer } from './byte.js';
import { CharTokenizer } from './char.js';
import type { Tokenizer, TokenizerJSON } from './tokenizer.js';

/** The tokenizer described by `json` (the output of `tokenizer.toJSON()`). */
export function tokenizerFromJSON(json: TokenizerJSON): Tokenizer {
  switch (json?.type) {
    case 'byte':
      return new ByteTokenizer();
    case 'char':
      return CharTokenizer.fromJSON(json);
    default:
      throw new TypeError(
        `tokenizerFromJSON: unknown tokenizer type ${JSON.stringify((json as { type?: unknown } | null)?.type)}; expected 'byte' or 'char'`,
      );
  }
}
