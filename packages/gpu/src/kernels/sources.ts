/**
 * gpu.js kernel sources, generated per shape signature (shapes, strides and offsets are baked in
 * as literals so every index stays an exact integer expression; see ../indexing.ts). Each builder
 * returns the JavaScript function source gpu.js compiles, plus the gpu.js output size.
 */
import type { BinaryOp, ReduceOp, UnaryOp } from '@myriad/core';
import { f, offsetExpr, planSpace, type Space } from '../indexing.js';

/** A generated kernel: gpu.js source, output [X, Y, Z], and the cache key that identifies it. */
export interface KernelSource {
  readonly key: string;
  readonly source: string;
  readonly output: readonly [number, number, number];
}

/** Operand layout: strides over the output shape and the starting offset. */
export interface Operand {
  readonly strides: readonly number[];
  readonly offset: number;
}

// Scalar bodies over `a` (and `b`); statements may declare temporaries, the result goes in `r`.
// GELU is the exact erf form: erf by Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7, below f32 resolution at 1).
const ERF = (x: string): string =>
  `const ex = ${x}; const et = 1.0 / (1.0 + 0.3275911 * Math.abs(ex));` +
  ` const ey = 1.0 - (((((1.061405429 * et - 1.453152027) * et) + 1.421413741) * et - 0.284496736) * et + 0.254829592) * et * Math.exp(-ex * ex);` +
  ` const ev = ex >= 0.0 ? ey : -ey;`;

export const UNARY_BODY: Record<UnaryOp, string> = {
  neg: 'const r = -a;',
  exp: 'const r = Math.exp(a);',
  log: 'const r = Math.log(a);',
  sqrt: 'const r = Math.sqrt(a);',
  abs: 'const r = Math.abs(a);',
  // tanh through exp of a non-positive argument, so large |a| cannot overflow.
  tanh: 'const te = Math.exp(-2.0 * Math.abs(a)); const tt = (1.0 - te) / (1.0 + te); const r = a >= 0.0 ? tt : -tt;',
  sigmoid: 'const r = 1.0 / (1.0 + Math.exp(-a));',
  relu: 'const r = a > 0.0 ? a : 0.0;',
  gelu: `${ERF('a * 0.7071067811865476')} const r = 0.5 * a * (1.0 + ev);`,
  silu: 'const r = a / (1.0 + Math.exp(-a));',
  erf: `${ERF('a')} const r = ev;`,
  sign: 'const r = a > 0.0 ? 1.0 : (a < 0.0 ? -1.0 : 0.0);',
  square: 'const r = a * a;',
  reciprocal: 'const r = 1.0 / a;',
  geluGrad: `${ERF('a * 0.7071067811865476')} const r = 0.5 * (1.0 + ev) + a * 0.3989422804014327 * Math.exp(-0.5 * a * a);`,
};

export const BINARY_BODY: Record<BinaryOp, string> = {
  add: 'const r = a + b;',
  sub: 'const r = a - b;',
  mul: 'const r = a * b;',
  div: 'const r = a / b;',
  pow: 'const r = Math.pow(a, b);',
  maximum: 'const r = a > b ? a : b;',
  minimum: 'const r = a < b ? a : b;',
  eq: 'const r = a === b ? 1.0 : 0.0;',
  ne: 'const r = a !== b ? 1.0 : 0.0;',
  lt: 'const r = a < b ? 1.0 : 0.0;',
  le: 'const r = a <= b ? 1.0 : 0.0;',
  gt: 'const r = a > b ? 1.0 : 0.0;',
  ge: 'const r = a >= b ? 1.0 : 0.0;',
};

function sig(space: Space, operands: readonly Operand[]): string {
  return `${space.dims.join('x')}|${space.strides.map((s, k) => `${s.join(',')}@${operands[k]!.offset}`).join('|')}`;
}

const ARG_NAMES = ['a0', 'a1', 'a2', 'a3'];

/**
 * Elementwise map over `shape`: loads each operand at its strided offset into v0, v1, … and runs
 * `body` (which must define `r`). `name` distinguishes bodies in the cache key.
 */
export function mapSource(name: string, body: string, shape: readonly number[], operands: readonly Operand[]): KernelSource {
  const space = planSpace(shape, operands.map((o) => o.strides));
  const args = operands.map((_, k) => ARG_NAMES[k]!);
  const loads = operands.map((o, k) => `const v${k} = ${args[k]}[${offsetExpr(space, k, o.offset)}];`).join(' ');
  const source = `function(${args.join(', ')}) { ${loads} ${body} return r; }`;
  return { key: `map:${name}:${sig(space, operands)}`, source, output: space.output };
}

/**
 * Reduction along one axis of x: the output space is x.shape without `axis`; the loop walks `len`
 * elements `step` apart. `kind` picks sum, max, min or argmax (first index on ties).
 */
