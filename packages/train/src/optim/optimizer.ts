// The optimizer base class: parameter groups, per-parameter state keyed by the parameter tensor,
// zeroGrad, setLr, stateDict / loadStateDict. A subclass gives its update as one UpdateRule (a few
// statements per element) plus the scalars of a step; the base class runs that rule in place on host
// memory (CPU backend), or as backend kernels on a device (no parameter, gradient or moment leaves
// it), densely or lazily on the rows of a row-sparse gradient.
import {
  SparseGrad,
  Tensor,
  compileUpdateRule,
  cpuBackend,
  contiguousStrides,
  tensor,
  type Storage,
  type TypedArray,
  type UpdateRule,
  type View,
} from '@myriad/core';
import { coalesceRows } from './coalesce.js';
import { gradData, liveData } from './live-data.js';

/** Hyper-parameters shared by every optimizer; subclasses add their own. */
export interface BaseHyper {
  lr: number;
  weightDecay: number;
}

/** A parameter group as given by the user: its tensors and any hyper-parameters that override the defaults. */
export type ParamGroupInput<H extends BaseHyper> = { params: Iterable<Tensor> } & Partial<H>;

/** What an optimizer accepts: tensors (one group) or a list of groups. */
export type ParamsInput<H extends BaseHyper> = Iterable<Tensor> | readonly ParamGroupInput<H>[];

/** A resolved parameter group: tensors plus the full set of hyper-parameters. */
export type ParamGroup<H extends BaseHyper> = H & { params: Tensor[] };

/** Per-parameter state: a step count and named moment buffers (tensors of the parameter's shape, on its backend). */
export interface ParamState {
  step: number;
  buffers: Record<string, Tensor>;
}

/** Serialised optimizer state (tensors go under `optim.` in a checkpoint, the rest into JSON metadata). */
export interface OptimizerStateDict {
  /** The optimizer's `kind` ('SGD', 'Adam', 'AdamW'), checked on load. */
  type: string;
  /** Hyper-parameters and parameter shapes per group; parameters are numbered in group order. */
  groups: Array<Record<string, number | boolean | number[]> & { shapes: number[][] }>;
  /** Step count per parameter number (only parameters that have state). */
  steps: Record<string, number>;
  /** Buffers as `<param number>.<buffer name>` → tensor of the parameter's shape. */
  tensors: Record<string, Tensor>;
}

/** Base class of SGD, Adam and AdamW. */
export abstract class Optimizer<H extends BaseHyper> {
  /** Parameter groups with resolved hyper-parameters; edit `lr` here or through `setLr`. */
  readonly groups: ParamGroup<H>[];
  /** State per parameter tensor, created on its first update. */
  protected readonly state = new Map<Tensor, ParamState>();
  private readonly lrRatios: number[];

  /**
   * The optimizer's name, as written in messages and in `stateDict().type`: the subclass's static `kind`
   * ('SGD', 'Adam', 'AdamW'), spelled out because a minifier renames classes and a checkpoint saved by a
   * bundled page must load in the CLI. A subclass without one (your own optimizer) is named by its class.
   */
  get kind(): string {
    const ctor = this.constructor as { readonly kind?: unknown; readonly name: string };
    return Object.hasOwn(ctor, 'kind') && typeof ctor.kind === 'string' ? ctor.kind : ctor.name;
  }

