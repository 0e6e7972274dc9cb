// A GPT-style decoder-only language model (nanoGPT's layout with camelCase names):
//   h₀ = tokenEmbedding[ids] + positionEmbedding[0..T)
//   hₗ = hₗ₋₁' + ffw(ln2(hₗ₋₁')),  hₗ₋₁' = hₗ₋₁ + attn(ln1(hₗ₋₁))       (pre-norm blocks)
//   logits = head(norm(h_L))   (head.weight may be the token embedding table: tied weights)
// The feed-forward of each block is pluggable (dense FeedForward, MoE, PKM, PEER, ...).
import {
  Rng,
  ShapeError,
  add,
  arange,
  crossEntropy,
  dropout,
  getBackend,
  getGlobalRng,
  noGrad,
  tensor,
  type RoutingSource,
  type Tensor,
} from '@myriad/core';
import { Module, type InitOptions } from '../module.js';
import { collectAuxLoss, routingLayers } from '../routing/routing-layers.js';
import { initRng, requirePositiveInt } from '../init.js';
import { CausalSelfAttention, checkAttentionOptions } from './attention.js';
import { Embedding } from './embedding.js';
import { FeedForward } from './feed-forward.js';
import { LayerNorm } from './layer-norm.js';
import { Linear } from './linear.js';

/** What a block passes to its feed-forward besides the hidden states: the token ids (hash routing). */
export interface FeedForwardContext {
  /** int32 [B, T] ids of the tokens at each position. */
  tokenIds?: Tensor;
  /** The ids lie in [0, vocabSize) (lets MoE's hash router look its table up on the device). */
  vocabSize?: number;
}

/** A per-position layer usable as a block's feed-forward: [B, T, dim] → [B, T, dim]. */
export type FeedForwardLayer = Module & { forward(x: Tensor, context?: FeedForwardContext): Tensor };

export interface TransformerLMOptions extends InitOptions {
  vocabSize: number;
  dim: number;
  depth: number;
  heads: number;
  /** Longest sequence (size of the position table). */
  contextLength: number;
  /** Builds block l's feed-forward (default: FeedForward with hidden 4·dim). */
  ffw?: (layerIndex: number) => FeedForwardLayer;
  /** Share the token embedding table with the output head (default true, as GPT-2). */
  tieWeights?: boolean;
  /** Dropout on embeddings, attention weights and residual branches in training (default 0). */
  dropout?: number;
  /** Generator for dropout masks (default: the global one). */
  dropoutRng?: Rng;
}

/** TransformerLM's options resolved once (the ffw factory and the generators aside): defaults filled in, values checked. */
export interface TransformerLMConfig {
  vocabSize: number;
  dim: number;
  depth: number;
  heads: number;
  contextLength: number;
  tieWeights: boolean;
  dropout: number;
}

/** The defaults of `TransformerLMOptions` applied and every value checked (a RangeError names the bad one). */
export function resolveTransformerLMOptions(options: TransformerLMOptions): Readonly<TransformerLMConfig> {
  const { vocabSize, dim, depth, heads, contextLength, tieWeights = true } = options;
  const dropout = options.dropout ?? 0;
  requirePositiveInt('TransformerLM', 'vocabSize', vocabSize);
  requirePositiveInt('TransformerLM', 'dim', dim);
  requirePositiveInt('TransformerLM', 'depth', depth);
  requirePositiveInt('TransformerLM', 'heads', heads);
  requirePositiveInt('TransformerLM', 'contextLength', contextLength);
  checkAttentionOptions('TransformerLM', dim, heads, dropout);
  return Object.freeze({ vocabSize, dim, depth, heads, contextLength, tieWeights, dropout });
}

/** One pre-norm transformer block: ln1, attn, ln2, ffw. */
export class TransformerBlock extends Module {
  ln1: LayerNorm;
  attn: CausalSelfAttention;
  ln2: LayerNorm;
  ffw: FeedForwardLayer;
  private readonly dropout: number;
  private readonly dropoutRng: Rng | undefined;

