// Emits the row kernels. topkRows keeps, per row, a sorted buffer of the k best so far and scans the
// rest 16 floats at a time, comparing with the current k-th value in SIMD; only lanes that beat it
// (rare after the first few) take the scalar insertion. Semantics match topkRowsJs: values
// descending, ties to the lower index, NaN ranks above every number and is written back as NaN.
import { type Code, F32, I32, ModuleBuilder, Op, Simd, V128 } from './builder.js';

/** Indices of the row functions inside the module being built. */
interface RowFunctions {
  topkRows: number;
  topkRowsRange: number;
}

// insert(vals, idxs, filled, k, v, i) -> filled': v (NaN already mapped to +inf) goes after every
// kept value >= v, dropping the last one when the buffer is full and v beats it.
function emitTopkInsert(c: Code): void {
  const [vals, idxs, filled, k, v, idx] = [0, 1, 2, 3, 4, 5];
  const p = c.local(I32);
  c.get(filled).get(k).op(Op.i32Eq);
  c.if(() => {
    // if (!(v > vals[k-1])) return filled
    c.get(v).get(vals).get(k).i32(2).op(Op.i32Shl).op(Op.i32Add).i32(4).op(Op.i32Sub).mem(Op.f32Load, 2).op(Op.f32Gt).op(Op.i32Eqz);
    c.if(() => {
      c.get(filled).op(Op.return);
    });
    c.get(filled).i32(1).op(Op.i32Sub).set(filled);
  });
  // p = filled; while (p > 0 && vals[p-1] < v) { shift down; p-- }
  c.get(filled).i32(2).op(Op.i32Shl).set(p);
  c.op(Op.block, 0x40).op(Op.loop, 0x40);
  c.get(p).op(Op.i32Eqz).op(Op.brIf, 1);
  c.get(vals).get(p).op(Op.i32Add).i32(4).op(Op.i32Sub).mem(Op.f32Load, 2).get(v).op(Op.f32Lt).op(Op.i32Eqz).op(Op.brIf, 1);
  c.get(vals).get(p).op(Op.i32Add).get(vals).get(p).op(Op.i32Add).i32(4).op(Op.i32Sub).mem(Op.f32Load, 2).mem(Op.f32Store, 2);
  c.get(idxs).get(p).op(Op.i32Add).get(idxs).get(p).op(Op.i32Add).i32(4).op(Op.i32Sub).mem(Op.i32Load, 2).mem(Op.i32Store, 2);
  c.get(p).i32(4).op(Op.i32Sub).set(p);
  c.op(Op.br, 0).op(Op.end).op(Op.end);
  c.get(vals).get(p).op(Op.i32Add).get(v).mem(Op.f32Store, 2);
  c.get(idxs).get(p).op(Op.i32Add).get(idx).mem(Op.i32Store, 2);
  c.get(filled).i32(1).op(Op.i32Add);
}

