// Emits the row kernels of the fused expert mix (PEER's singleton experts, cpu/expert-mix.ts). All
// three work on f32 rows of width W (bytes W·4) at byte addresses; every output element is one thread's
// sum in a fixed order (four f32x4 partial sums for a dot; slot order for a weighted row sum), so the
// way a range is split over threads never changes a bit.
//   expertRowDots(rows, vec, out, S, W, t0, t1):   out[t·S+s] = rows[t·S+s] · vec[t]       (t in [t0, t1))
//   expertRowMix(rows, coef, out, S, W, t0, t1):   out[t] = Σₛ coef[t·S+s] · rows[t·S+s]    (s ascending)
//   expertTableRows(src, tok, coef, starts, out, W, u0, u1):
//                                  out[u] = Σ_{k in [starts[u], starts[u+1])} coef[k] · src[tok[k]]
// The ...At variants read row k of a whole table in memory instead, at table + idx[k]·W·4 (the same
// sums in the same order, so the same bits as staging the rows first):
//   expertRowDotsAt(table, idx, vec, out, S, W, t0, t1)    expertRowMixAt(table, idx, coef, out, S, W, t0, t1)
import { type Code, F32, I32, type ModuleBuilder, Op, Simd, V128, type ValType } from './builder.js';

/** Byte widths of a row of W floats: all of it, its multiple of 16 floats, its multiple of 4 floats. */
function widths(c: Code, W: number): { wb: number; w16b: number; w4b: number } {
  const wb = c.local(I32);
  const w16b = c.local(I32);
  const w4b = c.local(I32);
  c.get(W).i32(2).op(Op.i32Shl).set(wb);
  c.get(W).i32(-16).op(Op.i32And).i32(2).op(Op.i32Shl).set(w16b);
  c.get(W).i32(-4).op(Op.i32And).i32(2).op(Op.i32Shl).set(w4b);
  return { wb, w16b, w4b };
}

/** Pushes `base + i·scale` (i32). */
function addr(c: Code, base: number, i: number, scaleLocal: number | null, shift = 0): Code {
  c.get(base).get(i);
  if (scaleLocal !== null) c.get(scaleLocal).op(Op.i32Mul);
  if (shift) c.i32(shift).op(Op.i32Shl);
  return c.op(Op.i32Add);
}

/** Pushes the byte address of row k: staged rows one after another, or table row idx[k] (`At` kernels). */
function rowAddress(c: Code, indexed: boolean, rows: number, idx: number, k: number, wb: number): Code {
  if (!indexed) return addr(c, rows, k, wb);
  c.get(rows);
  addr(c, idx, k, null, 2).mem(Op.i32Load, 2);
  return c.get(wb).op(Op.i32Mul).op(Op.i32Add);
}

function emitRowDots(mb: ModuleBuilder, indexed: boolean): void {
  const params: ValType[] = Array(indexed ? 8 : 7).fill(I32);
  mb.func(indexed ? 'expertRowDotsAt' : 'expertRowDots', params, [], (c) => {
    // Staged: (rows, vec, out, S, W, t0, t1); indexed: (table, idx, vec, out, S, W, t0, t1).
    const o = indexed ? 1 : 0;
    const [rows, idx, vec, out, S, W, t0, t1] = [0, 1, 1 + o, 2 + o, 3 + o, 4 + o, 5 + o, 6 + o];
    const { wb, w16b, w4b } = widths(c, W);
    const t = c.local(I32);
    const s = c.local(I32);
    const k = c.local(I32);
    const pr = c.local(I32);
    const pv = c.local(I32);
    const q = c.local(I32);
    const a = [c.local(V128), c.local(V128), c.local(V128), c.local(V128)];
    const sum = c.local(F32);
    c.for(t, { local: t0 }, { local: t1 }, 1, () => {
      addr(c, vec, t, wb).set(pv);
      c.for(s, 0, { local: S }, 1, () => {
        c.get(t).get(S).op(Op.i32Mul).get(s).op(Op.i32Add).set(k);
        rowAddress(c, indexed, rows, idx, k, wb).set(pr);
        for (const v of a) c.f32x4(0).set(v);
        c.for(q, 0, { local: w16b }, 64, () => {
          a.forEach((v, j) => {
            c.get(v);
            c.get(pr)
              .get(q)
              .op(Op.i32Add)
              .simdMem(Simd.v128Load, 2, 16 * j);
            c.get(pv)
              .get(q)
              .op(Op.i32Add)
              .simdMem(Simd.v128Load, 2, 16 * j);
            c.simd(Simd.f32x4Mul).simd(Simd.f32x4Add).set(v);
          });
        });
        c.for(q, { local: w16b }, { local: w4b }, 16, () => {
          c.get(a[0]!);
          c.get(pr).get(q).op(Op.i32Add).simdMem(Simd.v128Load, 2);
          c.get(pv).get(q).op(Op.i32Add).simdMem(Simd.v128Load, 2);
          c.simd(Simd.f32x4Mul).simd(Simd.f32x4Add).set(a[0]!);
        });
        // (a0 + a1) + (a2 + a3), then (lane0 + lane1) + (lane2 + lane3), then the scalar tail.
        c.get(a[0]!).get(a[1]!).simd(Simd.f32x4Add).get(a[2]!).get(a[3]!).simd(Simd.f32x4Add).simd(Simd.f32x4Add).set(a[0]!);
        c.get(a[0]!).lane(Simd.f32x4ExtractLane, 0).get(a[0]!).lane(Simd.f32x4ExtractLane, 1).op(Op.f32Add);
        c.get(a[0]!).lane(Simd.f32x4ExtractLane, 2).get(a[0]!).lane(Simd.f32x4ExtractLane, 3).op(Op.f32Add);
        c.op(Op.f32Add).set(sum);
        c.for(q, { local: w4b }, { local: wb }, 4, () => {
          c.get(sum);
          c.get(pr).get(q).op(Op.i32Add).mem(Op.f32Load, 2);
          c.get(pv).get(q).op(Op.i32Add).mem(Op.f32Load, 2);
          c.op(Op.f32Mul).op(Op.f32Add).set(sum);
        });
        addr(c, out, k, null, 2).get(sum).mem(Op.f32Store, 2);
      });
    });
  });
}

