import {
  FeedForward,
  MoE,
  PEER,
  PKM,
  TransformerLM,
  type FeedForwardLayer,
  type MoEBalance,
  type MoEDispatch,
  type MoERouter,
} from '@myriad/nn';

/** Which feed-forward layer the middle block uses (the others stay dense). */
export type FfwKind = 'dense' | 'moe' | 'pkm' | 'peer';
export const FFW_KINDS: readonly FfwKind[] = ['dense', 'moe', 'pkm', 'peer'];
export const MOE_ROUTERS: readonly MoERouter[] = ['topk', 'expert-choice', 'hash'];
export const MOE_BALANCES: readonly MoEBalance[] = ['loss', 'bias', 'none'];
export const MOE_DISPATCHES: readonly MoEDispatch[] = ['auto', 'grouped', 'slots'];
type QueryNormKind = 'batch' | 'layer' | 'none';
export const QUERY_NORMS: readonly QueryNormKind[] = ['batch', 'layer', 'none'];
type ScoreFnKind = 'softmax' | 'sigmoid';
export const SCORE_FNS: readonly ScoreFnKind[] = ['softmax', 'sigmoid'];

/** The MoE middle layer (`config.moe`). capacityFactor null = no capacity limit (JSON has no Infinity). */
interface MoELayerConfig {
  numExperts: number;
  topK: number;
  hidden: number;
  router: MoERouter;
  balance: MoEBalance;
  capacityFactor: number | null;
  numShared: number;
  dispatch: MoEDispatch;
}

/** The PKM middle layer (`config.pkm`): numExperts = numKeys² memory rows. */
interface PKMLayerConfig {
  numExperts: number;
  heads: number;
  topK: number;
  dimKey: number;
  queryNorm: QueryNormKind;
}

/** The PEER middle layer (`config.peer`): numExperts = numKeys² singleton experts. */
interface PEERLayerConfig {
  numExperts: number;
  heads: number;
  topK: number;
  dimKey: number;
  queryNorm: QueryNormKind;
  scoreFn: ScoreFnKind;
}

interface LayerConfigs {
  moe: MoELayerConfig;
  pkm: PKMLayerConfig;
  peer: PEERLayerConfig;
}

/**
 * Everything needed to rebuild a model; saved as the checkpoint's config. The layer block named by
 * `ffw` (`moe`, `pkm` or `peer`) sizes the middle layer; a config without it (checkpoints written
 * before the CLI could size the layer, or the routing lab's) means today's defaults, `layerDefaults`.
 */
export interface ModelConfig {
  ffw: FfwKind;
  vocabSize: number;
  dim: number;
  depth: number;
  heads: number;
  contextLength: number;
  seed: number;
  moe?: Partial<MoELayerConfig>;
  pkm?: Partial<PKMLayerConfig>;
  peer?: Partial<PEERLayerConfig>;
}

/** A config with its layer block complete (and only that block). */
export type ResolvedModelConfig = Omit<ModelConfig, 'moe' | 'pkm' | 'peer'> & {
  moe?: MoELayerConfig;
  pkm?: PKMLayerConfig;
  peer?: PEERLayerConfig;
};

/**
 * The middle layer's default sizes, the PEER paper's matched-compute comparison scaled down: every
 * variant reads the same number of parameters per token, 2·dim² (a dense FeedForward of hidden size
 * dim). MoE: 8 experts of hidden dim/2, top-2. PEER: 8 heads × top-8 singleton experts (a down and an
 * up vector each) out of 64² = 4096. PKM: 4 heads × top-32 value rows out of 64² (a memory read has no
 * hidden layer, so it reads 2·dim rows of size dim).
 */
export function layerDefaults(dim: number, router: MoERouter = 'topk'): LayerConfigs {
  return {
    moe: {
      numExperts: 8,
      topK: 2,
      hidden: Math.max(1, Math.floor(dim / 2)),
      router,
      balance: router === 'topk' ? 'loss' : 'none',
      capacityFactor: null,
      numShared: 0,
      dispatch: 'auto',
    },
    pkm: { numExperts: 64 * 64, heads: 4, topK: 32, dimKey: 32, queryNorm: 'batch' },
    peer: { numExperts: 64 * 64, heads: 8, topK: 8, dimKey: 32, queryNorm: 'batch', scoreFn: 'softmax' },
  };
}

/** Fields of each layer block, in the order the config records them. */
export const LAYER_FIELDS: { readonly [K in keyof LayerConfigs]: readonly (keyof LayerConfigs[K])[] } = {
  moe: ['numExperts', 'topK', 'hidden', 'router', 'balance', 'capacityFactor', 'numShared', 'dispatch'],
  pkm: ['numExperts', 'heads', 'topK', 'dimKey', 'queryNorm'],
  peer: ['numExperts', 'heads', 'topK', 'dimKey', 'queryNorm', 'scoreFn'],
};

