// Mixture of experts: a router sends each token to a few FeedForward experts and mixes their outputs.
//   'topk'          Shazeer et al. 2017 / Mixtral: p = softmax(x·Wᵀ), experts = top-k of p,
//                   gates = p on them (renormalised over the k when normalizeTopK).
//                   Switch (Fedus et al. 2021) = topK 1, normalizeTopK false, finite capacityFactor.
//   'expert-choice' Zhou et al. 2022: each expert takes its top-c tokens by p, c = ⌈tokens·cf/E⌉.
//   'hash'          Roller et al. 2021: experts = fixed seeded hash of the token id, gates 1/k.
// y = Σ gate·expertₑ(x) + Σ sharedᵢ(x)  (shared experts as DeepSeekMoE).
import {
  ShapeError,
  add,
  cpuBackend,
  sign,
  sub,
  div,
  full,
  gather,
  logsumexp,
  matmul,
  mean,
  mul,
  noGrad,
  reshape,
  softmax,
  square,
  sum,
  tensor,
  topk,
  transpose,
  shapeSize,
  type RoutingDecision,
  type RoutingSource,
  type Tensor,
} from '@myriad/core';
import { Module, buffer, type InitOptions } from '../module.js';
import { constantInit, initDType, initRng, requireLastDim, requirePositiveInt } from '../init.js';
import { FeedForward, type Activation } from '../layers/feed-forward.js';
import { Linear } from '../layers/linear.js';
import { combineExperts, type Assignments } from './dispatch.js';
import { applyCapacity, expertCapacity, hashExperts, updateBalanceBias } from './routers.js';
import { slotDispatch } from './slot-dispatch.js';
import { routingDecision } from './routing-decision.js';

export type MoERouter = 'topk' | 'expert-choice' | 'hash';
export type MoEBalance = 'loss' | 'bias' | 'none';

export interface MoEOptions extends InitOptions {
  dim: number;
  /** Hidden size of each expert (and each shared expert). */
  hidden: number;
  numExperts: number;
  /** Experts per token for 'topk' and 'hash' (default 2). */
  topK?: number;
  /** Default 'topk'. */
  router?: MoERouter;
  /** Experts every token goes through (default 0). */
  numShared?: number;
  /** Capacity per expert = ⌈capacityFactor·tokens·topK/numExperts⌉ (default Infinity: no dropping). */
  capacityFactor?: number;
  /** Renormalise the k gates to sum to 1 (default true, as Mixtral; Switch uses false). */
  normalizeTopK?: boolean;
  /** 'loss' (auxLoss(), default), 'bias' (auxiliary-loss-free, DeepSeek-V3) or 'none'. */
  balance?: MoEBalance;
  /** Weight of the load-balancing loss (default 0.01). */
  balanceLossCoef?: number;
  /** Weight of the router z-loss (default 0.001). */
  zLossCoef?: number;
  /** Step of the balancing bias per training forward pass (default 0.001). */
  biasUpdateRate?: number;
  /** Expert activation (default 'gelu'). */
  activation?: Activation;
  /** Seed of the 'hash' router's hash (default 0). */
  hashSeed?: number;
  /**
   * How the 'topk' router sends tokens to experts: 'grouped' reads the choices on the host and runs
   * each expert on its own tokens; 'slots' keeps everything on the device (capacity slots, see
   * slot-dispatch.ts); 'auto' (default) groups on the CPU backend and uses slots on any other.
   */
  dispatch?: MoEDispatch;
}

export type MoEDispatch = 'auto' | 'grouped' | 'slots';

/** Extra inputs of `MoE.forward`. */
export interface MoEForwardOptions {
  /** int32 token ids shaped like x without its last dim; required by the 'hash' router. */
  tokenIds?: Tensor;
}

const ROUTERS: readonly MoERouter[] = ['topk', 'expert-choice', 'hash'];
const BALANCES: readonly MoEBalance[] = ['loss', 'bias', 'none'];
const DISPATCHES: readonly MoEDispatch[] = ['auto', 'grouped', 'slots'];

