// Puts the WebAssembly kernels behind the CPU backend's kernel seam. Each replacement falls back to
// the plain TypeScript kernel when it cannot run (e.g. more than 2 GiB of scratch), so callers see
// one behaviour. Set MYRIAD_CPU_KERNELS=js to keep the plain kernels (CI runs both paths).
import { installKernels, jsKernels, type CpuKernels } from '../kernels.js';
import { existingWasmContext, getWasmContext, getWasmContextAsync, type WasmContext, type WasmThreads } from './context.js';
import { matmulWasm } from './matmul.js';
import { logSoftmaxWasm, logsumexpWasm, softmaxWasm } from './softmax.js';
import { topkWasm } from './topk.js';
import { binaryWasm } from './binary.js';
import { embeddingBagForwardWasm, embeddingBagWeightGradWasm } from './embedding-bag.js';
import { expertMixBackwardWasm, expertMixForwardWasm, expertTableGradWasm } from './expert-mix.js';
import { sumAxisWasm } from './sum.js';
import { unaryWasm } from './unary.js';

export type { WasmThreads };

/** Below this many multiply-adds the plain kernel is faster than copying into WebAssembly memory. */
const WASM_MIN_MATMUL_WORK = 2048;

/** The WebAssembly kernels, or null where WebAssembly SIMD is unavailable. */
export function wasmKernels(): Partial<CpuKernels> | null {
  const ctx = getWasmContext();
  return ctx ? kernelsFor(ctx) : null;
}

function kernelsFor(ctx: WasmContext): Partial<CpuKernels> {
  return {
    matmulF32(a, aOffset, ars, acs, b, bOffset, brs, bcs, out, outOffset, M, N, K) {
      if (M * N * K < WASM_MIN_MATMUL_WORK || !matmulWasm(ctx, a, aOffset, ars, acs, b, bOffset, brs, bcs, out, outOffset, M, N, K)) {
        jsKernels.matmulF32(a, aOffset, ars, acs, b, bOffset, brs, bcs, out, outOffset, M, N, K);
      }
    },
    topkRowsF32(x, rows, n, k, values, indices) {
      if (!topkWasm(ctx, x, rows, n, k, values, indices)) jsKernels.topkRowsF32(x, rows, n, k, values, indices);
    },
    softmaxRowsF32(x, rows, n, out) {
      if (!softmaxWasm(ctx, x, rows, n, out)) jsKernels.softmaxRowsF32(x, rows, n, out);
    },
    logSoftmaxRowsF32(x, rows, n, out) {
      if (!logSoftmaxWasm(ctx, x, rows, n, out)) jsKernels.logSoftmaxRowsF32(x, rows, n, out);
    },
    logsumexpRowsF32(x, rows, n, out) {
      if (!logsumexpWasm(ctx, x, rows, n, out)) jsKernels.logsumexpRowsF32(x, rows, n, out);
    },
    unaryF32(op, x, xOffset, out, outOffset, n) {
      if (n < WASM_MIN_UNARY || !unaryWasm(ctx, op, x, xOffset, out, outOffset, n)) jsKernels.unaryF32(op, x, xOffset, out, outOffset, n);
    },
    binaryF32(op, a, aOffset, aLength, b, bOffset, bLength, out, outOffset, n) {
      if (n < WASM_MIN_BINARY || !binaryWasm(ctx, op, a, aOffset, aLength, b, bOffset, bLength, out, outOffset, n)) {
        jsKernels.binaryF32(op, a, aOffset, aLength, b, bOffset, bLength, out, outOffset, n);
      }
    },
    sumAxisF32(x, offset, outer, len, inner, out) {
      if (len * inner < WASM_MIN_BINARY || !sumAxisWasm(ctx, x, offset, outer, len, inner, out))
        jsKernels.sumAxisF32(x, offset, outer, len, inner, out);
    },
    expertMixForwardF32(x, down, up, idx, gates, T, S, D, Do, act, y, z) {
      if (!expertMixForwardWasm(ctx, x, down, up, idx, gates, T, S, D, Do, act, y, z)) {
        jsKernels.expertMixForwardF32(x, down, up, idx, gates, T, S, D, Do, act, y, z);
      }
    },
    expertMixBackwardF32(down, up, idx, gates, z, dy, T, S, D, Do, act, dx, dgates, dz, c) {
      if (!expertMixBackwardWasm(ctx, down, up, idx, gates, z, dy, T, S, D, Do, act, dx, dgates, dz, c)) {
        jsKernels.expertMixBackwardF32(down, up, idx, gates, z, dy, T, S, D, Do, act, dx, dgates, dz, c);
      }
    },
    expertTableGradF32(coef, src, S, W, sorted) {
      return expertTableGradWasm(ctx, coef, src, S, W, sorted) ?? jsKernels.expertTableGradF32(coef, src, S, W, sorted);
    },
    embeddingBagForwardF32(table, idx, w, T, S, D, out) {
      if (!embeddingBagForwardWasm(ctx, table, idx, w, T, S, D, out)) jsKernels.embeddingBagForwardF32(table, idx, w, T, S, D, out);
    },
    embeddingBagWeightGradF32(table, idx, dy, T, S, D, dw) {
      if (!embeddingBagWeightGradWasm(ctx, table, idx, dy, T, S, D, dw)) jsKernels.embeddingBagWeightGradF32(table, idx, dy, T, S, D, dw);
    },
  };
}

