/**
 * Walking strided views. Every CPU kernel that reads views goes through `forEachRow`: dimensions of
 * size 1 are dropped and adjacent dimensions that are contiguous for every operand are merged, so a
 * contiguous tensor of any rank is one long row and the inner loops stay simple.
 */

/** Drops size-1 dims and merges dims that are contiguous in every operand. */
export function coalesce(shape: readonly number[], stridesList: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = stridesList.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d]!;
    if (n === 1) continue;
    const last = outShape.length - 1;
    const canMerge = last >= 0 && stridesList.every((s, k) => outStrides[k]![last] === s[d]! * n);
    if (canMerge) {
      outShape[last] = outShape[last]! * n;
      stridesList.forEach((s, k) => (outStrides[k]![last] = s[d]!));
    } else {
      outShape.push(n);
      stridesList.forEach((s, k) => outStrides[k]!.push(s[d]!));
    }
  }
  return { shape: outShape, strides: outStrides };
}

/**
 * Calls `row(offsets, n, innerStrides)` once per innermost row of `shape`, where `offsets[k]` is the
 * position of the row's first element in operand k. `offsets` is reused between calls.
 */
export function forEachRow(
  shape: readonly number[],
  stridesList: readonly (readonly number[])[],
  baseOffsets: readonly number[],
  row: (offsets: Float64Array, n: number, innerStrides: readonly number[]) => void,
): void {
  const { shape: cs, strides } = coalesce(shape, stridesList);
  const ops = stridesList.length;
  const offsets = Float64Array.from(baseOffsets);
  for (const d of shape) if (d === 0) return;
  if (cs.length === 0) {
    row(
      offsets,
      1,
      stridesList.map(() => 0),
    );
    return;
  }
  const nd = cs.length;
  const n = cs[nd - 1]!;
  const inner = strides.map((s) => s[nd - 1]!);
  const outer = nd - 1;
  const counter = new Array<number>(outer).fill(0);
  for (;;) {
    row(offsets, n, inner);
    // Odometer over the outer dims, updating each operand's offset incrementally.
    let d = outer - 1;
    while (d >= 0) {
      counter[d]!++;
      for (let k = 0; k < ops; k++) offsets[k] = offsets[k]! + strides[k]![d]!;
      if (counter[d]! < cs[d]!) break;
      for (let k = 0; k < ops; k++) offsets[k] = offsets[k]! - strides[k]![d]! * cs[d]!;
      counter[d] = 0;
      d--;
    }
    if (d < 0) return;
  }
}

/** Strides of `shape` with dimension `axis` removed. */
export function dropAxis<T>(values: readonly T[], axis: number): T[] {
  return values.filter((_, i) => i !== axis);
}
