// The top-k of the k² pair sums s₁[a] + s₂[b] of two descending lists, without forming the k² grid:
// product-key retrieval's last step (ops/product-key-topk.ts). With both lists descending, every sum
// is at least its right and lower neighbours', so a best-first walk from (0, 0) — pop the best cell,
// offer (a, b+1), and (a+1, 0) when b = 0, so each cell is offered once, after its better parent —
// meets the cells in the order topk gives the flattened grid: O(k log k) instead of O(k²) per query.
// Sums are rounded as the add op rounds them, so values and ties are topk's bit for bit.

// A binary heap of offered cells (value, candidate a·k + b), reused across calls.
let heapValue = new Float64Array(64);
let heapCell = new Int32Array(64);

/** Whether cell x (value vx, index cx) comes before cell y in topk's order: larger value, or equal and lower index. */
function before(vx: number, cx: number, vy: number, cy: number): boolean {
  return vx > vy || (vx === vy && cx < cy);
}

/** Whether every value of v[from, from + k) is finite: NaN and ±∞ can break the grid's monotone order. */
export function allFinite(v: ArrayLike<number>, from: number, k: number): boolean {
  for (let i = from; i < from + k; i++) if (!Number.isFinite(v[i]!)) return false;
  return true;
}

/**
 * Writes the k best cells of the grid s₁[a] + s₂[b] (s₁ = v1[from..from+k), s₂ = v2[from..from+k),
 * both descending and finite) to values[to..to+k) and their candidate indices a·k + b to cand[to..to+k),
 * in topk's order (values descending, ties to the lower index). `f32`: sums rounded to float32.
 */
export function topPairSums(
  v1: ArrayLike<number>,
  v2: ArrayLike<number>,
  from: number,
  k: number,
  f32: boolean,
  values: { [i: number]: number },
  cand: Int32Array,
  to: number,
): void {
  if (heapValue.length < k + 1) {
    heapValue = new Float64Array(2 * k + 2);
    heapCell = new Int32Array(2 * k + 2);
  }
  const hv = heapValue;
  const hc = heapCell;
  let size = offer(hv, hc, 0, 0, pairSum(v1, v2, from, k, f32, 0));
  for (let j = 0; j < k; j++) {
    const c = hc[0]!;
    values[to + j] = hv[0]!;
    cand[to + j] = c;
    // Pop: move the last cell down from the root.
    const v = hv[--size]!;
    const last = hc[size]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && before(hv[child + 1]!, hc[child + 1]!, hv[child]!, hc[child]!)) child++;
      if (!before(hv[child]!, hc[child]!, v, last)) break;
      hv[i] = hv[child]!;
      hc[i] = hc[child]!;
      i = child;
    }
    hv[i] = v;
    hc[i] = last;
    const b = c % k;
    if (b + 1 < k) size = offer(hv, hc, size, c + 1, pairSum(v1, v2, from, k, f32, c + 1));
    if (b === 0 && c + k < k * k) size = offer(hv, hc, size, c + k, pairSum(v1, v2, from, k, f32, c + k));
  }
}

// Module-level helpers rather than closures: a closure made per call costs more than the walk itself.

/** The sum of cell c = a·k + b, rounded to float32 when `f32`. */
function pairSum(v1: ArrayLike<number>, v2: ArrayLike<number>, from: number, k: number, f32: boolean, c: number): number {
  const s = v1[from + ((c / k) | 0)]! + v2[from + (c % k)]!;
  return f32 ? Math.fround(s) : s;
}

/** Adds cell c of value v to the heap of `size` cells; returns the new size. */
function offer(hv: Float64Array, hc: Int32Array, size: number, c: number, v: number): number {
  let i = size;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(v, c, hv[parent]!, hc[parent]!)) break;
    hv[i] = hv[parent]!;
    hc[i] = hc[parent]!;
    i = parent;
  }
  hv[i] = v;
  hc[i] = c;
  return size + 1;
}
