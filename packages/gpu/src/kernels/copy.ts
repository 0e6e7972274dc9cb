/**
 * copyInto on the device for windows that are boxes of their storage: the storage is refactored as a
 * contiguous shape in which the window is a sub-box (a slice along some dims, any dim order, steps
 * included), and one kernel writes the whole new storage: src inside the box, the old data outside.
 */
import { coordExpr, offsetExpr, type Space } from '../indexing.js';
import type { KernelSource } from './source.js';

/** One dim of the refactored storage (inner to outer): its stride, extent, and the window's part of it. */
interface Level {
  readonly stride: number;
  readonly extent: number;
  /** The window dim running along this level, or null (the window holds one index of it). */
  readonly win: number | null;
}

/** The storage as a contiguous shape in which the window (shape, strides) is a box, or null. */
function levelsOf(shape: readonly number[], strides: readonly number[], size: number): Level[] | null {
  const dims = shape
    .map((n, d) => ({ d, n, s: strides[d]! }))
    .filter((x) => x.n > 1)
    .sort((a, b) => a.s - b.s);
  const levels: Level[] = [];
  let cur = 1;
  for (let i = 0; i < dims.length; i++) {
    const w = dims[i]!;
    if (w.s < cur || w.s % cur !== 0) return null;
    if (w.s > cur) levels.push({ stride: cur, extent: w.s / cur, win: null });
    const outer = i + 1 < dims.length ? dims[i + 1]!.s : size;
    if (outer % w.s !== 0 || outer / w.s < w.n) return null;
    levels.push({ stride: w.s, extent: outer / w.s, win: w.d });
    cur = outer;
  }
  if (cur < size) {
    if (size % cur !== 0) return null;
    levels.push({ stride: cur, extent: size / cur, win: null });
  }
  return levels;
}

/**
 * The kernel writing src into the box window of a `size`-element storage (arguments: old storage,
 * src; `whole`: the window is the whole storage and the kernel reads src only), or null when the
 * window is not a box.
 */
export function copyWindowSource(
  size: number,
  dst: { readonly shape: readonly number[]; readonly strides: readonly number[]; readonly offset: number },
  src: { readonly strides: readonly number[]; readonly offset: number },
): { whole: boolean; src: KernelSource } | null {
  const levels = levelsOf(dst.shape, dst.strides, size);
  if (!levels) return null;
  let rem = dst.offset;
  const starts = new Map<Level, number>();
  for (let l = levels.length - 1; l >= 0; l--) {
    const lv = levels[l]!;
    const start = Math.floor(rem / lv.stride);
    rem -= start * lv.stride;
    const len = lv.win === null ? 1 : dst.shape[lv.win]!;
    if (start + len > lv.extent) return null;
    starts.set(lv, start);
  }
  // Outer to inner, dropping extent-1 levels.
  const used = levels.filter((lv) => lv.extent > 1).reverse();
  const m = used.length;
  const X = m >= 1 ? used[m - 1]!.extent : 1;
  const Y = m >= 2 ? used[m - 2]!.extent : 1;
  let Z = 1;
  for (let d = 0; d < m - 2; d++) Z *= used[d]!.extent;
  const srcStrides = used.map((lv) => (lv.win === null ? 0 : src.strides[lv.win]!));
  let srcBase = src.offset;
  used.forEach((lv, d) => (srcBase -= starts.get(lv)! * srcStrides[d]!));
  const space: Space = { dims: used.map((lv) => lv.extent), strides: [used.map((lv) => lv.stride), srcStrides], output: [X, Y, Z] };
  const conds: string[] = [];
  used.forEach((lv, d) => {
    const start = starts.get(lv)!;
    const len = lv.win === null ? 1 : dst.shape[lv.win]!;
    if (start === 0 && len === lv.extent) return;
    const c = coordExpr(space, d);
    conds.push(len === 1 ? `${c} === ${start}` : `${c} >= ${start} && ${c} < ${start + len}`);
  });
  const sig = `${space.dims.join('x')}|${space.strides.map((s) => s.join(',')).join('|')}@${srcBase}`;
  const read = `a1[${offsetExpr(space, 1, srcBase)}]`;
  // A window covering the whole storage reads only src (an unused argument would be a bad binding).
  if (conds.length === 0) {
    return { whole: true, src: { key: `copyWhole:${sig}`, source: `function(a1) { return ${read}; }`, output: space.output } };
  }
  const inside = conds.join(' && ');
  const source = `function(a0, a1) { if (${inside}) { return ${read}; } return a0[${offsetExpr(space, 0, 0)}]; }`;
  return { whole: false, src: { key: `copyWindow:${sig}|${inside}`, source, output: space.output } };
}