  /** Takes tensors, or groups `[{ params, weightDecay: 0 }, ...]` whose fields override `defaults`. */
  constructor(
    params: ParamsInput<H>,
    readonly defaults: H,
  ) {
    const name = this.kind;
    const list = Array.from(params as Iterable<Tensor | ParamGroupInput<H>>);
    const isGroups = list.length > 0 && list.every((g) => typeof g === 'object' && g !== null && 'params' in g && !('shape' in g));
    const inputs: ParamGroupInput<H>[] = isGroups
      ? (list as ParamGroupInput<H>[])
      : [{ params: list as Tensor[] } as unknown as ParamGroupInput<H>];
    const seen = new Set<Tensor>();
    this.groups = inputs.map((g, gi) => {
      const { params: ps, ...overrides } = g;
      const group = { ...defaults, ...overrides, params: Array.from(ps) } as ParamGroup<H>;
      for (const p of group.params) {
        if (seen.has(p)) throw new Error(`${name}: a parameter of shape [${p.shape}] appears twice (group ${gi})`);
        if (!p.isLeaf)
          throw new Error(
            `${name}: can't optimize a non-leaf tensor of shape [${p.shape}] (group ${gi}); pass parameters, or x.detach().requiresGrad_()`,
          );
        if (p.dtype === 'int32')
          throw new TypeError(`${name}: parameter of shape [${p.shape}] has dtype int32; only float parameters train`);
        seen.add(p);
      }
      this.validate(group, gi);
      return group;
    });
    if (seen.size === 0) throw new Error(`${name}: got no parameters to optimise`);
    this.lrRatios = this.groups.map((g) => (defaults.lr > 0 ? g.lr / defaults.lr : 1));
  }

  /** Checks a group's hyper-parameters; throws a RangeError naming the bad one. */
  protected validate(group: ParamGroup<H>, index: number): void {
    const name = this.kind;
    if (!(group.lr >= 0)) throw new RangeError(`${name}: group ${index} has lr=${group.lr}; expected >= 0`);
    if (!(group.weightDecay >= 0)) throw new RangeError(`${name}: group ${index} has weightDecay=${group.weightDecay}; expected >= 0`);
  }

  /** All parameters, in group order (the numbering used by `stateDict`). */
  params(): Tensor[] {
    return this.groups.flatMap((g) => g.params);
  }

