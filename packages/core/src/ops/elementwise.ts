import type { BinaryOp, UnaryOp } from '../backend.js';
import { record, type InputGrad } from '../autograd.js';
import { promoteTypes, type DType } from '../dtype.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { sumToShape } from './reduce.js';
import { broadcastView, sameBackend, wrap } from './util.js';

/** A tensor or a plain number (treated as a scalar of the other operand's dtype). */
export type Operand = Tensor | number;

/** A scalar tensor on `like`'s backend; integers stay int32 next to int32 tensors. */
export function scalarLike(value: number, like: Tensor): Tensor {
  const dtype: DType = like.dtype === 'int32' && !Number.isInteger(value) ? 'float32' : like.dtype;
  return wrap(like.backend, like.backend.full(dtype, 1, value), [], dtype);
}

/** @internal Ones of t's shape and dtype (seed gradient of backward()). */
export function onesOf(t: Tensor): Tensor {
  return full(t, 1);
}

function full(t: Tensor, value: number): Tensor {
  return wrap(t.backend, t.backend.full(t.dtype, t.size, value), t.shape, t.dtype);
}

/** Converts to `dtype`; differentiable between float dtypes. */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const out = wrap(x.backend, x.backend.cast(x, dtype), x.shape, dtype);
  if (dtype === 'int32') return out;
  return record('cast', out, [x], (dy) => [cast(dy, x.dtype)]);
}

function toPair(op: string, a: Operand, b: Operand, floatOnly: boolean): [Tensor, Tensor] {
  const A = typeof a === 'number' ? scalarLike(a, b as Tensor) : a;
  const B = typeof b === 'number' ? scalarLike(b, A) : b;
  sameBackend(op, A, B);
  let dtype = promoteTypes(A.dtype, B.dtype);
  if (floatOnly && dtype === 'int32') dtype = 'float32';
  return [cast(A, dtype), cast(B, dtype)];
}

type BinaryGrad = (dy: Tensor, a: Tensor, b: Tensor, out: Tensor) => [InputGrad, InputGrad];

function binary(op: BinaryOp, a: Operand, b: Operand, grad: BinaryGrad | null, floatOnly = false): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new TypeError(`${op}: at least one operand must be a tensor`);
  const [A, B] = toPair(op, a, b, floatOnly);
  const shape = broadcastShapes(op, A.shape, B.shape);
  const out = wrap(A.backend, A.backend.binary(op, broadcastView(A, shape), broadcastView(B, shape)), shape, A.dtype);
  if (grad === null) return out;
  return record(op, out, [A, B], (dy) => {
    const [ga, gb] = grad(dy, A, B, out);
    return [ga && sumToShape(ga as Tensor, A.shape), gb && sumToShape(gb as Tensor, B.shape)];
  });
}

type UnaryGrad = (dy: Tensor, x: Tensor, out: Tensor) => Tensor;

function unary(op: UnaryOp, x: Tensor, grad: UnaryGrad | null, floatOnly = true): Tensor {
  const X = floatOnly ? cast(x, x.dtype === 'int32' ? 'float32' : x.dtype) : x;
  const out = wrap(X.backend, X.backend.unary(op, X), X.shape, X.dtype);
  if (grad === null) return out;
  return record(op, out, [X], (dy) => [grad(dy, X, out)]);
}

/** a + b with broadcasting. */
export const add = (a: Operand, b: Operand): Tensor => binary('add', a, b, (dy) => [dy, dy]);
/** a - b with broadcasting. */
export const sub = (a: Operand, b: Operand): Tensor => binary('sub', a, b, (dy) => [dy, neg(dy)]);
/** a * b with broadcasting. */
export const mul = (a: Operand, b: Operand): Tensor => binary('mul', a, b, (dy, A, B) => [mul(dy, B), mul(dy, A)]);
/** a / b with broadcasting (true division: int32 operands give float32). */
export const div = (a: Operand, b: Operand): Tensor =>
  binary('div', a, b, (dy, A, B, out) => [div(dy, B), neg(mul(dy, div(out, B)))], true);
/** a ** b with broadcasting. */
export const pow = (a: Operand, b: Operand): Tensor =>
  binary('pow', a, b, (dy, A, B, out) => [mul(dy, mul(B, pow(A, sub(B, 1)))), B.requiresGrad ? mul(dy, mul(out, log(A))) : null], true);
