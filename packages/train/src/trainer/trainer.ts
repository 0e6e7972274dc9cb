// The training loop: batches → loss → backward → clip → optimizer step, with a learning-rate
// schedule, evaluation every N steps (validation loss, perplexity, routing metrics), progress output,
// a JSONL log of every record, periodic checkpoints, exact resume, and hooks for the caller.
import { noGrad, type Tensor } from '@myriad/core';
import { loadCheckpoint, saveCheckpoint, type CheckpointModel, type Checkpoint } from '../checkpoint/checkpoint.js';
import type { Batch, BatchLoader } from '../data/batch-loader.js';
import { hasRoutingLayers } from '../metrics/routing-source.js';
import { RoutingMonitor } from '../metrics/routing-metrics.js';
import { clipGradNorm } from '../optim/clip.js';
import type { BaseHyper, Optimizer } from '../optim/optimizer.js';
import type { LrSchedule } from '../optim/schedule.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { JsonlLog } from './jsonl-log.js';
import { ProgressReporter, formatEval, type ProgressMode, type ProgressStream } from './progress.js';
import type { EvalRecord, LogRecord, StepRecord } from './records.js';

/** What the trainer needs of a model; `train()` / `eval()` are called around evaluation when present. */
export interface TrainerModel extends CheckpointModel {
  train?(): unknown;
  eval?(): unknown;
}

/** Callbacks; all optional. */
export interface TrainerHooks<M extends TrainerModel> {
  /** After every optimizer step (e.g. MoE bias balancing, printing). */
  afterStep?(record: StepRecord, trainer: Trainer<M>): void;
  /** After every evaluation. */
  onEval?(record: EvalRecord, trainer: Trainer<M>): void;
  /** After a checkpoint is written. */
  onCheckpoint?(path: string, step: number): void;
}

/** Options of `Trainer`. */
export interface TrainerOptions<M extends TrainerModel> {
  model: M;
  optimizer: Optimizer<BaseHyper>;
  trainLoader: BatchLoader;
  /** Held-out batches for evaluation; without it, evaluation reports routing over recent training batches only. */
  valLoader?: BatchLoader | null;
  /** Training loss of a batch, a scalar tensor (add auxiliary losses here). */
  loss: (model: M, batch: Batch) => Tensor;
  /** Validation loss of a batch (default `loss`); make it the plain next-token cross entropy. */
  evalLoss?: (model: M, batch: Batch) => Tensor;
  /** Total optimizer steps of the run (a resumed run continues up to this). */
  steps: number;
  /** Learning rate per step (default: the optimizer's own lr, unchanged). */
  schedule?: LrSchedule | null;
  /** Clip the global gradient norm to this (default: no clipping). */
  gradClip?: number | null;
  /** Evaluate every N steps and at the end (default 100; 0: only at the end). */
  evalEvery?: number;
  /** Validation batches per evaluation (default 8). */
  evalBatches?: number;
  /** Steps between plain progress lines when not on a TTY (default 10). */
  logEvery?: number;
  /** JSONL file receiving every record (default: none). */
  logFile?: string | null;
  /** Progress output (default 'auto': a bar on a TTY, lines otherwise). */
  progress?: ProgressMode;
  /** Where progress goes (default process.stderr). */
  output?: ProgressStream;
  /** Save a checkpoint to `path` every `every` steps (default: only at the end). */
  checkpoint?: { path: string; every?: number; config?: unknown; tokenizer?: Tokenizer | null } | null;
  hooks?: TrainerHooks<M>;
}

/** The outcome of `run()`. */
export interface TrainResult {
  step: number;
  /** Training loss of every step run in this call. */
  losses: number[];
  evals: EvalRecord[];
  /** The last evaluation, if any. */
  final: EvalRecord | null;
  tokensPerSecond: number;
  elapsedSeconds: number;
}

function positiveInt(name: string, v: number, allowZero = false): number {
  if (!Number.isInteger(v) || v < (allowZero ? 0 : 1)) throw new RangeError(`Trainer: ${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${v}`);
  return v;
}

/** Runs a training loop over a model, optimizer and loaders. */
export class Trainer<M extends TrainerModel> {
  /** Optimizer steps completed (restored by `resume`). */
  step = 0;
  readonly options: TrainerOptions<M>;
  private readonly monitor: RoutingMonitor | null;
  private log: JsonlLog | null = null;
  private readonly evalEvery: number;
  private readonly evalBatches: number;

  /** Checks the options; nothing runs until `run()`. */
  constructor(options: TrainerOptions<M>) {
    this.options = options;
    positiveInt('steps', options.steps);
    this.evalEvery = positiveInt('evalEvery', options.evalEvery ?? 100, true);
    this.evalBatches = positiveInt('evalBatches', options.evalBatches ?? 8);
    positiveInt('logEvery', options.logEvery ?? 10);
    if (options.gradClip !== undefined && options.gradClip !== null && !(options.gradClip > 0)) {
      throw new RangeError(`Trainer: gradClip must be > 0 (or null for none), got ${options.gradClip}`);
    }
    this.monitor = hasRoutingLayers(options.model) ? new RoutingMonitor(options.model) : null;
  }

