/**
 * Inclusive prefix sums along the last axis (Hillis–Steele): ceil(log2 n) launches; pass d adds the
 * element d to the left, so after the pass with d = 2^t every element holds the sum of the 2^(t+1)
 * elements ending at it. The first pass reads the input view with its strides.
 */
import { offsetExpr, planSpace, type Space } from '../indexing.js';
import type { DeviceArray, Launch, ProgramContext } from './program.js';
import type { KernelSource, Operand } from './source.js';

/** Space [...rows, n] with the last axis kept innermost (a stride-0/1 guard operand stops it merging). */
function rowSpace(rowShape: readonly number[], n: number, x: Operand): Space {
  return planSpace([...rowShape, n], [x.strides, [...rowShape.map(() => 0), 1]]);
}

function firstPass(rowShape: readonly number[], n: number, x: Operand, colStride: number): KernelSource {
  const space = rowSpace(rowShape, n, x);
  const o = offsetExpr(space, 0, x.offset);
  const body = `if (this.thread.x >= 1) { return a0[${o}] + a0[${o} - ${colStride}]; } return a0[${o}];`;
  const sig = `${space.dims.join('x')}|${space.strides[0]!.join(',')}@${x.offset}:${colStride}`;
  return { key: `scan0:${sig}`, source: `function(a0) { ${body} }`, output: space.output };
}

function laterPass(output: readonly [number, number, number], d: number): KernelSource {
  const [X, Y] = output;
  const o = `(this.thread.z * ${Y} + this.thread.y) * ${X} + this.thread.x`;
  const body = `if (this.thread.x >= ${d}) { return a0[${o}] + a0[${o} - ${d}]; } return a0[${o}];`;
  return { key: `scan:${output.join('x')}:${d}`, source: `function(a0) { ${body} }`, output };
}

/**
 * Inclusive scan of each row of n >= 2 elements of `x` (strides over [...rowShape, n]); returns the
 * contiguous result. Frees its intermediates, never `input`.
 */
export function* scanRows(
  rowShape: readonly number[],
  n: number,
  x: Operand,
  input: DeviceArray,
  ctx: ProgramContext,
): Generator<Launch, DeviceArray, DeviceArray> {
  const first = firstPass(rowShape, n, x, x.strides[x.strides.length - 1]!);
  let cur: DeviceArray = yield { src: first, args: [input] };
  for (let d = 2; d < n; d *= 2) {
    const next: DeviceArray = yield { src: laterPass(first.output, d), args: [cur] };
    ctx.free(cur);
    cur = next;
  }
  return cur;
}
