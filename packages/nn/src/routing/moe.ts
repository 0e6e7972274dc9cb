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
  cast,
  concat,
  cpuBackend,
  eq,
  expand,
  ge,
  indexSelect,
  sign,
  slice,
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
  scatterAdd,
  softmax,
  square,
  sum,
  tensor,
  toBackend,
  topk,
  transpose,
  shapeSize,
  where,
  zeros,
  type Backend,
  type RoutingSource,
  type Tensor,
} from '@myriad/core';
import { Module, buffer, type InitOptions } from '../module.js';
import { constantInit, initDType, initRng, requireLastDim, requirePositiveInt } from '../init.js';
import { FeedForward, type Activation } from '../layers/feed-forward.js';
import { Linear } from '../layers/linear.js';
import { combineExperts, type Assignments } from './dispatch.js';
import { applyCapacity, expertCapacity, hashExperts, updateBalanceBias } from './routers.js';
import { deviceArange, slotDispatch } from './slot-dispatch.js';
import { routingDecision, type LazyRoutingDecision } from './routing-decision.js';

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
   * How the 'topk' and 'hash' routers send tokens to experts: 'grouped' reads the choices on the host
   * and runs each expert on its own tokens; 'slots' keeps everything on the device (capacity slots,
   * see slot-dispatch.ts); 'auto' (default) groups on the CPU backend and uses slots on any other.
   * 'expert-choice' always stays on the backend (each expert takes its top-c tokens with one top-k).
   */
  dispatch?: MoEDispatch;
}

export type MoEDispatch = 'auto' | 'grouped' | 'slots';

/** Extra inputs of `MoE.forward`. */
export interface MoEForwardOptions {
  /** int32 token ids shaped like x without its last dim; required by the 'hash' router. */
  tokenIds?: Tensor;
  /**
   * The ids lie in [0, vocabSize): lets the 'hash' router's slot dispatch run on the device, the hash
   * becoming a [vocabSize, topK] table looked up by id (built once per backend). TransformerLM passes it.
   */
  vocabSize?: number;
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
  /**
   * The last routing decision, [tokens, 1, k] ([tokens, 1, numExperts] for expert-choice); −1 = empty
   * slot. It stays on the backend: `await lastRouting.read()` anywhere, `lastRouting.indices` where
   * the backend reads synchronously (not WebGPU).
   */
  lastRouting: LazyRoutingDecision | null = null;
  /** The resolved options. */
  readonly config: Readonly<MoEConfig>;
  // The last forward's dropped fraction and load: numbers on the host path, tensors on the device path
  // (read only when someone asks, below).
  private dropped: number | Tensor | null = null;
  private load: Float64Array | Tensor | null = null;

  private lastAuxLoss: Tensor | null = null;
  // The 'hash' router's table [vocabSize, topK] on the backend it was last used on (slot dispatch).
  private hashTable: Tensor | null = null;

  /**
   * Fraction of assignments dropped by capacity in the last forward (expert-choice: tokens no expert
   * took); reads the device where the count stayed there. Null before any forward, and on a backend
   * that cannot read synchronously (WebGPU): there use `await moe.readDroppedFraction()`.
   */
  get droppedFraction(): number | null {
    if (this.dropped === null || typeof this.dropped === 'number') return this.dropped;
    return answersAsynchronously(this.dropped.backend) ? null : this.dropped.item();
  }