/** Elementwise maximum (gradient goes to a where a >= b). */
export const maximum = (a: Operand, b: Operand): Tensor =>
  binary('maximum', a, b, (dy, A, B) => {
    const m = ge(A, B);
    return [mul(dy, m), mul(dy, sub(1, m))];
  });
/** Elementwise minimum (gradient goes to a where a <= b). */
export const minimum = (a: Operand, b: Operand): Tensor =>
  binary('minimum', a, b, (dy, A, B) => {
    const m = le(A, B);
    return [mul(dy, m), mul(dy, sub(1, m))];
  });
/** 1 where a == b else 0, in the promoted dtype. */
export const eq = (a: Operand, b: Operand): Tensor => binary('eq', a, b, null);
export const ne = (a: Operand, b: Operand): Tensor => binary('ne', a, b, null);
export const lt = (a: Operand, b: Operand): Tensor => binary('lt', a, b, null);
export const le = (a: Operand, b: Operand): Tensor => binary('le', a, b, null);
export const gt = (a: Operand, b: Operand): Tensor => binary('gt', a, b, null);
export const ge = (a: Operand, b: Operand): Tensor => binary('ge', a, b, null);

/** -x. */
export const neg = (x: Tensor): Tensor => unary('neg', x, (dy) => neg(dy), false);
/** e^x. */
export const exp = (x: Tensor): Tensor => unary('exp', x, (dy, _x, out) => mul(dy, out));
/** Natural logarithm. */
export const log = (x: Tensor): Tensor => unary('log', x, (dy, X) => div(dy, X));
/** Square root. */
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x, (dy, _x, out) => div(mul(dy, 0.5), out));
/** |x| (gradient sign(x), 0 at 0). */
export const abs = (x: Tensor): Tensor => unary('abs', x, (dy, X) => mul(dy, sign(X)), false);
/** Hyperbolic tangent. */
export const tanh = (x: Tensor): Tensor => unary('tanh', x, (dy, _x, out) => mul(dy, sub(1, square(out))));
/** Logistic sigmoid 1 / (1 + e^-x). */
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x, (dy, _x, out) => mul(dy, mul(out, sub(1, out))));
/** max(x, 0). */
export const relu = (x: Tensor): Tensor => unary('relu', x, (dy, X) => mul(dy, gt(X, 0)), false);
/** Exact GELU: x·Φ(x) = x/2·(1 + erf(x/√2)). Gradient Φ(x) + x·φ(x) (see geluGrad). */
export const gelu = (x: Tensor): Tensor => unary('gelu', x, (dy, X) => mul(dy, geluGrad(X)));
/** The derivative of GELU, Φ(x) + x·φ(x), as one elementwise op (not differentiable itself). */
export const geluGrad = (x: Tensor): Tensor => unary('geluGrad', x, null);
/** SiLU / swish: x·sigmoid(x). */
export const silu = (x: Tensor): Tensor =>
  unary('silu', x, (dy, X) => {
    const s = sigmoid(X);
    return mul(dy, add(s, mul(X, mul(s, sub(1, s)))));
  });
/** Error function. */
export const erf = (x: Tensor): Tensor => unary('erf', x, (dy, X) => mul(dy, mul(exp(neg(square(X))), 2 / Math.sqrt(Math.PI))));
/** x². */
export const square = (x: Tensor): Tensor => unary('square', x, (dy, X) => mul(dy, mul(X, 2)), false);
/** 1/x. */
export const reciprocal = (x: Tensor): Tensor => unary('reciprocal', x, (dy, _x, out) => neg(mul(dy, square(out))));
/** Sine (radians). */
export const sin = (x: Tensor): Tensor => unary('sin', x, (dy, X) => mul(dy, cos(X)));
/** Cosine (radians). */
export const cos = (x: Tensor): Tensor => unary('cos', x, (dy, X) => neg(mul(dy, sin(X))));
/** -1, 0 or 1 (no gradient). */
export const sign = (x: Tensor): Tensor => unary('sign', x, null, false);

/** Clamps into [min, max] (either bound optional, numbers or broadcasting tensors); gradient passes where not clamped. */
export function clamp(x: Tensor, min?: Operand, max?: Operand): Tensor {
  if (typeof min === 'number' && typeof max === 'number' && min > max) throw new RangeError(`clamp: min ${min} > max ${max}`);
  let y = x;
  if (min !== undefined) y = maximum(y, min);
  if (max !== undefined) y = minimum(y, max);
  return y;
}
