// Emits the f32 matmul kernels: packing of A into 4-row panels and B into 8-column panels, the
// 4×8 register-tiled SIMD micro-kernel, and the per-thread drivers. All addresses and strides are
// in bytes. Every output element is the sequential sum over k of fl(a·b) in f32, whatever the
// blocking or thread split, so results never depend on the number of threads.
import { type Code, F32, I32, ModuleBuilder, Op, Simd, V128 } from './builder.js';

/** Rows of A (and of the output tile) per register tile. */
export const MR = 4;
/** Columns of B (and of the output tile) per register tile. */
export const NR = 8;

/** Indices of the matmul functions inside the module being built. */
interface MatmulFunctions {
  packA: number;
  packB: number;
  gemmBlock: number;
  matmulRange: number;
  packBRange: number;
}

// `dst` receives ceil(rows/4) panels of kc×4 floats; rows past `rows` are zero.
function emitPackA(c: Code): void {
  const [src, rs, cs, rows, kc, dst] = [0, 1, 2, 3, 4, 5];
  const r0 = c.local(I32);
  const k = c.local(I32);
  const p = c.local(I32);
  const left = c.local(I32);
  const r = c.local(I32);
  const kcs = c.local(I32);
  c.for(r0, 0, { local: rows }, MR, () => {
    // p = src + r0*rs: start of this panel's first row.
    c.get(src).get(r0).get(rs).op(Op.i32Mul).op(Op.i32Add).set(p);
    c.get(rows).get(r0).op(Op.i32Sub).set(left);
    c.get(left).i32(MR).op(Op.i32GeS).get(rs).i32(4).op(Op.i32Eq).op(Op.i32And);
    c.if(
      () => {
        // A is column-contiguous here (Aᵀ stored row-major): the four rows of column k are adjacent.
        c.for(k, 0, { local: kc }, 1, () => {
          c.get(dst).get(p).simdMem(Simd.v128Load, 0).simdMem(Simd.v128Store, 4);
          c.inc(p, { local: cs }).inc(dst, 16);
        });
      },
      () => {
        c.get(left).i32(MR).op(Op.i32GeS);
        c.if(
          () => {
            // Full panel, general strides: four scalar loads per k.
            c.for(k, 0, { local: kc }, 1, () => {
              c.get(k).get(cs).op(Op.i32Mul).get(p).op(Op.i32Add).set(kcs);
              for (let i = 0; i < MR; i++) {
                c.get(dst)
                  .get(kcs)
                  .get(rs)
                  .i32(i)
                  .op(Op.i32Mul)
                  .op(Op.i32Add)
                  .mem(Op.f32Load, 2)
                  .mem(Op.f32Store, 2, 4 * i);
              }
              c.inc(dst, 16);
            });
          },
          () => {
            // Edge panel: copy the rows that exist and zero the rest.
            c.for(k, 0, { local: kc }, 1, () => {
              c.get(k).get(cs).op(Op.i32Mul).get(p).op(Op.i32Add).set(kcs);
              c.for(r, 0, MR, 1, () => {
                c.get(dst).get(r).i32(2).op(Op.i32Shl).op(Op.i32Add);
                c.get(r).get(left).op(Op.i32LtS);
                c.select(
                  F32,
                  () => {
                    c.get(kcs).get(r).get(rs).op(Op.i32Mul).op(Op.i32Add).mem(Op.f32Load, 2);
                  },
                  () => {
                    c.f32(0);
                  },
                );
                c.mem(Op.f32Store, 2);
              });
              c.inc(dst, 16);
            });
          },
        );
      },
    );
  });
}

// `dst` receives ceil(cols/8) panels of kc×8 floats; columns past `cols` are zero.
function emitPackB(c: Code): void {
  const [src, rs, cs, cols, kc, dst] = [0, 1, 2, 3, 4, 5];
  const c0 = c.local(I32);
  const k = c.local(I32);
  const p = c.local(I32);
  const left = c.local(I32);
  const j = c.local(I32);
  c.for(c0, 0, { local: cols }, NR, () => {
    c.get(src).get(c0).get(cs).op(Op.i32Mul).op(Op.i32Add).set(p);
    c.get(cols).get(c0).op(Op.i32Sub).set(left);
    c.get(left).i32(NR).op(Op.i32GeS).get(cs).i32(4).op(Op.i32Eq).op(Op.i32And);
    c.if(
      () => {
        // Row-contiguous B: a panel row is two vectors.
        c.for(k, 0, { local: kc }, 1, () => {
          c.get(dst).get(p).simdMem(Simd.v128Load, 0).simdMem(Simd.v128Store, 4);
          c.get(dst).get(p).simdMem(Simd.v128Load, 0, 16).simdMem(Simd.v128Store, 4, 16);
          c.inc(p, { local: rs }).inc(dst, 32);
        });
      },
      () => {
        c.for(k, 0, { local: kc }, 1, () => {
          c.for(j, 0, NR, 1, () => {
            c.get(dst).get(j).i32(2).op(Op.i32Shl).op(Op.i32Add);
            c.get(j).get(left).op(Op.i32LtS);
            c.select(
              F32,
              () => {
                c.get(p).get(j).get(cs).op(Op.i32Mul).op(Op.i32Add).mem(Op.f32Load, 2);
              },
              () => {
                c.f32(0);
              },
            );
            c.mem(Op.f32Store, 2);
          });
          c.inc(p, { local: rs }).inc(dst, 32);
        });
      },
    );
  });
}

