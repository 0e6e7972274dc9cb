// What the learner picks (model, layer options, corpus, training knobs, backend) and how it is
// checked. Pure data and functions: the page uses it to validate the form, the worker to build.
import type { TrainPlan } from '../../train-lm/src/plan.js';

/** Feed-forward layer of the middle block (the others stay dense), as `npm run demo -- --ffw`. */
export type FfwKind = 'dense' | 'moe' | 'pkm' | 'peer';
export type BackendChoice = 'cpu' | 'webgl2' | 'webgpu';
type QueryNormChoice = 'batch' | 'layer' | 'none';

interface MoESpec {
  numExperts: number;
  topK: number;
  hidden: number;
  router: 'topk' | 'expert-choice' | 'hash';
  balance: 'loss' | 'bias' | 'none';
  /** Infinity: no capacity limit. */
  capacityFactor: number;
  numShared: number;
  /** How top-k routing dispatches tokens (the CLI's `config.moe.dispatch`; the form leaves it at 'auto'). */
  dispatch?: 'auto' | 'grouped' | 'slots';
}

interface PKMSpec {
  /** N = numKeys² memory rows. */
  numExperts: number;
  heads: number;
  topK: number;
  dimKey: number;
  queryNorm: QueryNormChoice;
}

interface PEERSpec {
  /** N = numKeys² singleton experts. */
  numExperts: number;
  heads: number;
  topK: number;
  dimKey: number;
  queryNorm: QueryNormChoice;
  scoreFn: 'softmax' | 'sigmoid';
}

/** The model: the CLI's TransformerLM sizes plus the options of the middle block's layer. */
export interface ModelSpec {
  ffw: FfwKind;
  dim: number;
  depth: number;
  heads: number;
  contextLength: number;
  seed: number;
  moe: MoESpec;
  pkm: PKMSpec;
  peer: PEERSpec;
}

interface TrainSpec {
  batchSize: number;
  lr: number;
  warmupSteps: number;
  evalEvery: number;
  evalBatches: number;
}

export type CorpusSpec = { kind: 'excerpt' } | { kind: 'book' } | { kind: 'text'; text: string; name: string };

/** Everything the worker needs to (re)build a session. */
export interface LabSpec {
  model: ModelSpec;
  train: TrainSpec;
  corpus: CorpusSpec;
  backend: BackendChoice;
}

/**
 * The default layer sizes of `npm run demo` at width 64 (`layerDefaults(64)` of
 * examples/train-lm/src/models.ts; the test checks they agree). Every lab model is a CLI model: the lab
 * builds it with the CLI's builder from the CLI's config, whatever the layer options.
 */
const CLI_LAYERS: Pick<ModelSpec, 'moe' | 'pkm' | 'peer'> = {
  moe: { numExperts: 8, topK: 2, hidden: 32, router: 'topk', balance: 'loss', capacityFactor: Infinity, numShared: 0 },
  pkm: { numExperts: 64 * 64, heads: 4, topK: 32, dimKey: 32, queryNorm: 'batch' },
  peer: { numExperts: 64 * 64, heads: 8, topK: 8, dimKey: 32, queryNorm: 'batch', scoreFn: 'softmax' },
};

export const DEFAULT_SPEC: LabSpec = {
  model: { ffw: 'peer', dim: 64, depth: 3, heads: 4, contextLength: 64, seed: 1, ...structuredClone(CLI_LAYERS) },
  train: { batchSize: 16, lr: 3e-3, warmupSteps: 20, evalEvery: 25, evalBatches: 4 },
  corpus: { kind: 'excerpt' },
  backend: 'cpu',
};

/**
 * The model config `npm run demo` records in its checkpoints (examples/train-lm/src/models.ts,
 * `ModelConfig`): the transformer's sizes and the middle layer's block (`moe`, `pkm` or `peer`; JSON
 * has no Infinity, so an unlimited capacity is null). The CLI builds and resumes any such model.
 */
export interface CliModelConfig {
  ffw: FfwKind;
  vocabSize: number;
  dim: number;
  depth: number;
  heads: number;
  contextLength: number;
  seed: number;
  moe?: Omit<MoESpec, 'capacityFactor' | 'dispatch'> & { capacityFactor: number | null; dispatch: 'auto' | 'grouped' | 'slots' };
  pkm?: PKMSpec;
  peer?: PEERSpec;
}

/** The CLI's model config of the lab's model (the layer block in the CLI's field order). */
export function cliModelConfig(model: ModelSpec, vocabSize: number): CliModelConfig {
  const { ffw, dim, depth, heads, contextLength, seed } = model;
  const base: CliModelConfig = { ffw, vocabSize, dim, depth, heads, contextLength, seed };
  if (ffw === 'moe') {
    const o = model.moe;
    base.moe = {
      numExperts: o.numExperts,
      topK: o.topK,
      hidden: o.hidden,
      router: o.router,
      balance: o.balance,
      capacityFactor: Number.isFinite(o.capacityFactor) ? o.capacityFactor : null,
      numShared: o.numShared,
      dispatch: o.dispatch ?? 'auto',
    };
  }
  if (ffw === 'pkm') base.pkm = { ...model.pkm };
  if (ffw === 'peer') base.peer = { ...model.peer };
  return base;
}