  /** A block around the given feed-forward. */
  constructor(options: { dim: number; heads: number; ffw: FeedForwardLayer; dropout?: number; dropoutRng?: Rng } & InitOptions) {
    super();
    const { dim, heads } = options;
    this.dropout = options.dropout ?? 0;
    this.dropoutRng = options.dropoutRng;
    this.ln1 = new LayerNorm(dim, { dtype: options.dtype });
    this.attn = new CausalSelfAttention({
      dim,
      heads,
      dropout: this.dropout,
      dropoutRng: options.dropoutRng,
      rng: options.rng,
      seed: options.seed,
      dtype: options.dtype,
    });
    this.ln2 = new LayerNorm(dim, { dtype: options.dtype });
    this.ffw = options.ffw;
  }

  /** x [B, T, dim] → [B, T, dim]. */
  forward(x: Tensor, context: FeedForwardContext = {}): Tensor {
    const h = add(x, this.attn.forward(this.ln1.forward(x)));
    let f = this.ffw.forward(this.ln2.forward(h), context);
    if (f.ndim !== h.ndim || f.shape.some((d, i) => d !== h.shape[i])) {
      throw new ShapeError(
        `TransformerBlock.forward: ffw returned [${f.shape.join(', ')}] for input [${h.shape.join(', ')}]; it must keep the shape`,
      );
    }
    if (this.dropout > 0) f = dropout(f, this.dropout, { training: this.training, ...(this.dropoutRng ? { rng: this.dropoutRng } : {}) });
    return add(h, f);
  }
}

export interface GenerateOptions {
  /** Tokens to append. */
  maxNewTokens: number;
  /** Softmax temperature (default 1); 0 picks the most likely token (greedy). */
  temperature?: number;
  /** Sample only among the k most likely tokens (default: all). */
  topK?: number;
  /** Seed of a private sampling generator. */
  seed?: number;
  /** Sampling generator (overrides seed); without either, the global one. */
  rng?: Rng;
}

/** Decoder-only transformer language model: int32 ids [B, T] → logits [B, T, vocabSize]. */
export class TransformerLM extends Module {
  tokenEmbedding: Embedding;
  positionEmbedding: Embedding;
  blocks: TransformerBlock[];
  norm: LayerNorm;
  head: Linear;
  /** The resolved options. */
  readonly config: Readonly<TransformerLMConfig>;
  private readonly dropoutRng: Rng | undefined;

  /** A model with GPT-2-style N(0, 0.02²) embeddings and PyTorch-default Linear init. */
  constructor(options: TransformerLMOptions) {
    super();
    const config = resolveTransformerLMOptions(options);
    const { vocabSize, dim, depth, heads, contextLength, dropout: p } = config;
    this.config = config;
    this.dropoutRng = options.dropoutRng;
    const rng = initRng(options);
    const dtype = options.dtype;
    this.tokenEmbedding = new Embedding(vocabSize, dim, { std: 0.02, rng, dtype });
    this.positionEmbedding = new Embedding(contextLength, dim, { std: 0.02, rng, dtype });
    const makeFfw = options.ffw ?? (() => new FeedForward({ dim, hidden: 4 * dim, rng, dtype }));
    this.blocks = [];
    for (let l = 0; l < depth; l++) {
      const ffw = makeFfw(l);
      if (!(ffw instanceof Module)) throw new TypeError(`TransformerLM: ffw(${l}) must return a Module`);
      this.blocks.push(new TransformerBlock({ dim, heads, ffw, dropout: p, dropoutRng: options.dropoutRng, rng, dtype }));
    }
    this.norm = new LayerNorm(dim, { dtype });
    this.head = new Linear(dim, vocabSize, { bias: false, rng, dtype });
    if (config.tieWeights) this.head.weight = this.tokenEmbedding.weight;
  }

  // The config's values under the names the model has always had.
  get vocabSize(): number {
    return this.config.vocabSize;
  }
  get dim(): number {
    return this.config.dim;
  }
  get contextLength(): number {
    return this.config.contextLength;
  }
  get tieWeights(): boolean {
    return this.config.tieWeights;
  }

