// The training command's options: defaults, checks and --help. Values follow parse.ts: integers in
// decimal digits only (no 0x10, no 1e3), other numbers decimal with an optional exponent (3e-3).
import { dirname } from 'node:path';
import {
  FFW_KINDS,
  LAYER_FIELDS,
  MOE_BALANCES,
  MOE_DISPATCHES,
  MOE_ROUTERS,
  QUERY_NORMS,
  SCORE_FNS,
  resolveModelConfig,
  type FfwKind,
  type ModelConfig,
  type ResolvedModelConfig,
} from './models.js';
import { choiceOption, intOption, numberOption, parseOptions, UsageError, type OptionSpec } from './parse.js';
import { EXTEND_MODES, type ExtendMode } from './plan.js';

export { UsageError } from './parse.js';
export type { FfwKind } from './models.js';

/** Middle-layer settings given on the command line (field names as in the checkpoint config). */
type LayerFlags = Partial<Record<string, number | string | null>>;

export interface CliOptions {
  ffw: FfwKind;
  steps: number;
  batchSize: number;
  contextLength: number;
  dim: number;
  depth: number;
  heads: number;
  /** Middle-layer sizes given as flags (--experts, --expert-top-k, ...); the rest are the defaults. */
  layer: LayerFlags;
  lr: number;
  seed: number;
  evalEvery: number;
  evalBatches: number;
  corpus: string | null;
  resume: string | null;
  extend: ExtendMode | null;
  out: string;
  backend: 'cpu' | 'gpu';
  /** gpu.js mode; checked against @myriad/gpu's GPU_MODES when the backend loads. */
  gpuMode: string;
  compare: boolean;
  sampleLength: number;
  /** Save a checkpoint every N steps (0: only at the end). */
  checkpointEvery: number;
  quiet: boolean;
  /** The options given explicitly (flag names without dashes); a resumed run takes the others from its checkpoint. */
  given: ReadonlySet<string>;
}

/** Middle-layer flags: flag → config field, and the layers it applies to. */
const LAYER_FLAGS: Readonly<Record<string, { field: string; kind: 'int' | 'number' | readonly string[]; min?: number }>> = {
  experts: { field: 'numExperts', kind: 'int' },
  'expert-top-k': { field: 'topK', kind: 'int' },
  'expert-heads': { field: 'heads', kind: 'int' },
  'key-dim': { field: 'dimKey', kind: 'int', min: 2 },
  'query-norm': { field: 'queryNorm', kind: QUERY_NORMS },
  'score-fn': { field: 'scoreFn', kind: SCORE_FNS },
  'expert-hidden': { field: 'hidden', kind: 'int' },
  'shared-experts': { field: 'numShared', kind: 'int', min: 0 },
  router: { field: 'router', kind: MOE_ROUTERS },
  balance: { field: 'balance', kind: MOE_BALANCES },
  'capacity-factor': { field: 'capacityFactor', kind: 'number' },
  dispatch: { field: 'dispatch', kind: MOE_DISPATCHES },
};

/** Model options: flag → top-level config field. */
const MODEL_FLAGS: Readonly<Record<string, keyof ModelConfig>> = {
  ffw: 'ffw',
  dim: 'dim',
  depth: 'depth',
  heads: 'heads',
  context: 'contextLength',
  seed: 'seed',
};

/** Names config fields by the flags that set them, for messages about command lines. */
function flagName(field: string, layer: FfwKind | null): string {
  if (layer === null) {
    if (field === 'vocabSize') return 'the vocabulary size';
    return `--${Object.keys(MODEL_FLAGS).find((f) => MODEL_FLAGS[f] === field) ?? field}`;
  }
  return `--${Object.keys(LAYER_FLAGS).find((f) => LAYER_FLAGS[f]!.field === field) ?? field}`;
}

function layersOf(flag: string): FfwKind[] {
  const field = LAYER_FLAGS[flag]!.field;
  return (['moe', 'pkm', 'peer'] as const).filter((k) => (LAYER_FIELDS[k] as readonly string[]).includes(field));
}

/**
 * The model config of these options: `base` (a resumed checkpoint's config) overridden by the model
 * flags that were given, else the defaults. A flag for another kind of layer, or a bad combination, is
 * a UsageError naming the flags.
 */