/** The lab's model for a CLI model config (already resolved by the CLI's rules: the layer block complete). */
export function modelSpecOfConfig(c: CliModelConfig): ModelSpec {
  const layers = structuredClone(CLI_LAYERS);
  layers.moe.hidden = Math.max(1, Math.floor(c.dim / 2));
  if (c.moe) layers.moe = { ...c.moe, capacityFactor: c.moe.capacityFactor ?? Infinity };
  if (c.pkm) layers.pkm = { ...c.pkm };
  if (c.peer) layers.peer = { ...c.peer };
  return { ffw: c.ffw, dim: c.dim, depth: c.depth, heads: c.heads, contextLength: c.contextLength, seed: c.seed, ...layers };
}

/** Whether two settings differ in the backend alone (the worker then moves the running model across). */
export function sameExceptBackend(a: LabSpec, b: LabSpec): boolean {
  return canonical({ ...a, backend: null }) === canonical({ ...b, backend: null });
}

/** JSON with object keys sorted at every level, so two equal specs compare equal whatever their key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}

/** The training plan a CLI checkpoint records (`config.train`): the CLI's own type (a type-only import, nothing bundled). */
export type CliTrainPlan = TrainPlan;

/** One problem with the form: which field, and a sentence a newcomer can act on. */
export interface SpecProblem {
  field: string;
  message: string;
}

function isInt(v: number, min: number, max = Number.MAX_SAFE_INTEGER): boolean {
  return Number.isInteger(v) && v >= min && v <= max;
}

/** √n when n is a perfect square, else null. */
function exactSqrt(n: number): number | null {
  const r = Math.round(Math.sqrt(n));
  return r * r === n ? r : null;
}

/** Bytes the model, its gradients and AdamW's two moments take (float32), roughly. */
function estimateBytes(model: ModelSpec, vocabSize: number): number {
  const { dim, depth } = model;
  const dense = 2 * dim * 4 * dim + 5 * dim;
  const block = 4 * dim * dim + 4 * dim; // attention + norms
  let sparse = dense;
  if (model.ffw === 'moe') sparse = (model.moe.numExperts + model.moe.numShared) * 2 * dim * model.moe.hidden + model.moe.numExperts * dim;
  if (model.ffw === 'pkm')
    sparse =
      model.pkm.numExperts * dim +
      dim * model.pkm.heads * model.pkm.dimKey +
      model.pkm.heads * Math.sqrt(model.pkm.numExperts) * model.pkm.dimKey;
  if (model.ffw === 'peer')
    sparse =
      2 * model.peer.numExperts * dim + dim * model.peer.heads * model.peer.dimKey + Math.sqrt(model.peer.numExperts) * model.peer.dimKey;
  const params = vocabSize * dim + model.contextLength * dim + depth * block + (depth - 1) * dense + sparse;
  return params * 4 * 4; // weights, gradients, two Adam moments
}

/** Largest model the page agrees to build (WebAssembly and tab memory are finite). */
const MAX_BYTES = 1.5 * 2 ** 30;

/**
 * What would fit under MAX_BYTES when `model` does not: the widest width (a multiple of the attention
 * heads) with these experts, and the most experts at this width (a perfect square for PKM/PEER).
 */
/** The vocabulary size the memory estimate assumes (a character vocabulary). */
const ESTIMATE_VOCAB = 96;

function whatFits(model: ModelSpec, vocabSize: number): string {
  const fits = (m: ModelSpec) => estimateBytes(m, vocabSize) <= MAX_BYTES;
  const ways: string[] = [];
  let width = model.dim - (model.dim % model.heads);
  while (width >= 8 && !fits({ ...model, dim: width })) width -= model.heads;
  if (width >= 8) ways.push(`width ${width} (or less) with these experts`);
  if (model.ffw === 'pkm' || model.ffw === 'peer') {
    const kind = model.ffw;
    let keys = Math.round(Math.sqrt(model[kind].numExperts));
    while (keys > 2 && !fits({ ...model, [kind]: { ...model[kind], numExperts: keys * keys } })) keys--;
    if (keys > 2) ways.push(`at most ${keys}² = ${keys * keys} experts at width ${model.dim}`);
  } else if (model.ffw === 'moe') {
    let n = model.moe.numExperts;
    while (n > 2 && !fits({ ...model, moe: { ...model.moe, numExperts: n } })) n--;
    if (n > 2) ways.push(`at most ${n} experts at width ${model.dim}`);
  }
  return ways.length ? `; what fits: ${ways.join(', or ')}` : '; choose a smaller model';
}

/**
 * Every problem with `spec`, empty when it can be built. `corpusLength` is the corpus size in
 * characters when known (a pasted text or dropped file), to refuse one too short for the context.
 */
