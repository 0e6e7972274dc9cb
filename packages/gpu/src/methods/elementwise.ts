/**
 * The elementwise methods of the gpu backend: one mapped kernel each (the op bodies are in kernels/elementwise.ts).
 */
import { cpuBackend, shapeSize, type BinaryOp, type Storage, type TypedArray, type UnaryOp, type View } from '@myriad/core';
import { BINARY_BODY, UNARY_BODY, mapSource } from '../kernels/elementwise.js';
import type { KernelSource } from '../kernels/source.js';
import type { OpRunner } from '../op-runner.js';
import { operand } from '../views.js';

/** Backend.unary. */
export function unary(run: OpRunner, op: UnaryOp, x: View): Storage {
  const size = shapeSize(x.shape);
  const src = (): KernelSource => mapSource(op, `const a = v0; ${UNARY_BODY[op]}`, x.shape, [operand(x)]);
  return run.one(`unary.${op}`, x.dtype, [x], { dtype: x.dtype, size }, src, ([h]) => cpuBackend.unary(op, h!) as TypedArray);
}

/** Backend.binary: a and b already broadcast to one shape. */
export function binary(run: OpRunner, op: BinaryOp, a: View, b: View): Storage {
  const size = shapeSize(a.shape);
  const src = (): KernelSource => mapSource(op, `const a = v0; const b = v1; ${BINARY_BODY[op]}`, a.shape, [operand(a), operand(b)]);
  const cpu = ([ha, hb]: View[]): TypedArray => cpuBackend.binary(op, ha!, hb!) as TypedArray;
  return run.one(`binary.${op}`, a.dtype, [a, b], { dtype: a.dtype, size }, src, cpu);
}

/** Backend.where: v1 where cond is non-zero, else v2. */
export function where(run: OpRunner, cond: View, a: View, b: View): Storage {
  const size = shapeSize(a.shape);
  const src = (): KernelSource => mapSource('where', 'const r = v0 !== 0.0 ? v1 : v2;', a.shape, [operand(cond), operand(a), operand(b)]);
  const cpu = ([hc, ha, hb]: View[]): TypedArray => cpuBackend.where(hc!, ha!, hb!) as TypedArray;
  return run.one('where', a.dtype, [cond, a, b], { dtype: a.dtype, size }, src, cpu);
}
