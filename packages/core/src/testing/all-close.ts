import { Tensor, type NestedArray, type TypedArray } from '../index.js';
import { shapesEqual } from '../shape.js';

/** Anything allClose can compare: a tensor, a typed array, nested number arrays or a number. */
export type Comparable = Tensor | TypedArray | NestedArray | readonly number[];

export interface Tolerance {
  /** Relative tolerance (default 1e-5). */
  rtol?: number;
  /** Absolute tolerance (default 1e-6). */
  atol?: number;
  /** NaN equals NaN (default true: a kernel that propagates NaN agrees with its reference). */
  equalNan?: boolean;
}

export interface Mismatch {
  /** Multi-dimensional index of the element. */
  index: number[];
  actual: number;
  expected: number;
  /** |actual − expected| (Infinity for NaN or infinity mismatches). */
  absDiff: number;
}

export interface AllCloseReport {
  /** True when shapes match and every element satisfies |a − b| <= atol + rtol·|b|. */
  ok: boolean;
  shapeA: number[];
  shapeB: number[];
  /** Number of elements outside the tolerance. */
  mismatches: number;
  /** Largest |a − b| over all elements. */
  maxAbsDiff: number;
  /** Largest |a − b| / |b| over elements where b ≠ 0. */
  maxRelDiff: number;
  /** The element that exceeds its tolerance by the most, when any does. */
  worst: Mismatch | null;
  /** The first few mismatching elements, in index order. */
  first: Mismatch[];
  /** A human-readable summary (empty when ok). */
  message: string;
}

function flatten(x: Comparable): { data: ArrayLike<number>; shape: number[] } {
  if (x instanceof Tensor) return { data: x.toTypedArray(), shape: [...x.shape] };
  if (ArrayBuffer.isView(x)) return { data: x as TypedArray, shape: [(x as TypedArray).length] };
  if (typeof x === 'number') return { data: [x], shape: [] };
  const shape: number[] = [];
  let cur: NestedArray = x as NestedArray;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0]!;
  }
  const data: number[] = [];
  const walk = (node: NestedArray): void => {
    if (Array.isArray(node)) for (const child of node) walk(child);
    else data.push(node);
  };
  walk(x as NestedArray);
  return { data, shape };
}

function unravel(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d]!;
    index[d] = flat % n;
    flat = Math.floor(flat / n);
  }
  return index;
}

/**
 * Compares two arrays elementwise like numpy.allclose (|a − b| <= atol + rtol·|b|, b the reference)
 * and reports shapes, the number of mismatches, the worst element and the first few.
 */
export function allClose(actual: Comparable, expected: Comparable, tol: Tolerance = {}): AllCloseReport {
  const { rtol = 1e-5, atol = 1e-6, equalNan = true } = tol;
  const a = flatten(actual);
  const b = flatten(expected);
  const report: AllCloseReport = {
    ok: true,
    shapeA: a.shape,
    shapeB: b.shape,
    mismatches: 0,
    maxAbsDiff: 0,
    maxRelDiff: 0,
    worst: null,
    first: [],
    message: '',
  };
  if (!shapesEqual(a.shape, b.shape) || a.data.length !== b.data.length) {
    report.ok = false;
    report.message = `allClose: shapes differ: actual [${a.shape.join(',')}] vs expected [${b.shape.join(',')}]`;
    return report;
  }
  let worstExcess = -Infinity;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i]!;
    const y = b.data[i]!;
    let diff: number;
    let bad: boolean;
    if (Number.isNaN(x) || Number.isNaN(y)) {
      bad = !(equalNan && Number.isNaN(x) && Number.isNaN(y));
      diff = bad ? Infinity : 0;
    } else if (!Number.isFinite(x) || !Number.isFinite(y)) {
      bad = x !== y;
      diff = bad ? Infinity : 0;
    } else {
      diff = Math.abs(x - y);
      bad = diff > atol + rtol * Math.abs(y);
      if (y !== 0) report.maxRelDiff = Math.max(report.maxRelDiff, diff / Math.abs(y));
    }
    report.maxAbsDiff = Math.max(report.maxAbsDiff, diff);
    if (!bad) continue;
    report.mismatches++;
    const excess = diff - (atol + rtol * Math.abs(Number.isFinite(y) ? y : 0));
    const m = (): Mismatch => ({ index: unravel(i, a.shape), actual: x, expected: y, absDiff: diff });
    if (report.first.length < 5) report.first.push(m());
    if (excess > worstExcess) {
      worstExcess = excess;
      report.worst = m();
    }
  }
  if (report.mismatches > 0) {
    report.ok = false;
    const w = report.worst!;
    const list = report.first
      .map((f) => `  [${f.index.join(',')}]: ${f.actual} vs ${f.expected} (diff ${f.absDiff.toExponential(3)})`)
      .join('\n');
    report.message =
      `allClose: ${report.mismatches} of ${a.data.length} elements differ beyond atol=${atol}, rtol=${rtol} (shape [${a.shape.join(',')}])\n` +
      `  worst at [${w.index.join(',')}]: actual ${w.actual}, expected ${w.expected}, |diff| ${w.absDiff.toExponential(3)}\n` +
      `  max |diff| ${report.maxAbsDiff.toExponential(3)}, max rel diff ${report.maxRelDiff.toExponential(3)}; first mismatches:\n${list}`;
  }
  return report;
}

/** Throws an Error carrying allClose's report when the arrays are not close. */
export function assertAllClose(actual: Comparable, expected: Comparable, tol: Tolerance = {}, context = ''): void {
  const r = allClose(actual, expected, tol);
  if (!r.ok) throw new Error(context ? `${context}: ${r.message}` : r.message);
}
