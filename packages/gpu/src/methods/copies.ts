/**
 * The copies of the gpu backend: cast (also the plain contiguous copy) and copyInto (a strided window written in place).
 */
import { cpuBackend, shapeSize, type DType, type Storage, type TypedArray, type View } from '@myriad/core';
import { copyWindowSource } from '../kernels/copy.js';
import { mapSource } from '../kernels/elementwise.js';
import type { KernelSource } from '../kernels/source.js';
import type { OpRunner } from '../op-runner.js';
import { operand } from '../views.js';
import { st, type OutSpec } from '../runtime.js';
import { typedFor, type GpuStorage } from '../storage.js';

/** Backend.cast: a contiguous copy of x in `dtype` (float → int32 truncates toward zero). */
export function cast(run: OpRunner, x: View, dtype: DType): Storage {
  const size = shapeSize(x.shape);
  const body = dtype === 'int32' && x.dtype !== 'int32' ? 'const r = v0 >= 0.0 ? Math.floor(v0) : -Math.floor(-v0);' : 'const r = v0;';
  const data: DType = x.dtype === 'float64' || dtype === 'float64' ? 'float64' : x.dtype;
  const src = (): KernelSource => mapSource(`cast-${dtype}`, body, x.shape, [operand(x)]);
  return run.one('cast', data, [x], { dtype, size }, src, ([h]) => cpuBackend.cast(h!, dtype) as TypedArray);
}

/** Backend.copyInto: writes src into the strided window dst: a kernel where dst is a box of its storage, else on a host copy. */
export function copyInto(run: OpRunner, dst: View, src: View): void {
  const d = st(dst);
  if (!run.async) {
    // Synchronous modes: kernel data lives in host memory, so the window is written in place.
    const host = (v: View): View => run.rt.hostViewOf(v, run.rt.hostSync(v, 'copyInto'));
    cpuBackend.copyInto(host(dst), host(src));
    return;
  }
  const box = copyWindowSource(d.size, dst, src);
  const whole: View = { storage: d, shape: [d.size], strides: [1], offset: 0, dtype: d.dtype };
  const out: OutSpec = { dtype: d.dtype, size: d.size };
  let next: GpuStorage;
  if (box) {
    next = run.one(
      'copyInto',
      d.dtype,
      box.whole ? [src] : [whole, src],
      out,
      () => box.src,
      ([hd, hs]) => {
        const out = (box.whole ? typedFor(d.dtype, d.size) : cpuBackend.cast(hd!, d.dtype)) as TypedArray;
        cpuBackend.copyInto({ ...dst, storage: out }, box.whole ? hd! : hs!);
        return out;
      },
    );
  } else {
    // Any other strided window: written on a host copy, uploaded when next used.
    next = run.rt.onCpu('copyInto', 'a window that is not a box of its storage', [whole, src], [out], ([hd, hs]) => {
      const out = (cpuBackend.cast(hd!, d.dtype) as TypedArray).slice();
      cpuBackend.copyInto({ ...dst, storage: out }, hs!);
      return [out];
    })[0]!;
  }
  run.rt.moveInto(d, next);
}
