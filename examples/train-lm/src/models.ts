import { FeedForward, MoE, PEER, PKM, TransformerLM, type FeedForwardLayer } from '@myriad/nn';
import type { FfwKind } from './args.js';

/** Everything needed to rebuild a model; saved as the checkpoint's config. */
export interface ModelConfig {
  ffw: FfwKind;
  vocabSize: number;
  dim: number;
  depth: number;
  heads: number;
  contextLength: number;
  seed: number;
}

/** A feed-forward layer and the parameters it reads per token. */
interface SparseLayer {
  layer: FeedForwardLayer;
  /** Parameters one token uses: everything but the unselected experts / memory rows. */
  activePerToken: number;
}

/**
 * The middle block's feed-forward layer, sized like the PEER paper's matched-compute comparison
 * scaled down: every variant reads the same number of parameters per token, 2·dim² (a dense
 * FeedForward of hidden size dim). MoE: 8 experts of hidden dim/2, top-2. PEER: 8 heads × top-8
 * singleton experts (a down and an up vector each) out of 64² = 4096. PKM: 4 heads × top-32 value rows
 * out of 64² (a memory read has no hidden layer, so it reads 2·dim rows of size dim).
 */
export function sparseLayer(kind: FfwKind, dim: number, seed: number): SparseLayer {
  switch (kind) {
    case 'dense': {
      const layer = new FeedForward({ dim, hidden: dim, seed });
      return { layer, activePerToken: layer.numParameters() };
    }
    case 'moe': {
      const [numExperts, topK] = [8, 2];
      const layer = new MoE({ dim, hidden: dim / 2, numExperts, topK, seed });
      const perExpert = layer.experts[0]!.numParameters();
      return { layer, activePerToken: layer.numParameters() - (numExperts - topK) * perExpert };
    }
    case 'pkm': {
      const [heads, numKeys, topK] = [4, 64, 32];
      const layer = new PKM({ dim, heads, numKeys, topK, dimKey: 32, seed });
      return { layer, activePerToken: layer.numParameters() - layer.values.weight.size + heads * topK * dim };
    }
    case 'peer': {
      const [heads, numKeys, topK] = [8, 64, 8];
      const layer = new PEER({ dim, heads, numExperts: numKeys * numKeys, topK, dimKey: 32, seed });
      const tables = layer.down.weight.size + layer.up.weight.size;
      return { layer, activePerToken: layer.numParameters() - tables + heads * topK * 2 * dim };
    }
  }
}

/** A TransformerLM whose middle block uses the chosen feed-forward layer (the others stay dense). */
export function buildModel(config: ModelConfig): { model: TransformerLM; activeParameters: number } {
  const middle = Math.floor(config.depth / 2);
  let sparseActive = 0;
  let sparseTotal = 0;
  const model = new TransformerLM({
    vocabSize: config.vocabSize,
    dim: config.dim,
    depth: config.depth,
    heads: config.heads,
    contextLength: config.contextLength,
    seed: config.seed,
    ffw: (layer) => {
      if (layer !== middle) return new FeedForward({ dim: config.dim, hidden: 4 * config.dim, seed: config.seed + 1000 + layer });
      const s = sparseLayer(config.ffw, config.dim, config.seed + 2000);
      sparseActive = s.activePerToken;
      sparseTotal = s.layer.numParameters();
      return s.layer;
    },
  });
  return { model, activeParameters: model.numParameters() - sparseTotal + sparseActive };
}