/** MoE's options resolved once: defaults filled in, values checked. */
export interface MoEConfig {
  dim: number;
  hidden: number;
  numExperts: number;
  topK: number;
  router: MoERouter;
  numShared: number;
  capacityFactor: number;
  normalizeTopK: boolean;
  balance: MoEBalance;
  balanceLossCoef: number;
  zLossCoef: number;
  biasUpdateRate: number;
  activation: Activation;
  hashSeed: number;
  dispatch: MoEDispatch;
}

/** The defaults of `MoEOptions` applied and every value checked (a RangeError names the bad one). */
export function resolveMoEOptions(options: MoEOptions): Readonly<MoEConfig> {
  const { dim, hidden, numExperts, topK = 2, router = 'topk', numShared = 0, capacityFactor = Infinity } = options;
  // `??` rather than destructuring defaults: a null from a JSON config also means "the default".
  const balance = options.balance ?? (router === 'topk' ? 'loss' : 'none');
  const balanceLossCoef = options.balanceLossCoef ?? 0.01;
  const zLossCoef = options.zLossCoef ?? 0.001;
  const biasUpdateRate = options.biasUpdateRate ?? 0.001;
  const normalizeTopK = options.normalizeTopK ?? true;
  const activation = options.activation ?? 'gelu';
  const hashSeed = options.hashSeed ?? 0;
  const dispatch = options.dispatch ?? 'auto';
  requirePositiveInt('MoE', 'dim', dim);
  requirePositiveInt('MoE', 'hidden', hidden);
  requirePositiveInt('MoE', 'numExperts', numExperts);
  if (!ROUTERS.includes(router)) throw new RangeError(`MoE: unknown router '${String(router)}'; expected one of ${ROUTERS.join(', ')}`);
  if (!BALANCES.includes(balance))
    throw new RangeError(`MoE: unknown balance '${String(balance)}'; expected one of ${BALANCES.join(', ')}`);
  if (!Number.isInteger(topK) || topK < 1 || topK > numExperts) {
    throw new RangeError(`MoE: topK must be an integer in [1, numExperts=${numExperts}], got ${topK}`);
  }
  if (!Number.isInteger(numShared) || numShared < 0)
    throw new RangeError(`MoE: numShared must be a non-negative integer, got ${numShared}`);
  if (!(capacityFactor > 0))
    throw new RangeError(`MoE: capacityFactor must be > 0 (Infinity for no capacity limit), got ${capacityFactor}`);
  if (balance !== 'none' && router !== 'topk') {
    throw new RangeError(
      `MoE: balance '${balance}' needs router 'topk' (router '${router}' is ${router === 'hash' ? 'fixed by the hash' : 'balanced by construction'}); use balance 'none'`,
    );
  }
  for (const [name, v] of [
    ['balanceLossCoef', balanceLossCoef],
    ['zLossCoef', zLossCoef],
    ['biasUpdateRate', biasUpdateRate],
  ] as const) {
    if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`MoE: ${name} must be a finite number >= 0, got ${v}`);
  }
  if (!DISPATCHES.includes(dispatch)) throw new RangeError(`MoE: unknown dispatch '${String(dispatch)}'; expected auto, grouped or slots`);
  return Object.freeze({
    dim,
    hidden,
    numExperts,
    topK,
    router,
    numShared,
    capacityFactor,
    normalizeTopK,
    balance,
    balanceLossCoef,
    zLossCoef,
    biasUpdateRate,
    activation,
    hashSeed,
    dispatch,
  });
}

