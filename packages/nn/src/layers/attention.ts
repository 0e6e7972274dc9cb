// Multi-head causal self-attention (Vaswani et al. 2017, GPT-2 layout):
//   [q k v] = x·W_qkvᵀ + b,  per head: softmax(q·kᵀ/√d_h + M)·v,  y = concat(heads)·W_outᵀ + b
// with M[i][j] = −10⁹ for j > i (a token sees only itself and the past). One batched matmul over
// [B, heads, T, T] per product; the additive mask is cached per (T, dtype).
import { ShapeError, add, dropout, matmul, softmax, tensor, type Rng, type Tensor } from '@myriad/core';
import { Module, type InitOptions } from '../module.js';
import { initRng, requirePositiveInt } from '../init.js';
import { Linear } from './linear.js';

// Finite rather than −∞, so setCheckNumerics(true) does not stop at the mask of a healthy model. It
// masks exactly all the same: exp(−10⁹ + s − rowMax) underflows to exactly 0 (float32 and float64)
// unless scores reach ~10⁹, as the diagonal, never masked, keeps rowMax a real score.
const MASKED = -1e9;

export interface CausalSelfAttentionOptions extends InitOptions {
  dim: number;
  heads: number;
  /** Dropout on the attention weights and on the output, in training (default 0). */
  dropout?: number;
  /** Biases on qkv and out (default true). */
  bias?: boolean;
  /** Generator for dropout masks (default: the global one). */
  dropoutRng?: Rng;
}

/** CausalSelfAttention's options resolved once: defaults filled in, values checked. */
export interface CausalSelfAttentionConfig {
  dim: number;
  heads: number;
  /** dim / heads. */
  headDim: number;
  dropout: number;
  bias: boolean;
}

/** Checks what attention needs of its size and dropout, naming the layer: dim and heads positive, heads dividing dim, dropout in [0, 1). */
export function checkAttentionOptions(layer: string, dim: number, heads: number, dropout: number): void {
  requirePositiveInt(layer, 'dim', dim);
  requirePositiveInt(layer, 'heads', heads);
  if (dim % heads !== 0) throw new RangeError(`${layer}: dim ${dim} is not divisible by heads ${heads}`);
  if (!(dropout >= 0 && dropout < 1)) throw new RangeError(`${layer}: dropout must be in [0, 1), got ${dropout}`);
}

/** The defaults of `CausalSelfAttentionOptions` applied and every value checked. */
export function resolveCausalSelfAttentionOptions(options: CausalSelfAttentionOptions): Readonly<CausalSelfAttentionConfig> {
  const { dim, heads, bias = true } = options;
  const dropout = options.dropout ?? 0;
  checkAttentionOptions('CausalSelfAttention', dim, heads, dropout);
  return Object.freeze({ dim, heads, headDim: dim / heads, dropout, bias });
}

/** Causal multi-head self-attention: qkv (Linear dim→3·dim, q|k|v blocks of dim rows), out (Linear dim→dim). */
export class CausalSelfAttention extends Module {
  qkv: Linear;
  out: Linear;
  /** The resolved options. */
  readonly config: Readonly<CausalSelfAttentionConfig>;
  private readonly dropoutRng: Rng | undefined;
  private readonly masks = new Map<string, Tensor>();

  /** Attention over `heads` heads of size dim/heads. */
  constructor(options: CausalSelfAttentionOptions) {
    super();
    const config = resolveCausalSelfAttentionOptions(options);
    const { dim, bias } = config;
    this.config = config;
    this.dropoutRng = options.dropoutRng;
    const rng = initRng(options);
    this.qkv = new Linear(dim, 3 * dim, { bias, rng, dtype: options.dtype });
    this.out = new Linear(dim, dim, { bias, rng, dtype: options.dtype });
  }

  // The config's values under the names the layer has always had.
  get dim(): number {
    return this.config.dim;
  }
  get heads(): number {
    return this.config.heads;
  }
  get headDim(): number {
    return this.config.headDim;
  }
  get dropout(): number {
    return this.config.dropout;
  }

  /** x [B, T, dim] → [B, T, dim]; output position t depends only on inputs 0..t. */
  forward(x: Tensor): Tensor {
    const { dim, heads: H, headDim: hd, dropout: p } = this.config;
    if (x.ndim !== 3 || x.shape[2] !== dim) {
      throw new ShapeError(`CausalSelfAttention.forward: input [${x.shape.join(', ')}] must be [batch, time, dim = ${dim}]`);
    }
    const [B, T] = x.shape as [number, number, number];
    // [B, T, 3, H, hd] → [3, B, H, T, hd]: q, k, v are strided views, no copies.
    const qkv = this.qkv.forward(x).reshape([B, T, 3, H, hd]).permute([2, 0, 3, 1, 4]);
    const q = qkv.slice(0, 0, 1).reshape([B, H, T, hd]);
    const k = qkv.slice(0, 1, 2).reshape([B, H, T, hd]);
    const v = qkv.slice(0, 2, 3).reshape([B, H, T, hd]);
    const scores = add(matmul(q, k.transpose(-2, -1)).mul(1 / Math.sqrt(hd)), this.causalMask(T, x.dtype));
    let weights = softmax(scores, -1);
    const dropOpts = { training: this.training, ...(this.dropoutRng ? { rng: this.dropoutRng } : {}) };
    if (p > 0) weights = dropout(weights, p, dropOpts);
    const heads = matmul(weights, v); // [B, H, T, hd]
    const merged = heads.permute([0, 2, 1, 3]).reshape([B, T, dim]);
    let y = this.out.forward(merged);
    if (p > 0) y = dropout(y, p, dropOpts);
    return y;
  }

  /**
   * The additive [T, T] mask: 0 on and below the diagonal, MASKED above. Built on the host and
   * uploaded once (writing a tensor's data in place fails on device backends).
   */
  private causalMask(T: number, dtype: Tensor['dtype']): Tensor {
    const key = `${T}:${dtype}`;
    let m = this.masks.get(key);
    if (m === undefined) {
      const d = dtype === 'float64' ? new Float64Array(T * T) : new Float32Array(T * T);
      for (let i = 0; i < T; i++) d.fill(MASKED, i * T + i + 1, (i + 1) * T);
      m = tensor(d, { shape: [T, T], dtype });
      this.masks.set(key, m);
    }
    return m;
  }
}
