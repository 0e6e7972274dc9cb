/** Gathers: torch.gather along a dim, and gatherRows (indexSelect) as the dim-0 case. */
import { offsetExpr, planSpace } from '../indexing.js';
import { sig, type KernelSource, type Operand } from './source.js';

/**
 * Reads along one dim by index: out[..i..] = x[..index[..i..] at dim..] (torch.gather, and
 * gatherRows with dim 0). x's stride along `dim` is `dimStride`; the index operand's strides and x's
 * strides (0 along dim) are both over the output shape.
 */
export function gatherSource(outShape: readonly number[], x: Operand, index: Operand, dimStride: number): KernelSource {
  const space = planSpace(outShape, [x.strides, index.strides]);
  const xo = offsetExpr(space, 0, x.offset);
  const io = offsetExpr(space, 1, index.offset);
  const source = `function(a0, a1) { return a0[${xo} + a1[${io}] * ${dimStride}]; }`;
  return { key: `gather:${dimStride}:${sig(space, [x.offset, index.offset])}`, source, output: space.output };
}