  /** [name, layer] for every routing layer (MoE, PKM, PEER): the `RoutingModel` interface @myriad/train's metrics read. */
  routingLayers(): Generator<[string, RoutingSource & Module]> {
    return routingLayers(this);
  }

  /** Final-norm hidden states [B, T, dim] of int32 ids [B, T]. */
  hidden(ids: Tensor): Tensor {
    if (ids.dtype !== 'int32' || ids.ndim !== 2) {
      throw new ShapeError(`TransformerLM.forward: ids must be int32 [batch, time], got ${ids.dtype} [${ids.shape.join(', ')}]`);
    }
    const T = ids.shape[1]!;
    if (T < 1 || T > this.contextLength) {
      throw new ShapeError(`TransformerLM.forward: sequence length ${T} must be in [1, contextLength = ${this.contextLength}]`);
    }
    let h = add(this.tokenEmbedding.forward(ids), this.positionEmbedding.forward(this.positionIds(T)));
    const p = this.config.dropout;
    if (p > 0) h = dropout(h, p, { training: this.training, ...(this.dropoutRng ? { rng: this.dropoutRng } : {}) });
    for (const block of this.blocks) h = block.forward(h, { tokenIds: ids, vocabSize: this.vocabSize });
    return this.norm.forward(h);
  }

  // Position ids 0..T−1, made once per length and backend: a step then uploads nothing but its batch.
  private readonly positions = new Map<string, Tensor>();
  private positionIds(T: number): Tensor {
    const key = `${getBackend().name}:${T}`;
    let p = this.positions.get(key);
    if (p === undefined || p.backend !== getBackend()) {
      p = arange(T);
      this.positions.set(key, p);
    }
    return p;
  }

  /** ids int32 [B, T] → logits [B, T, vocabSize]. */
  forward(ids: Tensor): Tensor {
    return this.head.forward(this.hidden(ids));
  }

  /**
   * Mean next-token cross-entropy of `targets` (int32 [B, T]) given `ids`, plus the auxiliary losses
   * of the submodules (MoE balancing) unless `aux: false`.
   */
  loss(ids: Tensor, targets: Tensor, options: { aux?: boolean; ignoreIndex?: number } = {}): Tensor {
    if (targets.ndim !== 2 || targets.shape[0] !== ids.shape[0] || targets.shape[1] !== ids.shape[1]) {
      throw new ShapeError(`TransformerLM.loss: targets [${targets.shape.join(', ')}] must match ids [${ids.shape.join(', ')}]`);
    }
    const logits = this.forward(ids);
    const ce = crossEntropy(logits, targets, options.ignoreIndex === undefined ? {} : { ignoreIndex: options.ignoreIndex });
    if (options.aux === false) return ce;
    const aux = collectAuxLoss(this);
    return aux === null ? ce : add(ce, aux);
  }

  /**
   * Extends `prompt` (int32 [B, T] or [T]) by sampling `maxNewTokens` tokens autoregressively, each from
   * softmax(logits / temperature) restricted to the top-k; the context is cropped to the last
   * contextLength tokens. Runs in eval mode without gradients; returns the same rank as the prompt.
   * Reads each step's logits synchronously: on WebGPU use `generateAsync`.
   */
  generate(prompt: Tensor, options: GenerateOptions): Tensor {
    const steps = this.sampling(prompt, options);
    let r = noGrad(() => steps.next());
    while (!r.done) {
      const logits = r.value.toTypedArray();
      r = noGrad(() => steps.next(logits));
    }
    return r.value;
  }

  /** `generate` on every backend: waits for each step's logits (one read per new token). */
  async generateAsync(prompt: Tensor, options: GenerateOptions): Promise<Tensor> {
    const steps = this.sampling(prompt, options);
    let r = noGrad(() => steps.next());
    while (!r.done) {
      const logits = await r.value.read();
      r = noGrad(() => steps.next(logits));
    }
    return r.value;
  }