/** Mixture-of-experts feed-forward layer: x [..., dim] → [..., dim]. */
export class MoE extends Module implements RoutingSource {
  /** Router logits x·Wᵀ: `router.weight` [numExperts, dim]; null for the 'hash' router. */
  router: Linear | null;
  /** `experts.{i}`: FeedForward dim → hidden → dim. */
  experts: FeedForward[];
  /** `shared.{i}`: FeedForward experts applied to every token. */
  shared: FeedForward[];
  /** balance 'bias': buffer [numExperts] added to the router probabilities for selection only. */
  expertBias: Tensor | null;
  /** The last routing decision, [tokens, 1, k] ([tokens, 1, numExperts] for expert-choice); −1 = empty slot. */
  lastRouting: RoutingDecision | null = null;
  /** The resolved options. */
  readonly config: Readonly<MoEConfig>;
  // The last forward's dropped fraction and load: numbers on the host path, tensors on the device path
  // (read only when someone asks, below).
  private dropped: number | Tensor | null = null;
  private load: Float64Array | Tensor | null = null;

  private lastAuxLoss: Tensor | null = null;

  /** Fraction of assignments dropped by capacity in the last forward (expert-choice: tokens no expert took); reads the device on the slot path. */
  get droppedFraction(): number | null {
    return this.dropped === null || typeof this.dropped === 'number' ? this.dropped : this.dropped.item();
  }

  /** Assignments per expert in the last forward, before capacity (what the balancing acts on); reads the device on the slot path. */
  get lastLoad(): Float64Array | null {
    return this.load === null || this.load instanceof Float64Array ? this.load : Float64Array.from(this.load.toTypedArray());
  }

  /** Builds the router, `numExperts` experts and `numShared` shared experts from one seeded generator. */
  constructor(options: MoEOptions) {
    super();
    const config = resolveMoEOptions(options);
    const { dim, hidden, numExperts, activation } = config;
    this.config = config;
    const rng = initRng(options);
    const dtype = initDType(options);
    this.router = config.router === 'hash' ? null : new Linear(dim, numExperts, { bias: false, rng, dtype });
    this.experts = Array.from({ length: numExperts }, () => new FeedForward({ dim, hidden, activation, rng, dtype }));
    this.shared = Array.from({ length: config.numShared }, () => new FeedForward({ dim, hidden, activation, rng, dtype }));
    this.expertBias = config.balance === 'bias' ? buffer(constantInit([numExperts], 0, dtype)) : null;
  }

  // The config's values under the names the layer has always had ('router' is the router's Linear).
  get dim(): number {
    return this.config.dim;
  }
  get hidden(): number {
    return this.config.hidden;
  }
  get numExperts(): number {
    return this.config.numExperts;
  }
  get topK(): number {
    return this.config.topK;
  }
  get routerKind(): MoERouter {
    return this.config.router;
  }
  get capacityFactor(): number {
    return this.config.capacityFactor;
  }
  get normalizeTopK(): boolean {
    return this.config.normalizeTopK;
  }
  get balance(): MoEBalance {
    return this.config.balance;
  }
  get balanceLossCoef(): number {
    return this.config.balanceLossCoef;
  }
  get zLossCoef(): number {
    return this.config.zLossCoef;
  }
  get biasUpdateRate(): number {
    return this.config.biasUpdateRate;
  }
  get hashSeed(): number {
    return this.config.hashSeed;
  }
  /** How 'topk' routing dispatches tokens (see MoEOptions.dispatch). */
  get dispatch(): MoEDispatch {
    return this.config.dispatch;
  }

  /**
   * x [..., dim] → [..., dim]. The 'hash' router needs `{ tokenIds }`. In training mode with balance
   * 'bias', each call also moves the expert bias toward even load (so call it once per training step).
   */
  forward(x: Tensor, options: MoEForwardOptions = {}): Tensor {
    const { dim } = this;
    requireLastDim('MoE.forward', x, 'dim', dim);
    const lead = x.shape.slice(0, -1);
    const tokens = shapeSize(lead);
    const xf = reshape(x, [tokens, dim]);
    let y: Tensor;
    if (this.routerKind === 'topk' && (this.dispatch === 'slots' || (this.dispatch === 'auto' && xf.backend !== cpuBackend))) {
      y = this.forwardSlots(xf);
    } else {
      const a =
        this.routerKind === 'hash'
          ? this.routeHash(lead, tokens, options.tokenIds)
          : this.routerKind === 'topk'
            ? this.routeTopK(xf)
            : this.routeExpertChoice(xf);
      y = combineExperts(xf, this.experts, a, dim);
    }
    for (const s of this.shared) y = add(y, s.forward(xf));
    return reshape(y, x.shape);
  }

