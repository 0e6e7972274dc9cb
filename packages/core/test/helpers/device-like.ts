// A backend that runs the CPU backend's kernels but has no host access (hostData gives null), so ops
// take the path they take on a device backend (WebGPU, WebGL): tests of those paths without a GPU.
import { cpuBackend, getBackend, setBackend, type Backend } from '../../src/index.js';

export const deviceLike: Backend = { ...cpuBackend, name: 'device-like', hostData: () => null };

/** Runs fn with the device-like backend as the current one. */
export function onDeviceLike<T>(fn: () => T): T {
  const prev = getBackend();
  setBackend(deviceLike);
  try {
    return fn();
  } finally {
    setBackend(prev);
  }
}