/** How a field is named in messages: a CLI flag, or a checkpoint's config path. */
type FieldNamer = (field: string, layer: FfwKind | null) => string;
const configPath: FieldNamer = (field, layer) => (layer ? `config.${layer}.${field}` : `config.${field}`);

const isInt = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= min;

/**
 * Checks a model config (a checkpoint's, or one built from CLI options) and fills the layer block's
 * missing fields with `layerDefaults`; throws an Error naming the field (through `name`) and the value.
 */
export function resolveModelConfig(raw: unknown, name: FieldNamer = configPath): ResolvedModelConfig {
  if (typeof raw !== 'object' || raw === null) throw new Error(`the model config must be an object, got ${JSON.stringify(raw)}`);
  const c = raw as Record<string, unknown>;
  const bad = (field: string, layer: FfwKind | null, value: unknown, want: string) =>
    new Error(`${name(field, layer)} must be ${want}, got ${JSON.stringify(value) ?? 'nothing'}`);
  if (!FFW_KINDS.includes(c.ffw as FfwKind)) throw bad('ffw', null, c.ffw, `one of ${FFW_KINDS.join(', ')}`);
  for (const [f, min] of [
    ['vocabSize', 1],
    ['dim', 1],
    ['depth', 1],
    ['heads', 1],
    ['contextLength', 2],
    ['seed', 0],
  ] as const) {
    if (!isInt(c[f], min)) throw bad(f, null, c[f], `an integer >= ${min}`);
  }
  const ffw = c.ffw as FfwKind;
  const base = {
    ffw,
    vocabSize: c.vocabSize as number,
    dim: c.dim as number,
    depth: c.depth as number,
    heads: c.heads as number,
    contextLength: c.contextLength as number,
    seed: c.seed as number,
  };
  if (base.dim % base.heads !== 0)
    throw new Error(`${name('dim', null)} ${base.dim} must be divisible by ${name('heads', null)} ${base.heads}`);
  if (ffw === 'dense') return base;
  const given = (c[ffw] ?? {}) as Record<string, unknown>;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) throw bad(ffw, null, c[ffw], 'an object of layer sizes');
  const unknown = Object.keys(given).filter((k) => !(LAYER_FIELDS[ffw] as readonly string[]).includes(k));
  if (unknown.length)
    throw new Error(`${name(unknown[0]!, ffw)} is not a setting of the ${ffw} layer (it has ${LAYER_FIELDS[ffw].join(', ')})`);
  const router = (given.router ?? 'topk') as MoERouter;
  const layer = { ...layerDefaults(base.dim, MOE_ROUTERS.includes(router) ? router : 'topk')[ffw], ...given } as Record<string, unknown>;
  const n = (f: string) => name(f, ffw);
  const needInt = (f: string, min: number) => {
    if (!isInt(layer[f], min)) throw bad(f, ffw, layer[f], `an integer >= ${min}`);
    return layer[f] as number;
  };
  const needChoice = (f: string, choices: readonly string[]) => {
    if (!choices.includes(layer[f] as string)) throw bad(f, ffw, layer[f], `one of ${choices.join(', ')}`);
  };
  const numExperts = needInt('numExperts', 1);
  const topK = needInt('topK', 1);
  if (ffw === 'moe') {
    needInt('hidden', 1);
    needInt('numShared', 0);
    needChoice('router', MOE_ROUTERS);
    needChoice('balance', MOE_BALANCES);
    needChoice('dispatch', MOE_DISPATCHES);
    const cf = layer.capacityFactor;
    if (cf !== null && !(typeof cf === 'number' && Number.isFinite(cf) && cf > 0))
      throw bad('capacityFactor', ffw, cf, 'a positive number (or null: no capacity limit)');
    if (topK > numExperts) throw new Error(`${n('topK')} ${topK} must be at most ${n('numExperts')} ${numExperts}`);
    if (router !== 'topk' && layer.balance !== 'none') {
      throw new Error(
        `${n('balance')} '${String(layer.balance)}' needs ${n('router')} topk (router '${router}' is ${router === 'hash' ? 'fixed by the hash' : 'balanced by construction'}); use none`,
      );
    }
    if (router !== 'topk' && layer.dispatch !== 'auto')
      throw new Error(`${n('dispatch')} applies to ${n('router')} topk only, got router '${router}'`);
  } else {
    const numKeys = Math.round(Math.sqrt(numExperts));
    if (numKeys * numKeys !== numExperts) {
      const below = Math.floor(Math.sqrt(numExperts));
      throw new Error(
        `${n('numExperts')} must be a perfect square (product keys address numKeys² experts), got ${numExperts}; e.g. ${below > 0 ? `${below ** 2} or ` : ''}${(below + 1) ** 2}`,
      );
    }
    if (topK > numKeys)
      throw new Error(`${n('topK')} ${topK} must be at most √${n('numExperts')} = ${numKeys} (the top-k of each key half)`);
    needInt('heads', 1);
    const dimKey = needInt('dimKey', 2);
    if (dimKey % 2 !== 0) throw new Error(`${n('dimKey')} must be even (the query splits into two halves), got ${dimKey}`);
    needChoice('queryNorm', QUERY_NORMS);
    if (ffw === 'peer') needChoice('scoreFn', SCORE_FNS);
  }
  const ordered = Object.fromEntries((LAYER_FIELDS[ffw] as readonly string[]).map((f) => [f, layer[f]]));
  return { ...base, [ffw]: ordered } as ResolvedModelConfig;
}

