import type { BinaryOp, UnaryOp } from '../backend.js';
import type { TypedArray } from '../dtype.js';
import { erf, erf32 } from './math.js';

/** A strided loop over one row: out[oo + i*os] = f(x[xo + i*xs]). */
type UnaryLoop = (x: TypedArray, xo: number, xs: number, out: TypedArray, oo: number, os: number, n: number) => void;
type BinaryLoop = (
  a: TypedArray,
  ao: number,
  as: number,
  b: TypedArray,
  bo: number,
  bs: number,
  out: TypedArray,
  oo: number,
  os: number,
  n: number,
) => void;

// Each op is a scalar expression in `a` (and `b`). Loops are generated once per op so every op gets
// its own monomorphic, inlinable loop instead of a shared loop calling a closure per element.
const UNARY_EXPR: Record<UnaryOp, string> = {
  neg: '-a',
  exp: 'Math.exp(a)',
  log: 'Math.log(a)',
  sqrt: 'Math.sqrt(a)',
  abs: 'Math.abs(a)',
  tanh: 'Math.tanh(a)',
  sigmoid: '1 / (1 + Math.exp(-a))',
  relu: 'a <= 0 ? 0 : a', // NaN fails every comparison, so it passes through (as in PyTorch)
  gelu: '0.5 * a * (1 + erf(a * Math.SQRT1_2))',
  silu: 'a / (1 + Math.exp(-a))',
  erf: 'erf(a)',
  sign: 'a > 0 ? 1 : a < 0 ? -1 : 0',
  square: 'a * a',
  reciprocal: '1 / a',
  sin: 'Math.sin(a)',
  cos: 'Math.cos(a)',
  // d/dx gelu(x) = Φ(x) + x·φ(x), fused so GELU's backward is one pass instead of ten.
  geluGrad: '0.5 * (1 + erf(a * Math.SQRT1_2)) + a * 0.3989422804014327 * Math.exp(-0.5 * a * a)',
};

const BINARY_EXPR: Record<BinaryOp, string> = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  pow: 'Math.pow(a, b)',
  maximum: 'a > b || a !== a ? a : b',
  minimum: 'a < b || a !== a ? a : b',
  eq: 'a === b ? 1 : 0',
  ne: 'a !== b ? 1 : 0',
  lt: 'a < b ? 1 : 0',
  le: 'a <= b ? 1 : 0',
  gt: 'a > b ? 1 : 0',
  ge: 'a >= b ? 1 : 0',
};

function compileUnary(expr: string, erfImpl: (x: number) => number = erf): UnaryLoop {
  const body = `return function unaryLoop(x, xo, xs, out, oo, os, n) {
    for (let i = 0; i < n; i++) { const a = x[xo]; out[oo] = ${expr}; xo += xs; oo += os; }
  };`;
  return new Function('erf', body)(erfImpl) as UnaryLoop;
}

function compileBinary(expr: string): BinaryLoop {
  const body = `return function binaryLoop(a_, ao, as, b_, bo, bs, out, oo, os, n) {
    for (let i = 0; i < n; i++) { const a = a_[ao], b = b_[bo]; out[oo] = ${expr}; ao += as; bo += bs; oo += os; }
  };`;
  return new Function(body)() as BinaryLoop;
}

export const unaryLoops = Object.fromEntries(Object.entries(UNARY_EXPR).map(([op, expr]) => [op, compileUnary(expr)])) as Record<
  UnaryOp,
  UnaryLoop
>;

/** The same loops with float32-accurate erf (gelu, erf), for float32 and int32 tensors. */
export const unaryLoopsF32 = Object.fromEntries(
  Object.entries(UNARY_EXPR).map(([op, expr]) => [op, expr.includes('erf') ? compileUnary(expr, erf32) : unaryLoops[op as UnaryOp]]),
) as Record<UnaryOp, UnaryLoop>;

export const binaryLoops = Object.fromEntries(Object.entries(BINARY_EXPR).map(([op, expr]) => [op, compileBinary(expr)])) as Record<
  BinaryOp,
  BinaryLoop
>;

/** Plain strided copy (also converts between typed array kinds). */
export const copyLoop: UnaryLoop = compileUnary('a');

/** float32 unary op over a contiguous run: out[outOffset + i] = op(x[xOffset + i]) for i < n. */
export function unaryRunF32Js(op: UnaryOp, x: Float32Array, xOffset: number, out: Float32Array, outOffset: number, n: number): void {
  unaryLoopsF32[op](x, xOffset, 1, out, outOffset, 1, n);
}

/**
 * out[outOffset + i] = A(i) op B(i) for i < n, where A(i) = a[aOffset + i % aLength] and B likewise:
 * each operand is a scalar (length 1), a full run (length n) or a row repeated along the output.
 */
export function binaryRunJs(
  op: BinaryOp,
  a: TypedArray,
  aOffset: number,
  aLength: number,
  b: TypedArray,
  bOffset: number,
  bLength: number,
  out: TypedArray,
  outOffset: number,
  n: number,
): void {
  const loop = binaryLoops[op];
  const as = aLength === 1 ? 0 : 1;
  const bs = bLength === 1 ? 0 : 1;
  // Runs end where the output ends or a repeated operand wraps to its start.
  for (let s = 0; s < n;) {
    const ia = as * (s % aLength),
      ib = bs * (s % bLength);
    let run = n - s;
    if (as && aLength - ia < run) run = aLength - ia;
    if (bs && bLength - ib < run) run = bLength - ib;
    loop(a, aOffset + ia, as, b, bOffset + ib, bs, out, outOffset + s, 1, run);
    s += run;
  }
}
