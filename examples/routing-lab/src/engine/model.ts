// Builds the lab's TransformerLM with the CLI's own builder (examples/train-lm) from the CLI's model
// config, so every lab model is `npm run demo`'s model, key for key, and its checkpoint config is
// exactly what the CLI writes and reads.
import { MoE, PEER, PKM, type TransformerLM } from '@myriad/nn';
import { buildModel as buildCliModel } from '../../../train-lm/src/models.js';
import { cliModelConfig, type CliModelConfig, type CliTrainPlan, type ModelSpec } from '../spec.js';

export type RoutingLayer = MoE | PKM | PEER;

export interface BuiltModel {
  model: TransformerLM;
  /** The middle block's feed-forward layer when it routes (MoE, PKM, PEER), else null. */
  layer: RoutingLayer | null;
  parameters: number;
  /** Parameters one token reads (all but the unselected experts / memory rows). */
  activeParameters: number;
  /** The CLI's resolved model config (what its checkpoints record, less the plan). */
  config: CliModelConfig;
  /** The CLI's training plan (`config.train`) when the session continues a CLI run, else null. */
  plan: CliTrainPlan | null;
}

/** The model for `spec` over a vocabulary of `vocabSize` characters. */
export function buildLabModel(spec: ModelSpec, vocabSize: number): BuiltModel {
  const { model, activeParameters, config } = buildCliModel(cliModelConfig(spec, vocabSize));
  const ffw = model.blocks[Math.floor(spec.depth / 2)]!.ffw;
  const layer = ffw instanceof MoE || ffw instanceof PKM || ffw instanceof PEER ? ffw : null;
  return { model, layer, parameters: model.numParameters(), activeParameters, config: config as CliModelConfig, plan: null };
}

/** The checkpoint config of a session: the CLI's model config, plus its plan when it continues a CLI run. */
export function checkpointConfig(built: BuiltModel): CliModelConfig & { train?: CliTrainPlan } {
  return built.plan ? { ...built.config, train: built.plan } : built.config;
}