  /**
   * The balancing loss of the last forward (balance 'loss'; null otherwise or before any forward):
   * balanceLossCoef·E·Σᵢ fᵢ·Pᵢ + zLossCoef·mean(logsumexp(logits)²), fᵢ the share of the tokens·topK
   * assignments that chose expert i (before capacity), Pᵢ its mean router probability.
   */
  auxLoss(): Tensor | null {
    return this.lastAuxLoss;
  }

  private logits(xf: Tensor): { logits: Tensor; probs: Tensor } {
    const logits = this.router!.forward(xf); // [tokens, E]
    return { logits, probs: softmax(logits, -1) };
  }

  /** The 'topk' router's choice: experts by p (+ bias under 'bias' balancing; the bias never enters the gates) and their gates. */
  private chooseTopK(probs: Tensor): { chosen: Tensor; gates: Tensor } {
    const chosen = noGrad(() => topk(this.expertBias === null ? probs : add(probs, this.expertBias), this.topK).indices);
    let gates = gather(probs, 1, chosen); // [tokens, k]
    if (this.normalizeTopK) gates = div(gates, sum(gates, -1, true));
    return { chosen, gates };
  }

  // 'topk' routing with device-side dispatch: no value leaves the backend (slot-dispatch.ts).
  private forwardSlots(xf: Tensor): Tensor {
    const { numExperts: E, topK: k } = this;
    const tokens = xf.shape[0]!;
    const { logits, probs } = this.logits(xf);
    const { chosen, gates } = this.chooseTopK(probs);
    const capacity = expertCapacity(this.capacityFactor, tokens, k, E);
    const { y, routing } = slotDispatch(xf, this.experts, chosen, gates, capacity, this.dim);
    if (this.training && this.expertBias !== null) {
      const bias = this.expertBias;
      const load = routing.load;
      noGrad(() => bias.assign(add(bias, mul(sign(sub(mean(load), load)), this.biasUpdateRate))));
    }
    this.lastAuxLoss = this.balance === 'loss' ? this.balanceLoss(logits, probs, div(routing.load, tokens * k).detach()) : null;
    this.lastRouting = routingDecision(routing.expert, routing.gates, tokens, 1, k);
    this.dropped = capacity === Infinity ? 0 : noGrad(() => div(routing.dropped, tokens * k));
    this.load = routing.load;
    return y;
  }

  private routeTopK(xf: Tensor): Assignments {
    const { numExperts: E, topK: k } = this;
    const tokens = xf.shape[0]!;
    const { logits, probs } = this.logits(xf);
    const { chosen, gates } = this.chooseTopK(probs);
    const expert = Int32Array.from(chosen.toTypedArray());
    const load = countLoad(expert, E);
    if (this.training && this.expertBias !== null)
      updateBalanceBias(this.expertBias.data as Float32Array | Float64Array, load, this.biasUpdateRate);
    const dropped = applyCapacity(expert, tokens, k, E, expertCapacity(this.capacityFactor, tokens, k, E));
    this.lastAuxLoss =
      this.balance === 'loss'
        ? this.balanceLoss(
            logits,
            probs,
            tensor(
              load.map((n) => n / (tokens * k)),
              { dtype: probs.dtype },
            ),
          )
        : null;
    return this.record(expert, tokens, k, gates, dropped / (tokens * k), load);
  }

