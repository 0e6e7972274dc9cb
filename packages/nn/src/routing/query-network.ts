// The query network shared by PKM and PEER: q = norm(x·W_qᵀ), split into `heads` queries of dimKey.
// Lample et al. 2019 found BatchNorm on the query essential for even key usage; 'layer' normalises
// each head's query on its own; 'none' leaves it raw.
import { ShapeError, reshape, type Tensor } from '@myriad/core';
import { BatchNorm1d } from '../layers/batch-norm.js';
import { LayerNorm } from '../layers/layer-norm.js';

/** Normalisation of the product-key queries. */
export type QueryNorm = 'batch' | 'layer' | 'none';

const QUERY_NORMS: readonly QueryNorm[] = ['batch', 'layer', 'none'];

/** Throws a RangeError naming the layer unless `kind` is a QueryNorm. */
export function checkQueryNorm(layer: string, kind: QueryNorm): void {
  if (!QUERY_NORMS.includes(kind))
    throw new RangeError(`${layer}: unknown queryNorm '${String(kind)}'; expected one of ${QUERY_NORMS.join(', ')}`);
}

/** BatchNorm1d(heads·dimKey) for 'batch', LayerNorm(dimKey) shared by the heads for 'layer', null for 'none'. */
export function createQueryNorm(
  layer: string,
  kind: QueryNorm,
  heads: number,
  dimKey: number,
  dtype: 'float32' | 'float64',
): BatchNorm1d | LayerNorm | null {
  checkQueryNorm(layer, kind);
  if (kind === 'batch') return new BatchNorm1d(heads * dimKey, { dtype });
  if (kind === 'layer') return new LayerNorm(dimKey, { dtype });
  return null;
}

/** Raw queries [tokens, heads·dimKey] → normalised [tokens, heads, dimKey]. */
export function normalizeQueries(norm: BatchNorm1d | LayerNorm | null, q: Tensor, heads: number, dimKey: number): Tensor {
  if (q.ndim !== 2 || q.shape[1] !== heads * dimKey)
    throw new ShapeError(`normalizeQueries: expected [tokens, ${heads * dimKey}], got [${q.shape.join(', ')}]`);
  const tokens = q.shape[0]!;
  if (norm instanceof BatchNorm1d) return reshape(norm.forward(q), [tokens, heads, dimKey]);
  const perHead = reshape(q, [tokens, heads, dimKey]);
  return norm === null ? perHead : norm.forward(perHead);
}