  /** Restores model, optimizer, training-loader position, RNG and step from a checkpoint. */
  async resume(path: string, options: { config?: unknown } = {}): Promise<Checkpoint> {
    const ckpt = await loadCheckpoint(path, {
      model: this.options.model,
      optimizer: this.options.optimizer,
      loader: this.options.trainLoader,
      config: options.config,
    });
    if (ckpt.step > this.options.steps) {
      throw new Error(`Trainer.resume: ${path} is at step ${ckpt.step}, beyond the run's ${this.options.steps} steps`);
    }
    this.step = ckpt.step;
    return ckpt;
  }

  /** Writes a checkpoint of the current state to `path`. */
  async saveCheckpoint(path: string): Promise<void> {
    const c = this.options.checkpoint;
    await saveCheckpoint(path, {
      model: this.options.model,
      optimizer: this.options.optimizer,
      step: this.step,
      tokenizer: c?.tokenizer ?? null,
      config: c?.config ?? null,
      loader: this.options.trainLoader,
    });
    this.options.hooks?.onCheckpoint?.(path, this.step);
  }

  private record(r: LogRecord): void {
    this.log?.write(r);
  }

  /** One evaluation pass: mean validation loss over `evalBatches` batches, perplexity, routing metrics. */
  evaluate(elapsedSeconds = 0): EvalRecord {
    const { model, valLoader } = this.options;
    const evalLoss = this.options.evalLoss ?? this.options.loss;
    let sum = 0;
    let tokens = 0;
    if (valLoader) {
      this.monitor?.reset();
      model.eval?.();
      try {
        valLoader.reset(); // the same windows every time, so evaluations are comparable
        noGrad(() => {
          for (let i = 0; i < this.evalBatches; i++) {
            const batch = valLoader.next();
            sum += evalLoss(model, batch).item();
            tokens += batch.input.size;
            this.monitor?.observe();
          }
        });
      } finally {
        model.train?.();
      }
    }
    const valLoss = valLoader ? sum / this.evalBatches : NaN;
    const rec: EvalRecord = {
      kind: 'eval',
      step: this.step,
      valLoss,
      perplexity: Math.exp(valLoss),
      routing: this.monitor?.results() ?? {},
      tokens,
      elapsedSeconds,
    };
    if (!valLoader) this.monitor?.reset(); // the window was the training steps since the last evaluation
    return rec;
  }

  /** Trains from the current step up to `steps`; resolves with the losses and evaluations. */
  async run(): Promise<TrainResult> {
    const o = this.options;
    const { model, optimizer, trainLoader } = o;
    const total = o.steps;
    const params = optimizer.params();
    const out: ProgressStream = o.output ?? process.stderr;
    const progress = new ProgressReporter(out, o.progress ?? 'auto', total, o.logEvery ?? 10);
    if (o.logFile) this.log ??= new JsonlLog(o.logFile, this.step > 0);
    const losses: number[] = [];
    const evals: EvalRecord[] = [];
    const start = performance.now();
    const tokensPerStep = trainLoader.batchSize * trainLoader.contextLength;
    let trainSeconds = 0; // time spent in training steps, for throughput and ETA (evaluation excluded)
    let recentSeconds = 0;
    let recentTokens = 0;
    let tokensPerSecond = 0;
    model.train?.();
    const elapsed = () => (performance.now() - start) / 1000;

    while (this.step < total) {
      const t0 = performance.now();
      const lr = o.schedule ? o.schedule(this.step) : optimizer.groups[0]!.lr;
      if (o.schedule) optimizer.setLr(lr);
      const batch = trainLoader.next();
      optimizer.zeroGrad();
      const lossT = o.loss(model, batch);
      const loss = lossT.item();
      if (!Number.isFinite(loss)) {
        progress.endBar();
        throw new Error(
          `Trainer: the loss is ${loss} at step ${this.step + 1} (lr ${lr.toExponential(2)}); lower the learning rate or set gradClip`,
        );
      }
      lossT.backward();
      const gradNorm = o.gradClip ? clipGradNorm(params, o.gradClip) : null;
      optimizer.step();
      this.step++;
      if (!o.valLoader) this.monitor?.observe();
      const dt = (performance.now() - t0) / 1000;
      trainSeconds += dt;
      // Throughput over roughly the last 20 steps, so the bar follows changes in speed.
      recentSeconds = recentSeconds * 0.95 + dt;
      recentTokens = recentTokens * 0.95 + tokensPerStep;
      tokensPerSecond = recentTokens / recentSeconds;
      losses.push(loss);
      const rec: StepRecord = {
        kind: 'train',
        step: this.step,
        loss,
        lr,
        gradNorm,
        tokens: this.step * tokensPerStep,
        tokensPerSecond,
        elapsedSeconds: elapsed(),
      };
      this.record(rec);
      const eta = (recentSeconds / (recentTokens / tokensPerStep)) * (total - this.step);
      progress.step(rec, eta);
      o.hooks?.afterStep?.(rec, this);

      if ((this.evalEvery > 0 && this.step % this.evalEvery === 0) || this.step === total) {
        const e = this.evaluate(elapsed());
        evals.push(e);
        this.record(e);
        progress.line(formatEval(e));
        o.hooks?.onEval?.(e, this);
      }
      const ck = o.checkpoint;
      if (ck && ((ck.every && this.step % ck.every === 0) || this.step === total)) await this.saveCheckpoint(ck.path);
    }
    progress.endBar();
    return {
      step: this.step,
      losses,
      evals,
      final: evals.length > 0 ? evals[evals.length - 1]! : null,
      tokensPerSecond: trainSeconds > 0 ? (losses.length * tokensPerStep) / trainSeconds : 0,
      elapsedSeconds: elapsed(),
    };
  }
}
