// The training loop: batches → loss → backward → clip → optimizer step, with a learning-rate
// schedule, evaluation every N steps (validation loss, perplexity, routing metrics), progress output,
// a JSONL log of every record, periodic checkpoints, exact resume, and hooks for the caller.
import { cast, cpuBackend, noGrad, stack, type Tensor } from '@myriad/core';
import { loadCheckpoint, saveCheckpoint, type CheckpointModel, type Checkpoint } from '../checkpoint/checkpoint.js';
import type { Batch, BatchLoader } from '../data/batch-loader.js';
import { hasRoutingLayers } from '../metrics/routing-source.js';
import { RoutingMonitor } from '../metrics/routing-metrics.js';
import { clipGradNormTensor } from '../optim/clip.js';
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
  /**
   * Consecutive steps with a non-finite gradient that are skipped (weights untouched, a warning each)
   * before the run stops with an error (default 5).
   */
  maxSkippedSteps?: number;
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
  if (!Number.isInteger(v) || v < (allowZero ? 0 : 1))
    throw new RangeError(`Trainer: ${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${v}`);
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

  /** One evaluation pass: mean validation loss over `evalBatches` batches, perplexity, routing metrics (synchronous backends). */
  evaluate(elapsedSeconds = 0): EvalRecord {
    const { sum, tokens } = this.evalPass((t) => {
      let v = 0;
      noGrad(() => (v = t().item()));
      return v;
    });
    return this.evalRecord(sum, tokens, this.monitor?.results() ?? {}, elapsedSeconds);
  }

  /** `evaluate()` on every backend: reads each batch's loss and the routing metrics asynchronously (WebGPU). */
  async evaluateAsync(elapsedSeconds = 0): Promise<EvalRecord> {
    const losses: Tensor[] = [];
    const { tokens } = this.evalPass((t) => {
      noGrad(() => losses.push(t()));
      return 0;
    });
    let sum = 0;
    for (const l of losses) sum += (await l.read())[0]!;
    return this.evalRecord(sum, tokens, (await this.monitor?.resultsAsync()) ?? {}, elapsedSeconds);
  }

  // Runs the validation batches (the same windows every time, so evaluations are comparable), feeding
  // each loss to `take` and the routing monitor after each forward.
  private evalPass(take: (loss: () => Tensor) => number): { sum: number; tokens: number } {
    const { model, valLoader } = this.options;
    const evalLoss = this.options.evalLoss ?? this.options.loss;
    let sum = 0;
    let tokens = 0;
    if (!valLoader) return { sum, tokens };
    this.monitor?.reset();
    model.eval?.();
    try {
      valLoader.reset();
      for (let i = 0; i < this.evalBatches; i++) {
        const batch = valLoader.next();
        sum += take(() => evalLoss(model, batch));
        tokens += batch.input.size;
        this.monitor?.observe();
      }
    } finally {
      model.train?.();
    }
    return { sum, tokens };
  }

  private evalRecord(sum: number, tokens: number, routing: EvalRecord['routing'], elapsedSeconds: number): EvalRecord {
    const valLoss = this.options.valLoader ? sum / this.evalBatches : NaN;
    const rec: EvalRecord = { kind: 'eval', step: this.step, valLoss, perplexity: Math.exp(valLoss), routing, tokens, elapsedSeconds };
    if (!this.options.valLoader) this.monitor?.reset(); // the window was the training steps since the last evaluation
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
    if (o.logFile) this.log ??= new JsonlLog(o.logFile, this.step > 0, this.step);
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
    const maxSkipped = positiveInt('maxSkippedSteps', o.maxSkippedSteps ?? 5);
    let skippedInARow = 0;

    while (this.step < total) {
      const t0 = performance.now();
      const lr = o.schedule ? o.schedule(this.step) : optimizer.groups[0]!.lr;
      if (o.schedule) optimizer.setLr(lr);
      const batch = trainLoader.next();
      optimizer.zeroGrad();
      const lossT = o.loss(model, batch);
      lossT.backward();
      // The one read of a step: the loss and the gradient norm together (a device answers once). It
      // resolves in a new task on every backend, so finalizers return the step's buffers to the CPU pool.
      const normT = clipGradNormTensor(params, o.gradClip ?? null);
      const [loss, norm] = await readScalars(lossT, normT);
      if (!Number.isFinite(loss)) {
        progress.endBar();
        throw new Error(
          `Trainer: the loss is ${loss} at step ${this.step + 1} (lr ${lr.toExponential(2)}); lower the learning rate` +
            (o.gradClip ? ` (gradients are clipped to norm ${o.gradClip})` : ' or set gradClip'),
        );
      }
      const skipped = !Number.isFinite(norm);
      if (skipped) {
        // A finite loss with a non-finite gradient (e.g. sqrt at 0): updating would write NaN into the
        // weights (and the next checkpoint), so this step's update is skipped, as a loss-scaling trainer does.
        skippedInARow++;
        progress.line(`step ${this.step + 1}: the gradient norm is ${norm}; update skipped (weights unchanged)`);
        if (skippedInARow >= maxSkipped) {
          progress.endBar();
          throw new Error(
            `Trainer: ${skippedInARow} steps in a row had a non-finite gradient (last at step ${this.step + 1}); ` +
              'the weights were not updated by them. Check the model for ops undefined at some inputs (sqrt/log at 0, division by 0) or lower the learning rate',
          );
        }
      } else {
        skippedInARow = 0;
        optimizer.step();
      }
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
        gradNorm: o.gradClip ? norm : null,
        ...(skipped ? { skipped } : {}),
        tokens: this.step * tokensPerStep,
        tokensPerSecond,
        elapsedSeconds: elapsed(),
      };
      this.record(rec);
      const eta = (recentSeconds / (recentTokens / tokensPerStep)) * (total - this.step);
      progress.step(rec, eta);
      o.hooks?.afterStep?.(rec, this);

      if ((this.evalEvery > 0 && this.step % this.evalEvery === 0) || this.step === total) {
        const e = await this.evaluateAsync(elapsed());
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

/** Reads the scalars `a` and `b` with one transfer (both to float32 when they must travel from a device). */
async function readScalars(a: Tensor, b: Tensor): Promise<[number, number]> {
  if (a.backend === cpuBackend || a.backend !== b.backend) return [(await a.read())[0]!, (await b.read())[0]!];
  const both = await noGrad(() => stack([cast(a.reshape([]), 'float32'), cast(b.reshape([]), 'float32')])).read();
  return [both[0]!, both[1]!];
}
