#!/usr/bin/env node
// The main job: train a small character-level TransformerLM (PEER in the middle block by default) on
// the bundled Moby-Dick, print progress, validation perplexity, expert usage and a sample; or, with
// --compare, train dense / MoE / PKM / PEER at matched active parameters and write a table and plot.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HELP, parseCli, UsageError, type CliOptions, type FfwKind } from './args.js';
import { loadCorpus } from './corpus.js';
import { comparisonTable, formatSummary } from './report.js';
import { trainOne, type RunSummary } from './run.js';
import { lineChart } from './svg-plot.js';
import { selectBackend } from './backend.js';

async function compare(options: CliOptions): Promise<void> {
  const corpus = loadCorpus(options.corpus);
  const runs: RunSummary[] = [];
  for (const ffw of ['dense', 'moe', 'pkm', 'peer'] as FfwKind[]) {
    console.log(`\n--- training ${ffw} ---`);
    const run = await trainOne({ ...options, ffw }, corpus, join(options.out, ffw));
    console.log(formatSummary(run));
    runs.push(run);
  }
  mkdirSync(options.out, { recursive: true });
  const table = comparisonTable(runs);
  writeFileSync(join(options.out, 'comparison.md'), table);
  writeFileSync(
    join(options.out, 'validation-loss.svg'),
    lineChart(
      runs.map((r) => ({ name: r.config.ffw, points: r.evals.map((e) => [e.step, e.valLoss] as const) })),
      { title: 'validation loss at matched active parameters', xLabel: 'step', yLabel: 'cross-entropy (nats)' },
    ),
  );
  console.log(`\n${table}\nwrote ${join(options.out, 'comparison.md')} and ${join(options.out, 'validation-loss.svg')}`);
}

async function main(argv: readonly string[]): Promise<number> {
  const options = parseCli(argv);
  if (options === null) {
    process.stdout.write(HELP);
    return 0;
  }
  await selectBackend(options);
  if (options.compare) {
    await compare(options);
    return 0;
  }
  const corpus = loadCorpus(options.corpus);
  console.log(`corpus: ${corpus.name}: ${corpus.text.length} characters, vocabulary ${corpus.tokenizer.vocabSize}; ${corpus.train.length} training / ${corpus.validation.length} validation tokens`);
  const run = await trainOne(options, corpus, options.out);
  console.log(formatSummary(run));
  console.log(`loss curve: ${join(options.out, 'loss.svg')}; log: ${join(options.out, 'log.jsonl')}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      console.error(`train-lm: ${e.message}\nRun with --help for the options.`);
      process.exit(2);
    }
    console.error(`train-lm: ${e instanceof Error ? e.message : String(e)}`);
    if (process.env.MYRIAD_DEBUG) console.error(e);
    process.exit(1);
  },
);