export function reduceSource(kind: ReduceOp | 'argmax', outShape: readonly number[], x: Operand, len: number, step: number): KernelSource {
  const space = planSpace(outShape, [x.strides]);
  const base = offsetExpr(space, 0, x.offset);
  let body: string;
  if (kind === 'sum') {
    body = `let acc = 0.0; for (let r = 0; r < ${len}; r++) { acc += a0[${base} + r * ${step}]; } return acc;`;
  } else if (kind === 'argmax') {
    body = `let best = a0[${base}]; let bi = 0.0; for (let r = 1; r < ${len}; r++) { const v = a0[${base} + r * ${step}]; if (v > best) { best = v; bi = r; } } return bi;`;
  } else {
    const cmp = kind === 'max' ? '>' : '<';
    body = `let acc = a0[${base}]; for (let r = 1; r < ${len}; r++) { const v = a0[${base} + r * ${step}]; if (v ${cmp} acc) { acc = v; } } return acc;`;
  }
  return { key: `reduce:${kind}:${len}:${step}:${sig(space, [x])}`, source: `function(a0) { ${body} }`, output: space.output };
}

/** Stable log-sum-exp along the last axis (length `len`, stride `step`) for every row. */
export function logsumexpSource(rowShape: readonly number[], x: Operand, len: number, step: number): KernelSource {
  const space = planSpace(rowShape, [x.strides]);
  const base = offsetExpr(space, 0, x.offset);
  const body =
    `let m = a0[${base}]; for (let r = 1; r < ${len}; r++) { const v = a0[${base} + r * ${step}]; if (v > m) { m = v; } }` +
    ` let s = 0.0; for (let r = 0; r < ${len}; r++) { s += Math.exp(a0[${base} + r * ${step}] - m); }` +
    ` return m + Math.log(s);`;
  return { key: `lse:${len}:${step}:${sig(space, [x])}`, source: `function(a0) { ${body} }`, output: space.output };
}

/**
 * Batched matmul: output [...batch, M, N] as gpu.js [N, M, batch]; each thread runs the K loop.
 * gpu.js exposes no workgroup memory, so tiling is not expressible; on WebAssembly the x threads run
 * in f32x4 SIMD lanes, which is what makes the inner loop fast there.
 */
export function matmulSource(
  batchShape: readonly number[], M: number, N: number, K: number,
  a: Operand & { readonly rowStride: number; readonly colStride: number },
  b: Operand & { readonly rowStride: number; readonly colStride: number },
): KernelSource {
  // Space over [...batch, M, N]: a ignores N, b ignores M.
  const shape = [...batchShape, M, N];
  const space = planSpace(shape, [
    [...a.strides, a.rowStride, 0],
    [...b.strides, 0, b.colStride],
  ]);
  const ao = offsetExpr(space, 0, a.offset);
  const bo = offsetExpr(space, 1, b.offset);
  const body = `let acc = 0.0; for (let k = 0; k < ${K}; k++) { acc += a0[${ao} + k * ${a.colStride}] * a1[${bo} + k * ${b.rowStride}]; } return acc;`;
  const key = `matmul:${K}:${a.colStride}:${b.rowStride}:${sig(space, [a, b])}`;
  return { key, source: `function(a0, a1) { ${body} }`, output: space.output };
}

/**
 * Top-k along the last axis: for each row, output slot j < k holds the j-th largest value and slot
 * k + j its index (as a float). Thread j walks the row j + 1 times, each pass taking the best element
 * that ranks after the previous pass's pick in the order (value descending, index ascending), so ties
 * go to the lower index exactly as on the CPU. O(n·k²) per row, all rows and ranks in parallel.
 */
export function topkSource(rowShape: readonly number[], x: Operand, n: number, step: number, k: number): KernelSource {
  const space = planSpace([...rowShape, 2 * k], [[...x.strides, 0]]);
  const base = offsetExpr(space, 0, x.offset);
  // Slot thread.x selects rank thread.x (values) or thread.x - k (indices). The 2k slots stay the
  // innermost thread dim: their stride 0 never merges with a row stride (rows are made non-aliasing).
  const body =
    `let pv = 0.0; let pi = -1.0; let bv = 0.0; let bi = -1.0;` +
    ` for (let t = 0; t < ${k}; t++) {` +
    `  if (t <= this.thread.x && (this.thread.x < ${k} || t + ${k} <= this.thread.x)) {` +
    `   bv = 0.0; bi = -1.0;` +
    `   for (let i = 0; i < ${n}; i++) {` +
    `    const v = a0[${base} + i * ${step}];` +
    `    if (pi < 0.0 || v < pv || (v === pv && i > pi)) { if (bi < 0.0 || v > bv) { bv = v; bi = i; } }` +
    `   }` +
    `   pv = bv; pi = bi;` +
    `  }` +
    ` }` +
    ` return this.thread.x >= ${k} ? bi : bv;`;
  return { key: `topk:${n}:${step}:${k}:${sig(space, [x])}`, source: `function(a0) { ${body} }`, output: space.output };
}

/**
 * Reads along one dim by index: out[..i..] = x[..index[..i..] at dim..] (torch.gather, and
 * gatherRows with dim 0). x's stride along `dim` is `dimStride`; the index operand's strides and x's
 * strides (0 along dim) are both over the output shape.
 */
export function gatherSource(outShape: readonly number[], x: Operand, index: Operand, dimStride: number): KernelSource {
  const space = planSpace(outShape, [x.strides, index.strides]);
  const xo = offsetExpr(space, 0, x.offset);
  const io = offsetExpr(space, 1, index.offset);
  const source = `function(a0, a1) { return a0[${xo} + a1[${io}] * ${dimStride}]; }`;
  return { key: `gather:${dimStride}:${sig(space, [x, index])}`, source, output: space.output };
}

export { f };
