// Printing tensors the way PyTorch does: values with one shared width and format, summarised with
// "..." past 1000 elements (3 edge items per dim), then shape, dtype and the gradient state.
import type { DType, TypedArray } from './dtype.js';
import { contiguousStrides, shapeSize } from './shape.js';

/** Elements beyond which a tensor is summarised (torch's threshold). */
const THRESHOLD = 1000;
/** Items kept at each end of a summarised dim. */
const EDGE = 3;
const LINE_WIDTH = 80;

/** What `formatTensor` needs to know of a tensor. */
interface Printable {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly requiresGrad: boolean;
  readonly gradNode: { readonly op: string } | null;
  readonly backend: { readonly name: string };
  toTypedArray(): TypedArray;
}

/** Scientific notation as PyTorch prints it: 1.0000e-06. */
function sciNotation(v: number): string {
  return v.toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2');
}

/** Formats every shown number alike: integers as `1.`, else fixed 4 decimals, or scientific when the range is wide. */
function numberFormatter(values: readonly number[], dtype: DType): (v: number) => string {
  const special = (v: number): string | null => (Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : null);
  if (dtype === 'int32') return (v) => String(v);
  const finite = values.filter((v) => Number.isFinite(v));
  const abs = finite.map(Math.abs).filter((v) => v > 0);
  const maxAbs = abs.length ? Math.max(...abs) : 0;
  const minAbs = abs.length ? Math.min(...abs) : 0;
  const sci = maxAbs > 1e8 || (abs.length > 0 && (minAbs < 1e-4 || maxAbs / minAbs > 1000));
  if (finite.every((v) => Number.isInteger(v))) {
    return (v) => special(v) ?? (maxAbs > 1e8 ? sciNotation(v) : `${Object.is(v, -0) ? '-0' : v}.`);
  }
  return (v) => special(v) ?? (sci ? sciNotation(v) : v.toFixed(4));
}

/** The shown indices of a dim of size n: all, or the first and last EDGE with null for the gap. */
function shownIndices(n: number, summarise: boolean): Array<number | null> {
  if (!summarise || n <= 2 * EDGE) return Array.from({ length: n }, (_, i) => i);
  return [...Array.from({ length: EDGE }, (_, i) => i), null, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)];
}

/** `tensor([...], shape=[..], dtype=.., requiresGrad=true | gradFn=op)`; values left out when the backend cannot read synchronously. */
export function formatTensor(t: Printable): string {
  const shape = t.shape;
  const size = shapeSize(shape);
  const tail = [`shape=[${shape.join(', ')}]`, `dtype=${t.dtype}`];
  if (t.gradNode !== null) tail.push(`gradFn=${t.gradNode.op}`);
  else if (t.requiresGrad) tail.push('requiresGrad=true');
  if (t.backend.name !== 'cpu') tail.push(`backend=${t.backend.name}`);
  let flat: TypedArray;
  try {
    flat = t.toTypedArray();
  } catch {
    return `tensor(<not read: the ${t.backend.name} backend answers asynchronously; await t.read()>, ${tail.join(', ')})`;
  }
  const summarise = size > THRESHOLD;
  const strides = contiguousStrides(shape);
  // The numbers that will be shown decide the format (as PyTorch does).
  const shown: number[] = [];
  const collect = (dim: number, offset: number): void => {
    if (dim === shape.length) return void shown.push(flat[offset]!);
    for (const i of shownIndices(shape[dim]!, summarise)) if (i !== null) collect(dim + 1, offset + i * strides[dim]!);
  };
  collect(0, 0);
  const fmt = numberFormatter(shown, t.dtype);
  const width = Math.max(1, ...shown.map((v) => fmt(v).length));
  const cell = (v: number): string => fmt(v).padStart(width);
  const prefix = 'tensor(';
  const body = (dim: number, offset: number, indent: number): string => {
    if (dim === shape.length) return cell(flat[offset]!);
    const items = shownIndices(shape[dim]!, summarise);
    if (dim === shape.length - 1) {
      const parts = items.map((i) => (i === null ? '...' : cell(flat[offset + i]!)));
      // Wrap long rows at the line width, continuing under the first element.
      const perLine = Math.max(1, Math.floor((LINE_WIDTH - indent - 1) / (width + 2)));
      const lines: string[] = [];
      for (let k = 0; k < parts.length; k += perLine) lines.push(parts.slice(k, k + perLine).join(', '));
      return `[${lines.join(`,\n${' '.repeat(indent + 1)}`)}]`;
    }
    const sep = `,${'\n'.repeat(Math.max(1, shape.length - dim - 1))}${' '.repeat(indent + 1)}`;
    return `[${items.map((i) => (i === null ? '...' : body(dim + 1, offset + i * strides[dim]!, indent + 1))).join(sep)}]`;
  };
  const values = shape.length === 0 ? cell(flat[0]!) : body(0, 0, prefix.length);
  return `${prefix}${values}, ${tail.join(', ')})`;
}
