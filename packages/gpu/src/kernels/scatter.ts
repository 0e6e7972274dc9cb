/**
 * Scatter-add and row coalescing without atomics: sort positions by target (kernels/sort.ts), then
 * every output element finds its segment of the sorted keys by binary search and sums it in the
 * original order, so results equal a sequential scatter-add (the CPU reference) term for term.
 * Index −1 (an empty slot) sorts last and is never summed.
 */
import { contiguousStrides } from '@myriad/core';
import { f, offsetExpr, planSpace } from '../indexing.js';
import type { DeviceArray, ProgramFn } from './program.js';
import { scanRows } from './scan.js';
import { EMPTY_KEY, lowerBound, sortPositions, sortedKeysSource, type SortSpec } from './sort.js';
import type { KernelSource, Operand } from './source.js';

/** A [n, width] source: row p, column c at offset + p·rowStride + c·colStride. */
export interface RowsOperand {
  readonly offset: number;
  readonly rowStride: number;
  readonly colStride: number;
}

/** n int32 indices, index p at offset + p·step. */
export interface IndexOperand {
  readonly offset: number;
  readonly step: number;
}

function sortSpec(n: number, idx: IndexOperand): SortSpec {
  return { rowShape: [], n, key: { strides: [], offset: idx.offset }, step: idx.step, order: 'indices' };
}

function srcAt(src: RowsOperand, pos: string, col: string): string {
  return `sr[${src.offset} + ${pos} * ${src.rowStride} + ${col} * ${src.colStride}]`;
}

/** For each of `rows` rows, the first position of its segment in the sorted keys, or −1 (no source row); output [rows]. */
function segmentStartsSource(rows: number, n: number): KernelSource {
  const body =
    `const r = this.thread.x * 1.0; ${lowerBound('sk', n, 'r')}` +
    ` if (mrdLo < ${f(n)}) { if (sk[mrdLo] === r) { return mrdLo; } } return -1.0;`;
  return { key: `segStarts:${rows}:${n}`, source: `function(sk) { ${body} }`, output: [rows, 1, 1] };
}

/** out[r, c] = Σ src[p, c] over positions p with index r, in position order; output [rows, width]. */
function segmentRowsSource(rows: number, width: number, n: number, src: RowsOperand): KernelSource {
  const body =
    'const r = this.thread.y * 1.0; const u0 = st[this.thread.y]; if (u0 < 0.0) { return 0.0; }' +
    ` let acc = 0.0; for (let t = 0; t < ${n}; t++) { const u = u0 + t; if (u >= ${f(n)}) { break; } if (sk[u] !== r) { break; }` +
    ` acc += ${srcAt(src, 'pm[u]', 'this.thread.x')}; } return acc;`;
  const key = `segRows:${rows}:${width}:${n}:${src.offset}:${src.rowStride}:${src.colStride}`;
  return { key, source: `function(st, sk, pm, sr) { ${body} }`, output: [width, rows, 1] };
}

/**
 * A zero [rows, width] table plus src rows added at their indices (−1 skipped). Inputs: [indices, src].
 * Each row binary-searches its segment once; then each element sums its segment (untouched rows: 0).
 */
export function scatterRowsProgram(rows: number, width: number, n: number, idx: IndexOperand, src: RowsOperand): ProgramFn {
  const spec = sortSpec(n, idx);
  return function* ([indices, values], ctx) {
    const perm = yield* sortPositions(spec, indices!, ctx);
    const sk: DeviceArray = yield { src: sortedKeysSource(spec), args: [perm, indices!] };
    const starts: DeviceArray = yield { src: segmentStartsSource(rows, n), args: [sk] };
    const out: DeviceArray = yield { src: segmentRowsSource(rows, width, n, src), args: [starts, sk, perm, values!] };
    for (const a of [perm, sk, starts]) ctx.free(a);
    return [out];
  };
}

/**
 * torch.scatter_add as a segmented sum over flat targets. Inputs: [x, keys, src] where keys are the
 * flat offsets (in x's contiguous layout) each source element adds to, −1 to skip, and src is
 * contiguous over index's shape. Output: contiguous x.shape.
 */
export function scatterFlatProgram(xShape: readonly number[], xStrides: readonly number[], xOffset: number, n: number): ProgramFn {
  const spec = sortSpec(n, { offset: 0, step: 1 });
  const cs = contiguousStrides(xShape);
  const space = planSpace(xShape, [xStrides, cs]);
  const xo = offsetExpr(space, 0, xOffset);
  const flat = offsetExpr(space, 1, 0);
  const body =
    `const r = (${flat}) * 1.0; ${lowerBound('sk', n, 'r')}` +
    ` let acc = xv[${xo}]; for (let t = 0; t < ${n}; t++) { const u = mrdLo + t; if (u >= ${f(n)}) { break; } if (sk[u] !== r) { break; }` +
    ` acc += sr[pm[u]]; } return acc;`;
  const key = `segFlat:${n}:${space.dims.join('x')}|${space.strides.map((s) => s.join(',')).join('|')}@${xOffset}`;
  const seg: KernelSource = { key, source: `function(sk, pm, sr, xv) { ${body} }`, output: space.output };
  return function* ([x, keys, values], ctx) {
    const perm = yield* sortPositions(spec, keys!, ctx);
    const sk: DeviceArray = yield { src: sortedKeysSource(spec), args: [perm, keys!] };
    const out: DeviceArray = yield { src: seg, args: [sk, perm, values!, x!] };
    ctx.free(perm);
    ctx.free(sk);
    return [out];
  };
}

