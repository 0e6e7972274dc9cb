// The Module system, PyTorch style without attribute magic: a module's state is found by walking its
// own fields (and arrays and Maps inside them) on every call, so nothing is cached and nothing goes
// stale. A tensor is a parameter or a buffer because it was wrapped once with `param()` / `buffer()`;
// the mark travels with the tensor, so a tied weight is one parameter reachable under two names.
import { Tensor, cpuBackend, isBackend, noGrad, shapesEqual, type Backend, type Rng } from '@myriad/core';

const PARAMETERS = new WeakSet<Tensor>();
const BUFFERS = new WeakSet<Tensor>();

/** Marks `t` as a trainable parameter (sets requiresGrad) and returns it: `this.weight = param(w)`. */
export function param(t: Tensor): Tensor {
  if (t.dtype === 'int32') throw new TypeError(`param: parameters must be float tensors, got int32 ${fmtShape(t.shape)}`);
  if (!t.isLeaf) throw new Error(`param: a parameter must be a leaf tensor; detach() ${fmtShape(t.shape)} first`);
  if (BUFFERS.has(t)) throw new Error(`param: tensor ${fmtShape(t.shape)} is already a buffer`);
  t.requiresGrad = true;
  PARAMETERS.add(t);
  return t;
}

/** Marks `t` as a buffer: saved in the state dict, never trained (running statistics). */
export function buffer(t: Tensor): Tensor {
  if (PARAMETERS.has(t)) throw new Error(`buffer: tensor ${fmtShape(t.shape)} is already a parameter`);
  BUFFERS.add(t);
  return t;
}

/** Whether `t` was marked with `param()`. */
export function isParameter(t: Tensor): boolean {
  return PARAMETERS.has(t);
}

/** Whether `t` was marked with `buffer()`. */
export function isBuffer(t: Tensor): boolean {
  return BUFFERS.has(t);
}

/** Where a module draws its initial weights: a seed for a private generator, or a shared generator. */
export interface InitOptions {
  /** Seed of a private generator for this module's initialisation. */
  seed?: number;
  /** Generator to draw from (overrides seed); without either, the global generator (see manualSeed). */
  rng?: Rng;
  /** Parameter dtype, float32 by default (float64 for gradient checks). */
  dtype?: 'float32' | 'float64';
}

/** Options of `loadStateDict`. */
export interface LoadStateDictOptions {
  /** Missing or unexpected keys are errors (default true). Wrong shapes are errors either way. */
  strict?: boolean;
}

/** What `loadStateDict` left out when not strict. */
export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** Base class of every layer and model. Subclasses define `forward` with their own signature. */
export abstract class Module {
  /** Training mode (dropout active, BatchNorm uses batch statistics); switch with train() / eval(). */
  training = true;

  /** The layer's computation. */
  abstract forward(...args: never[]): unknown;

  /**
   * [name, module] for this module ('') and every submodule, depth first in field order; each module
   * once. An array, like parameters() and namedParameters() (torch's named_modules).
   */
  namedModules(prefix = ''): Array<[string, Module]> {
    const out: Array<[string, Module]> = [];
    const seen = new Set<Module>();
    const walk = (m: Module, name: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([name, m]);
      for (const [key, child] of m.children()) walk(child, name === '' ? key : `${name}.${key}`);
    };
    walk(this, prefix);
    return out;
  }

  /** This module and every submodule, each once, depth first (torch's modules()). */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** [name, module] for the direct submodules, found in fields, arrays and Maps (nested names are dotted). */
  children(): Array<[string, Module]> {
    const out: Array<[string, Module]> = [];
    for (const [name, value] of ownEntries(this)) {
      if (value instanceof Module) out.push([name, value]);
    }
    return out;
  }

  /** Calls fn on every submodule, then on this one (torch's apply: children first), each once; returns this. */
  apply(fn: (module: Module) => void): this {
    const seen = new Set<Module>();
    const visit = (m: Module): void => {
      if (seen.has(m)) return;
      seen.add(m);
      for (const [, child] of m.children()) visit(child);
      fn(m);
    };
    visit(this);
    return this;
  }

