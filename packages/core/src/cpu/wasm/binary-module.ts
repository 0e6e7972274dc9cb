// Emits SIMD f32 add, sub, mul and div. Each is name(a, b, out, i0, i1, mode): out[i] = a[i] op b[i]
// for i in [i0, i1), multiples of 4 (the driver pads); mode 1 reads b as one scalar at address b,
// mode 2 reads a as one scalar. An f32 operation rounds exactly as the plain kernel's f64 operation
// rounded to f32 does (f64 carries more than 2·24 + 2 bits), so results are bit-identical.
import { I32, type ModuleBuilder, Op, Simd, V128 } from './builder.js';

/** The binary ops with a WebAssembly version, and their export names. */
export const BINARY_EXPORTS = {
  add: 'binaryAdd',
  sub: 'binarySub',
  mul: 'binaryMul',
  div: 'binaryDiv',
} as const;
/** A binary op that has a WebAssembly version. */
export type WasmBinaryOp = keyof typeof BINARY_EXPORTS;

const OPCODES: Record<WasmBinaryOp, number> = { add: Simd.f32x4Add, sub: Simd.f32x4Sub, mul: Simd.f32x4Mul, div: Simd.f32x4Div };

/** Operand layouts of a binary export's `mode` argument. */
export const BinaryMode = { both: 0, scalarB: 1, scalarA: 2 } as const;

/** Adds one export per op in BINARY_EXPORTS. */
export function emitBinary(mb: ModuleBuilder): void {
  for (const [op, name] of Object.entries(BINARY_EXPORTS) as Array<[WasmBinaryOp, string]>) {
    mb.func(name, [I32, I32, I32, I32, I32, I32], [], (c) => {
      const [a, b, out, i0, i1, mode] = [0, 1, 2, 3, 4, 5];
      const i = c.local(I32);
      const off = c.local(I32);
      const s = c.local(V128);
      // One loop per mode, so the loop body has no branch; the scalar is splatted once.
      const loop = (loadA: () => void, loadB: () => void): void => {
        c.for(i, { local: i0 }, { local: i1 }, 4, () => {
          c.get(i).i32(2).op(Op.i32Shl).set(off);
          c.get(out).get(off).op(Op.i32Add);
          loadA();
          loadB();
          c.simd(OPCODES[op]).simdMem(Simd.v128Store, 2);
        });
      };
      const vecA = (): void => void c.get(a).get(off).op(Op.i32Add).simdMem(Simd.v128Load, 2);
      const vecB = (): void => void c.get(b).get(off).op(Op.i32Add).simdMem(Simd.v128Load, 2);
      c.get(mode)
        .i32(BinaryMode.scalarB)
        .op(Op.i32Eq)
        .if(
          () => {
            c.get(b).simdMem(Simd.load32Splat, 2).set(s);
            loop(vecA, () => void c.get(s));
          },
          () =>
            c
              .get(mode)
              .i32(BinaryMode.scalarA)
              .op(Op.i32Eq)
              .if(
                () => {
                  c.get(a).simdMem(Simd.load32Splat, 2).set(s);
                  loop(() => void c.get(s), vecB);
                },
                () => loop(vecA, vecB),
              ),
        );
    });
  }
}
