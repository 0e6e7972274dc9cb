/**
 * Optimizer updates (Backend.applyUpdate) as kernels: a rule's body compiled into one kernel per
 * state table, each returning that table's new value. Scalars are kernel number arguments, so a
 * changing learning rate neither recompiles nor uploads. Lazy mode: thread (row, col) binary-searches
 * its row in the ascending, −1-padded row index; rows not found return the old value unchanged.
 */
import { checkUpdateRule, type UpdateRule } from '@myriad/core';
import { f } from '../indexing.js';
import { EMPTY_KEY, lowerBound } from './sort.js';
import type { KernelSource } from './sources.js';

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
 * The kernel computing state table `k`'s new contents, [rows, width]. Arguments: the state tables,
 * the gradient, the row index (lazy mode only), then the rule's scalars in order.
 */
export function updateSource(rule: UpdateRule, k: number, rows: number, width: number, state: readonly TableOperand[], grad: TableOperand, lazyRows: number | null): KernelSource {
  const id = ruleId(rule);
  const at = (t: TableOperand, row: string): string => `${t.offset} + ${row} * ${t.rowStride} + this.thread.x`;
  const loads = rule.state.map((s, i) => `const ${s} = mrdS${i}[${at(state[i]!, 'this.thread.y')}]; let ${s}Next = ${s};`).join(' ');
  const args = [...rule.state.map((_, i) => `mrdS${i}`), 'mrdG', ...(lazyRows === null ? [] : ['mrdRi']), ...rule.scalars];
  const out = `${rule.state[k]}Next`;
  let body: string;
  if (lazyRows === null) {
    body = `${loads} const grad = mrdG[${at(grad, 'this.thread.y')}]; ${rule.body}\n return ${out};`;
  } else {
    const search = lowerBound('mrdRi', lazyRows, 'mrdRow', (e) => `(${e} < 0.0 ? ${f(EMPTY_KEY)} : ${e})`);
    body =
      `${loads} const mrdRow = this.thread.y * 1.0; ${search}` +
      ` if (mrdLo < ${f(lazyRows)}) { if (mrdRi[mrdLo] === mrdRow) { const grad = mrdG[${at(grad, 'mrdLo')}]; ${rule.body}\n } }` +
      ` return ${out};`;
  }
  const sig = `${rows}x${width}|${state.map((t) => `${t.offset}/${t.rowStride}`).join(',')}|${grad.offset}/${grad.rowStride}`;
  return { key: `update:${id}:${k}:${lazyRows ?? 'dense'}:${sig}`, source: `function(${args.join(', ')}) { ${body} }`, output: [width, rows, 1] };
}
