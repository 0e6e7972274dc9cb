/**
 * Elementwise kernels: the scalar bodies of unary and binary ops (f32, also exact on int32 values
 * below 2^24) and the strided map that loads each operand and runs a body.
 */
import type { BinaryOp, UnaryOp } from '@myriad/core';
import { offsetExpr, planSpace } from '../indexing.js';
import { sig, type KernelSource, type Operand } from './source.js';

// Scalar bodies over `a` (and `b`); statements may declare temporaries, the result goes in `r`.
// GELU is the exact erf form: erf by Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7, below f32 resolution at 1).
const ERF = (x: string): string =>
  `const ex = ${x}; const et = 1.0 / (1.0 + 0.3275911 * Math.abs(ex));` +
  ` const ey = 1.0 - (((((1.061405429 * et - 1.453152027) * et) + 1.421413741) * et - 0.284496736) * et + 0.254829592)` +
  ` * et * Math.exp(-ex * ex);` +
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
  sin: 'const r = Math.sin(a);',
  cos: 'const r = Math.cos(a);',
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

const ARG_NAMES = ['a0', 'a1', 'a2', 'a3'];

/**
 * Elementwise map over `shape`: loads each operand at its strided offset into v0, v1, … and runs
 * `body` (which must define `r`). `name` distinguishes bodies in the cache key.
 */
export function mapSource(name: string, body: string, shape: readonly number[], operands: readonly Operand[]): KernelSource {
  const space = planSpace(
    shape,
    operands.map((o) => o.strides),
  );
  const args = operands.map((_, k) => ARG_NAMES[k]!);
  const loads = operands.map((o, k) => `const v${k} = ${args[k]}[${offsetExpr(space, k, o.offset)}];`).join(' ');
  const source = `function(${args.join(', ')}) { ${loads} ${body} return r; }`;
  return {
    key: `map:${name}:${sig(
      space,
      operands.map((o) => o.offset),
    )}`,
    source,
    output: space.output,
  };
}