  /** `droppedFraction`, waiting for the device (every backend). */
  async readDroppedFraction(): Promise<number | null> {
    if (this.dropped === null || typeof this.dropped === 'number') return this.dropped;
    return (await this.dropped.read())[0]!;
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
    const ids = this.routerKind === 'hash' ? checkTokenIds(lead, options.tokenIds) : null;
    let y: Tensor;
    if (this.routerKind === 'expert-choice') {
      y = this.forwardExpertChoice(xf);
    } else if (this.useSlots(xf, options.vocabSize)) {
      y =
        ids === null
          ? this.forwardSlots(xf, this.logits(xf))
          : this.forwardSlots(xf, null, this.hashChoice(ids, tokens, options.vocabSize!, xf));
    } else {
      if (answersAsynchronously(xf.backend)) {
        throw new Error(
          `MoE.forward: dispatch 'grouped' (router '${this.routerKind}') reads the routing on the host, which the ${xf.backend.name} backend cannot do synchronously; use dispatch 'slots' or 'auto'${ids === null ? '' : ' and pass { tokenIds, vocabSize }'}`,
        );
      }
      const a = ids === null ? this.routeTopK(xf) : this.routeHash(ids, tokens);
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

  /**
   * Whether 'topk' / 'hash' routing dispatches with slots on the device: 'slots', or 'auto' off the CPU
   * backend. 'hash' slots need the vocabulary size (its table); under 'auto' on a synchronous backend
   * without it, the host path still works (reading the ids), on an asynchronous one it cannot.
   */
  private useSlots(xf: Tensor, vocabSize: number | undefined): boolean {
    const slots = this.dispatch === 'slots' || (this.dispatch === 'auto' && xf.backend !== cpuBackend);
    if (!slots || this.routerKind !== 'hash' || vocabSize !== undefined) return slots;
    if (this.dispatch === 'auto' && !answersAsynchronously(xf.backend)) return false;
    throw new Error(
      `MoE.forward: router 'hash' with dispatch '${this.dispatch}' on the ${xf.backend.name} backend needs the vocabulary size to look the hash up on the device: call forward(x, { tokenIds, vocabSize }) (TransformerLM passes it)`,
    );
  }

  // 'topk' / 'hash' routing with device-side dispatch: no value leaves the backend (slot-dispatch.ts).
  // `router` is null for 'hash', whose choice is given.
  private forwardSlots(xf: Tensor, router: { logits: Tensor; probs: Tensor } | null, hash?: { chosen: Tensor; gates: Tensor }): Tensor {
    const { numExperts: E, topK: k } = this;
    const tokens = xf.shape[0]!;
    const { chosen, gates } = router === null ? hash! : this.chooseTopK(router.probs);
    const capacity = expertCapacity(this.capacityFactor, tokens, k, E);
    const { y, routing } = slotDispatch(xf, this.experts, chosen, gates, capacity, this.dim);
    if (this.training && this.expertBias !== null) {
      const bias = this.expertBias;
      const load = routing.load;
      noGrad(() => bias.assign(add(bias, mul(sign(sub(mean(load), load)), this.biasUpdateRate))));
    }
    this.lastAuxLoss =
      router !== null && this.balance === 'loss'
        ? this.balanceLoss(router.logits, router.probs, div(routing.load, tokens * k).detach())
        : null;
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

  /**
   * 'expert-choice': each expert takes its top-c tokens by p (one top-k along the token axis), runs
   * once on them, and its gated outputs are added back onto their tokens. Everything stays on the
   * backend; the work is E·c expert rows, as grouping on the host would do.
   */
  private forwardExpertChoice(xf: Tensor): Tensor {
    const { numExperts: E, dim } = this;
    const tokens = xf.shape[0]!;
    const { probs } = this.logits(xf);
    const c = Math.min(tokens, expertCapacity(this.capacityFactor, tokens, 1, E));
    const best = topk(transpose(probs), c); // each expert's top-c tokens: [E, c]
    const tokenOf = reshape(best.indices, [E * c]);
    const inputs = indexSelect(xf, 0, tokenOf); // [E·c, dim], expert-major
    const outputs = this.experts.map((ex, e) => ex.forward(slice(inputs, 0, e * c, (e + 1) * c)));
    const gated = mul(outputs.length === 1 ? outputs[0]! : concat(outputs, 0), reshape(best.values, [E * c, 1]));
    const rows = expand(reshape(tokenOf, [E * c, 1]), [E * c, dim]);
    const y = scatterAdd(zeros([tokens, dim], { dtype: xf.dtype }), 0, rows, gated);
    // Per-token view for lastRouting, [tokens, 1, E]: slot e holds expert e's gate, or −1 when e did not take the token.
    const { indices, scores, unserved } = noGrad(() => {
      const experts = deviceArange(E);
      const expertOf = reshape(expand(reshape(experts, [E, 1]), [E, c]), [E * c]);
      const pos = add(mul(tokenOf, E), expertOf); // token·E + expert
      const taken = scatterAdd(zeros([tokens * E], { dtype: probs.dtype }), 0, pos, full([E * c], 1, { dtype: probs.dtype }));
      const scores = scatterAdd(zeros([tokens * E], { dtype: probs.dtype }), 0, pos, reshape(best.values.detach(), [E * c]));
      const expertOfSlot = reshape(expand(reshape(experts, [1, E]), [tokens, E]), [tokens * E]);
      const indices = where(ge(taken, 1), expertOfSlot, -1);
      const served = sum(reshape(taken, [tokens, E]), -1);
      return { indices, scores, unserved: sum(cast(eq(served, 0), probs.dtype)) };
    });
    this.lastRouting = routingDecision(reshape(indices, [tokens, 1, E]), reshape(scores, [tokens, 1, E]), tokens, 1, E);
    this.dropped = noGrad(() => div(unserved, tokens));
    this.load = new Float64Array(E).fill(c);
    this.lastAuxLoss = null;
    return y;
  }

  /** The 'hash' router's choice on the backend: rows of the [vocabSize, topK] hash table gathered by id, gates 1/k. */
  private hashChoice(ids: Tensor, tokens: number, vocabSize: number, xf: Tensor): { chosen: Tensor; gates: Tensor } {
    const { numExperts: E, topK: k } = this;
    requirePositiveInt('MoE.forward', 'vocabSize', vocabSize);
    let table = this.hashTable;
    if (table === null || table.backend !== xf.backend || table.shape[0] !== vocabSize) {
      const every = Int32Array.from({ length: vocabSize }, (_, i) => i);
      table = toBackend(tensor(hashExperts(every, E, k, this.hashSeed), { shape: [vocabSize, k], dtype: 'int32' }), xf.backend);
      this.hashTable = table;
    }
    // On the CPU backend the ids are checked here, naming vocabSize; a device backend's lookup checks
    // them where it reads synchronously (reading them here would count a download), WebGPU not at all.
    if (ids.backend === cpuBackend) {
      const flat = ids.toTypedArray();
      const i = flat.findIndex((id) => !(id >= 0 && id < vocabSize));
      if (i >= 0)
        throw new RangeError(
          `MoE.forward: token id ${flat[i]} at position ${i} is outside [0, vocabSize = ${vocabSize}) of the 'hash' router's table`,
        );
    }
    const chosen = indexSelect(table, 0, reshape(ids, [tokens]));
    return { chosen, gates: full([tokens, k], 1 / k, { dtype: xf.dtype }) };
  }

  private routeHash(ids: Tensor, tokens: number): Assignments {
    const { numExperts: E, topK: k } = this;
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
    const indices = toBackend(tensor(Int32Array.from(expert), { shape: [tokens, 1, k], dtype: 'int32' }), gates.backend);
    const scores = noGrad(() => where(ge(indices, 0), reshape(gates.detach(), [tokens, 1, k]), 0));
    this.lastRouting = routingDecision(indices, scores, tokens, 1, k);
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

/** The 'hash' router's token ids, checked against x's leading dims. */
function checkTokenIds(lead: readonly number[], ids: Tensor | undefined): Tensor {
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
  return ids;
}

/** Whether `backend` declares that it reads only asynchronously (the gpu backend's WebGPU mode: `async` true). */
function answersAsynchronously(backend: Backend): boolean {
  return (backend as { readonly async?: unknown }).async === true;
}

function countLoad(expert: Int32Array, numExperts: number): Float64Array {
  const load = new Float64Array(numExperts);
  for (let i = 0; i < expert.length; i++) if (expert[i]! >= 0) load[expert[i]!]++;
  return load;
}