// C[4·pa, 8·pb] (+)= Apanels · Bpanels over kc; `ldc` is C's row pitch in bytes.
function emitGemmBlock(c: Code): void {
  const [ap, bp, cp, ldc, kc, panelsA, panelsB, accumulate] = [0, 1, 2, 3, 4, 5, 6, 7];
  const i = c.local(I32);
  const j = c.local(I32);
  const pa = c.local(I32);
  const pb = c.local(I32);
  const end = c.local(I32);
  const ct = c.local(I32);
  const bj = c.local(I32);
  const acc: number[] = [];
  for (let t = 0; t < MR * 2; t++) acc.push(c.local(V128));
  const b0 = c.local(V128);
  const b1 = c.local(V128);
  const a = c.local(V128);
  const rowAddr = (r: number): void => {
    // ct + r*ldc
    c.get(ct);
    if (r > 0) c.get(ldc).i32(r).op(Op.i32Mul).op(Op.i32Add);
  };
  c.for(j, 0, { local: panelsB }, 1, () => {
    c.get(bp).get(j).get(kc).op(Op.i32Mul).i32(5).op(Op.i32Shl).op(Op.i32Add).set(bj);
    c.for(i, 0, { local: panelsA }, 1, () => {
      // Tile origin in C: cp + i*4*ldc + j*32.
      c.get(cp).get(i).get(ldc).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add).get(j).i32(5).op(Op.i32Shl).op(Op.i32Add).set(ct);
      c.get(accumulate);
      c.if(
        () => {
          for (let r = 0; r < MR; r++) {
            rowAddr(r);
            c.simdMem(Simd.v128Load, 0).set(acc[2 * r]!);
            rowAddr(r);
            c.simdMem(Simd.v128Load, 0, 16).set(acc[2 * r + 1]!);
          }
        },
        () => {
          for (const v of acc) c.simd(Simd.v128Const).op(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0).set(v);
        },
      );
      c.get(ap).get(i).get(kc).op(Op.i32Mul).i32(4).op(Op.i32Shl).op(Op.i32Add).set(pa);
      c.get(bj).set(pb);
      c.get(pb).get(kc).i32(5).op(Op.i32Shl).op(Op.i32Add).set(end);
      // The k loop: two B vectors, four broadcast A values, eight multiply-adds per step.
      c.op(Op.loop, 0x40);
      c.get(pb).simdMem(Simd.v128Load, 4).set(b0);
      c.get(pb).simdMem(Simd.v128Load, 4, 16).set(b1);
      for (let r = 0; r < MR; r++) {
        c.get(pa)
          .simdMem(Simd.load32Splat, 2, 4 * r)
          .set(a);
        c.get(acc[2 * r]!)
          .get(a)
          .get(b0)
          .simd(Simd.f32x4Mul)
          .simd(Simd.f32x4Add)
          .set(acc[2 * r]!);
        c.get(acc[2 * r + 1]!)
          .get(a)
          .get(b1)
          .simd(Simd.f32x4Mul)
          .simd(Simd.f32x4Add)
          .set(acc[2 * r + 1]!);
      }
      c.inc(pa, 16).inc(pb, 32);
      c.get(pb).get(end).op(Op.i32LtU).op(Op.brIf, 0);
      c.op(Op.end);
      for (let r = 0; r < MR; r++) {
        rowAddr(r);
        c.get(acc[2 * r]!).simdMem(Simd.v128Store, 0);
        rowAddr(r);
        c.get(acc[2 * r + 1]!).simdMem(Simd.v128Store, 0, 16);
      }
    });
  });
}

