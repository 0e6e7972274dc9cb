// One training session in the worker: corpus, model, optimizer, loaders and the routing statistics
// the page draws. The loop is the Trainer's (schedule → batch → loss → backward → clip → AdamW step)
// taken one step at a time, so the page can pause, single-step and probe between steps.
import { manualSeed, noGrad, softmax, tensor, type Tensor } from '@myriad/core';
import { MoE, PEER, PKM, gateMass } from '@myriad/nn';
import {
  AdamW,
  BatchLoader,
  CharTokenizer,
  checkpointFromBytes,
  checkpointToBytesAsync,
  clipGradNormTensor,
  loadCheckpoint,
  trainValidationSplit,
  usageAndUnevenness,
  warmupCosine,
  weightDecayGroups,
  type TokenizerJSON,
} from '@myriad/train';
import type { LayerSnapshot, ReadyInfo, TokenRoute } from '../protocol.js';
import { validateSpec, type CliTrainPlan, type LabSpec } from '../spec.js';
import type { ActiveBackend } from './backend.js';
import { buildLabModel, checkpointConfig, type BuiltModel } from './model.js';
import { layerRoutingOf, moeRoute, productKeyRoute, readArray, routeAgrees, routingArrays } from './route.js';

export interface CorpusText {
  name: string;
  text: string;
  /** Tokenizer to use (the whole book's vocabulary for Moby-Dick, so checkpoints fit the CLI's). */
  tokenizer: TokenizerJSON | null;
}

/** The lab's learning-rate schedule: linear warmup, then constant (training has no fixed end). */
function labLr(step: number, lr: number, warmup: number): number {
  return warmup > 0 && step < warmup ? (lr * (step + 1)) / warmup : lr;
}

/**
 * Steps in the layer view's window: the heat map, the usage / KL / dead numbers and every point of
 * their charts describe the last WINDOW_STEPS training steps (fewer only before that many were taken).
 */
export const WINDOW_STEPS = 10;

/** One training step's gate mass z′, sparse (the experts that got any), and its MoE figures. */
interface StepMass {
  experts: Int32Array;
  mass: Float64Array;
  aux: number;
  dropped: number;
}

async function scalar(t: Tensor): Promise<number> {
  return (await readArray(t))[0]!;
}

export class Session {
  readonly built: BuiltModel;
  readonly tokenizer: CharTokenizer;
  readonly trainLoader: BatchLoader;
  readonly valLoader: BatchLoader;
  readonly optimizer: AdamW;
  step = 0;
  /** Gate mass z′ of the last WINDOW_STEPS steps (oldest first), and whether each expert was ever chosen. */
  private recent: StepMass[] = [];
  private everUsed: Uint8Array | null;
  private captured: Tensor | null = null;
  readonly corpusInfo: ReadyInfo['corpus'];
  readonly validationText: string;