export function validateSpec(spec: LabSpec, corpusLength: number | null = null): SpecProblem[] {
  const p: SpecProblem[] = [];
  const m = spec.model;
  const add = (field: string, message: string) => p.push({ field, message });
  if (!isInt(m.dim, 8, 1024)) add('dim', `model width must be an integer from 8 to 1024, got ${m.dim}`);
  if (!isInt(m.depth, 1, 12)) add('depth', `depth must be an integer from 1 to 12, got ${m.depth}`);
  if (!isInt(m.heads, 1, 64) || (isInt(m.dim, 1) && m.dim % m.heads !== 0))
    add('heads', `attention heads must divide the width ${m.dim}, got ${m.heads}`);
  if (!isInt(m.contextLength, 2, 1024)) add('contextLength', `context length must be an integer from 2 to 1024, got ${m.contextLength}`);
  if (!isInt(m.seed, 0)) add('seed', `seed must be a non-negative integer, got ${m.seed}`);
  const t = spec.train;
  if (!isInt(t.batchSize, 1, 512)) add('batchSize', `batch size must be an integer from 1 to 512, got ${t.batchSize}`);
  if (!(t.lr > 0 && t.lr < 1)) add('lr', `learning rate must be between 0 and 1, got ${t.lr}`);
  if (!isInt(t.warmupSteps, 0)) add('warmupSteps', `warmup steps must be a non-negative integer, got ${t.warmupSteps}`);
  if (!isInt(t.evalEvery, 1)) add('evalEvery', `validate-every must be a positive integer, got ${t.evalEvery}`);
  if (!isInt(t.evalBatches, 1, 64)) add('evalBatches', `validation batches must be an integer from 1 to 64, got ${t.evalBatches}`);

  if (m.ffw === 'moe') {
    const o = m.moe;
    if (!isInt(o.numExperts, 2, 256)) add('moe.numExperts', `MoE needs 2 to 256 experts, got ${o.numExperts}`);
    else if (!isInt(o.topK, 1, o.numExperts))
      add('moe.topK', `top-k must be from 1 to the number of experts (${o.numExperts}), got ${o.topK}`);
    if (!isInt(o.hidden, 1, 4096)) add('moe.hidden', `expert hidden size must be an integer from 1 to 4096, got ${o.hidden}`);
    if (!isInt(o.numShared, 0, 8)) add('moe.numShared', `shared experts must be an integer from 0 to 8, got ${o.numShared}`);
    if (!(o.capacityFactor > 0)) add('moe.capacityFactor', `capacity factor must be > 0 (∞ for no limit), got ${o.capacityFactor}`);
    if (o.router !== 'topk' && o.balance !== 'none') {
      add(
        'moe.balance',
        `balancing '${o.balance}' needs the top-k router: the ${o.router} router ${o.router === 'hash' ? 'is fixed by the hash' : 'is balanced by construction'}; choose "none"`,
      );
    }
  }
  for (const kind of ['pkm', 'peer'] as const) {
    if (m.ffw !== kind) continue;
    const o = m[kind];
    const name = kind.toUpperCase();
    const n = exactSqrt(o.numExperts);
    if (!isInt(o.numExperts, 4) || n === null) {
      const f = Math.floor(Math.sqrt(Math.max(0, o.numExperts)));
      add(
        `${kind}.numExperts`,
        `${name}: N must be a perfect square (N = numKeys², one sub-key set per query half), got ${o.numExperts}; nearest: ${f * f} or ${(f + 1) * (f + 1)}`,
      );
    } else if (n > 1024) {
      add(`${kind}.numExperts`, `${name}: N = ${n}² is above the page's limit of 1024² experts`);
    } else if (!isInt(o.topK, 1) || o.topK > n) {
      add(
        `${kind}.topK`,
        `${name}: top-k (${o.topK}) must be from 1 to the number of sub-keys per half, √N = ${n}: each half keeps its top-k sub-keys`,
      );
    }
    if (!isInt(o.heads, 1, 32)) add(`${kind}.heads`, `${name}: heads must be an integer from 1 to 32, got ${o.heads}`);
    if (!isInt(o.dimKey, 2, 512) || o.dimKey % 2 !== 0)
      add(`${kind}.dimKey`, `${name}: the query size must be even (it splits into two halves), from 2 to 512, got ${o.dimKey}`);
  }
  if (p.length === 0) {
    const bytes = estimateBytes(m, ESTIMATE_VOCAB);
    if (bytes > MAX_BYTES)
      add(
        `${m.ffw}.numExperts`,
        `this model needs about ${(bytes / 2 ** 30).toFixed(1)} GiB for weights, gradients and Adam state; the page allows ${(MAX_BYTES / 2 ** 30).toFixed(1)} GiB${whatFits(m, ESTIMATE_VOCAB)}`,
      );
  }
  if (corpusLength !== null) {
    const need = Math.ceil((m.contextLength + 1) / 0.1) + 1;
    if (corpusLength < need) {
      add(
        'corpus',
        `the corpus has ${corpusLength} characters; with context ${m.contextLength} it needs at least ${need} (10% of it is held out for validation, and each window is context + 1 characters)`,
      );
    }
  }
  return p;
}