  // The sampling loop as a generator: it yields each step's logits [B, 1, V] and is resumed with their
  // values, so generate and generateAsync share it and differ only in how they read.
  private *sampling(prompt: Tensor, options: GenerateOptions): Generator<Tensor, Tensor, ArrayLike<number>> {
    const { maxNewTokens, temperature = 1, topK } = options;
    if (prompt.dtype !== 'int32' || (prompt.ndim !== 1 && prompt.ndim !== 2) || prompt.shape[prompt.ndim - 1] === 0) {
      throw new ShapeError(
        `TransformerLM.generate: prompt must be non-empty int32 [T] or [B, T], got ${prompt.dtype} [${prompt.shape.join(', ')}]`,
      );
    }
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0)
      throw new RangeError(`TransformerLM.generate: maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
    if (!(temperature >= 0)) throw new RangeError(`TransformerLM.generate: temperature must be >= 0, got ${temperature}`);
    const V = this.vocabSize;
    if (topK !== undefined && (!Number.isInteger(topK) || topK < 1 || topK > V)) {
      throw new RangeError(`TransformerLM.generate: topK must be an integer in [1, vocabSize = ${V}], got ${topK}`);
    }
    const rng = options.rng ?? (options.seed !== undefined ? new Rng(options.seed) : getGlobalRng());
    const B = prompt.ndim === 2 ? prompt.shape[0]! : 1;
    const T0 = prompt.shape[prompt.ndim - 1]!;
    const total = T0 + maxNewTokens;
    const seqs = new Int32Array(B * total);
    const p = prompt.toTypedArray();
    for (let b = 0; b < B; b++) seqs.set(p.subarray(b * T0, (b + 1) * T0), b * total);
    const wasTraining = this.training;
    this.eval();
    const probs = new Float64Array(V);
    try {
      for (let t = T0; t < total; t++) {
        const start = Math.max(0, t - this.contextLength);
        const len = t - start;
        const ctx = new Int32Array(B * len);
        for (let b = 0; b < B; b++) ctx.set(seqs.subarray(b * total + start, b * total + t), b * len);
        const last = this.hidden(tensor(ctx, { shape: [B, len] })).slice(1, len - 1, len); // [B, 1, dim]: only the last position is needed
        const logits = yield this.head.forward(last);
        for (let b = 0; b < B; b++) seqs[b * total + t] = sampleToken(logits, b * V, V, temperature, topK, rng, probs);
      }
    } finally {
      this.train(wasTraining);
    }
    const out = tensor(seqs, { shape: [B, total] });
    return prompt.ndim === 1 ? out.reshape([total]) : out;
  }
}

/**
 * Draws one token from row `offset` of `logits` (length V): greedy when temperature is 0, else from
 * softmax(logits / temperature) over the tokens whose logit is at least the k-th largest.
 */
function sampleToken(
  logits: ArrayLike<number>,
  offset: number,
  V: number,
  temperature: number,
  topK: number | undefined,
  rng: Rng,
  probs: Float64Array,
): number {
  let best = 0;
  let max = -Infinity;
  for (let i = 0; i < V; i++) {
    const v = logits[offset + i]!;
    if (v > max) {
      max = v;
      best = i;
    }
  }
  if (temperature === 0 || topK === 1) return best;
  let threshold = -Infinity;
  if (topK !== undefined && topK < V) {
    const sorted = Array.from({ length: V }, (_, i) => logits[offset + i]!).sort((a, b) => b - a);
    threshold = sorted[topK - 1]!;
  }
  let z = 0;
  for (let i = 0; i < V; i++) {
    const v = logits[offset + i]!;
    const e = v >= threshold ? Math.exp((v - max) / temperature) : 0;
    probs[i] = e;
    z += e;
  }
  let u = rng.random() * z;
  for (let i = 0; i < V; i++) {
    u -= probs[i]!;
    if (u < 0 && probs[i]! > 0) return i;
  }
  return best; // rounding left u ≥ 0: fall back to the most likely token
}
