/**
 * Optimizer updates (Backend.applyUpdate) as kernels: a rule's body compiled into one kernel per
 * state table, each returning that table's new value. Scalars are kernel number arguments, so a
 * changing learning rate neither recompiles nor uploads. Lazy mode: each row finds its slot in the
 * ascending, −1-padded row index once (binary search), the rule runs on the touched rows only, and a
 * merge writes each table's new version (touched rows updated, every other element copied unchanged).
 */
import { checkUpdateRule, type UpdateRule } from '@myriad/core';
import { f } from '../indexing.js';
import { EMPTY_KEY, lowerBound } from './sort.js';
import type { KernelSource } from './source.js';

/** Where a state table or the gradient lives: element (r, c) at offset + r·rowStride + c. */
export interface TableOperand {
  readonly offset: number;
  readonly rowStride: number;
}

const INTERNAL = /^mrd/;
const ruleIds = new WeakMap<UpdateRule, number>();
let nextRuleId = 0;

function ruleId(rule: UpdateRule): number {
  let id = ruleIds.get(rule);
  if (id === undefined) {
    checkUpdateRule(rule);
    const clash = [...rule.state, ...rule.scalars].find((s) => INTERNAL.test(s));
    if (clash) throw new Error(`update rule '${rule.name}': the gpu backend reserves names starting with 'mrd' (got '${clash}')`);
    id = nextRuleId++;
    ruleIds.set(rule, id);
  }
  return id;
}

/**
 * Dense: the kernel computing state table `k`'s new contents, [rows, width], from every table and the
 * gradient. Lazy (`lazyRows` = n): the new contents of the n touched rows only, [n, width], thread
 * (col, u) reading row rowIndex[u] of every table and gradient row u (slots with −1 give 0, unused).
 * Arguments: the state tables, the gradient, the row index (lazy only), then the rule's scalars.
 */
export function updateSource(
  rule: UpdateRule,
  k: number,
  rows: number,
  width: number,
  state: readonly TableOperand[],
  grad: TableOperand,
  lazyRows: number | null,
): KernelSource {
  const id = ruleId(rule);
  const at = (t: TableOperand, row: string): string => `${t.offset} + ${row} * ${t.rowStride} + this.thread.x`;
  const row = lazyRows === null ? 'this.thread.y' : 'mrdRow';
  const loads = rule.state.map((s, i) => `const ${s} = mrdS${i}[${at(state[i]!, row)}]; let ${s}Next = ${s};`).join(' ');
  const args = [...rule.state.map((_, i) => `mrdS${i}`), 'mrdG', ...(lazyRows === null ? [] : ['mrdRi']), ...rule.scalars];
  const out = `${rule.state[k]}Next`;
  const apply = `${loads} const grad = mrdG[${at(grad, 'this.thread.y')}]; ${rule.body}\n return ${out};`;
  const body = lazyRows === null ? apply : `const mrdRow = mrdRi[this.thread.y]; if (mrdRow < 0.0) { return 0.0; } ${apply}`;
  const sig = `${rows}x${width}|${state.map((t) => `${t.offset}/${t.rowStride}`).join(',')}|${grad.offset}/${grad.rowStride}`;
  const key = `update:${id}:${k}:${lazyRows ?? 'dense'}:${sig}`;
  return { key, source: `function(${args.join(', ')}) { ${body} }`, output: [width, lazyRows ?? rows, 1] };
}

/** For each of `rows` rows, its slot in the ascending, −1-padded row index of n entries, or −1; output [rows]. */
export function rowSlotsSource(rows: number, n: number): KernelSource {
  const search = lowerBound('ri', n, 'r', (e) => `(${e} < 0.0 ? ${f(EMPTY_KEY)} : ${e})`);
  const body = `const r = this.thread.x * 1.0; ${search} if (mrdLo < ${f(n)}) { if (ri[mrdLo] === r) { return mrdLo; } } return -1.0;`;
  return { key: `rowSlots:${rows}:${n}`, source: `function(ri) { ${body} }`, output: [rows, 1, 1] };
}

/** A table's new contents: touched rows from the lazy update's rows, every other element copied unchanged. */
export function mergeRowsSource(rows: number, width: number, table: TableOperand): KernelSource {
  const body =
    `const s = sl[this.thread.y]; if (s >= 0.0) { return up[s * ${width} + this.thread.x]; }` +
    ` return old[${table.offset} + this.thread.y * ${table.rowStride} + this.thread.x];`;
  const key = `mergeRows:${rows}x${width}:${table.offset}/${table.rowStride}`;
  return { key, source: `function(sl, up, old) { ${body} }`, output: [width, rows, 1] };
}