  /** Sets every parameter's gradient to null. */
  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) p.grad = null;
  }

  /** Sets the learning rate: each group gets `lr` times its construction-time ratio to the defaults' lr. */
  setLr(lr: number): void {
    if (!(lr >= 0)) throw new RangeError(`${this.kind}.setLr: lr must be >= 0, got ${lr}`);
    this.groups.forEach((g, i) => {
      g.lr = lr * this.lrRatios[i]!;
    });
  }

  /** Applies one update to every parameter that has a gradient (row-sparse gradients lazily). */
  step(): void {
    for (const group of this.groups) {
      for (const p of group.params) {
        const grad = p.grad;
        if (grad === null || grad === undefined) continue;
        this.checkShape(p, grad.shape);
        const state = this.stateOf(p, group);
        state.step++;
        const rule = this.rule(group);
        const scalars = this.scalars(group, state.step);
        const tables = [p, ...rule.state.slice(1).map((b) => state.buffers[b]!)];
        const host = hostTables(tables);
        if (host) this.updateOnHost(p, rule, scalars, host, grad);
        else this.updateOnBackend(p, rule, scalars, tables, grad);
      }
    }
  }

  // CPU: the rule compiled to a typed-array loop, in place on the live storage of p and its moments.
  private updateOnHost(p: Tensor, rule: UpdateRule, scalars: readonly number[], tables: TypedArray[], grad: Tensor | SparseGrad): void {
    const update = compileUpdateRule(rule);
    if (!(grad instanceof SparseGrad)) {
      update(tables, gradData(grad), scalars, 0, 0, p.size);
      return;
    }
    const rowSize = p.size / p.shape[0]!;
    const { rows, offsets, values, summed } = coalesceRows(grad.indices.toTypedArray() as Int32Array, gradData(grad.values), rowSize);
    this.checkRows(p, rows);
    for (let c0 = 0; c0 < rows.length; c0 += TOUCH_CHUNK) {
      const c1 = Math.min(rows.length, c0 + TOUCH_CHUNK);
      touchRows(tables, rows, c0, c1, rowSize);
      for (let r = c0; r < c1; r++) {
        const o = offsets[r]!;
        if (o >= 0) update(tables, values, scalars, rows[r]! * rowSize, o, rowSize);
        else update(tables, summed, scalars, rows[r]! * rowSize, -o - 1, rowSize);
      }
    }
  }

  // A device (or a parameter without host storage): the backend applies the rule as kernels and each
  // state table takes its new contents with a device copy; a sparse gradient is coalesced there too.
  private updateOnBackend(p: Tensor, rule: UpdateRule, scalars: readonly number[], tables: Tensor[], grad: Tensor | SparseGrad): void {
    const rows = p.ndim === 0 ? 1 : p.shape[0]!;
    const width = rows === 0 ? 0 : p.size / rows;
    const as2d = (t: Tensor, n: number): View => t.contiguous().reshape([n, width]);
    const backend = p.backend;
    const state2d = tables.map((t) => as2d(t, rows));
    let next: Storage[];
    if (grad instanceof SparseGrad) {
      const c = grad.coalesce();
      next = backend.applyUpdate(rule, state2d, as2d(c.values, c.nnz), c.indices, scalars);
    } else {
      next = backend.applyUpdate(rule, state2d, as2d(grad, rows), null, scalars);
    }
    tables.forEach((t, k) => {
      backend.copyInto(t, { storage: next[k]!, shape: t.shape, strides: contiguousStrides(t.shape), offset: 0, dtype: t.dtype });
      backend.dispose(next[k]!);
    });
  }

  // Rows are sorted ascending after coalescing: checking the last one bounds them all.
  private checkRows(p: Tensor, rows: Int32Array): void {
    const last = rows.length > 0 ? rows[rows.length - 1]! : -1;
    if (last >= p.shape[0]!) {
      throw new RangeError(`${this.kind}.step: sparse gradient row ${last} is out of range for a parameter of shape [${p.shape}]`);
    }
  }

  private checkShape(p: Tensor, gradShape: readonly number[]): void {
    if (gradShape.length !== p.shape.length || gradShape.some((d, i) => d !== p.shape[i])) {
      throw new Error(`${this.kind}.step: gradient shape [${gradShape}] differs from parameter shape [${p.shape}]`);
    }
  }

  // The state of `p`, with zeroed buffers for any the group needs and lacks (e.g. momentum turned on later).
  private stateOf(p: Tensor, group: ParamGroup<H>): ParamState {
    let s = this.state.get(p);
    if (!s) {
      s = { step: 0, buffers: {} };
      this.state.set(p, s);
    }
    for (const name of this.rule(group).state.slice(1)) s.buffers[name] ??= zerosOn(p);
    return s;
  }

  /** The update rule for parameters of `group`: state ['param', ...moment buffers]. */
  protected abstract rule(group: ParamGroup<H>): UpdateRule;

  /** The rule's scalars for a parameter of `group` at its `step`-th update (1-based), in the rule's order. */
  protected abstract scalars(group: ParamGroup<H>, step: number): number[];

  /** A snapshot of hyper-parameters and state (buffers are copied). */
  stateDict(): OptimizerStateDict {
    const tensors: Record<string, Tensor> = {};
    const steps: Record<string, number> = {};
    let index = 0;
    const groups = this.groups.map((g): OptimizerStateDict['groups'][number] => {
      const { params, ...hyper } = g;
      for (const p of params) {
        const s = this.state.get(p);
        if (s) {
          steps[index] = s.step;
          for (const [name, buf] of Object.entries(s.buffers)) {
            tensors[`${index}.${name}`] = buf.detach().clone();
          }
        }
        index++;
      }
      const saved = { ...(hyper as unknown as Record<string, number | boolean | number[]>) };
      return Object.assign(saved, { shapes: params.map((p) => [...p.shape]) });
    });
    return { type: this.kind, groups, steps, tensors };
  }

  /** Restores `stateDict()` output; refuses another optimizer type, group layout or parameter shapes. */
  loadStateDict(dict: OptimizerStateDict): void {
    const name = `${this.kind}.loadStateDict`;
    if (dict?.type !== this.kind) {
      throw new Error(`${name}: the state is from ${JSON.stringify(dict?.type)}, not ${this.kind}`);
    }
    if (!Array.isArray(dict.groups) || dict.groups.length !== this.groups.length) {
      throw new Error(`${name}: the state has ${dict.groups?.length} parameter groups, this optimizer ${this.groups.length}`);
    }
    const params = this.params();
    let index = 0;
    this.groups.forEach((g, gi) => {
      const saved = dict.groups[gi]!;
      if (!Array.isArray(saved.shapes) || saved.shapes.length !== g.params.length) {
        throw new Error(`${name}: group ${gi} has ${saved.shapes?.length} parameters in the state, ${g.params.length} here`);
      }
      g.params.forEach((p, pi) => {
        const shape = saved.shapes[pi]!;
        if (shape.length !== p.shape.length || shape.some((d, i) => d !== p.shape[i])) {
          throw new Error(`${name}: parameter ${index + pi} (group ${gi}) has shape [${shape}] in the state, [${p.shape}] here`);
        }
      });
      g.params.forEach((p, pi) => {
        if (dict.steps?.[index + pi] === undefined) return;
        for (const buf of this.rule({ ...g, ...saved } as ParamGroup<H>).state.slice(1)) {
          const t = dict.tensors?.[`${index + pi}.${buf}`];
          if (!t) throw new Error(`${name}: missing buffer "${index + pi}.${buf}" for parameter ${index + pi} of shape [${p.shape}]`);
          if (t.size !== p.size) throw new Error(`${name}: buffer "${index + pi}.${buf}" has ${t.size} elements, expected ${p.size}`);
        }
      });
      index += g.params.length;
    });
    // Everything checked: now overwrite.
    this.state.clear();
    this.groups.forEach((g, gi) => {
      const { shapes: _shapes, ...hyper } = dict.groups[gi]!;
      Object.assign(g, hyper);
    });
    const groupOf = this.groups.flatMap((g) => g.params.map(() => g));
    params.forEach((p, i) => {
      const step = dict.steps[i];
      if (step === undefined) return;
      const s = this.stateOf(p, groupOf[i]!);
      s.step = step;
      for (const bufName of Object.keys(s.buffers)) {
        const saved = dict.tensors[`${i}.${bufName}`]!.toTypedArray();
        s.buffers[bufName] = tensor(saved, { shape: [...p.shape], dtype: p.dtype });
      }
    });
  }
}