/** Below this many elements a plain add/sub/mul/div loop beats the copies in and out. */
const WASM_MIN_BINARY = 256;

/** Below this many elements a plain elementwise loop beats the copy in and out. */
const WASM_MIN_UNARY = 64;

/**
 * Installs the WebAssembly kernels into the CPU backend unless MYRIAD_CPU_KERNELS=js is set or
 * WebAssembly SIMD is unavailable; returns whether they were installed.
 */
export function installWasmKernels(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  if (env?.MYRIAD_CPU_KERNELS === 'js') return false;
  const k = wasmKernels();
  if (!k) return false;
  installKernels(k);
  warmUp(k);
  return true;
}

/** As installWasmKernels, compiling asynchronously: use this on a browser's main thread. */
export async function installWasmKernelsAsync(): Promise<boolean> {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  if (env?.MYRIAD_CPU_KERNELS === 'js') return false;
  const ctx = await getWasmContextAsync();
  if (!ctx) return false;
  const k = kernelsFor(ctx);
  installKernels(k);
  warmUp(k);
  return true;
}

/**
 * How many threads the WebAssembly kernels use: `max` (MYRIAD_CPU_THREADS, else the machine's cores,
 * navigator.hardwareConcurrency in a browser), `ready` (the calling thread plus the workers started so
 * far), the kind of workers (worker_threads or Web Workers) and `why` there are none. Null before the
 * kernels are installed or where WebAssembly SIMD is unavailable. Results never depend on the count.
 */
export function wasmThreads(): WasmThreads | null {
  return existingWasmContext()?.threads() ?? null;
}

/**
 * Sets how many threads the WebAssembly kernels may use (`threads`, default: as now; 1 turns the
 * pool off for later calls; more than 64 is capped at 64) and waits, up to `timeoutMs`, until that
 * many are ready, so that the first big kernel call already runs on all of them. Kernels never wait for a worker to start: without
 * this the first calls simply run on fewer threads. Returns `wasmThreads()`.
 */
export async function startWasmThreads(threads?: number, timeoutMs = 10_000): Promise<WasmThreads | null> {
  const ctx = existingWasmContext();
  if (!ctx) return null;
  if (threads !== undefined) {
    if (!Number.isInteger(threads) || threads < 1)
      throw new RangeError(`startWasmThreads: threads must be an integer >= 1, got ${threads}`);
    ctx.maxThreads = threads;
  }
  await ctx.warmWorkers(timeoutMs);
  return ctx.threads();
}

// V8 first runs WebAssembly through its baseline compiler and optimises a function only after it
// has run a while; one small call of each kernel here (~2 ms) gets the optimised code compiled
// before the first real call.
function warmUp(k: Partial<CpuKernels>): void {
  const n = 96;
  const a = new Float32Array(n * n).fill(1);
  k.matmulF32?.(a, 0, n, 1, a, 0, n, 1, new Float32Array(n * n), 0, n, n, n);
  k.topkRowsF32?.(a, n, n, 4, new Float32Array(n * 4), new Int32Array(n * 4));
  k.softmaxRowsF32?.(a, n, n, new Float32Array(n * n));
  k.unaryF32?.('gelu', a, 0, new Float32Array(n * n), 0, n * n);
  k.binaryF32?.('add', a, 0, n * n, a, 0, n, new Float32Array(n * n), 0, n * n);
}
