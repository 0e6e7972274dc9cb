import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { manualSeed, tensor } from '@myriad/core';
import type { TransformerLM } from '@myriad/nn';
import { AdamW, BatchLoader, Trainer, readCheckpoint, warmupCosine, weightDecayGroups, type EvalRecord, type ProgressMode } from '@myriad/train';
import type { CliOptions } from './args.js';
import type { Corpus } from './corpus.js';
import { buildModel, type ModelConfig } from './models.js';
import { lineChart } from './svg-plot.js';

/** What one training run produced. */
export interface RunSummary {
  config: ModelConfig;
  parameters: number;
  activeParameters: number;
  final: EvalRecord;
  evals: EvalRecord[];
  losses: number[];
  tokensPerSecond: number;
  elapsedSeconds: number;
  checkpoint: string;
  sample: string;
}

/** Trains one model as the CLI options say; writes checkpoint, JSONL log and loss curve into `outDir`. */
export async function trainOne(options: CliOptions, corpus: Corpus, outDir: string, progress: ProgressMode = 'auto'): Promise<RunSummary> {
  mkdirSync(outDir, { recursive: true });
  manualSeed(options.seed);
  const config: ModelConfig = {
    ffw: options.ffw,
    vocabSize: corpus.tokenizer.vocabSize,
    dim: options.dim,
    depth: options.depth,
    heads: options.heads,
    contextLength: options.contextLength,
    seed: options.seed,
  };
  if (options.resume) {
    // Refuse a checkpoint of another model before building anything.
    const ckpt = await readCheckpoint(options.resume);
    if (JSON.stringify(ckpt.config) !== JSON.stringify(config)) {
      throw new Error(`--resume: ${options.resume} was trained with ${JSON.stringify(ckpt.config)}, but these options give ${JSON.stringify(config)}`);
    }
  }
  const { model, activeParameters } = buildModel(config);
  const trainLoader = new BatchLoader(corpus.train, { contextLength: options.contextLength, batchSize: options.batchSize, seed: options.seed, name: 'training' });
  const valLoader = new BatchLoader(corpus.validation, { contextLength: options.contextLength, batchSize: options.batchSize, shuffle: false, name: 'validation' });
  const optimizer = new AdamW(weightDecayGroups(model, { weightDecay: 0.1 }), { lr: options.lr, betas: [0.9, 0.95] });
  const checkpoint = join(outDir, 'checkpoint.safetensors');
  const trainer = new Trainer<TransformerLM>({
    model,
    optimizer,
    trainLoader,
    valLoader,
    loss: (m, b) => m.loss(b.input, b.target),
    evalLoss: (m, b) => m.loss(b.input, b.target, { aux: false }),
    steps: options.steps,
    schedule: warmupCosine({ lr: options.lr, minLr: options.lr / 10, warmupSteps: Math.min(50, Math.ceil(options.steps / 10)), totalSteps: options.steps }),
    gradClip: 1,
    evalEvery: options.evalEvery,
    evalBatches: options.evalBatches,
    logFile: join(outDir, 'log.jsonl'),
    progress: options.quiet ? 'none' : progress,
    checkpoint: { path: checkpoint, config, tokenizer: corpus.tokenizer },
  });
  if (options.resume) await trainer.resume(options.resume, { config });
  const result = await trainer.run();
  if (result.final === null) throw new Error('training ended without an evaluation');
  // The sample continues the first characters of the validation text (unseen in training).
  const prompt = corpus.validation.slice(0, Math.min(16, options.contextLength));
  const ids = await model.generateAsync(tensor(prompt, { shape: [prompt.length] }), { maxNewTokens: options.sampleLength, temperature: 0.8, topK: Math.min(20, corpus.tokenizer.vocabSize), seed: options.seed });
  const sample = corpus.tokenizer.decode(Int32Array.from(await ids.read()));
  const evals = result.evals;
  writeFileSync(
    join(outDir, 'loss.svg'),
    lineChart(
      [
        { name: 'train', points: result.losses.map((l, i) => [trainer.step - result.losses.length + i + 1, l] as const) },
        { name: 'validation', points: evals.map((e) => [e.step, e.valLoss] as const) },
      ],
      { title: `${options.ffw}: loss`, xLabel: 'step', yLabel: 'cross-entropy (nats)' },
    ),
  );
  return {
    config,
    parameters: model.numParameters(),
    activeParameters,
    final: result.final,
    evals,
    losses: result.losses,
    tokensPerSecond: result.tokensPerSecond,
    elapsedSeconds: result.elapsedSeconds,
    checkpoint,
    sample,
  };
}
