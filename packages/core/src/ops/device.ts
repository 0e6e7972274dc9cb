// Moving tensors between backends (t.to(backend)): the elements are read back and handed to the
// target backend; the gradient moves back the same way, so a model can cross backends mid-graph.
import { record } from '../autograd.js';
import type { Backend } from '../backend.js';
import { fmt } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './util.js';

/** Whether `v` looks like a Backend (has the storage methods `to` relies on). */
export function isBackend(v: unknown): v is Backend {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Backend).name === 'string' &&
    typeof (v as Backend).fromTypedArray === 'function' &&
    typeof (v as Backend).readSync === 'function'
  );
}

/** A copy of x on `backend` (x itself when already there); differentiable: the gradient moves back. */
export function toBackend(x: Tensor, backend: Backend): Tensor {
  if (x.backend === backend) return x;
  let data;
  try {
    data = x.backend.readSync(x);
  } catch (e) {
    throw new Error(
      `to: cannot read ${fmt(x.shape)} from the ${x.backend.name} backend synchronously (${(e as Error).message}); use await t.toAsync(backend)`,
    );
  }
  const out = wrap(backend, backend.fromTypedArray(data), x.shape, x.dtype);
  return record('to', out, [x], (dy) => [toBackend(dy, x.backend)]);
}

/** `toBackend` for backends that answer only asynchronously (WebGPU): waits for the read. */
export async function toBackendAsync(x: Tensor, backend: Backend): Promise<Tensor> {
  if (x.backend === backend) return x;
  const data = await x.backend.read(x);
  const out = wrap(backend, backend.fromTypedArray(data), x.shape, x.dtype);
  return record('to', out, [x], (dy) => [toBackend(dy, x.backend)]);
}