/** A feed-forward layer and the parameters it reads per token. */
interface SparseLayer {
  layer: FeedForwardLayer;
  /** Parameters one token uses: everything but the unselected experts / memory rows. */
  activePerToken: number;
}

/** The middle block's feed-forward layer of a resolved config (see `layerDefaults` for the default sizes). */
function sparseLayer(config: ResolvedModelConfig, seed: number): SparseLayer {
  const { dim } = config;
  switch (config.ffw) {
    case 'dense': {
      const layer = new FeedForward({ dim, hidden: dim, seed });
      return { layer, activePerToken: layer.numParameters() };
    }
    case 'moe': {
      const o = config.moe!;
      const capacityFactor = o.capacityFactor ?? Infinity;
      const layer = new MoE({
        dim,
        hidden: o.hidden,
        numExperts: o.numExperts,
        topK: o.topK,
        router: o.router,
        balance: o.balance,
        capacityFactor,
        numShared: o.numShared,
        dispatch: o.dispatch,
        seed,
      });
      const perExpert = layer.experts[0]!.numParameters();
      // Expert-choice: each token is taken by capacityFactor experts on average.
      const k =
        o.router === 'expert-choice'
          ? Math.min(o.numExperts, Math.max(1, Math.round(capacityFactor === Infinity ? o.numExperts : capacityFactor)))
          : o.topK;
      return { layer, activePerToken: layer.numParameters() - (o.numExperts - k) * perExpert };
    }
    case 'pkm': {
      const o = config.pkm!;
      const layer = new PKM({
        dim,
        heads: o.heads,
        numKeys: Math.round(Math.sqrt(o.numExperts)),
        topK: o.topK,
        dimKey: o.dimKey,
        queryNorm: o.queryNorm,
        seed,
      });
      return { layer, activePerToken: layer.numParameters() - layer.values.weight.size + o.heads * o.topK * dim };
    }
    case 'peer': {
      const o = config.peer!;
      const layer = new PEER({
        dim,
        heads: o.heads,
        numExperts: o.numExperts,
        topK: o.topK,
        dimKey: o.dimKey,
        queryNorm: o.queryNorm,
        scoreFn: o.scoreFn,
        seed,
      });
      const tables = layer.down.weight.size + layer.up.weight.size;
      return { layer, activePerToken: layer.numParameters() - tables + o.heads * o.topK * 2 * dim };
    }
  }
}

/**
 * A TransformerLM whose middle block uses the chosen feed-forward layer (the others stay dense).
 * Takes any config `resolveModelConfig` accepts (older ones without a layer block get today's defaults)
 * and returns the resolved one, which is what a checkpoint should record.
 */
export function buildModel(config: ModelConfig): { model: TransformerLM; activeParameters: number; config: ResolvedModelConfig } {
  const resolved = resolveModelConfig(config);
  const middle = Math.floor(resolved.depth / 2);
  let sparseActive = 0;
  let sparseTotal = 0;
  const model = new TransformerLM({
    vocabSize: resolved.vocabSize,
    dim: resolved.dim,
    depth: resolved.depth,
    heads: resolved.heads,
    contextLength: resolved.contextLength,
    seed: resolved.seed,
    ffw: (layer) => {
      if (layer !== middle) return new FeedForward({ dim: resolved.dim, hidden: 4 * resolved.dim, seed: resolved.seed + 1000 + layer });
      const s = sparseLayer(resolved, resolved.seed + 2000);
      sparseActive = s.activePerToken;
      sparseTotal = s.layer.numParameters();
      return s.layer;
    },
  });
  return { model, activeParameters: model.numParameters() - sparseTotal + sparseActive, config: resolved };
}