/**
 * One output row = Σ_{k in [kA, kB)} coef[k] · row(k), row(k)'s byte address pushed by `rowAt`:
 * sixteen columns at a time in four accumulators (each row read 64 bytes at a time), then four, then one.
 */
function emitWeightedSum(
  c: Code,
  o: { kA: number; kB: number; coef: number; po: number; wb: number; w16b: number; w4b: number },
  rowAt: (k: number) => void,
): void {
  const k = c.local(I32);
  const q = c.local(I32);
  const p = c.local(I32);
  const cv = c.local(V128);
  const a = [c.local(V128), c.local(V128), c.local(V128), c.local(V128)];
  const sum = c.local(F32);
  const coefAt = (): void => {
    addr(c, o.coef, k, null, 2);
  };
  const block = (lanes: typeof a): void => {
    for (const v of lanes) c.f32x4(0).set(v);
    c.for(k, { local: o.kA }, { local: o.kB }, 1, () => {
      coefAt();
      c.simdMem(Simd.load32Splat, 2).set(cv);
      rowAt(k);
      c.get(q).op(Op.i32Add).set(p);
      lanes.forEach((v, j) => {
        c.get(v)
          .get(cv)
          .get(p)
          .simdMem(Simd.v128Load, 2, 16 * j)
          .simd(Simd.f32x4Mul)
          .simd(Simd.f32x4Add)
          .set(v);
      });
    });
    lanes.forEach((v, j) => {
      c.get(o.po)
        .get(q)
        .op(Op.i32Add)
        .get(v)
        .simdMem(Simd.v128Store, 2, 16 * j);
    });
  };
  c.for(q, 0, { local: o.w16b }, 64, () => block(a));
  c.for(q, { local: o.w16b }, { local: o.w4b }, 16, () => block([a[0]!]));
  c.for(q, { local: o.w4b }, { local: o.wb }, 4, () => {
    c.f32(0).set(sum);
    c.for(k, { local: o.kA }, { local: o.kB }, 1, () => {
      c.get(sum);
      coefAt();
      c.mem(Op.f32Load, 2);
      rowAt(k);
      c.get(q).op(Op.i32Add).mem(Op.f32Load, 2);
      c.op(Op.f32Mul).op(Op.f32Add).set(sum);
    });
    c.get(o.po).get(q).op(Op.i32Add).get(sum).mem(Op.f32Store, 2);
  });
}

function emitRowMix(mb: ModuleBuilder, indexed: boolean): void {
  const params: ValType[] = Array(indexed ? 8 : 7).fill(I32);
  mb.func(indexed ? 'expertRowMixAt' : 'expertRowMix', params, [], (c) => {
    // Staged: (rows, coef, out, S, W, t0, t1); indexed: (table, idx, coef, out, S, W, t0, t1).
    const o = indexed ? 1 : 0;
    const [rows, idx, coef, out, S, W, t0, t1] = [0, 1, 1 + o, 2 + o, 3 + o, 4 + o, 5 + o, 6 + o];
    const { wb, w16b, w4b } = widths(c, W);
    const t = c.local(I32);
    const kA = c.local(I32);
    const kB = c.local(I32);
    const po = c.local(I32);
    c.for(t, { local: t0 }, { local: t1 }, 1, () => {
      c.get(t).get(S).op(Op.i32Mul).set(kA);
      c.get(kA).get(S).op(Op.i32Add).set(kB);
      addr(c, out, t, wb).set(po);
      emitWeightedSum(c, { kA, kB, coef, po, wb, w16b, w4b }, (k) => {
        rowAddress(c, indexed, rows, idx, k, wb);
      });
    });
  });
}

function emitTableRows(mb: ModuleBuilder): void {
  mb.func('expertTableRows', [I32, I32, I32, I32, I32, I32, I32, I32], [], (c) => {
    const [src, tok, coef, starts, out, W, u0, u1] = [0, 1, 2, 3, 4, 5, 6, 7];
    const { wb, w16b, w4b } = widths(c, W);
    const u = c.local(I32);
    const kA = c.local(I32);
    const kB = c.local(I32);
    const po = c.local(I32);
    c.for(u, { local: u0 }, { local: u1 }, 1, () => {
      addr(c, starts, u, null, 2).mem(Op.i32Load, 2).set(kA);
      addr(c, starts, u, null, 2).mem(Op.i32Load, 2, 4).set(kB);
      addr(c, out, u, wb).set(po);
      emitWeightedSum(c, { kA, kB, coef, po, wb, w16b, w4b }, (k) => {
        c.get(src);
        addr(c, tok, k, null, 2).mem(Op.i32Load, 2);
        c.get(wb).op(Op.i32Mul).op(Op.i32Add);
      });
    });
  });
}

/** Adds the expertRowDots, expertRowMix, their ...At variants and expertTableRows exports. */
export function emitExpertMix(mb: ModuleBuilder): void {
  emitRowDots(mb, false);
  emitRowMix(mb, false);
  emitRowDots(mb, true);
  emitRowMix(mb, true);
  emitTableRows(mb);
}