/**
 * Static-size coalescing (Backend.uniqueRows). Inputs: [indices, src]. Sort, mark segment heads,
 * scan the marks; output slot j binary-searches the scan for the head of the (j+1)-th segment and
 * takes its row (or −1) and the segment's summed src rows (or zeros).
 */
export function uniqueRowsProgram(width: number, n: number, idx: IndexOperand, src: RowsOperand): ProgramFn {
  const spec = sortSpec(n, idx);
  const heads: KernelSource = {
    key: `heads:${n}`,
    source: `function(sk) { const u = this.thread.x * 1.0; const k = sk[u]; const prev = sk[Math.max(u - 1.0, 0.0)];
      if (k < ${f(EMPTY_KEY)} && (u < 0.5 || prev !== k)) { return 1.0; } return 0.0; }`,
    output: [n, 1, 1],
  };
  const find = `const j = this.thread.y * 1.0 + 1.0; ${lowerBound('cs', n, 'j')}`;
  const outIdx: KernelSource = {
    key: `uniqueIdx:${n}`,
    source:
      `function(cs, sk) { const j = this.thread.x * 1.0 + 1.0; ${lowerBound('cs', n, 'j')}` +
      ` if (mrdLo < ${f(n)}) { return sk[mrdLo]; } return -1.0; }`,
    output: [n, 1, 1],
  };
  const outVal: KernelSource = {
    key: `uniqueVal:${width}:${n}:${src.offset}:${src.rowStride}:${src.colStride}`,
    source:
      `function(cs, sk, pm, sr) { ${find} if (mrdLo >= ${f(n)}) { return 0.0; } const key = sk[mrdLo];` +
      ` let acc = ${srcAt(src, 'pm[mrdLo]', 'this.thread.x')};` +
      ` for (let t = 1; t < ${n}; t++) { const u = mrdLo + t; if (u >= ${f(n)}) { break; } if (sk[u] !== key) { break; }` +
      ` acc += ${srcAt(src, 'pm[u]', 'this.thread.x')}; } return acc; }`,
    output: [width, n, 1],
  };
  return function* ([indices, values], ctx) {
    const perm = yield* sortPositions(spec, indices!, ctx);
    const sk: DeviceArray = yield { src: sortedKeysSource(spec), args: [perm, indices!] };
    const h: DeviceArray = yield { src: heads, args: [sk] };
    let cs = h;
    if (n >= 2) {
      cs = yield* scanRows([], n, { strides: [1], offset: 0 }, h, ctx);
      ctx.free(h);
    }
    const outI: DeviceArray = yield { src: outIdx, args: [cs, sk] };
    const outV: DeviceArray = yield { src: outVal, args: [cs, sk, perm, values!] };
    for (const a of [perm, sk, cs]) ctx.free(a);
    return [outI, outV];
  };
}

/**
 * Flat target offsets for scatterAdd: for each element of index (shape `indexShape`), its offset in
 * x's contiguous layout with the index value along `dim`, or −1 where the index is −1.
 */
export function scatterKeysSource(xShape: readonly number[], dim: number, indexShape: readonly number[], index: Operand): KernelSource {
  const cs = contiguousStrides(xShape);
  const space = planSpace(indexShape, [index.strides, cs.map((s, d) => (d === dim ? 0 : s))]);
  const io = offsetExpr(space, 0, index.offset);
  const base = offsetExpr(space, 1, 0);
  const body = `const v = a0[${io}]; if (v < 0.0) { return -1.0; } return v * ${f(cs[dim]!)} + (${base});`;
  const key = `scatterKeys:${cs[dim]}:${space.dims.join('x')}|${space.strides.map((s) => s.join(',')).join('|')}@${index.offset}`;
  return { key, source: `function(a0) { ${body} }`, output: space.output };
}

/**
 * torch.scatter_add along `dim` when the index has x's shape outside `dim` and few entries along it
 * (top-k and gather backwards: k per row): each output element loops over its own k index entries and
 * adds the matching sources in index order, as the CPU's sequential loop does. O(size·k), no sort.
 */
export function scatterAlongSource(
  shape: readonly number[],
  dim: number,
  k: number,
  x: Operand,
  index: Operand & { readonly dimStride: number },
  src: Operand & { readonly dimStride: number },
): KernelSource {
  const along = shape.map((_, d) => (d === dim ? 1 : 0)); // the coordinate along dim, as an operand
  const space = planSpace(shape, [x.strides, index.strides, src.strides, along]);
  const xo = offsetExpr(space, 0, x.offset);
  const io = offsetExpr(space, 1, index.offset);
  const so = offsetExpr(space, 2, src.offset);
  const at = offsetExpr(space, 3, 0);
  const body =
    `let acc = a0[${xo}]; const j = ${at};` +
    ` for (let i = 0; i < ${k}; i++) { if (a1[${io} + i * ${index.dimStride}] === j) { acc += a2[${so} + i * ${src.dimStride}]; } }` +
    ' return acc;';
  const key = `scatterAlong:${k}:${index.dimStride}:${src.dimStride}:${space.dims.join('x')}|${space.strides.map((s) => s.join(',')).join('|')}@${x.offset},${index.offset},${src.offset}`;
  return { key, source: `function(a0, a1, a2) { ${body} }`, output: space.output };
}
