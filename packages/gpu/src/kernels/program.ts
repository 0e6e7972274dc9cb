/**
 * Multi-pass kernel programs. An op that needs several launches (a sort, a scan, a segmented sum) is
 * written once as a generator that yields each launch and receives its result; the runtime drives it
 * synchronously (WebAssembly, cpu, GL: results are Float32Arrays) or asynchronously (WebGPU: results
 * are device buffer handles, each launch awaited only for its submission).
 */
import type { KernelSource } from './source.js';

/** Device data a kernel reads or writes; opaque to programs (a Float32Array or a WebGPU buffer). */
export interface DeviceArray {
  readonly __deviceArray?: never;
}

/** One kernel launch: its source and arguments (device arrays, or numbers passed as kernel scalars). */
export interface Launch {
  readonly src: KernelSource;
  readonly args: readonly (DeviceArray | number)[];
}

/** What a program may ask of the runtime besides launching kernels. */
export interface ProgramContext {
  /** Releases an intermediate result once no later launch reads it. */
  free(a: DeviceArray): void;
}

/** A running program: yields launches, receives each launch's result, returns the op's outputs. */
export type Program = Generator<Launch, DeviceArray[], DeviceArray>;

/** An op as a program over its inputs' device arrays (in the order the op passed its views). */
export type ProgramFn = (inputs: readonly DeviceArray[], ctx: ProgramContext) => Program;

/** A program of one launch over all inputs (the common elementwise/reduce case). */
export function single(src: KernelSource): ProgramFn {
  return function* (inputs) {
    return [yield { src, args: inputs }];
  };
}

/** The next power of two >= n (>= 1). */
export function pow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** The program of an op that runs on the CPU backend (never driven). */
// eslint-disable-next-line require-yield -- a ProgramFn that throws before its first kernel
export const noProgram: ProgramFn = function* () {
  throw new Error('gpu backend: this op runs on the CPU backend and has no kernel program');
};
