/**
 * Top-k along the last axis by a per-row bitonic top-k of positions (kernels/sort.ts), comparing
 * (value descending, position ascending) so ties go to the lower index exactly as on the CPU; the
 * first k of the best pow2(k) positions give the indices and values. O(n log² k) work per row.
 */
import { contiguousStrides } from '@myriad/core';
import { offsetExpr, planSpace } from '../indexing.js';
import { pow2, type DeviceArray, type ProgramFn } from './program.js';
import { topPositions, sortedLength, type SortSpec } from './sort.js';
import { sig, type KernelSource, type Operand } from './source.js';

/** Reads the first k sorted positions of each row: their indices (`values` false) or values. */
function takeSource(spec: SortSpec, k: number, values: boolean): KernelSource {
  const P = Math.min(sortedLength(spec.n), Math.max(2, pow2(k)));
  const permRows = contiguousStrides(spec.rowShape).map((s) => s * P);
  const space = planSpace(
    [...spec.rowShape, k],
    [
      [...spec.key.strides, 0],
      [...permRows, 1],
    ],
  );
  const kb = offsetExpr(space, 0, spec.key.offset);
  const pb = offsetExpr(space, 1, 0);
  const body = values ? `const p = pm[${pb}]; return ky[${kb} + p * ${spec.step}];` : `return pm[${pb}];`;
  const key = `topkTake:${values ? 'v' : 'i'}:${spec.n}:${spec.step}:${k}:${sig(space, [spec.key.offset])}`;
  return { key, source: `function(pm, ky) { ${body} }`, output: space.output };
}

/** Top-k program over x (rows `rowShape` with strides `x`, n elements `step` apart). Inputs: [x]; outputs: values, indices. */
export function topkProgram(rowShape: readonly number[], n: number, k: number, x: Operand, step: number): ProgramFn {
  const spec: SortSpec = { rowShape, n, key: x, step, order: 'values' };
  return function* ([xa], ctx) {
    const perm = yield* topPositions(spec, k, xa!, ctx);
    const values: DeviceArray = yield { src: takeSource(spec, k, true), args: [perm, xa!] };
    const indices: DeviceArray = yield { src: takeSource(spec, k, false), args: [perm, xa!] };
    ctx.free(perm);
    return [values, indices];
  };
}
