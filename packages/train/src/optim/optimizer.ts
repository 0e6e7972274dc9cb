// The optimizer base class: parameter groups, per-parameter state keyed by the parameter tensor,
// zeroGrad, setLr, stateDict / loadStateDict. Subclasses implement one dense and one row-sparse update.
import { SparseGrad, tensor, type Tensor } from '@myriad/core';
import { coalesceRows, type CoalescedRows } from './coalesce.js';
import { gradData, liveData, type FloatArray } from './live-data.js';

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

/** Per-parameter state: a step count and named moment buffers (same length as the parameter). */
export interface ParamState {
  step: number;
  buffers: Record<string, FloatArray>;
}

/** Serialised optimizer state (tensors go under `optim.` in a checkpoint, the rest into JSON metadata). */
export interface OptimizerStateDict {
  /** Optimizer class name, checked on load. */
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

  /** Takes tensors, or groups `[{ params, weightDecay: 0 }, ...]` whose fields override `defaults`. */
  constructor(
    params: ParamsInput<H>,
    readonly defaults: H,
  ) {
    const name = this.constructor.name;
    const list = Array.from(params as Iterable<Tensor | ParamGroupInput<H>>);
    const isGroups = list.length > 0 && list.every((g) => typeof g === 'object' && g !== null && 'params' in g && !('shape' in g));
    const inputs: ParamGroupInput<H>[] = isGroups ? (list as ParamGroupInput<H>[]) : [{ params: list as Tensor[] } as unknown as ParamGroupInput<H>];
    const seen = new Set<Tensor>();
    this.groups = inputs.map((g, gi) => {
      const { params: ps, ...overrides } = g;
      const group = { ...defaults, ...overrides, params: Array.from(ps) } as ParamGroup<H>;
      for (const p of group.params) {
        if (seen.has(p)) throw new Error(`${name}: a parameter of shape [${p.shape}] appears twice (group ${gi})`);
        if (p.dtype === 'int32') throw new TypeError(`${name}: parameter of shape [${p.shape}] has dtype int32; only float parameters train`);
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
    const name = this.constructor.name;
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
    if (!(lr >= 0)) throw new RangeError(`${this.constructor.name}.setLr: lr must be >= 0, got ${lr}`);
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
        // On the CPU the parameter's own storage is updated in place. A parameter without host storage
        // (a device backend, a strided view) is updated on a host copy that is then assigned back.
        const live = liveData(p) as FloatArray | null;
        const data = live ?? (p.toTypedArray() as FloatArray);
        const state = this.stateOf(p, group);
        state.step++;
        if (grad instanceof SparseGrad) {
          const rowSize = p.size / p.shape[0]!;
          const rows = coalesceRows(grad.indices.toTypedArray() as Int32Array, gradData(grad.values), rowSize);
          this.checkRows(p, rows.rows);
          this.updateRows(group, state, data, rows, rowSize);
        } else {
          this.updateDense(group, state, data, gradData(grad));
        }
        if (!live) p.assign(tensor(data, { shape: [...p.shape], dtype: p.dtype }));
      }
    }
  }

  // Rows are sorted ascending after coalescing: checking the last one bounds them all.
  private checkRows(p: Tensor, rows: Int32Array): void {
    const last = rows.length > 0 ? rows[rows.length - 1]! : -1;
    if (last >= p.shape[0]!) {
      throw new RangeError(`${this.constructor.name}.step: sparse gradient row ${last} is out of range for a parameter of shape [${p.shape}]`);
    }
  }

  private checkShape(p: Tensor, gradShape: readonly number[]): void {
    if (gradShape.length !== p.shape.length || gradShape.some((d, i) => d !== p.shape[i])) {
      throw new Error(`${this.constructor.name}.step: gradient shape [${gradShape}] differs from parameter shape [${p.shape}]`);
    }
  }

  // The state of `p`, with zeroed buffers for any the group needs and lacks (e.g. momentum turned on later).
  private stateOf(p: Tensor, group: ParamGroup<H>): ParamState {
    let s = this.state.get(p);
    if (!s) {
      s = { step: 0, buffers: {} };
      this.state.set(p, s);
    }
    for (const name of this.bufferNames(group)) {
      s.buffers[name] ??= p.dtype === 'float64' ? new Float64Array(p.size) : new Float32Array(p.size);
    }
    return s;
  }

  /** Names of the moment buffers a parameter in `group` needs (e.g. ['expAvg', 'expAvgSq']). */
  protected abstract bufferNames(group: ParamGroup<H>): string[];

  /** Dense update of a whole parameter `p` from gradient `g` (same length). */
  protected abstract updateDense(group: ParamGroup<H>, state: ParamState, p: FloatArray, g: FloatArray): void;

  /** Lazy update of the rows `g.rows` (unique, ascending) of `p`, `rowSize` elements each. */
  protected abstract updateRows(group: ParamGroup<H>, state: ParamState, p: FloatArray, g: CoalescedRows, rowSize: number): void;

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
            tensors[`${index}.${name}`] = tensor(buf.slice(), { shape: [...p.shape], dtype: p.dtype });
          }
        }
        index++;
      }
      const saved = { ...(hyper as unknown as Record<string, number | boolean | number[]>) };
      return Object.assign(saved, { shapes: params.map((p) => [...p.shape]) });
    });
    return { type: this.constructor.name, groups, steps, tensors };
  }

  /** Restores `stateDict()` output; refuses another optimizer type, group layout or parameter shapes. */
  loadStateDict(dict: OptimizerStateDict): void {
    const name = `${this.constructor.name}.loadStateDict`;
    if (dict?.type !== this.constructor.name) {
      throw new Error(`${name}: the state is from ${JSON.stringify(dict?.type)}, not ${this.constructor.name}`);
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
        for (const buf of this.bufferNames({ ...g, ...saved } as ParamGroup<H>)) {
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
      for (const [bufName, buf] of Object.entries(s.buffers)) buf.set(dict.tensors[`${i}.${bufName}`]!.toTypedArray());
    });
  }
}