/** Rows of a lazy update whose state rows are read once (touchRows) before they are updated. */
const TOUCH_CHUNK = 64;
/** Where those reads go, so the engine cannot drop them. */
let _touched = 0;

/**
 * Reads one element of rows[r0..r1) of every state table: the rows of a huge table (PEER's experts)
 * are cache and TLB misses, and these independent loads let them overlap instead of stalling the update
 * one row at a time (a lazy Adam step over 60 000 of 2²⁰ rows of 256: ≈ 64 instead of ≈ 76 ms a table).
 */
function touchRows(tables: readonly TypedArray[], rows: Int32Array, r0: number, r1: number, rowSize: number): void {
  let sink = 0;
  for (const t of tables) for (let r = r0; r < r1; r++) sink += t[rows[r]! * rowSize]!;
  _touched += sink;
}

/** Zeros of p's shape and dtype on p's backend (a device fill, not an upload). */
function zerosOn(p: Tensor): Tensor {
  return Tensor._make(p.backend, p.backend.full(p.dtype, p.size, 0), p.shape, p.dtype);
}

/**
 * The live typed arrays of all tables when each is a CPU-backend tensor owning its whole storage, else
 * null. Other backends (the gpu backend's WebAssembly mode included) run the rule as their kernels.
 */
function hostTables(tables: readonly Tensor[]): TypedArray[] | null {
  const out: TypedArray[] = [];
  for (const t of tables) {
    if (t.backend !== cpuBackend) return null;
    const live = liveData(t);
    if (live === null || live instanceof Int32Array) return null;
    out.push(live);
  }
  return out;
}
