// Finding NaN and ±Infinity in tensors, so a diverged run never replaces a good checkpoint and a
// damaged one says what is wrong with it.
import type { Tensor } from '@myriad/core';

/** A tensor holding NaN or ±Infinity: how many such values, and the first of them. */
export interface NonFiniteTensor {
  /** The tensor's name (in a checkpoint: as stored, `model.<key>` or `optim.<key>`). */
  name: string;
  /** Number of NaN / ±Infinity elements. */
  count: number;
  /** Flat (row-major) index of the first one. */
  firstIndex: number;
  /** Its value: NaN, Infinity or -Infinity. */
  firstValue: number;
}

/** The float tensors of `tensors` that hold NaN or ±Infinity, in the record's order (int32 tensors are always finite). */
export function findNonFinite(tensors: Record<string, Tensor>): NonFiniteTensor[] {
  const out: NonFiniteTensor[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype === 'int32') continue;
    const data = t.toTypedArray();
    let count = 0;
    let firstIndex = -1;
    for (let i = 0; i < data.length; i++) {
      // x - x is 0 for finite x and NaN for NaN and ±Infinity: one comparison per element.
      const x = data[i]!;
      if (x - x !== 0) {
        if (count === 0) firstIndex = i;
        count++;
      }
    }
    if (count > 0) out.push({ name, count, firstIndex, firstValue: data[firstIndex]! });
  }
  return out;
}

/** One line naming the first bad tensor and how many there are in all. */
export function describeNonFinite(bad: readonly NonFiniteTensor[]): string {
  const b = bad[0]!;
  const more = bad.length > 1 ? `; ${bad.length} tensors hold non-finite values in all` : '';
  return `tensor "${b.name}" holds ${b.firstValue} at flat index ${b.firstIndex} (${b.count} non-finite value${b.count === 1 ? '' : 's'})${more}`;
}
