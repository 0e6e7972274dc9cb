export { Linear, type LinearOptions } from './linear.js';
export { Embedding, type EmbeddingOptions } from './embedding.js';
export { LayerNorm, type LayerNormOptions } from './layer-norm.js';
export { RMSNorm, type RMSNormOptions } from './rms-norm.js';
export { BatchNorm1d, type BatchNorm1dOptions } from './batch-norm.js';
export { FeedForward, activationFn, type Activation, type FeedForwardOptions } from './feed-forward.js';
export {
  CausalSelfAttention,
  resolveCausalSelfAttentionOptions,
  type CausalSelfAttentionOptions,
  type CausalSelfAttentionConfig,
} from './attention.js';
export {
  TransformerLM,
  TransformerBlock,
  resolveTransformerLMOptions,
  type TransformerLMOptions,
  type TransformerLMConfig,
  type FeedForwardLayer,
  type FeedForwardContext,
  type GenerateOptions,
} from './transformer.js';
export { Sequential } from './sequential.js';
export { Dropout, type DropoutLayerOptions } from './dropout.js';
