// Emits sumAxisCols(x, len, inner, out, j0, j1): for columns j in [j0, j1) of a row-major [len, inner]
// f32 block at byte address x, out[j] (f64) = Σ_r x[r·inner + j] added in order r = 0..len-1 in f64,
// exactly the plain kernel's sum (f32 → f64 is exact, and f64 additions round the same everywhere).
// Eight columns at a time in four f64x2 accumulators, so rows are read 32 bytes at a time.
import { F64, I32, type ModuleBuilder, Op, Simd, V128 } from './builder.js';

/** v128.load64_zero: two f32 into the low half. */
const LOAD64_ZERO = 0x5d;

/** Adds the sumAxisCols export. */
export function emitSum(mb: ModuleBuilder): void {
  mb.func('sumAxisCols', [I32, I32, I32, I32, I32, I32], [], (c) => {
    const [x, len, inner, out, j0, j1] = [0, 1, 2, 3, 4, 5];
    const j = c.local(I32);
    const r = c.local(I32);
    const p = c.local(I32);
    const pitch = c.local(I32);
    const acc = [c.local(V128), c.local(V128), c.local(V128), c.local(V128)];
    const s = c.local(F64);
    c.get(inner).i32(2).op(Op.i32Shl).set(pitch);
    c.get(j0).set(j);
    // Blocks of eight columns.
    c.block(() => {
      c.op(Op.loop, 0x40);
      c.get(j).i32(8).op(Op.i32Add).get(j1).op(Op.i32GtS).op(Op.brIf, 1);
      for (const v of acc) c.simd(Simd.v128Const).op(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0).set(v);
      c.get(x).get(j).i32(2).op(Op.i32Shl).op(Op.i32Add).set(p);
      c.for(r, 0, { local: len }, 1, () => {
        acc.forEach((v, q) => {
          c.get(v)
            .get(p)
            .simdMem(LOAD64_ZERO, 3, 8 * q)
            .simd(Simd.f64x2PromoteLowF32x4)
            .simd(Simd.f64x2Add)
            .set(v);
        });
        c.inc(p, { local: pitch });
      });
      acc.forEach((v, q) => {
        c.get(out)
          .get(j)
          .i32(3)
          .op(Op.i32Shl)
          .op(Op.i32Add)
          .get(v)
          .simdMem(Simd.v128Store, 3, 16 * q);
      });
      c.inc(j, 8);
      c.op(Op.br, 0);
      c.op(Op.end);
    });
    // The last columns one at a time.
    c.for(j, { local: j }, { local: j1 }, 1, () => {
      c.f64(0).set(s);
      c.get(x).get(j).i32(2).op(Op.i32Shl).op(Op.i32Add).set(p);
      c.for(r, 0, { local: len }, 1, () => {
        c.get(s).get(p).mem(Op.f32Load, 2).op(Op.f64PromoteF32).op(Op.f64Add).set(s);
        c.inc(p, { local: pitch });
      });
      c.get(out).get(j).i32(3).op(Op.i32Shl).op(Op.i32Add).get(s).mem(Op.f64Store, 3);
    });
  });
}