function emitTopkRows(c: Code, insert: number): void {
  const [x, rows, n, k, values, indices] = [0, 1, 2, 3, 4, 5];
  const r = c.local(I32);
  const row = c.local(I32);
  const vals = c.local(I32);
  const idxs = c.local(I32);
  const filled = c.local(I32);
  const i = c.local(I32);
  const j = c.local(I32);
  const n16 = c.local(I32);
  const v = c.local(F32);
  const thr = c.local(V128);
  const thrS = c.local(F32);
  const end = c.local(I32);
  const t = c.local(V128);

  // Scalar step for element i: map NaN to +inf, insert, refresh the threshold vector.
  const scalarStep = (elem: number): void => {
    c.get(row).get(elem).i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.f32Load, 2).set(v);
    c.get(v)
      .get(v)
      .op(Op.f32Ne)
      .if(() => {
        c.f32(Infinity).set(v);
      });
    c.get(vals).get(idxs).get(filled).get(k).get(v).get(elem).call(insert).set(filled);
  };
  const refreshThreshold = (): void => {
    c.get(vals).get(k).i32(2).op(Op.i32Shl).op(Op.i32Add).i32(4).op(Op.i32Sub).mem(Op.f32Load, 2).set(thrS);
    c.get(thrS).simd(Simd.f32x4Splat).set(thr);
  };
  // Once the buffer is full: insert element `elem` only if it beats the k-th value (or is NaN).
  const fullStep = (elem: number): void => {
    c.get(row).get(elem).i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.f32Load, 2).set(v);
    c.get(v).get(thrS).op(Op.f32Gt).get(v).get(v).op(Op.f32Ne).op(Op.i32Or);
    c.if(() => {
      c.get(v)
        .get(v)
        .op(Op.f32Ne)
        .if(() => {
          c.f32(Infinity).set(v);
        });
      c.get(vals).get(idxs).get(filled).get(k).get(v).get(elem).call(insert).set(filled);
      c.get(vals).get(k).i32(2).op(Op.i32Shl).op(Op.i32Add).i32(4).op(Op.i32Sub).mem(Op.f32Load, 2).set(thrS);
    });
  };
  // mask of lanes of the vector at row[i] + offset that beat the threshold or are NaN
  const laneMask = (offset: number): void => {
    c.get(row).get(i).i32(2).op(Op.i32Shl).op(Op.i32Add).simdMem(Simd.v128Load, 2, offset).set(t);
    c.get(t).get(thr).simd(Simd.f32x4Gt).get(t).get(t).simd(Simd.f32x4Ne).simd(Simd.v128Or);
  };

  c.get(n).i32(-16).op(Op.i32And).set(n16);
  c.for(r, 0, { local: rows }, 1, () => {
    c.get(x).get(r).get(n).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add).set(row);
    c.get(values).get(r).get(k).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add).set(vals);
    c.get(indices).get(r).get(k).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add).set(idxs);
    c.i32(0).set(filled);
    // The first k elements fill the buffer.
    c.for(i, 0, { local: k }, 1, () => scalarStep(i));
    refreshThreshold();
    // Scalar up to a multiple of 16, then 16 at a time.
    c.get(k).set(i);
    c.op(Op.block, 0x40).op(Op.loop, 0x40);
    c.get(i).i32(15).op(Op.i32And).op(Op.i32Eqz).get(i).get(n).op(Op.i32GeS).op(Op.i32Or).op(Op.brIf, 1);
    fullStep(i);
    c.inc(i, 1).op(Op.br, 0).op(Op.end).op(Op.end);
    c.get(thrS).simd(Simd.f32x4Splat).set(thr);
    c.op(Op.block, 0x40).op(Op.loop, 0x40);
    c.get(i).get(n16).op(Op.i32GeS).op(Op.brIf, 1);
    laneMask(0);
    laneMask(16);
    c.simd(Simd.v128Or);
    laneMask(32);
    c.simd(Simd.v128Or);
    laneMask(48);
    c.simd(Simd.v128Or);
    c.simd(Simd.v128AnyTrue);
    c.if(() => {
      // Re-test each group of 4 against the (rising) threshold; only groups with a hit go scalar.
      for (let g = 0; g < 4; g++) {
        laneMask(16 * g);
        c.simd(Simd.v128AnyTrue);
        c.if(() => {
          c.get(i)
            .i32(4 * g)
            .op(Op.i32Add)
            .set(j);
          c.get(j).i32(4).op(Op.i32Add).set(end);
          c.for(j, { local: j }, { local: end }, 1, () => fullStep(j));
          c.get(thrS).simd(Simd.f32x4Splat).set(thr);
        });
      }
    });
    c.inc(i, 16).op(Op.br, 0).op(Op.end).op(Op.end);
    c.for(i, { local: i }, { local: n }, 1, () => fullStep(i));
    // Write back the original values (NaN stays NaN).
    c.for(j, 0, { local: k }, 1, () => {
      c.get(vals).get(j).i32(2).op(Op.i32Shl).op(Op.i32Add);
      c.get(row)
        .get(idxs)
        .get(j)
        .i32(2)
        .op(Op.i32Shl)
        .op(Op.i32Add)
        .mem(Op.i32Load, 2)
        .i32(2)
        .op(Op.i32Shl)
        .op(Op.i32Add)
        .mem(Op.f32Load, 2);
      c.mem(Op.f32Store, 2);
    });
  });
}

/** Adds the row kernels to `mb` and returns their indices. */
export function emitRows(mb: ModuleBuilder): RowFunctions {
  const insert = mb.func(null, [I32, I32, I32, I32, F32, I32], [I32], emitTopkInsert);
  const topkRows = mb.func('topkRows', [I32, I32, I32, I32, I32, I32], [], (c) => emitTopkRows(c, insert));
  // topkRowsRange(x, n, k, values, indices, row0, row1): rows [row0,row1) of the same arrays.
  const topkRowsRange = mb.func('topkRowsRange', [I32, I32, I32, I32, I32, I32, I32], [], (c) => {
    const [x, n, k, values, indices, row0, row1] = [0, 1, 2, 3, 4, 5, 6];
    c.get(x).get(row0).get(n).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add);
    c.get(row1).get(row0).op(Op.i32Sub).get(n).get(k);
    c.get(values).get(row0).get(k).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add);
    c.get(indices).get(row0).get(k).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add);
    c.call(topkRows);
  });
  // gatherRowsCopy(table, rowBytes, idx, count, out): out[i] = table[idx[i]] by one memory.copy per
  // row. The memcpy-bound reference for row gathers (a table must already live in this memory).
  mb.func('gatherRowsCopy', [I32, I32, I32, I32, I32], [], (c) => {
    const [table, rowBytes, idx, count, out] = [0, 1, 2, 3, 4];
    const i = c.local(I32);
    c.for(i, 0, { local: count }, 1, () => {
      c.get(out).get(i).get(rowBytes).op(Op.i32Mul).op(Op.i32Add);
      c.get(table).get(idx).get(i).i32(2).op(Op.i32Shl).op(Op.i32Add).mem(Op.i32Load, 2).get(rowBytes).op(Op.i32Mul).op(Op.i32Add);
      c.get(rowBytes).memoryCopy();
    });
  });
  return { topkRows, topkRowsRange };
}
