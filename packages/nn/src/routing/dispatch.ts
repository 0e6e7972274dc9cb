// Token dispatch for mixture-of-experts: the router produces a flat list of (token, expert, gate)
// assignments; tokens are grouped per expert (a counting sort), each expert runs ONE forward over
// all of its tokens, and the gated outputs are scattered back onto their tokens with one scatterAdd.
import { concat, indexSelect, mul, scatterAdd, tensor, unsqueeze, zeros, type Tensor } from '@myriad/core';

/** Anything with a forward from [n, dim] to [n, dimOut] (a FeedForward expert). */
export interface Expert {
  forward(x: Tensor): Tensor;
}

/**
 * Flat routing assignments: assignment a sends token `token[a]` to expert `expert[a]` (−1: dropped,
 * e.g. over capacity) with weight `gates[a]` (a [A] tensor, differentiable toward the router).
 */
export interface Assignments {
  token: Int32Array;
  expert: Int32Array;
  gates: Tensor;
}

/** Token rows and gate positions of each expert, in assignment order. */
export function groupByExpert(expert: Int32Array, token: Int32Array, numExperts: number): Array<{ tokens: Int32Array; slots: Int32Array }> {
  const counts = new Int32Array(numExperts);
  for (let a = 0; a < expert.length; a++) if (expert[a]! >= 0) counts[expert[a]!]++;
  const groups = Array.from(counts, (n) => ({ tokens: new Int32Array(n), slots: new Int32Array(n) }));
  const fill = new Int32Array(numExperts);
  for (let a = 0; a < expert.length; a++) {
    const e = expert[a]!;
    if (e < 0) continue;
    const at = fill[e]!++;
    groups[e]!.tokens[at] = token[a]!;
    groups[e]!.slots[at] = a;
  }
  return groups;
}

/**
 * y[t] = Σ_{a : token[a] = t} gates[a] · experts[expert[a]](x[t]) for x [tokens, dim] → [tokens, dimOut].
 * Each expert sees the stacked rows of its tokens in one call (one matmul per linear layer).
 */
export function combineExperts(x: Tensor, experts: readonly Expert[], a: Assignments, dimOut: number): Tensor {
  const tokens = x.shape[0]!;
  const parts: Tensor[] = [];
  const rowsOf: Int32Array[] = [];
  groupByExpert(a.expert, a.token, experts.length).forEach((g, e) => {
    if (g.tokens.length === 0) return;
    const rows = tensor(g.tokens, { shape: [g.tokens.length], dtype: 'int32' });
    const slots = tensor(g.slots, { shape: [g.slots.length], dtype: 'int32' });
    const y = experts[e]!.forward(indexSelect(x, 0, rows)); // [n_e, dimOut]
    parts.push(mul(y, unsqueeze(indexSelect(a.gates, 0, slots), -1)));
    rowsOf.push(g.tokens);
  });
  const out = zeros([tokens, dimOut], { dtype: x.dtype });
  if (parts.length === 0) return out;
  const stacked = parts.length === 1 ? parts[0]! : concat(parts, 0);
  // scatterAdd needs the target row repeated across the feature dim.
  const n = stacked.shape[0]!;
  const index = new Int32Array(n * dimOut);
  let r = 0;
  for (const rows of rowsOf) {
    for (let i = 0; i < rows.length; i++, r++) index.fill(rows[i]!, r * dimOut, (r + 1) * dimOut);
  }
  return scatterAdd(out, 0, tensor(index, { shape: [n, dimOut], dtype: 'int32' }), stacked);
}
