// Token dispatch that never leaves the device (Switch Transformer / GShard style): each expert gets a
// fixed number of slots C, a token's position among an expert's tokens comes from a prefix sum of the
// one-hot choices (every token's first choice before any second choice, then token order, as
// `applyCapacity`), assignments past C are dropped, and the expert inputs and outputs move by gathers.
// Shapes never depend on the routing, so nothing is read back. It does E·C rows of expert work
// (C = tokens without a capacity limit) where host grouping does only the chosen ones: the price of
// staying on the device; a finite capacityFactor keeps C small.
import {
  add,
  cast,
  concat,
  cumsum,
  eq,
  indexSelect,
  lt,
  mul,
  noGrad,
  ones,
  reshape,
  scatterAdd,
  slice,
  sub,
  sum,
  transpose,
  unsqueeze,
  where,
  zeros,
  type Tensor,
} from '@myriad/core';
import type { Expert } from './dispatch.js';

/** 0, 1, …, n−1 as int32, made on the backend (a prefix sum of ones: no host data to upload). */
export function deviceArange(n: number): Tensor {
  return sub(cumsum(ones([n], { dtype: 'int32' })), 1);
}

/** What `slotDispatch` decided, as tensors on the backend ([tokens, k] unless noted). */
interface SlotRouting {
  /** Expert of each assignment, −1 where dropped by capacity (int32). */
  expert: Tensor;
  /** Gate of each assignment, 0 where dropped. */
  gates: Tensor;
  /** Assignments per expert before capacity, [numExperts] float. */
  load: Tensor;
  /** Dropped assignments, a 0-d float. */
  dropped: Tensor;
}

/**
 * y[t] = Σⱼ gates[t, j] · experts[chosen[t, j]](x[t]) with at most `capacity` tokens per expert, for
 * x [tokens, dim], chosen int32 [tokens, k] (distinct experts per token) and gates [tokens, k].
 */
export function slotDispatch(
  x: Tensor,
  experts: readonly Expert[],
  chosen: Tensor,
  gates: Tensor,
  capacity: number,
  dimOut: number,
): { y: Tensor; routing: SlotRouting } {
  const [T, k] = [chosen.shape[0]!, chosen.shape[1]!];
  const E = experts.length;
  const C = Math.min(capacity, T); // a token picks an expert at most once, so C = T never drops
  const A = T * k;
  const plan = noGrad(() => {
    // Assignments in priority order a = j·T + t (slot-major), their experts and one-hot choices [A, E].
    const expertA = reshape(transpose(chosen, 0, 1), [A]);
    const onehot = cast(eq(unsqueeze(expertA, -1), deviceArange(E)), x.dtype);
    const load = sum(onehot, 0);
    // Position of each assignment among its expert's: the running count of that expert's choices.
    const position = sub(sum(mul(cumsum(onehot, 0), onehot), -1), 1);
    const keep = lt(position, C);
    // Slot e·C + position, or the dump slot E·C for dropped assignments.
    const slot = cast(where(keep, add(mul(cast(expertA, x.dtype), C), position), E * C), 'int32');
    // The token in each slot (T, a zero row, for empty ones): a scatter of t+1 into its slot, minus 1.
    const tokenOfA = cast(reshape(reshape(deviceArange(T), [1, T]).expand([k, T]), [A]), x.dtype); // a = j·T + t → t
    const filled = scatterAdd(zeros([E * C + 1], { dtype: x.dtype }), 0, slot, add(tokenOfA, 1));
    const slotToken = cast(where(eq(filled, 0), T + 1, filled), 'int32');
    const keepTk = transpose(reshape(keep, [k, T]), 0, 1);
    return {
      slot,
      slotToken: sub(slice(slotToken, 0, 0, E * C), 1),
      load,
      keepTk,
      dropped: sub(A, sum(cast(keep, x.dtype))),
    };
  });
  // Expert inputs [E·C, dim] from x with a zero row appended for empty slots.
  const xPad = concat([x, zeros([1, x.shape[1]!], { dtype: x.dtype })], 0);
  const inputs = indexSelect(xPad, 0, plan.slotToken);
  const outputs = experts.map((ex, e) => ex.forward(slice(inputs, 0, e * C, (e + 1) * C)));
  const yPad = concat([...outputs, zeros([1, dimOut], { dtype: x.dtype })], 0); // + the dump slot's zero row
  // Combine: each assignment reads its slot's output, weighted by its gate; the k choices summed.
  const gatesA = reshape(transpose(gates, 0, 1), [A, 1]);
  const y = sum(reshape(mul(indexSelect(yPad, 0, plan.slot), gatesA), [k, T, dimOut]), 0);
  const keepTk = plan.keepTk;
  const routing: SlotRouting = {
    expert: noGrad(() => where(keepTk, chosen, -1)),
    gates: noGrad(() => where(keepTk, gates.detach(), 0)),
    load: plan.load,
    dropped: plan.dropped,
  };
  return { y, routing };
}