export function modelConfigFromOptions(o: CliOptions, vocabSize: number, base: ResolvedModelConfig | null = null): ResolvedModelConfig {
  const pick = <T>(flag: string, cli: T, saved: T | undefined): T =>
    base === null || o.given.has(flag) || saved === undefined ? cli : saved;
  const ffw = pick('ffw', o.ffw, base?.ffw);
  for (const flag of Object.keys(LAYER_FLAGS).filter((f) => LAYER_FLAGS[f]!.field in o.layer && o.given.has(f))) {
    const kinds = layersOf(flag);
    if (!kinds.includes(ffw)) throw new UsageError(`--${flag} applies to --ffw ${kinds.join(' or ')}; this run's --ffw is ${ffw}`);
  }
  const raw: ModelConfig = {
    ffw,
    vocabSize,
    dim: pick('dim', o.dim, base?.dim),
    depth: pick('depth', o.depth, base?.depth),
    heads: pick('heads', o.heads, base?.heads),
    contextLength: pick('context', o.contextLength, base?.contextLength),
    seed: pick('seed', o.seed, base?.seed),
  };
  if (ffw !== 'dense') {
    const saved = base?.ffw === ffw ? (base[ffw] as unknown as Record<string, unknown>) : {};
    (raw as unknown as Record<string, unknown>)[ffw] = { ...saved, ...o.layer };
  }
  try {
    return resolveModelConfig(raw, flagName);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** The model flags and their values in `config` that differ from `base`, as "--dim 16" (config order). */
export function describeModelDiff(a: ResolvedModelConfig, b: ResolvedModelConfig): { a: string[]; b: string[] } {
  const out = { a: [] as string[], b: [] as string[] };
  const show = (v: unknown) => (v === null ? 'none' : String(v));
  for (const [flag, field] of Object.entries(MODEL_FLAGS)) {
    if (a[field] !== b[field]) {
      out.a.push(`${flag === 'ffw' ? '--ffw' : `--${flag}`} ${show(a[field])}`);
      out.b.push(`--${flag} ${show(b[field])}`);
    }
  }
  if (a.vocabSize !== b.vocabSize) {
    out.a.push(`a vocabulary of ${a.vocabSize} characters`);
    out.b.push(`a corpus of ${b.vocabSize} distinct characters`);
  }
  if (a.ffw === b.ffw && a.ffw !== 'dense') {
    const la = a[a.ffw as 'moe'] as unknown as Record<string, unknown>;
    const lb = b[b.ffw as 'moe'] as unknown as Record<string, unknown>;
    for (const field of LAYER_FIELDS[a.ffw] as readonly string[]) {
      if (la[field] !== lb[field]) {
        out.a.push(`${flagName(field, a.ffw)} ${show(la[field])}`);
        out.b.push(`${flagName(field, a.ffw)} ${show(lb[field])}`);
      }
    }
  }
  return out;
}

export const HELP = `train-lm: train a small character-level TransformerLM on a text corpus and watch its experts.

Usage: npm run demo -- [options]                 train (the default command)
       npm run demo -- sample --checkpoint FILE --prompt TEXT [--tokens N] ...   (sample --help)
       node --conditions=source --import tsx examples/train-lm/src/main.ts [options]

Numbers: integers are decimal digits (64, not 0x40 or 6.4e1); other numbers are decimal, with an
optional exponent (3e-3). Every bad value exits 2 with one line.

Model
  --ffw dense|moe|pkm|peer   feed-forward layer of the middle block (default peer)
  --dim N                    model width (default 64)
  --depth N                  number of transformer blocks (default 3)
  --heads N                  attention heads (default 4)
  --context N                context length in characters (default 64)
Middle layer (defaults: the matched-compute sizes of src/models.ts; each flag refuses the other --ffw)
  --experts N                moe: experts (default 8); pkm: memory rows, peer: experts, a perfect
                             square (default 4096 = 64²)
  --expert-top-k K           moe: experts per token (default 2); pkm: rows per head (default 32);
                             peer: experts per head (default 8)
  --expert-heads H           pkm/peer: retrieval heads (default pkm 4, peer 8)
  --key-dim D                pkm/peer: query and key size per head, even (default 32)
  --query-norm batch|layer|none    pkm/peer: query normalisation (default batch)
  --score-fn softmax|sigmoid       peer: gate function (default softmax)
  --expert-hidden N          moe: hidden size of each expert (default dim/2)
  --shared-experts N         moe: experts every token goes through (default 0)
  --router topk|expert-choice|hash moe: routing (default topk)
  --balance loss|bias|none   moe: load balancing (default loss for topk, none for the others)
  --capacity-factor X        moe: capacity per expert ⌈X·tokens·k/experts⌉, overflow dropped (default: none)
  --dispatch auto|grouped|slots    moe topk: host grouping or device slots (default auto: grouped on the CPU)
Training
  --steps N                  optimizer steps (default 200)
  --batch N                  sequences per step (default 16)
  --lr X                     peak learning rate, warmup then cosine decay to X/10 (default 3e-3)
  --seed N                   seed for initialisation, data order and sampling (default 1)
  --eval-every N             validate every N steps (default 50)
  --eval-batches N           batches per validation (default 4)
Data and files
  --corpus PATH              a text file or a directory of text files (default: Moby-Dick, bundled)
  --out DIR                  where the checkpoint, JSONL log and SVG plots go (default runs/<ffw>;
                             with --resume, the checkpoint's directory)
  --checkpoint-every N       also save the checkpoint every N steps (default 0: only at the end); a save
                             that would write NaN/Inf weights is refused, so the last good one stays
  --resume FILE              continue a run from its checkpoint: model, plan (steps, lr schedule, batch,
                             evaluation, corpus) and data position come from the file; the same total
                             reproduces the uninterrupted run exactly; a finished run is evaluated and sampled
  --extend keep-schedule|replan    with --resume and a different --steps: keep the planned lr schedule
                             (past its end the lr stays at its floor), or re-plan it for the new total
Other
  --backend cpu|gpu          compute backend (gpu needs @myriad/gpu; default cpu)
  --gpu-mode MODE            gpu.js mode, implies --backend gpu (default webasm: works without a GPU)
  --compare                  train dense, MoE, PKM and PEER at matched active parameters; table and plot
  --sample N                 characters to generate at the end (default 200; 0: no sample)
  --quiet                    no progress bar
  --help                     this text
`;

const OPTIONS: OptionSpec = {
  ffw: { type: 'string' },
  dim: { type: 'string' },
  depth: { type: 'string' },
  heads: { type: 'string' },
  context: { type: 'string' },
  steps: { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  seed: { type: 'string' },
  'eval-every': { type: 'string' },
  'eval-batches': { type: 'string' },
  corpus: { type: 'string' },
  out: { type: 'string' },
  'checkpoint-every': { type: 'string' },
  resume: { type: 'string' },
  extend: { type: 'string' },
  backend: { type: 'string' },
  'gpu-mode': { type: 'string' },
  compare: { type: 'boolean' },
  sample: { type: 'string' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...Object.fromEntries(Object.keys(LAYER_FLAGS).map((f) => [f, { type: 'string' as const }])),
};

function layerFlag(flag: string, value: string): number | string {
  const spec = LAYER_FLAGS[flag]!;
  if (spec.kind === 'int') return intOption(flag, value, 0, spec.min ?? 1);
  if (spec.kind === 'number') return numberOption(flag, value, 0);
  return choiceOption(flag, value, spec.kind as readonly string[], '');
}

/** Parses the training command's argv (without node and script). Returns null when --help was asked for. */
export function parseCli(argv: readonly string[]): CliOptions | null {
  const { values: v, positionals } = parseOptions(argv, OPTIONS);
  if (v.help) return null;
  if (positionals.length)
    throw new UsageError(`unknown command '${positionals[0]}'; the commands are train (the default: no command) and sample`);
  const str = (k: string) => v[k] as string | undefined;
  const given = new Set(Object.keys(v).filter((k) => v[k] !== undefined));
  const ffw = choiceOption('ffw', str('ffw'), FFW_KINDS, 'peer');
  const backendGiven = str('backend');
  const backend = choiceOption('backend', backendGiven ?? (str('gpu-mode') !== undefined ? 'gpu' : 'cpu'), ['cpu', 'gpu'] as const, 'cpu');
  if (str('gpu-mode') !== undefined && backend === 'cpu') throw new UsageError('--gpu-mode applies to --backend gpu; drop one of them');
  const resume = str('resume') ?? null;
  const compare = (v.compare as boolean | undefined) ?? false;
  if (compare && resume) throw new UsageError('--compare trains four fresh models; it cannot be combined with --resume');
  const extend = str('extend') === undefined ? null : choiceOption('extend', str('extend'), EXTEND_MODES, 'keep-schedule');
  if (extend && !resume) throw new UsageError('--extend changes the plan of a resumed run; use it with --resume');
  const layer: LayerFlags = {};
  for (const flag of Object.keys(LAYER_FLAGS)) {
    const value = str(flag);
    if (value === undefined) continue;
    if (compare)
      throw new UsageError(`--compare trains every layer at the matched sizes of src/models.ts; it cannot be combined with --${flag}`);
    layer[LAYER_FLAGS[flag]!.field] = layerFlag(flag, value);
  }
  const options: CliOptions = {
    ffw,
    dim: intOption('dim', str('dim'), 64),
    heads: intOption('heads', str('heads'), 4),
    depth: intOption('depth', str('depth'), 3),
    contextLength: intOption('context', str('context'), 64, 2),
    layer,
    steps: intOption('steps', str('steps'), 200),
    batchSize: intOption('batch', str('batch'), 16),
    lr: numberOption('lr', str('lr'), 3e-3),
    seed: intOption('seed', str('seed'), 1, 0),
    evalEvery: intOption('eval-every', str('eval-every'), 50),
    evalBatches: intOption('eval-batches', str('eval-batches'), 4),
    corpus: str('corpus') ?? null,
    resume,
    extend,
    out: str('out') ?? (resume ? dirname(resume) : `runs/${compare ? 'compare' : ffw}`),
    backend,
    gpuMode: str('gpu-mode') ?? 'webasm',
    compare,
    sampleLength: intOption('sample', str('sample'), 200, 0),
    checkpointEvery: intOption('checkpoint-every', str('checkpoint-every'), 0, 0),
    quiet: (v.quiet as boolean | undefined) ?? false,
    given,
  };
  // A fresh run's model is checked now (a resumed one once its checkpoint is read).
  if (!resume) modelConfigFromOptions(options, 1);
  return options;
}
