// Emits expSumRows, the shared core of softmax, log-softmax and logsumexp over contiguous rows:
// per row, the max m (NaN ignored, as `x > m` does in JS), e = exp(x - m) four lanes at a time, and
// Σe accumulated in f64. With `store` it writes e·(1/Σe) (the softmax); it always writes (m, Σe) as
// two f64 per row so the caller can form m + log(Σe) with Math.log exactly as the JS kernel does.
import { type Code, F32, F64, I32, ModuleBuilder, Op, Simd, V128 } from './builder.js';

const LOG2E = 1.4426950408889634; // log2(e), the double nearest it
// ln 2 split so n·LN2_HI is exact for the |n| <= 127 used here (Cephes expf).
const LN2_HI = 0.693359375;
const LN2_LO = -2.1219444e-4;
// exp(x) underflows f32 below this; lanes under it give exactly 0.
const EXP_MIN = -87.33654;
// Adding 1.5·2^23 rounds to an integer, which then sits in the low mantissa bits.
const ROUND_MAGIC = 12582912;
const POLY = [1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];

/** Pushes a splatted constant (loaded from the module's data: V8 rebuilds v128.const at each use). */
type Konst = (c: Code, value: number, int?: boolean) => void;

function konst(mb: ModuleBuilder): Konst {
  return (c, value, int = false) => {
    const lanes = int ? new Int32Array([value, value, value, value]) : new Float32Array([value, value, value, value]);
    c.i32(0).simdMem(Simd.v128Load, 4, mb.v128Data(new Uint8Array(lanes.buffer)));
  };
}

/**
 * Pushes exp(x + err) for the four lanes of locals `x` and `err` (x <= 0 or NaN: the row max was
 * subtracted, and err is that subtraction's rounding error, so large |x| keeps full precision).
 * exp = 2^n · exp(r) with n = round(x·log2 e), r = x - n·ln 2 + err, exp(r) a degree-7 polynomial.
 */
function emitExp4(c: Code, x: number, err: number, t: { clamp: number; n: number; r: number }, k: Konst): void {
  c.get(x);
  k(c, EXP_MIN);
  c.simd(Simd.f32x4Pmax).set(t.clamp); // x first: NaN lanes stay NaN
  // kf = x·log2 e + 1.5·2^23 rounds to an integer n held in kf's low mantissa bits.
  c.get(t.clamp);
  k(c, LOG2E);
  c.simd(Simd.f32x4Mul);
  k(c, ROUND_MAGIC);
  c.simd(Simd.f32x4Add).set(t.n);
  c.get(t.clamp).get(t.n);
  k(c, ROUND_MAGIC);
  c.simd(Simd.f32x4Sub).set(t.r); // n as a float (t.r is free until r is formed)
  c.get(t.r);
  k(c, LN2_HI);
  c.simd(Simd.f32x4Mul).simd(Simd.f32x4Sub).get(t.r);
  k(c, LN2_LO);
  c.simd(Simd.f32x4Mul).simd(Simd.f32x4Sub);
  c.get(err).simd(Simd.f32x4Add).set(t.r);
  // p = ((((c0·r + c1)·r + c2)·r + c3)·r + c4)·r + c5, then exp(r) = p·r² + r + 1
  k(c, POLY[0]!);
  for (let i = 1; i < POLY.length; i++) {
    c.get(t.r).simd(Simd.f32x4Mul);
    k(c, POLY[i]!);
    c.simd(Simd.f32x4Add);
  }
  c.get(t.r).get(t.r).simd(Simd.f32x4Mul).simd(Simd.f32x4Mul).get(t.r).simd(Simd.f32x4Add);
  k(c, 1);
  c.simd(Simd.f32x4Add);
  // · 2^n built from the exponent bits: (n + 127) << 23, n = bits(kf) - bits(magic)
  c.get(t.n);
  k(c, 0x4b400000 - 127, true);
  c.simd(Simd.i32x4Sub).i32(23).simd(Simd.i32x4Shl);
  c.simd(Simd.f32x4Mul);
  // Lanes below EXP_MIN (including -inf, whose err is NaN) are 0.
  c.get(x);
  k(c, EXP_MIN);
  c.simd(Simd.f32x4Lt).simd(Simd.v128AndNot);
}