  /** [dotted name, tensor] of every parameter, each tensor once (a tied weight under its first name). */
  namedParameters(): Array<[string, Tensor]> {
    return uniqueTensors(this.namedTensors(PARAMETERS));
  }

  /** Every parameter tensor, each once (an array, as namedParameters()). */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** [dotted name, tensor] of every buffer (running statistics), each once. */
  namedBuffers(): Array<[string, Tensor]> {
    return uniqueTensors(this.namedTensors(BUFFERS));
  }

  /** Every buffer tensor, each once. */
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, t]) => t);
  }

  /**
   * Moves every tensor the module holds (parameters, buffers and other tensor fields, at any depth)
   * to `target` in place, as torch's module.to(device): identities survive, so optimizers built
   * before the move keep working. Gradients move too. Returns this.
   */
  to(target: Backend | 'cpu'): this {
    const backend = target === 'cpu' ? cpuBackend : target;
    if (!isBackend(backend)) {
      const what = typeof target === 'string' ? `'${target}'` : String(target);
      throw new TypeError(
        `Module.to(${this.constructor.name}): unknown target ${what}; expected 'cpu' or a Backend such as gpuBackend() (dtypes are chosen at construction: { dtype })`,
      );
    }
    const moved = new Set<Tensor>();
    for (const m of this.modules()) {
      for (const [, value] of ownEntries(m)) {
        if (value instanceof Tensor && value.isLeaf && !moved.has(value)) {
          moved.add(value);
          value._moveTo(backend);
        }
      }
    }
    return this;
  }

  /** Extra text inside the parentheses when printing (torch's extra_repr); by default the module's own number, string and boolean fields. */
  extraRepr(): string {
    const parts: string[] = [];
    for (const key of Object.keys(this)) {
      const v = (this as unknown as Record<string, unknown>)[key];
      if (key === 'training' || key.startsWith('_')) continue;
      if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean')
        parts.push(`${key}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
    }
    return parts.slice(0, 8).join(', ');
  }

  /**
   * The module tree as text: each submodule on its own line with its own tensors' shapes and its
   * parameter count, like printing a torch module. `console.log(model)` shows the same.
   */
  toString(): string {
    return formatModule(this, '', '', new Set());
  }

  /** What console.log shows in Node: the tree of toString(). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  /** @internal This module's own tensors (not its submodules'): parameters, then buffers marked so. */
  _ownTensorSummary(): string {
    const parts: string[] = [];
    for (const [name, value] of ownEntries(this)) {
      if (!(value instanceof Tensor)) continue;
      const kind = PARAMETERS.has(value) ? '' : BUFFERS.has(value) ? ' buffer' : null;
      if (kind !== null) parts.push(`${name}: [${value.shape.join(', ')}]${kind}`);
    }
    return parts.join(', ');
  }

  /** Number of trainable scalars (tied weights counted once). */
  numParameters(): number {
    let n = 0;
    for (const t of this.parameters()) n += t.size;
    return n;
  }

  /**
   * Parameters and buffers under dotted camelCase paths (`blocks.0.attn.qkv.weight`). Values are the
   * live tensors; a tied weight appears under each of its names, as in PyTorch.
   */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [name, t] of this.namedTensors(null)) out[name] = t;
    return out;
  }

  /**
   * Copies `dict`'s tensors into this module's parameters and buffers in place (identities, ties and
   * optimizer references survive). Missing / unexpected keys (strict) and wrong shapes throw one
   * error naming every offending key; nothing is copied then.
   */
  loadStateDict(dict: Readonly<Record<string, Tensor>>, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const { strict = true } = options;
    const own = this.stateDict();
    const missingKeys = Object.keys(own).filter((k) => !(k in dict));
    const unexpectedKeys = Object.keys(dict).filter((k) => !(k in own));
    const wrongShapes: string[] = [];
    for (const [k, target] of Object.entries(own)) {
      const src = dict[k];
      if (src === undefined) continue;
      if (!(src instanceof Tensor)) {
        wrongShapes.push(`${k} (not a Tensor)`);
      } else if (!shapesEqual(src.shape, target.shape)) {
        wrongShapes.push(`${k} (got ${fmtShape(src.shape)}, expected ${fmtShape(target.shape)})`);
      }
    }
    const problems: string[] = [];
    if (strict && missingKeys.length > 0) problems.push(`missing keys: ${missingKeys.join(', ')}`);
    if (strict && unexpectedKeys.length > 0) problems.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
    if (wrongShapes.length > 0) problems.push(`wrong shapes: ${wrongShapes.join(', ')}`);
    if (problems.length > 0) throw new Error(`loadStateDict(${this.constructor.name}): ${problems.join('; ')}`);
    noGrad(() => {
      for (const [k, target] of Object.entries(own)) {
        const src = dict[k];
        if (src !== undefined) target.assign(src);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /** Sets training mode on this module and every submodule; returns this. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Evaluation mode (same as train(false)); returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Clears the gradient of every parameter. */
  zeroGrad(): void {
    for (const t of this.parameters()) t.grad = null;
  }

  /**
   * [dotted name, tensor] of every marked tensor (parameters, buffers, or both when kind is null) in
   * field order, depth first; repeats of a tensor included, each module visited once.
   */
  private *namedTensors(kind: WeakSet<Tensor> | null): Generator<[string, Tensor]> {
    const seen = new Set<Module>();
    const walk = function* (m: Module, prefix: string): Generator<[string, Tensor]> {
      seen.add(m);
      for (const [key, value] of ownEntries(m)) {
        const name = prefix === '' ? key : `${prefix}.${key}`;
        if (value instanceof Module) {
          if (!seen.has(value)) yield* walk(value, name);
        } else if (value instanceof Tensor) {
          const marked = kind === null ? PARAMETERS.has(value) || BUFFERS.has(value) : kind.has(value);
          if (marked) yield [name, value];
        }
      }
    };
    yield* walk(this, '');
  }
}

/**
 * [name, value] for a module's fields, flattening arrays (`blocks.0`) and Maps (`experts.key`) to any
 * depth; plain objects and other values are leaves (only Tensors and Modules matter to callers).
 */
function* ownEntries(m: Module): Generator<[string, unknown]> {
  const expand = function* (name: string, value: unknown): Generator<[string, unknown]> {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) yield* expand(`${name}.${i}`, value[i]);
    } else if (value instanceof Map) {
      for (const [k, v] of value) yield* expand(`${name}.${String(k)}`, v);
    } else {
      yield [name, value];
    }
  };
  for (const key of Object.keys(m)) {
    if (key === 'training') continue;
    yield* expand(key, (m as unknown as Record<string, unknown>)[key]);
  }
}

/** Keeps the first name of each tensor. */
function uniqueTensors(entries: Iterable<[string, Tensor]>): Array<[string, Tensor]> {
  const seen = new Set<Tensor>();
  const out: Array<[string, Tensor]> = [];
  for (const [name, t] of entries) {
    if (seen.has(t)) continue;
    seen.add(t);
    out.push([name, t]);
  }
  return out;
}

function countText(n: number): string {
  return `${n.toLocaleString('en-US')} parameter${n === 1 ? '' : 's'}`;
}

/** One module as text: `(name): Class(extra) {own tensors}  N parameters`, children indented inside ( … ). */
function formatModule(m: Module, name: string, indent: string, seen: Set<Module>): string {
  const head = `${indent}${name === '' ? '' : `(${name}): `}${m.constructor.name}`;
  if (seen.has(m)) return `${head}(…shared, printed above)`;
  seen.add(m);
  const extra = m.extraRepr();
  const own = m._ownTensorSummary();
  const count = countText(m.numParameters());
  const children = m.children();
  if (children.length === 0) return `${head}(${extra})${own ? ` {${own}}` : ''}  ${count}`;
  const lines = [`${head}(${extra}${extra ? ',' : ''}`];
  if (own) lines.push(`${indent}  {${own}}`);
  for (const [key, child] of children) lines.push(formatModule(child, key, `${indent}  `, seen));
  lines.push(`${indent})  ${count}`);
  return lines.join('\n');
}

/** A shape as `[2, 3]` (nn's messages, which tests and docs quote, put a space after each comma). */
function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
