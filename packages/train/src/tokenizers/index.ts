export type { Tokenizer, TokenizerJSON, UnknownPolicy } from './tokenizer.js';
export { ByteTokenizer } from './byte.js';
export { CharTokenizer, type CharTokenizerOptions } from './char.js';
export { tokenizerFromJSON } from './from-json.js';
