import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { manualSeed, tensor } from '@myriad/core';
import type { TransformerLM } from '@myriad/nn';
import { AdamW, BatchLoader, Trainer, weightDecayGroups, type EvalRecord, type LogRecord, type ProgressMode } from '@myriad/train';
import type { Corpus } from './corpus.js';
import { buildModel, type ResolvedModelConfig } from './models.js';
import { planSchedule, type TrainPlan } from './plan.js';
import { lineChart } from './svg-plot.js';

/** What one training run is: the model, the plan, and where it starts and writes. */
interface RunSetup {
  config: ResolvedModelConfig;
  plan: TrainPlan;
  /** Checkpoint to continue from (already checked against config and plan), or null for a fresh run. */
  resume: string | null;
  out: string;
  /** Characters to generate at the end (0: no sample). */
  sampleLength: number;
  /** Save every N steps as well as at the end (0: only at the end). */
  checkpointEvery: number;
  quiet: boolean;
}

/** The sample printed at the end of a run. */
interface RunSample {
  prompt: string;
  generated: string;
  temperature: number;
  topK: number;
}

/** What one training run produced. */
export interface RunSummary {
  config: ResolvedModelConfig;
  parameters: number;
  activeParameters: number;
  final: EvalRecord;
  evals: EvalRecord[];
  losses: number[];
  /** Steps trained in this call (0 when a finished run was resumed). */
  stepsRun: number;
  tokensPerSecond: number;
  elapsedSeconds: number;
  checkpoint: string;
  sample: RunSample | null;
}

/** Trains one model as `setup` says; writes checkpoint, JSONL log and loss curve into `setup.out`. */
export async function trainOne(setup: RunSetup, corpus: Corpus, progress: ProgressMode = 'auto'): Promise<RunSummary> {
  const { plan, out: outDir } = setup;
  mkdirSync(outDir, { recursive: true });
  manualSeed(setup.config.seed);
  const { model, activeParameters, config } = buildModel(setup.config);
  const trainLoader = new BatchLoader(corpus.train, {
    contextLength: config.contextLength,
    batchSize: plan.batchSize,
    seed: config.seed,
    name: 'training',
  });
  const valLoader = new BatchLoader(corpus.validation, {
    contextLength: config.contextLength,
    batchSize: plan.batchSize,
    shuffle: false,
    name: 'validation',
  });
  const optimizer = new AdamW(weightDecayGroups(model, { weightDecay: 0.1 }), { lr: plan.lr, betas: [0.9, 0.95] });
  const checkpoint = join(outDir, 'checkpoint.safetensors');
  const logFile = join(outDir, 'log.jsonl');
  const trainer = new Trainer<TransformerLM>({
    model,
    optimizer,
    trainLoader,
    valLoader,
    loss: (m, b) => m.loss(b.input, b.target),
    evalLoss: (m, b) => m.loss(b.input, b.target, { aux: false }),
    steps: plan.steps,
    schedule: planSchedule(plan),
    gradClip: 1,
    evalEvery: plan.evalEvery,
    evalBatches: plan.evalBatches,
    logFile,
    progress: setup.quiet ? 'none' : progress,
    // The config records the model and the plan, so the file alone rebuilds and continues the run.
    checkpoint: {
      path: checkpoint,
      every: setup.checkpointEvery || undefined,
      config: { ...config, train: plan },
      tokenizer: corpus.tokenizer,
    },
    hooks: {
      onCheckpoint: (path, step) => {
        lastSaved = step;
        if (setup.checkpointEvery) console.log(`saved ${path} at step ${step}`);
      },
    },
  });
  let lastSaved: number | null = null;
  if (setup.resume) await trainer.resume(setup.resume);
  let result;
  try {
    result = await trainer.run();
  } catch (e) {
    // A diverged run never overwrites a good checkpoint (the loss check stops it first, and a save of
    // NaN/Inf weights is refused); say which one is left.
    const kept = lastSaved !== null ? `${checkpoint} (step ${lastSaved})` : setup.resume ? `${setup.resume} (the one resumed)` : null;
    if (kept && e instanceof Error)
      e.message += `. The last good checkpoint is ${kept}; continue from it with --resume (a different --lr needs --extend replan)`;
    throw e;
  }
  // A finished run resumed: nothing to train, so evaluate it once to report on it.
  const final = result.final ?? (await trainer.evaluateAsync());
  let sample: RunSample | null = null;
  if (setup.sampleLength > 0) {
    // The sample continues the first characters of the validation text (unseen in training).
    const promptIds = corpus.validation.slice(0, Math.min(16, config.contextLength));
    const topK = Math.min(20, corpus.tokenizer.vocabSize);
    const temperature = 0.8;
    const ids = await model.generateAsync(tensor(promptIds, { shape: [promptIds.length] }), {
      maxNewTokens: setup.sampleLength,
      temperature,
      topK,
      seed: config.seed,
    });
    const all = Int32Array.from(await ids.read());
    sample = {
      prompt: corpus.tokenizer.decode(all.subarray(0, promptIds.length)),
      generated: corpus.tokenizer.decode(all.subarray(promptIds.length)),
      temperature,
      topK,
    };
  }
  writeLossPlot(logFile, join(outDir, 'loss.svg'), `${config.ffw}: loss`);
  return {
    config,
    parameters: model.numParameters(),
    activeParameters,
    final,
    evals: result.evals.length ? result.evals : [final],
    losses: result.losses,
    stepsRun: result.losses.length,
    tokensPerSecond: result.tokensPerSecond,
    elapsedSeconds: result.elapsedSeconds,
    checkpoint,
    sample,
  };
}

/** The training and validation curves of the whole run (the JSONL log, resumed sessions included). */
function writeLossPlot(logFile: string, svg: string, title: string): void {
  if (!existsSync(logFile)) return;
  const records = readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as LogRecord);
  const train = records.flatMap((r) => (r.kind === 'train' ? [[r.step, r.loss] as const] : []));
  const validation = records.flatMap((r) => (r.kind === 'eval' ? [[r.step, r.valLoss] as const] : []));
  if (train.length + validation.length === 0) return;
  writeFileSync(
    svg,
    lineChart(
      [
        { name: 'train', points: train },
        { name: 'validation', points: validation },
      ],
      { title, xLabel: 'step', yLabel: 'cross-entropy (nats)' },
    ),
  );
}
