import { FeedForward, MoE, PEER, PKM, TransformerLM, type FeedForwardLayer, type Module } from '@myriad/nn';
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

function denseParams(m: Module): number {
  let n = 0;
  for (const p of m.parameters()) n += p.size;
  return n;
}

/**
 * The middle block's feed-forward layer, sized like the PEER paper's matched-compute comparison
 * scaled down: each sparse variant reads about as many parameters per token as the dense
 * FeedForward (2 · dim · 4·dim weights). MoE: 8 experts of hidden 2·dim, top-2. PEER: 16 heads ×
 * top-16 singleton experts (a down and an up vector each) of 32². PKM: 8 heads × top-64 value rows
 * of 128² (a memory read has no hidden layer, so it reads 2·4·dim rows of size dim).
 */
export function sparseLayer(kind: FfwKind, dim: number, seed: number): SparseLayer {
  switch (kind) {
    case 'dense': {
      const layer = new FeedForward({ dim, hidden: 4 * dim, seed });
      return { layer, activePerToken: denseParams(layer) };
    }
    case 'moe': {
      const layer = new MoE({ dim, hidden: 2 * dim, numExperts: 8, topK: 2, seed });
      const perExpert = denseParams(layer.experts[0]!);
      return { layer, activePerToken: denseParams(layer) - 8 * perExpert + 2 * perExpert };
    }
    case 'pkm': {
      const [heads, numKeys, topK] = [8, 128, 64];
      const layer = new PKM({ dim, heads, numKeys, topK, dimKey: 32, seed });
      return { layer, activePerToken: denseParams(layer) - layer.values.weight.size + heads * topK * dim };
    }
    case 'peer': {
      const [heads, numKeys, topK] = [16, 32, 16];
      const layer = new PEER({ dim, heads, numExperts: numKeys * numKeys, topK, dimKey: 32, seed });
      const tables = layer.down.weight.size + layer.up.weight.size;
      return { layer, activePerToken: denseParams(layer) - tables + heads * topK * 2 * dim };
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
      sparseTotal = denseParams(s.layer);
      return s.layer;
    },
  });
  return { model, activeParameters: denseParams(model) - sparseTotal + sparseActive };
}
