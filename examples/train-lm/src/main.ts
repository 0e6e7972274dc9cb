#!/usr/bin/env node
// The main job: train a small character-level TransformerLM (PEER in the middle block by default) on
// the bundled Moby-Dick, print progress, validation perplexity, expert usage and a sample; with
// --compare, train dense / MoE / PKM / PEER at matched active parameters and write a table and plot;
// with --resume, continue a run from its checkpoint; `sample` continues a prompt with a checkpoint.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeModelDiff, HELP, modelConfigFromOptions, parseCli, type CliOptions } from './args.js';
import { selectBackend } from './backend.js';
import { checkpointModelConfig, readRunCheckpoint } from './checkpoint-model.js';
import { loadCorpus } from './corpus.js';
import { FFW_KINDS } from './models.js';
import { UsageError } from './parse.js';
import { freshPlan, resumePlan, savedPlan } from './plan.js';
import { comparisonTable, formatSummary } from './report.js';
import { trainOne, type RunSummary } from './run.js';
import { parseSampleCli, runSample, SAMPLE_HELP } from './sample.js';
import { lineChart } from './svg-plot.js';

const runOptions = (o: CliOptions, out: string) => ({
  out,
  sampleLength: o.sampleLength,
  checkpointEvery: o.checkpointEvery,
  quiet: o.quiet,
});

async function compare(options: CliOptions): Promise<void> {
  const corpus = loadCorpus(options.corpus);
  const runs: RunSummary[] = [];
  for (const ffw of FFW_KINDS) {
    console.log(`\n--- training ${ffw} ---`);
    const config = modelConfigFromOptions({ ...options, ffw }, corpus.tokenizer.vocabSize);
    const run = await trainOne({ config, plan: freshPlan(options), resume: null, ...runOptions(options, join(options.out, ffw)) }, corpus);
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

/** One run, fresh or resumed: the resumed one takes its model and plan from the checkpoint, and refuses options that contradict it. */
async function train(options: CliOptions): Promise<void> {
  let setup;
  let corpus;
  if (options.resume) {
    const path = options.resume;
    const ckpt = await readRunCheckpoint(path, '--resume');
    const saved = checkpointModelConfig(ckpt, '--resume');
    const { plan, note } = resumePlan(savedPlan(ckpt.config, path), ckpt.step, options, options.given, options.extend, path);
    if (!options.given.has('corpus') && plan.corpus !== null && !existsSync(plan.corpus)) {
      throw new UsageError(
        `--resume: the run's corpus ${plan.corpus} is gone; give --corpus PATH (the same text, or the data position means nothing)`,
      );
    }
    corpus = loadCorpus(options.given.has('corpus') ? options.corpus : plan.corpus);
    const config = modelConfigFromOptions(options, corpus.tokenizer.vocabSize, saved);
    const diff = describeModelDiff(saved, config);
    if (diff.a.length) {
      throw new UsageError(
        `--resume: ${path} was trained with ${diff.a.join(', ')}; these options give ${diff.b.join(', ')} (leave out model options to use the checkpoint's)`,
      );
    }
    if (note) console.log(note);
    if (ckpt.step === plan.steps)
      console.log(
        `${path} is at step ${ckpt.step} of ${plan.steps}: nothing left to train; evaluating and sampling it (--steps N with --extend to train on)`,
      );
    setup = { config, plan, resume: path, ...runOptions(options, options.out) };
  } else {
    corpus = loadCorpus(options.corpus);
    setup = {
      config: modelConfigFromOptions(options, corpus.tokenizer.vocabSize),
      plan: freshPlan(options),
      resume: null,
      ...runOptions(options, options.out),
    };
  }
  console.log(
    `corpus: ${corpus.name}: ${corpus.text.length} characters, vocabulary ${corpus.tokenizer.vocabSize}; ${corpus.train.length} training / ${corpus.validation.length} validation tokens`,
  );
  const run = await trainOne(setup, corpus);
  console.log(formatSummary(run));
  console.log(`loss curve: ${join(options.out, 'loss.svg')}; log: ${join(options.out, 'log.jsonl')}`);
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'sample') {
    const options = parseSampleCli(argv.slice(1));
    process.stdout.write(options === null ? SAMPLE_HELP : await runSample(options));
    return 0;
  }
  const options = parseCli(argv[0] === 'train' ? argv.slice(1) : argv);
  if (options === null) {
    process.stdout.write(HELP);
    return 0;
  }
  await selectBackend(options);
  if (options.compare) await compare(options);
  else await train(options);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      console.error(`train-lm: ${e.message} (see --help)`);
      process.exit(2);
    }
    console.error(`train-lm: ${e instanceof Error ? e.message : String(e)}`);
    if (process.env.MYRIAD_DEBUG) console.error(e);
    process.exit(1);
  },
);