  private routeExpertChoice(xf: Tensor): Assignments {
    const E = this.numExperts;
    const tokens = xf.shape[0]!;
    const { probs } = this.logits(xf);
    const c = Math.min(tokens, expertCapacity(this.capacityFactor, tokens, 1, E));
    const best = topk(transpose(probs), c); // each expert's top-c tokens: [E, c]
    const tokenOf = best.indices.toTypedArray() as Int32Array;
    const expert = new Int32Array(E * c);
    for (let e = 0; e < E; e++) expert.fill(e, e * c, (e + 1) * c);
    const gates = reshape(best.values, [E * c]);
    // Per-token view for lastRouting: slot e holds expert e's gate, or −1 when e did not take the token.
    const indices = new Int32Array(tokens * E).fill(-1);
    const g = gates.toTypedArray();
    const scores = g instanceof Float64Array ? new Float64Array(tokens * E) : new Float32Array(tokens * E);
    for (let i = 0; i < E * c; i++) {
      const p = tokenOf[i]! * E + expert[i]!;
      indices[p] = expert[i]!;
      scores[p] = g[i]!;
    }
    let unserved = 0;
    for (let t = 0; t < tokens; t++) {
      let any = false;
      for (let e = 0; e < E; e++) if (indices[t * E + e]! >= 0) any = true;
      if (!any) unserved++;
    }
    this.lastRouting = { indices, scores, tokens, heads: 1, k: E };
    this.dropped = unserved / tokens;
    this.load = countLoad(expert, E);
    this.lastAuxLoss = null;
    return { token: tokenOf, expert, gates };
  }

  private routeHash(lead: readonly number[], tokens: number, ids: Tensor | undefined): Assignments {
    const { numExperts: E, topK: k } = this;
    if (ids === undefined) {
      throw new Error(
        `MoE.forward: router 'hash' needs token ids: call forward(x, { tokenIds }) with int32 ids of shape [${lead.join(', ')}]`,
      );
    }
    if (ids.dtype !== 'int32' || ids.shape.length !== lead.length || ids.shape.some((d, i) => d !== lead[i])) {
      throw new ShapeError(
        `MoE.forward: tokenIds must be int32 [${lead.join(', ')}] (x without its last dim), got ${ids.dtype} [${ids.shape.join(', ')}]`,
      );
    }
    const expert = hashExperts(ids.toTypedArray(), E, k, this.hashSeed);
    const load = countLoad(expert, E);
    const dropped = applyCapacity(expert, tokens, k, E, expertCapacity(this.capacityFactor, tokens, k, E));
    const gates = full([tokens, k], 1 / k, { dtype: this.experts[0]!.up.weight.dtype });
    this.lastAuxLoss = null;
    return this.record(expert, tokens, k, gates, dropped / (tokens * k), load);
  }

  /** Saves lastRouting (dropped slots: index −1, gate 0) and returns the flat assignments. */
  private record(expert: Int32Array, tokens: number, k: number, gates: Tensor, droppedFraction: number, load: Float64Array): Assignments {
    const token = new Int32Array(tokens * k);
    for (let t = 0; t < tokens; t++) token.fill(t, t * k, (t + 1) * k);
    const g = gates.toTypedArray();
    const scores = g instanceof Float64Array ? Float64Array.from(g) : Float32Array.from(g);
    for (let i = 0; i < expert.length; i++) if (expert[i]! < 0) scores[i] = 0;
    this.lastRouting = { indices: Int32Array.from(expert), scores, tokens, heads: 1, k };
    this.dropped = droppedFraction;
    this.load = load;
    return { token, expert, gates: reshape(gates, [tokens * k]) };
  }

  // f: the share of the assignments each expert got (a constant); P: its mean router probability.
  private balanceLoss(logits: Tensor, probs: Tensor, f: Tensor): Tensor {
    const E = this.numExperts;
    const P = mean(probs, 0); // Pᵢ: differentiable
    const balanceTerm = mul(matmul(f, P), this.balanceLossCoef * E);
    const zTerm = mul(mean(square(logsumexp(logits, -1))), this.zLossCoef);
    return add(balanceTerm, zTerm);
  }
}

function countLoad(expert: Int32Array, numExperts: number): Float64Array {
  const load = new Float64Array(numExperts);
  for (let i = 0; i < expert.length; i++) if (expert[i]! >= 0) load[expert[i]!]++;
  return load;
}
