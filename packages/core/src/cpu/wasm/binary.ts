// The binary elementwise driver: copies the operands of a contiguous f32 add/sub/mul/div into
// WebAssembly memory (a repeated row is expanded there by doubling copies, a scalar stays one value),
// applies the SIMD op and copies the result out. Memory-bound, so it stays on the calling thread.
import type { WasmContext } from './context.js';
import { BINARY_EXPORTS, BinaryMode, type WasmBinaryOp } from './binary-module.js';
import { Layout } from './runtime.js';

/** Whether `op` has a WebAssembly version. */
function hasWasmBinary(op: string): op is WasmBinaryOp {
  return Object.prototype.hasOwnProperty.call(BINARY_EXPORTS, op);
}

/**
 * out[outOffset + i] = A(i) op B(i) for i < n, where A(i) = a[aOffset + i % aLength] (a scalar, a
 * full run or a repeated row), and B likewise. Returns false,
 * having done nothing, for ops without a WebAssembly version or when the scratch would exceed 2 GiB.
 */
export function binaryWasm(
  ctx: WasmContext,
  op: string,
  a: Float32Array,
  aOffset: number,
  aLength: number,
  b: Float32Array,
  bOffset: number,
  bLength: number,
  out: Float32Array,
  outOffset: number,
  n: number,
): boolean {
  if (!hasWasmBinary(op)) return false;
  if (n === 0) return true;
  const padded = Math.ceil(n / 4) * 4;
  // A scalar operand is splatted by the kernel; when both are scalars, a is expanded.
  const bScalar = bLength === 1 && n > 1;
  const aScalar = aLength === 1 && n > 1 && !bScalar;
  const lay = new Layout();
  const aAddr = lay.take(aScalar ? 16 : padded * 4);
  const bAddr = lay.take(bScalar ? 16 : padded * 4);
  const outAddr = lay.take(padded * 4);
  const rt = ctx.rt;
  if (lay.end > 2 ** 31 || !rt.ensure(lay.end)) return false;
  const mem = rt.f32;
  put(mem, aAddr >> 2, a, aOffset, aScalar ? 1 : aLength, aScalar ? 1 : n);
  put(mem, bAddr >> 2, b, bOffset, bScalar ? 1 : bLength, bScalar ? 1 : n);
  const mode = bScalar ? BinaryMode.scalarB : aScalar ? BinaryMode.scalarA : BinaryMode.both;
  rt.exports[BINARY_EXPORTS[op]](aAddr, bAddr, outAddr, 0, padded, mode);
  out.set(rt.f32.subarray(outAddr >> 2, (outAddr >> 2) + n), outOffset);
  return true;
}

// Writes `count` elements x[offset + i % length] at mem[at...]: one copy of the row, then doubling
// copies inside WebAssembly memory (log2(count / length) calls however short the row).
function put(mem: Float32Array, at: number, x: Float32Array, offset: number, length: number, count: number): void {
  mem.set(x.subarray(offset, offset + length), at);
  for (let filled = length; filled < count;) {
    const c = Math.min(filled, count - filled);
    mem.copyWithin(at + filled, at, at + c);
    filled += c;
  }
}
