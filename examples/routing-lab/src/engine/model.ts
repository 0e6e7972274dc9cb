// Builds the lab's TransformerLM. With the CLI's layer sizes it calls the CLI's own builder
// (examples/train-lm), so a lab checkpoint is `npm run demo`'s model, key for key.
import { FeedForward, MoE, PEER, PKM, TransformerLM, type FeedForwardLayer } from '@myriad/nn';
import { buildModel as buildCliModel } from '../../../train-lm/src/models.js';
import { cliConfig, type ModelSpec } from '../spec.js';

export type RoutingLayer = MoE | PKM | PEER;

export interface BuiltModel {
  model: TransformerLM;
  /** The middle block's feed-forward layer when it routes (MoE, PKM, PEER), else null. */
  layer: RoutingLayer | null;
  parameters: number;
  /** Parameters one token reads (all but the unselected experts / memory rows). */
  activeParameters: number;
  /** The checkpoint config: the CLI's ModelConfig when the model is exactly the CLI's. */
  config: unknown;
  cliCompatible: boolean;
}

function labLayer(spec: ModelSpec, seed: number): { layer: FeedForwardLayer; active: number } {
  const dim = spec.dim;
  switch (spec.ffw) {
    case 'dense': {
      const layer = new FeedForward({ dim, hidden: dim, seed });
      return { layer, active: layer.numParameters() };
    }
    case 'moe': {
      const o = spec.moe;
      const layer = new MoE({ dim, hidden: o.hidden, numExperts: o.numExperts, topK: o.topK, router: o.router, balance: o.balance, capacityFactor: o.capacityFactor, numShared: o.numShared, seed });
      const perExpert = layer.experts[0]!.numParameters();
      const k = o.router === 'expert-choice' ? Math.min(o.numExperts, Math.max(1, Math.round(o.capacityFactor === Infinity ? 1 : o.capacityFactor))) : o.topK;
      return { layer, active: layer.numParameters() - (o.numExperts - k) * perExpert };
    }
    case 'pkm': {
      const o = spec.pkm;
      const layer = new PKM({ dim, heads: o.heads, numKeys: Math.round(Math.sqrt(o.numExperts)), topK: o.topK, dimKey: o.dimKey, queryNorm: o.queryNorm, seed });
      return { layer, active: layer.numParameters() - layer.values.weight.size + o.heads * o.topK * dim };
    }
    case 'peer': {
      const o = spec.peer;
      const layer = new PEER({ dim, heads: o.heads, numExperts: o.numExperts, topK: o.topK, dimKey: o.dimKey, queryNorm: o.queryNorm, scoreFn: o.scoreFn, seed });
      return { layer, active: layer.numParameters() - layer.down.weight.size - layer.up.weight.size + o.heads * o.topK * 2 * dim };
    }
  }
}

/** The model for `spec` over a vocabulary of `vocabSize` characters. */
export function buildLabModel(spec: ModelSpec, vocabSize: number): BuiltModel {
  const cli = cliConfig(spec, vocabSize);
  let model: TransformerLM;
  let activeParameters: number;
  if (cli) {
    ({ model, activeParameters } = buildCliModel(cli));
  } else {
    // The CLI's layout (dense blocks, the chosen layer in the middle, the same seeds) with the lab's options.
    const middle = Math.floor(spec.depth / 2);
    let sparseActive = 0;
    let sparseTotal = 0;
    model = new TransformerLM({
      vocabSize,
      dim: spec.dim,
      depth: spec.depth,
      heads: spec.heads,
      contextLength: spec.contextLength,
      seed: spec.seed,
      ffw: (l) => {
        if (l !== middle) return new FeedForward({ dim: spec.dim, hidden: 4 * spec.dim, seed: spec.seed + 1000 + l });
        const s = labLayer(spec, spec.seed + 2000);
        sparseActive = s.active;
        sparseTotal = s.layer.numParameters();
        return s.layer;
      },
    });
    activeParameters = model.numParameters() - sparseTotal + sparseActive;
  }
  const ffw = model.blocks[Math.floor(spec.depth / 2)]!.ffw;
  const layer = ffw instanceof MoE || ffw instanceof PKM || ffw instanceof PEER ? ffw : null;
  const config = cli ?? { ffw: spec.ffw, vocabSize, dim: spec.dim, depth: spec.depth, heads: spec.heads, contextLength: spec.contextLength, seed: spec.seed, lab: spec[spec.ffw as 'moe'] ?? null };
  return { model, layer, parameters: model.numParameters(), activeParameters, config, cliCompatible: cli !== null };
}