  constructor(
    readonly spec: LabSpec,
    corpus: CorpusText,
    readonly backend: ActiveBackend,
  ) {
    const problems = validateSpec(spec, corpus.text.length);
    if (problems.length) throw new Error(problems.map((p) => p.message).join('; '));
    this.tokenizer = corpus.tokenizer ? CharTokenizer.fromJSON(corpus.tokenizer) : CharTokenizer.fromText(corpus.text);
    const tokens = this.tokenizer.encode(corpus.text);
    const split = trainValidationSplit(tokens, 0.1);
    const { contextLength } = spec.model;
    if (split.validation.length < contextLength + 1) {
      throw new Error(
        `the corpus "${corpus.name}" is too short: its validation tenth has ${split.validation.length} characters, fewer than context + 1 = ${contextLength + 1}; paste more text or shorten the context`,
      );
    }
    manualSeed(spec.model.seed);
    this.built = buildLabModel(spec.model, this.tokenizer.vocabSize);
    this.trainLoader = new BatchLoader(split.train, {
      contextLength,
      batchSize: spec.train.batchSize,
      seed: spec.model.seed,
      name: 'training',
    });
    this.valLoader = new BatchLoader(split.validation, {
      contextLength,
      batchSize: spec.train.batchSize,
      shuffle: false,
      name: 'validation',
    });
    // As `npm run demo`: AdamW, decay on matrices only, betas (0.9, 0.95).
    this.optimizer = new AdamW(weightDecayGroups(this.built.model, { weightDecay: 0.1 }), { lr: spec.train.lr, betas: [0.9, 0.95] });
    const n = this.built.layer?.numExperts ?? 0;
    this.everUsed = n ? new Uint8Array(n) : null;
    this.corpusInfo = {
      name: corpus.name,
      characters: corpus.text.length,
      vocabSize: this.tokenizer.vocabSize,
      trainTokens: split.train.length,
      validationTokens: split.validation.length,
    };
    this.validationText = this.tokenizer.decode(split.validation.subarray(0, Math.min(split.validation.length, 4000)));
    // Keep the routing layer's input of each forward: the route view starts from it.
    const layer = this.built.layer;
    if (layer) {
      const forward = layer.forward.bind(layer) as (x: Tensor, ctx?: unknown) => Tensor;
      (layer as { forward: (x: Tensor, ctx?: unknown) => Tensor }).forward = (x, ctx) => {
        this.captured = x;
        return forward(x, ctx);
      };
    }
  }

  /**
   * Whether `npm run demo -- --resume` continues this session: the CLI trains on the whole book (or the
   * file its plan names), and its loader must find the same data.
   */
  get cliResumable(): boolean {
    return this.spec.corpus.kind === 'book';
  }

  /** The learning rate of step `step`: the CLI plan's warmup-cosine when continuing a CLI run, else the lab's. */
  lrAt(step: number): number {
    const p = this.built.plan;
    if (p) return warmupCosine({ lr: p.lr, minLr: p.minLr, warmupSteps: p.warmupSteps, totalSteps: p.scheduleSteps })(step);
    return labLr(step, this.spec.train.lr, this.spec.train.warmupSteps);
  }

  get model() {
    return this.built.model;
  }

  info(): ReadyInfo {
    return {
      backend: this.backend.name,
      backendNote: this.backend.note,
      device: this.backend.device,
      parameters: this.built.parameters,
      activeParameters: this.built.activeParameters,
      corpus: this.corpusInfo,
      sample: this.validationText.slice(0, 600),
      cliConfig: checkpointConfig(this.built),
      cliResumable: this.cliResumable,
      step: this.step,
      spec: this.spec,
    };
  }

