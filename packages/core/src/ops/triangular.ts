// Lower and upper triangles of the last two dims, as a where over a mask built from two aranges
// (col − row ≤ k), so the gradient is where's and every backend runs it with its own kernels.
import { ShapeError, fmt } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { ge, le, sub } from './elementwise.js';
import { where } from './indexing.js';
import { reshape } from './movement.js';
import { iota } from './util.js';

function triangle(op: 'tril' | 'triu', x: Tensor, diagonal: number): Tensor {
  if (x.ndim < 2) throw new ShapeError(`${op}: needs at least 2 dims (a matrix or a batch of them), got ${fmt(x.shape)}`);
  if (!Number.isInteger(diagonal)) throw new RangeError(`${op}: diagonal must be an integer, got ${diagonal}`);
  const rows = x.shape[x.ndim - 2]!;
  const cols = x.shape[x.ndim - 1]!;
  const offset = sub(reshape(iota(x.backend, cols), [1, cols]), reshape(iota(x.backend, rows), [rows, 1])); // col − row
  const keep = op === 'tril' ? le(offset, diagonal) : ge(offset, diagonal);
  return where(keep, x, 0);
}

/** Lower triangle of the last two dims: elements with col − row ≤ diagonal kept, the rest 0 (torch.tril). */
export const tril = (x: Tensor, diagonal = 0): Tensor => triangle('tril', x, diagonal);
/** Upper triangle of the last two dims: elements with col − row ≥ diagonal kept, the rest 0 (torch.triu). */
export const triu = (x: Tensor, diagonal = 0): Tensor => triangle('triu', x, diagonal);