function emitExpSumRows(c: Code, k: Konst): void {
  const [x, rows, n, out, stats, store] = [0, 1, 2, 3, 4, 5];
  const r = c.local(I32);
  const row = c.local(I32);
  const o = c.local(I32);
  const i = c.local(I32);
  const n4 = c.local(I32);
  const l = c.local(I32);
  const m = c.local(F32);
  const v = c.local(F32);
  const s = c.local(F64);
  const inv = c.local(V128);
  const acc = c.local(V128);
  const mv = c.local(V128);
  const xv = c.local(V128);
  const e = c.local(V128);
  const d = c.local(V128);
  const bv = c.local(V128);
  const err = c.local(V128);
  const sumLo = c.local(V128);
  const sumHi = c.local(V128);
  const tmp = { clamp: c.local(V128), n: c.local(V128), r: c.local(V128) };
  const at = (base: number, idx: number): void => {
    c.get(base).get(idx).i32(2).op(Op.i32Shl).op(Op.i32Add);
  };

  c.get(n).i32(-4).op(Op.i32And).set(n4);
  c.for(r, 0, { local: rows }, 1, () => {
    c.get(x).get(r).get(n).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add).set(row);
    c.get(out).get(r).get(n).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add).set(o);
    // Row max; pmax(acc, x) = acc < x ? x : acc skips NaN lanes of x.
    c.f32x4(-Infinity).set(acc);
    c.for(i, 0, { local: n4 }, 4, () => {
      c.get(acc);
      at(row, i);
      c.simdMem(Simd.v128Load, 2).simd(Simd.f32x4Pmax).set(acc);
    });
    c.f32(-Infinity).set(m);
    for (let lane = 0; lane < 4; lane++) {
      c.get(acc).lane(Simd.f32x4ExtractLane, lane).set(v);
      c.get(v)
        .get(m)
        .op(Op.f32Gt)
        .if(() => {
          c.get(v).set(m);
        });
    }
    c.for(i, { local: n4 }, { local: n }, 1, () => {
      at(row, i);
      c.mem(Op.f32Load, 2).set(v);
      c.get(v)
        .get(m)
        .op(Op.f32Gt)
        .if(() => {
          c.get(v).set(m);
        });
    });
    // stats[r] = (m, Σe); the shift is 0 for an all -inf row so exp gives 0s (and softmax NaN).
    c.get(stats).get(r).i32(4).op(Op.i32Shl).op(Op.i32Add).get(m).op(Op.f64PromoteF32).mem(Op.f64Store, 3);
    c.get(m)
      .f32(-Infinity)
      .op(Op.f32Eq)
      .if(() => {
        c.f32(0).set(m);
      });
    c.get(m).simd(Simd.f32x4Splat).set(mv);
    c.f32x4(0).set(sumLo);
    c.get(sumLo).set(sumHi);
    c.for(i, 0, { local: n }, 4, () => {
      // A partial last vector is loaded lane by lane into a -inf filled vector (exp gives 0).
      c.get(i).get(n4).op(Op.i32LtS);
      c.if(
        () => {
          at(row, i);
          c.simdMem(Simd.v128Load, 2).set(xv);
        },
        () => {
          c.f32x4(-Infinity).set(xv);
          c.for(l, 0, 3, 1, () => {
            c.get(i).get(l).op(Op.i32Add).get(n).op(Op.i32GeS).op(Op.brIf, 2);
            // Lane l: replace_lane needs a constant lane, so rotate with a 4-way branch.
            for (let lane = 0; lane < 3; lane++) {
              c.get(l)
                .i32(lane)
                .op(Op.i32Eq)
                .if(() => {
                  c.get(xv);
                  c.get(row).get(i).i32(lane).op(Op.i32Add).i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.f32Load, 2);
                  c.lane(Simd.f32x4ReplaceLane, lane).set(xv);
                });
            }
          });
        },
      );
      // d = x - m and its exact rounding error (Knuth's TwoSum), as JS subtracts in f64.
      c.get(xv).get(mv).simd(Simd.f32x4Sub).set(d);
      c.get(d).get(xv).simd(Simd.f32x4Sub).set(bv);
      c.get(xv).get(d).get(bv).simd(Simd.f32x4Sub).simd(Simd.f32x4Sub);
      c.get(mv).simd(Simd.f32x4Neg).get(bv).simd(Simd.f32x4Sub).simd(Simd.f32x4Add).set(err);
      emitExp4(c, d, err, tmp, k);
      c.set(e);
      c.get(i)
        .get(n4)
        .op(Op.i32LtS)
        .get(store)
        .op(Op.i32And)
        .if(() => {
          at(o, i);
          c.get(e).simdMem(Simd.v128Store, 2);
        });
      c.get(sumLo).get(e).simd(Simd.f64x2PromoteLowF32x4).simd(Simd.f64x2Add).set(sumLo);
      c.get(sumHi).get(e).get(e).simd(Simd.i8x16Shuffle).op(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
      c.simd(Simd.f64x2PromoteLowF32x4).simd(Simd.f64x2Add).set(sumHi);
      // Tail lanes are stored one by one (the vector store would run past the row).
      c.get(i)
        .get(n4)
        .op(Op.i32GeS)
        .get(store)
        .op(Op.i32And)
        .if(() => {
          for (let lane = 0; lane < 3; lane++) {
            c.get(i)
              .i32(lane)
              .op(Op.i32Add)
              .get(n)
              .op(Op.i32LtS)
              .if(() => {
                c.get(o).get(i).i32(lane).op(Op.i32Add).i32(2).op(Op.i32Shl).op(Op.i32Add);
                c.get(e).lane(Simd.f32x4ExtractLane, lane).mem(Op.f32Store, 2);
              });
          }
        });
    });
    c.get(sumLo).get(sumHi).simd(Simd.f64x2Add).set(sumLo);
    c.get(sumLo).lane(Simd.f64x2ExtractLane, 0).get(sumLo).lane(Simd.f64x2ExtractLane, 1).op(Op.f64Add).set(s);
    c.get(stats).get(r).i32(4).op(Op.i32Shl).op(Op.i32Add).get(s).mem(Op.f64Store, 3, 8);
    c.get(store).if(() => {
      c.f64(1).get(s).op(Op.f64Div).op(Op.f32DemoteF64).simd(Simd.f32x4Splat).set(inv);
      c.for(i, 0, { local: n4 }, 4, () => {
        at(o, i);
        at(o, i);
        c.simdMem(Simd.v128Load, 2).get(inv).simd(Simd.f32x4Mul).simdMem(Simd.v128Store, 2);
      });
      c.for(i, { local: n4 }, { local: n }, 1, () => {
        at(o, i);
        at(o, i);
        c.mem(Op.f32Load, 2).get(inv).lane(Simd.f32x4ExtractLane, 0).op(Op.f32Mul).mem(Op.f32Store, 2);
      });
    });
  });
}

/** Adds expSumRows(x, rows, n, out, stats, store) and its row-range form to `mb`. */
export function emitSoftmax(mb: ModuleBuilder): void {
  const expSumRows = mb.func('expSumRows', [I32, I32, I32, I32, I32, I32], [], (c) => emitExpSumRows(c, konst(mb)));
  // expSumRowsRange(x, n, out, stats, store, row0, row1): rows [row0,row1) of the same arrays.
  mb.func('expSumRowsRange', [I32, I32, I32, I32, I32, I32, I32], [], (c) => {
    const [x, n, out, stats, store, row0, row1] = [0, 1, 2, 3, 4, 5, 6];
    c.get(x).get(row0).get(n).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add);
    c.get(row1).get(row0).op(Op.i32Sub).get(n);
    c.get(out).get(row0).get(n).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add);
    c.get(stats).get(row0).i32(4).op(Op.i32Shl).op(Op.i32Add);
    c.get(store).call(expSumRows);
  });
}