// One thread's share: output rows [row0,row1) × panels [panel0,panel1) of C, for all of K.
// B must already be packed (packBRange); A is packed here, block by block, into `apack`.
function emitMatmulRange(c: Code, f: { packA: number; gemmBlock: number }): void {
  const [a, ars, acs, bpack, cp, ldc, row0, row1, panel0, panel1, K, kcb, mcb, apack] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  const m = c.local(I32);
  const rows = c.local(I32);
  const k0 = c.local(I32);
  const kc = c.local(I32);
  const panelsB = c.local(I32);
  c.get(panel1).get(panel0).op(Op.i32Sub).set(panelsB);
  c.for(m, { local: row0 }, { local: row1 }, { local: mcb }, () => {
    c.get(row1).get(m).op(Op.i32Sub).set(rows);
    c.get(rows)
      .get(mcb)
      .op(Op.i32GtS)
      .if(() => {
        c.get(mcb).set(rows);
      });
    c.for(k0, 0, { local: K }, { local: kcb }, () => {
      c.get(K).get(k0).op(Op.i32Sub).set(kc);
      c.get(kc)
        .get(kcb)
        .op(Op.i32GtS)
        .if(() => {
          c.get(kcb).set(kc);
        });
      // packA(a + m*ars + k0*acs, ars, acs, rows, kc, apack)
      c.get(a).get(m).get(ars).op(Op.i32Mul).op(Op.i32Add).get(k0).get(acs).op(Op.i32Mul).op(Op.i32Add);
      c.get(ars).get(acs).get(rows).get(kc).get(apack).call(f.packA);
      // gemmBlock(apack, bpack + k0*panelsTotal*32 + panel0*kc*32, cp + m*ldc + panel0*32, ...)
      // Packed B holds, per k block, every panel as kc×8 floats; `ldc` is 32·panelsTotal.
      c.get(apack);
      c.get(bpack).get(k0).get(ldc).op(Op.i32Mul).op(Op.i32Add).get(panel0).get(kc).op(Op.i32Mul).i32(5).op(Op.i32Shl).op(Op.i32Add);
      c.get(cp).get(m).get(ldc).op(Op.i32Mul).op(Op.i32Add).get(panel0).i32(5).op(Op.i32Shl).op(Op.i32Add);
      c.get(ldc).get(kc);
      c.get(rows)
        .i32(MR - 1)
        .op(Op.i32Add)
        .i32(2)
        .op(Op.i32ShrU);
      c.get(panelsB);
      c.get(k0).i32(0).op(Op.i32Ne);
      c.call(f.gemmBlock);
    });
  });
}

// Packs B panels [panel0,panel1) for every k block; layout matches emitMatmulRange.
function emitPackBRange(c: Code, f: { packB: number }): void {
  const [b, brs, bcs, N, K, kcb, bpack, panel0, panel1] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const k0 = c.local(I32);
  const kc = c.local(I32);
  const panels = c.local(I32);
  const cols = c.local(I32);
  c.get(N)
    .i32(NR - 1)
    .op(Op.i32Add)
    .i32(3)
    .op(Op.i32ShrU)
    .set(panels);
  // cols = min(N - panel0*8, (panel1-panel0)*8)
  c.get(N).get(panel0).i32(3).op(Op.i32Shl).op(Op.i32Sub).set(cols);
  c.get(cols).get(panel1).get(panel0).op(Op.i32Sub).i32(3).op(Op.i32Shl).op(Op.i32GtS);
  c.if(() => {
    c.get(panel1).get(panel0).op(Op.i32Sub).i32(3).op(Op.i32Shl).set(cols);
  });
  c.for(k0, 0, { local: K }, { local: kcb }, () => {
    c.get(K).get(k0).op(Op.i32Sub).set(kc);
    c.get(kc)
      .get(kcb)
      .op(Op.i32GtS)
      .if(() => {
        c.get(kcb).set(kc);
      });
    // packB(b + k0*brs + panel0*8*bcs, brs, bcs, cols, kc, bpack + k0*panels*32 + panel0*kc*32)
    c.get(b).get(k0).get(brs).op(Op.i32Mul).op(Op.i32Add).get(panel0).i32(3).op(Op.i32Shl).get(bcs).op(Op.i32Mul).op(Op.i32Add);
    c.get(brs).get(bcs).get(cols).get(kc);
    c.get(bpack)
      .get(k0)
      .get(panels)
      .op(Op.i32Mul)
      .i32(5)
      .op(Op.i32Shl)
      .op(Op.i32Add)
      .get(panel0)
      .get(kc)
      .op(Op.i32Mul)
      .i32(5)
      .op(Op.i32Shl)
      .op(Op.i32Add);
    c.call(f.packB);
  });
}

/** Adds the matmul functions to `mb` and returns their indices. */
export function emitMatmul(mb: ModuleBuilder): MatmulFunctions {
  const packA = mb.func('packA', [I32, I32, I32, I32, I32, I32], [], emitPackA);
  const packB = mb.func('packB', [I32, I32, I32, I32, I32, I32], [], emitPackB);
  const gemmBlock = mb.func('gemmBlock', [I32, I32, I32, I32, I32, I32, I32, I32], [], emitGemmBlock);
  const matmulRange = mb.func('matmulRange', Array(14).fill(I32), [], (c) => emitMatmulRange(c, { packA, gemmBlock }));
  const packBRange = mb.func('packBRange', Array(9).fill(I32), [], (c) => emitPackBRange(c, { packB }));
  return { packA, packB, gemmBlock, matmulRange, packBRange };
}
