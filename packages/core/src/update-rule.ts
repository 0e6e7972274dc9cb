// An optimizer's per-element update, written once as a few JavaScript statements that every backend
// compiles: the CPU backend (and the optimizers' in-place host path) into a typed-array loop, a GPU
// backend into one kernel per state table. So SGD or Adam has ONE definition of its update, and a
// lazy row-sparse update runs the same statements as a dense one (touched rows agree bit for bit).
import type { TypedArray } from './dtype.js';

/**
 * The update of one element. `body` reads `grad`, each state name (the current value) and each
 * scalar, and assigns the new value of state `s` to `sNext` (declared for it, starting at the current
 * value). Write it in the JavaScript subset GPU kernel compilers accept: `const`/`let`, arithmetic,
 * comparisons, `?:`, `Math.*`, and float literals with a decimal point (`1.0`, not `1`).
 */
export interface UpdateRule {
  /** Names the rule in kernel caches and messages, e.g. 'adam'. */
  readonly name: string;
  /** State tables, parameter first (e.g. ['param', 'expAvg', 'expAvgSq']). */
  readonly state: readonly string[];
  /** Scalar hyper-parameters in the order callers pass them (e.g. ['lr', 'weightDecay']). */
  readonly scalars: readonly string[];
  readonly body: string;
}

/** A compiled rule: updates `n` elements of every state table in place from `grad`. */
export type CompiledUpdate = (
  state: readonly TypedArray[],
  grad: TypedArray,
  scalars: readonly number[],
  stateStart: number,
  gradStart: number,
  n: number,
) => void;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const compiled = new WeakMap<UpdateRule, CompiledUpdate>();

/** Checks a rule's names (identifiers, distinct, none called `grad`); throws naming the rule and the bad name. */
export function checkUpdateRule(rule: UpdateRule): void {
  const names = ['grad', ...rule.state, ...rule.state.map((s) => `${s}Next`), ...rule.scalars];
  const seen = new Set<string>();
  for (const n of names) {
    if (!IDENTIFIER.test(n)) throw new Error(`update rule '${rule.name}': '${n}' is not an identifier`);
    if (seen.has(n)) throw new Error(`update rule '${rule.name}': the name '${n}' is used twice (state, scalars and 'grad' must differ)`);
    seen.add(n);
  }
  if (rule.state.length === 0) throw new Error(`update rule '${rule.name}': needs at least one state table (the parameter)`);
}

/** The rule as an in-place loop over typed arrays (compiled once per rule object). */
export function compileUpdateRule(rule: UpdateRule): CompiledUpdate {
  const hit = compiled.get(rule);
  if (hit) return hit;
  checkUpdateRule(rule);
  // Internal names start with $, which rule identifiers cannot, so a body may use any plain name.
  const loads = rule.state.map((s, k) => `const ${s} = $s${k}[$i]; let ${s}Next = ${s};`).join('\n      ');
  const stores = rule.state.map((s, k) => `$s${k}[$i] = ${s}Next;`).join(' ');
  const source = `
    ${rule.state.map((_, k) => `const $s${k} = $state[${k}];`).join(' ')}
    ${rule.scalars.map((name, k) => `const ${name} = $scalars[${k}];`).join(' ')}
    for (let $i = $stateStart, $j = $gradStart, $end = $stateStart + $n; $i < $end; $i++, $j++) {
      const grad = $g[$j];
      ${loads}
      ${rule.body}
      ${stores}
    }`;
  const fn = new Function('$state', '$g', '$scalars', '$stateStart', '$gradStart', '$n', source) as CompiledUpdate;
  compiled.set(rule, fn);
  return fn;
}