  /** One optimizer step; returns its loss, learning rate, time and the balance loss (MoE). */
  async trainStep(): Promise<{ loss: number; lr: number; ms: number; auxLoss: number | null }> {
    const t0 = performance.now();
    const { model } = this;
    const lr = this.lrAt(this.step);
    this.optimizer.setLr(lr);
    model.train();
    const batch = this.trainLoader.next();
    this.optimizer.zeroGrad();
    const lossT = model.loss(batch.input, batch.target);
    lossT.backward();
    // As the CLI's Trainer: clip on the gradients' backend, then one read of loss and norm together
    // (a device backend answers asynchronously; nothing else is read back in a step).
    const normT = clipGradNormTensor(model.parameters(), 1);
    const [loss, norm] = await Promise.all([scalar(lossT), scalar(normT)]);
    if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
      throw new Error(
        `the ${Number.isFinite(loss) ? 'gradient norm' : 'loss'} is ${Number.isFinite(loss) ? norm : loss} at step ${this.step + 1} (lr ${lr.toExponential(2)}); lower the learning rate`,
      );
    }
    this.optimizer.step();
    this.step++;
    const layer = this.built.layer;
    let auxLoss: number | null = null;
    let dropped = 0;
    if (layer instanceof MoE) {
      const aux = layer.auxLoss();
      auxLoss = aux ? await scalar(aux) : null;
      // readDroppedFraction waits for device work, so the dropped share is known on WebGPU too.
      dropped = (await layer.readDroppedFraction()) ?? 0;
    }
    if (layer && this.everUsed) {
      const r = await routingArrays(layer);
      const experts: number[] = [];
      const mass: number[] = [];
      if (r) {
        const z = gateMass({ ...r }, layer.numExperts);
        for (let i = 0; i < z.length; i++) {
          if (z[i]! > 0) {
            experts.push(i);
            mass.push(z[i]!);
            this.everUsed[i] = 1;
          }
        }
      }
      this.recent.push({ experts: Int32Array.from(experts), mass: Float64Array.from(mass), aux: auxLoss ?? 0, dropped });
      if (this.recent.length > WINDOW_STEPS) this.recent.shift();
    }
    return { loss, lr, ms: performance.now() - t0, auxLoss };
  }

  /** Mean validation loss over the first `evalBatches` windows (the CLI's evaluation, same windows). */
  async evaluate(): Promise<number> {
    const { model } = this;
    model.eval();
    this.valLoader.reset();
    let sum = 0;
    try {
      for (let b = 0; b < this.spec.train.evalBatches; b++) {
        const batch = this.valLoader.next();
        sum += await scalar(noGrad(() => model.loss(batch.input, batch.target, { aux: false })));
      }
    } finally {
      model.train();
    }
    return sum / this.spec.train.evalBatches;
  }

  /**
   * Usage, unevenness and gate-mass shares over the last WINDOW_STEPS training steps (a rolling
   * window: every snapshot, whenever taken, covers the same number of steps once that many ran).
   */
  async snapshot(): Promise<LayerSnapshot | null> {
    const layer = this.built.layer;
    const steps = this.recent.length;
    if (!layer || !this.everUsed || steps === 0) return null;
    const n = layer.numExperts;
    const window = new Float64Array(n);
    let aux = 0;
    let droppedSum = 0;
    for (const m of this.recent) {
      for (let j = 0; j < m.experts.length; j++) window[m.experts[j]!] += m.mass[j]!;
      aux += m.aux;
      droppedSum += m.dropped;
    }
    const { usage, unevenness } = usageAndUnevenness(window);
    let total = 0;
    for (const v of window) total += v;
    const share = new Float32Array(n);
    for (let i = 0; i < n; i++) share[i] = total > 0 ? window[i]! / total : 0;
    let dead = 0;
    for (const u of this.everUsed) if (!u) dead++;
    const isMoE = layer instanceof MoE;
    return {
      step: this.step,
      kind: this.spec.model.ffw,
      numExperts: n,
      gridWidth: isMoE ? Math.ceil(Math.sqrt(n)) : (layer as PKM | PEER).numKeys,
      share,
      usage,
      unevenness,
      dead,
      windowSteps: steps,
      windowFrom: this.step - steps + 1,
      auxLoss: isMoE && layer.balance === 'loss' ? aux / steps : null,
      bias: isMoE && layer.expertBias ? Array.from(await readArray(layer.expertBias)) : null,
      droppedFraction: isMoE ? droppedSum / steps : null,
    };
  }

  /** The route of the character at `position` of `text` (the context is the window ending there). */
  async probe(text: string, position: number): Promise<TokenRoute> {
    const chars = Array.from(text);
    if (chars.length === 0) throw new Error('type or pick some text first');
    const pos = Math.max(0, Math.min(position, chars.length - 1));
    const start = Math.max(0, pos + 1 - this.spec.model.contextLength);
    const window = chars.slice(start, pos + 1).join('');
    let ids: Int32Array;
    try {
      ids = this.tokenizer.encode(window);
    } catch (e) {
      throw new Error(`this text has a character outside the model's vocabulary (${(e as Error).message.split(';')[0]})`);
    }
    const t = ids.length - 1;
    const { model } = this;
    const layer = this.built.layer;
    // Eval mode throughout: BatchNorm on the query uses its running statistics (and leaves them alone).
    model.eval();
    try {
      this.captured = null;
      const logits = noGrad(() => model.forward(tensor(ids, { shape: [1, ids.length], dtype: 'int32' })));
      const V = this.tokenizer.vocabSize;
      const probs = await readArray(noGrad(() => softmax(logits.slice(1, t, t + 1).reshape([V]), -1)));
      const next = Array.from(probs, (p, i) => ({ char: this.tokenizer.decode([i]), p }))
        .sort((a, b) => b.p - a.p)
        .slice(0, 5);
      const base = { step: this.step, text: window, position: t, char: chars[pos]!, next };
      if (!layer || !this.captured) return { ...base, detail: { kind: 'dense' }, layerRouting: null, agrees: null };
      const x: Tensor = this.captured;
      const recorded = await layerRoutingOf(layer, t);
      const detail = layer instanceof MoE ? await moeRoute(layer, x, ids, t, !this.backend.async) : await productKeyRoute(layer, x, t);
      return { ...base, detail, layerRouting: recorded, agrees: recorded ? routeAgrees(detail, recorded) : null };
    } finally {
      model.train();
    }
  }

  /** Continues `prompt` by `tokens` sampled characters. */
  async generate(prompt: string, tokens: number, temperature: number, topK: number): Promise<string> {
    let ids: Int32Array;
    try {
      ids = this.tokenizer.encode(prompt.length ? prompt : '\n');
    } catch (e) {
      throw new Error(`the prompt has a character outside the model's vocabulary (${(e as Error).message.split(';')[0]})`);
    }
    const out = await this.model.generateAsync(tensor(ids, { shape: [ids.length], dtype: 'int32' }), {
      maxNewTokens: tokens,
      temperature,
      topK: Math.min(topK, this.tokenizer.vocabSize),
      seed: this.spec.model.seed + this.step,
    });
    return this.tokenizer.decode(Int32Array.from(await out.read()).subarray(ids.length));
  }

  /**
   * A checkpoint of the session in the CLI's format (model, AdamW state, step, loader, RNG, tokenizer)
   * with the CLI's config: the model config, plus the plan when continuing a CLI run (its steps raised
   * to this step if the page trained past them, so `--resume` alone accepts it).
   */
  async save(): Promise<Uint8Array> {
    const plan = this.built.plan;
    if (plan && this.step > plan.steps) plan.steps = this.step;
    return checkpointToBytesAsync({
      model: this.model,
      optimizer: this.optimizer,
      step: this.step,
      tokenizer: this.tokenizer,
      config: checkpointConfig(this.built),
      loader: this.trainLoader,
      extra: { writtenBy: 'routing-lab', spec: this.spec },
    });
  }

  /**
   * Restores a checkpoint into this session. The model must match; the optimizer state and loader
   * position are restored too when they fit (a run on the same corpus), else only the weights.
   */
  async load(bytes: Uint8Array, name: string): Promise<{ step: number; note: string }> {
    const ckpt = checkpointFromBytes(bytes, name);
    let note = 'weights, optimizer state, data position and step restored';
    // The worker built this session from the checkpoint's own config, read with the CLI's rules
    // (resolveModelConfig); the model's keys, shapes and dtypes are the check here. The session takes
    // over the CLI's plan, if any: its schedule drives the lr, and the next save records it.
    const plan = (ckpt.config as { train?: CliTrainPlan } | null)?.train ?? null;
    try {
      await loadCheckpoint(ckpt, { model: this.model, optimizer: this.optimizer, loader: this.trainLoader, restoreRng: ckpt.rng !== null });
    } catch (e) {
      const message = (e as Error).message;
      if (!/BatchLoader|optimizer|loader/.test(message)) throw e;
      await loadCheckpoint(ckpt, { model: this.model, restoreRng: false });
      note = `weights restored; optimizer and data position not (${message.replace(/^loadCheckpoint: [^:]*: /, '')})`;
    }
    this.built.plan = plan ? { ...plan } : null;
    this.step = ckpt.step;
    this.recent = [];
    this.everUsed?.fill(0);
    return { step: ckpt.step, note };
  }
}
