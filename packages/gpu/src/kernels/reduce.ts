/** Reductions along one axis: sum/max/min/argmax, and the per-row log-sum-exp of the row ops. */
import type { ReduceOp } from '@myriad/core';
import { offsetExpr, planSpace } from '../indexing.js';
import { sig, type KernelSource, type Operand } from './source.js';

/**
 * Reduction along one axis of x: the output space is x.shape without `axis`; the loop walks `len`
 * elements `step` apart. `kind` picks sum, max, min or argmax (first index on ties).
 */
export function reduceSource(kind: ReduceOp, outShape: readonly number[], x: Operand, len: number, step: number): KernelSource {
  const space = planSpace(outShape, [x.strides]);
  const base = offsetExpr(space, 0, x.offset);
  let body: string;
  if (kind === 'sum') {
    body = `let acc = 0.0; for (let r = 0; r < ${len}; r++) { acc += a0[${base} + r * ${step}]; } return acc;`;
  } else if (kind === 'argmax') {
    body =
      `let best = a0[${base}]; let bi = 0.0; for (let r = 1; r < ${len}; r++) { const v = a0[${base} + r * ${step}];` +
      ' if (v > best) { best = v; bi = r; } } return bi;';
  } else {
    const cmp = kind === 'max' ? '>' : '<';
    body =
      `let acc = a0[${base}]; for (let r = 1; r < ${len}; r++) { const v = a0[${base} + r * ${step}];` +
      ` if (v ${cmp} acc) { acc = v; } } return acc;`;
  }
  return { key: `reduce:${kind}:${len}:${step}:${sig(space, [x.offset])}`, source: `function(a0) { ${body} }`, output: space.output };
}

/** Stable log-sum-exp along the last axis (length `len`, stride `step`) for every row. */
export function logsumexpSource(rowShape: readonly number[], x: Operand, len: number, step: number): KernelSource {
  const space = planSpace(rowShape, [x.strides]);
  const base = offsetExpr(space, 0, x.offset);
  const body =
    `let m = a0[${base}]; for (let r = 1; r < ${len}; r++) { const v = a0[${base} + r * ${step}]; if (v > m) { m = v; } }` +
    ` let s = 0.0; for (let r = 0; r < ${len}; r++) { s += Math.exp(a0[${base} + r * ${step}] - m); }` +
    ` return m + Math.log(s);`;
  return { key: `lse:${len}:${step}:${sig(space, [x.offset])}`, source: `function(a0) { ${body} }`, output: space.output };
}
