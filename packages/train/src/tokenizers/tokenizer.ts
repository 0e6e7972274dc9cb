// The interface every tokenizer implements, and its JSON form (saved in checkpoints).

/** How a char-level tokenizer treats a character it has never seen. */
export type UnknownPolicy = 'error' | 'skip' | { replaceWith: string };

/** Serialised tokenizer, stored as JSON in checkpoint metadata. */
export type TokenizerJSON = { type: 'byte' } | { type: 'char'; chars: string[]; unknown: UnknownPolicy };

/** Maps text to integer token ids and back. */
export interface Tokenizer {
  /** 'byte' or 'char'. */
  readonly type: TokenizerJSON['type'];
  /** Number of distinct token ids; ids are 0..vocabSize-1. */
  readonly vocabSize: number;
  /** Text to token ids. */
  encode(text: string): Int32Array;
  /** Token ids to text. */
  decode(ids: ArrayLike<number>): string;
  /** A JSON-serialisable description that `tokenizerFromJSON` turns back into an equal tokenizer. */
  toJSON(): TokenizerJSON;
}
