// Messages between the page and the training worker. The worker owns the model; the page only
// draws what it is sent, so training never blocks a frame.
import type { FfwKind, LabSpec } from './spec.js';

/** Page → worker. */
export type Request =
  | { type: 'configure'; spec: LabSpec }
  | { type: 'train' }
  | { type: 'pause' }
  | { type: 'step'; steps: number }
  | { type: 'probe'; text: string; position: number }
  | { type: 'generate'; prompt: string; tokens: number; temperature: number; topK: number }
  | { type: 'evaluate' }
  | { type: 'save' }
  | { type: 'load'; bytes: Uint8Array; name: string; spec: LabSpec };

/** One retrieved sub-key of a query half: its index among the √N sub-keys and its score q_half·c. */
interface SubKeyHit {
  key: number;
  score: number;
}

/** One of a head's k winners: row a of half 1's top-k, column b of half 2's, the expert i·√N + j. */
export interface Winner {
  a: number;
  b: number;
  expert: number;
  score: number;
  gate: number;
  /** PEER: the expert's hidden activation σ(uᵢᵀx); PKM: null (a memory row has no hidden unit). */
  activation: number | null;
}

/** The route of one token through one product-key head (the PEER paper's Figure 2). */
export interface ProductKeyHead {
  /** The normalised query's two halves. */
  q1: number[];
  q2: number[];
  top1: SubKeyHit[];
  top2: SubKeyHit[];
  /** k×k candidate scores, row a (half 1) major. */
  grid: number[];
  winners: Winner[];
  /** ‖this head's output‖ and its share of the layer output (projection onto the sum, / ‖sum‖²). */
  outputNorm: number;
  share: number;
}

export interface ProductKeyRoute {
  kind: 'pkm' | 'peer';
  numKeys: number;
  k: number;
  scoreFn: 'softmax' | 'sigmoid';
  heads: ProductKeyHead[];
}

export interface MoERoute {
  kind: 'moe';
  router: 'topk' | 'expert-choice' | 'hash';
  numExperts: number;
  /** softmax(x·Wᵀ) over the experts (null for the hash router, which has none). */
  probs: number[] | null;
  /** The selection bias of balance 'bias' (added to p for choosing only), else null. */
  bias: number[] | null;
  chosen: { expert: number; gate: number }[];
  /** Slots this token lost to capacity (the expert it picked was full). */
  droppedSlots: number[];
  numShared: number;
  /** Fraction of the probe context's assignments dropped by capacity. */
  droppedFraction: number | null;
  capacity: number | null;
}

/** The route view's data for the token at `position` of `text`. */
export interface TokenRoute {
  step: number;
  text: string;
  position: number;
  char: string;
  /** The model's next-character prediction at this position (top 5). */
  next: { char: string; p: number }[];
  detail: ProductKeyRoute | MoERoute | { kind: 'dense' };
  /** The layer's own record (lastRouting) for this token: [heads][k] experts and gates. */
  layerRouting: { experts: number[][]; gates: number[][] } | null;
  /** Whether the route recomputed step by step selects exactly what lastRouting says. */
  agrees: boolean | null;
}

/** The whole layer over its window: the last `windowSteps` training steps, `windowFrom`…`step` (10 once 10 ran). */
export interface LayerSnapshot {
  step: number;
  kind: FfwKind;
  numExperts: number;
  /** Side of the heat map grid (√N for product keys). */
  gridWidth: number;
  /** z = z′/‖z′‖₁ per expert over the window (gate mass share). */
  share: Float32Array;
  usage: number;
  unevenness: number;
  /** Experts never chosen since training started. */
  dead: number;
  windowSteps: number;
  /** First step of the window (the last is `step`). */
  windowFrom: number;
  /** MoE: mean balance (aux) loss over the window, the selection bias, dropped fraction. */
  auxLoss: number | null;
  bias: number[] | null;
  droppedFraction: number | null;
}

export interface ReadyInfo {
  backend: string;
  backendNote: string | null;
  device: string;
  parameters: number;
  activeParameters: number;
  corpus: { name: string; characters: number; vocabSize: number; trainTokens: number; validationTokens: number };
  sample: string;
  /** The checkpoint config: the CLI's model config (every lab model is a CLI model), plus its plan when continuing a CLI run. */
  cliConfig: unknown;
  /** Whether `npm run demo -- --resume` continues a save of this session (the CLI's corpus: the whole book). */
  cliResumable: boolean;
  step: number;
  spec: LabSpec;
}

/** Worker → page. */
export type Event =
  | { type: 'ready'; info: ReadyInfo }
  | { type: 'status'; training: boolean; step: number }
  | { type: 'step'; step: number; loss: number; lr: number; ms: number; tokensPerSecond: number; auxLoss: number | null }
  | { type: 'eval'; step: number; valLoss: number; ms: number }
  | { type: 'layer'; snapshot: LayerSnapshot }
  | { type: 'route'; route: TokenRoute }
  | { type: 'generated'; prompt: string; text: string }
  | { type: 'saved'; bytes: Uint8Array; name: string; cliResumable: boolean; resume: string }
  | { type: 'loaded'; name: string; step: number; valLoss: number; note: string }
  | { type: 'error'; message: string; where: string };
