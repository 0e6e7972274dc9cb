// `npm run demo -- sample --checkpoint FILE --prompt TEXT --tokens N [--temperature T] [--top-k K]`:
// continues a prompt with a trained model (any train-lm checkpoint, finished or not) and prints the
// prompt followed by the generated text, with a marker where the prompt ends.
import { tensor } from '@myriad/core';
import { tokenizerFromJSON } from '@myriad/train';
import { loadCheckpointModel, readRunCheckpoint } from './checkpoint-model.js';
import { intOption, numberOption, parseOptions, UsageError, type OptionSpec } from './parse.js';
import { count, PROMPT_END, markPrompt } from './report.js';

interface SampleOptions {
  checkpoint: string;
  prompt: string;
  tokens: number;
  temperature: number;
  /** null: min(20, vocabulary size). */
  topK: number | null;
  seed: number;
  raw: boolean;
}

export const SAMPLE_HELP = `train-lm sample: continue a prompt with a trained model.

Usage: npm run demo -- sample --checkpoint FILE --prompt TEXT [options]

  --checkpoint FILE    a train-lm checkpoint (runs/<ffw>/checkpoint.safetensors); its config rebuilds the model
  --prompt TEXT        the text to continue (characters of the model's vocabulary)
  --tokens N           characters to generate (default 200)
  --temperature T      softmax temperature, a decimal number >= 0; 0 is greedy (default 0.8)
  --top-k K            sample among the K most likely characters, at most the vocabulary size
                       (default 20, or the vocabulary if smaller)
  --seed N             seed of the sampler (default 1): the same seed gives the same text
  --raw                print only the prompt and the generated text (no header, no ${PROMPT_END} marker)
  --help               this text

Prints a header line, then the prompt followed by the generated text with ${PROMPT_END} where the prompt ends.
Integers are decimal digits; bad values exit 2 with one line.
`;

const OPTIONS: OptionSpec = {
  checkpoint: { type: 'string' },
  prompt: { type: 'string' },
  tokens: { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  seed: { type: 'string' },
  raw: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** Parses `sample`'s options (argv after the word "sample"); null for --help. */
export function parseSampleCli(argv: readonly string[]): SampleOptions | null {
  const { values: v, positionals } = parseOptions(argv, OPTIONS);
  if (v.help) return null;
  if (positionals.length) throw new UsageError(`sample: unexpected argument '${positionals[0]}' (put the text in --prompt "...")`);
  const str = (k: string) => v[k] as string | undefined;
  const checkpoint = str('checkpoint');
  if (checkpoint === undefined) throw new UsageError('sample needs --checkpoint FILE (e.g. runs/peer/checkpoint.safetensors)');
  const prompt = str('prompt');
  if (prompt === undefined || prompt === '') throw new UsageError('sample needs a non-empty --prompt TEXT');
  const topK = str('top-k');
  return {
    checkpoint,
    prompt,
    tokens: intOption('tokens', str('tokens'), 200, 0),
    temperature: numberOption('temperature', str('temperature'), 0.8, true),
    topK: topK === undefined ? null : intOption('top-k', topK, 0),
    seed: intOption('seed', str('seed'), 1, 0),
    raw: (v.raw as boolean | undefined) ?? false,
  };
}

/** Loads the checkpoint, generates, and returns what to print. */
export async function runSample(o: SampleOptions): Promise<string> {
  const ckpt = await readRunCheckpoint(o.checkpoint, '--checkpoint');
  if (ckpt.tokenizer === null) throw new UsageError(`--checkpoint: ${o.checkpoint} holds no tokenizer, so text cannot be encoded`);
  const { model, config } = await loadCheckpointModel(ckpt, '--checkpoint');
  const tokenizer = tokenizerFromJSON(ckpt.tokenizer);
  const V = tokenizer.vocabSize;
  if (o.topK !== null && o.topK > V) throw new UsageError(`--top-k must be at most the vocabulary size ${V}, got ${o.topK}`);
  const topK = o.topK ?? Math.min(20, V);
  let ids: Int32Array;
  try {
    ids = tokenizer.encode(o.prompt);
  } catch (e) {
    throw new UsageError(
      `--prompt: ${(e as Error).message.replace(/^CharTokenizer\.encode: /, '').replace(/; build the tokenizer.*$/, '')} of ${o.checkpoint}`,
    );
  }
  const out = await model.generateAsync(tensor(ids, { shape: [ids.length] }), {
    maxNewTokens: o.tokens,
    temperature: o.temperature,
    topK,
    seed: o.seed,
  });
  const all = Int32Array.from(await out.read());
  const prompt = tokenizer.decode(all.subarray(0, ids.length));
  const generated = tokenizer.decode(all.subarray(ids.length));
  if (o.raw) return `${prompt}${generated}\n`;
  const header =
    `${o.checkpoint}: ${config.ffw} model at step ${ckpt.step}, ${count(model.numParameters())} parameters, vocabulary ${V}; ` +
    `temperature ${o.temperature}, top-k ${topK}, seed ${o.seed}\n` +
    `prompt: ${[...prompt].length} characters, then ${[...generated].length} generated; ${PROMPT_END} marks where the prompt ends\n`;
  return `${header}${markPrompt(prompt, generated)}\n`;
}
