/**
 * Rows of a table read in place by index, without gathering them first: embeddingBag (weighted sums of
 * rows, one thread per output element) and rowDots (dot products of rows with one vector per token,
 * one thread per slot). PEER's expertMix is one of each; PKM's value read is an embeddingBag.
 * Each thread sums its terms in the order the CPU reference does (slots, or columns, ascending).
 */
import type { RowsOperand } from './scatter.js';
import type { KernelSource } from './source.js';

/** A [T, S] operand (indices, weights) or [T, width] operand (x): element (t, j) at offset + t·rowStride + j·colStride. */
export type MatrixOperand = RowsOperand;

/** `base + Σ coord·stride` as an inline integer expression (zero strides dropped). */
function at(base: number, terms: readonly (readonly [string, number])[]): string {
  const parts = base === 0 ? [] : [String(base)];
  for (const [coord, stride] of terms) if (stride !== 0) parts.push(stride === 1 ? coord : `${coord} * ${stride}`);
  return parts.length === 0 ? '0' : parts.join(' + ');
}

function key(name: string, dims: readonly number[], ops: readonly MatrixOperand[]): string {
  return `${name}:${dims.join('x')}|${ops.map((o) => `${o.offset},${o.rowStride},${o.colStride}`).join('|')}`;
}

/**
 * out[t, c] = Σₛ weights[t, s] · table[indices[t, s], c]: T tokens, S slots, rows of `width`; output
 * [T, width] as gpu.js [width, T]. Arguments: (table, indices, weights).
 */
export function embeddingBagSource(
  T: number,
  S: number,
  width: number,
  table: RowsOperand,
  indices: MatrixOperand,
  weights: MatrixOperand,
): KernelSource {
  const t = 'this.thread.y';
  const row = `ix[${at(indices.offset, [
    [t, indices.rowStride],
    ['s', indices.colStride],
  ])}]`;
  const w = `wt[${at(weights.offset, [
    [t, weights.rowStride],
    ['s', weights.colStride],
  ])}]`;
  const cell = `tb[${at(table.offset, [
    ['this.thread.x', table.colStride],
    [row, table.rowStride],
  ])}]`;
  const body = `let acc = 0.0; for (let s = 0; s < ${S}; s++) { acc += ${w} * ${cell}; } return acc;`;
  return {
    key: key('embeddingBag', [T, S, width], [table, indices, weights]),
    source: `function(tb, ix, wt) { ${body} }`,
    output: [width, T, 1],
  };
}

/**
 * out[t, s] = table[indices[t, s]] · x[t]: T tokens, S slots, rows of `width`; output [T, S] as
 * gpu.js [S, T]. Arguments: (table, indices, x).
 */
export function rowDotsSource(
  T: number,
  S: number,
  width: number,
  table: RowsOperand,
  indices: MatrixOperand,
  x: MatrixOperand,
): KernelSource {
  const t = 'this.thread.y';
  // The row's first element, once per thread: below 2^24 like every kernel buffer offset, so exact in f32.
  const rowStart = at(table.offset, [
    [
      `ix[${at(indices.offset, [
        [t, indices.rowStride],
        ['this.thread.x', indices.colStride],
      ])}]`,
      table.rowStride,
    ],
  ]);
  const cell = `tb[${at(0, [
    ['r0', 1],
    ['c', table.colStride],
  ])}]`;
  const xv = `xv[${at(x.offset, [
    [t, x.rowStride],
    ['c', x.colStride],
  ])}]`;
  const body = `const r0 = ${rowStart}; let acc = 0.0; for (let c = 0; c < ${width}; c++) { acc += ${cell} * ${xv}; } return acc;`;
  return {
    key: key('rowDots', [T, S, width], [table, indices, x]),
    source: `function(tb, ix, xv) { ${body} }`,
    output: [S, T, 1],
  };
}
