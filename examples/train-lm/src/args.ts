import { parseArgs } from 'node:util';

/** Which feed-forward layer the middle block uses (the others stay dense). */
export type FfwKind = 'dense' | 'moe' | 'pkm' | 'peer';

export interface CliOptions {
  ffw: FfwKind;
  steps: number;
  batchSize: number;
  contextLength: number;
  dim: number;
  depth: number;
  heads: number;
  lr: number;
  seed: number;
  evalEvery: number;
  evalBatches: number;
  corpus: string | null;
  resume: string | null;
  out: string;
  backend: 'cpu' | 'gpu';
  gpuMode: GpuModeName;
  compare: boolean;
  sampleLength: number;
  quiet: boolean;
}

/** gpu.js modes accepted by --gpu-mode (see @myriad/gpu). */
export const GPU_MODES = ['gpu', 'webgl2', 'webgl', 'headlessgl', 'webgpu', 'webasm', 'cpu'] as const;
export type GpuModeName = (typeof GPU_MODES)[number];

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const HELP = `train-lm: train a small character-level TransformerLM on a text corpus and watch its experts.

Usage: npm run demo -- [options]
       node --conditions=source --import tsx examples/train-lm/src/main.ts [options]

Model
  --ffw dense|moe|pkm|peer   feed-forward layer of the middle block (default peer)
  --dim N                    model width (default 64)
  --depth N                  number of transformer blocks (default 3)
  --heads N                  attention heads (default 4)
  --context N                context length in characters (default 64)
Training
  --steps N                  optimizer steps (default 200)
  --batch N                  sequences per step (default 16)
  --lr X                     peak learning rate, warmup then cosine decay (default 3e-3)
  --seed N                   seed for initialisation, data order and sampling (default 1)
  --eval-every N             validate every N steps (default 50)
  --eval-batches N           batches per validation (default 4)
Data and files
  --corpus PATH              a text file or a directory of text files (default: Moby-Dick, bundled)
  --out DIR                  where the checkpoint, JSONL log and SVG plots go (default runs/<ffw>)
  --resume FILE              continue a run from its checkpoint (same model options required)
Other
  --backend cpu|gpu          compute backend (gpu needs @myriad/gpu; default cpu)
  --gpu-mode MODE            gpu.js mode for --backend gpu (default webasm: works without a GPU)
  --compare                  train dense, MoE, PKM and PEER with matched active parameters; write a table and plot
  --sample N                 characters to generate at the end (default 200)
  --quiet                    no progress bar
  --help                     this text
`;

function int(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${value}'`);
  return n;
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number, got '${value}'`);
  return n;
}

/** Parses argv (without node and script). Returns null when --help was asked for. */
export function parseCli(argv: readonly string[]): CliOptions | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
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
        resume: { type: 'string' },
        backend: { type: 'string' },
        'gpu-mode': { type: 'string' },
        compare: { type: 'boolean' },
        sample: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify.*$/s, ''));
  }
  const v = parsed.values;
  if (v.help) return null;
  const ffw = (v.ffw ?? 'peer') as FfwKind;
  if (!['dense', 'moe', 'pkm', 'peer'].includes(ffw)) throw new UsageError(`--ffw must be one of dense, moe, pkm, peer; got '${v.ffw}'`);
  const backend = v.backend ?? 'cpu';
  if (backend !== 'cpu' && backend !== 'gpu') throw new UsageError(`--backend must be cpu or gpu, got '${backend}'`);
  const dim = int('dim', v.dim, 64);
  const heads = int('heads', v.heads, 4);
  if (dim % heads !== 0) throw new UsageError(`--dim ${dim} must be divisible by --heads ${heads}`);
  const gpuMode = (v['gpu-mode'] ?? 'webasm') as GpuModeName;
  if (!GPU_MODES.includes(gpuMode)) throw new UsageError(`--gpu-mode must be one of ${GPU_MODES.join(', ')}; got '${gpuMode}'`);
  if (v.compare && v.resume) throw new UsageError('--compare trains four fresh models; it cannot be combined with --resume');
  return {
    ffw,
    dim,
    heads,
    depth: int('depth', v.depth, 3),
    contextLength: int('context', v.context, 64, 2),
    steps: int('steps', v.steps, 200),
    batchSize: int('batch', v.batch, 16),
    lr: positive('lr', v.lr, 3e-3),
    seed: int('seed', v.seed, 1, 0),
    evalEvery: int('eval-every', v['eval-every'], 50),
    evalBatches: int('eval-batches', v['eval-batches'], 4),
    corpus: v.corpus ?? null,
    resume: v.resume ?? null,
    out: v.out ?? `runs/${v.compare ? 'compare' : ffw}`,
    backend,
    gpuMode,
    compare: v.compare ?? false,
    sampleLength: int('sample', v.sample, 300, 0),
    quiet: v.quiet ?? false,
  };
}
