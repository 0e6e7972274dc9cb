// The WebAssembly side of the CPU backend: builds the kernel module, instantiates it over one
// (shared, when the runtime allows) memory, and hands out scratch space in that memory. Tensors live
// in JS typed arrays, so each kernel call copies its inputs in and its results out of this memory.
import { ModuleBuilder } from './builder.js';
import { emitBinary } from './binary-module.js';
import { emitExpertMix } from './expert-mix-module.js';
import { emitMatmul } from './matmul-module.js';
import { emitRows } from './rows-module.js';
import { emitSoftmax } from './softmax-module.js';
import { emitSum } from './sum-module.js';
import { emitUnary } from './unary-module.js';

const PAGE = 65536;
/** Bytes at address 0 reserved: the worker pool's control block (first 32 KiB), then constants. */
const CONTROL_BYTES = PAGE;
/** Largest memory we ask for: 2 GiB keeps every byte address a non-negative i32. */
const MAX_PAGES = 32768;
const INITIAL_PAGES = 64;

/** The exported kernel functions (all arguments are i32 byte addresses, strides or counts). */
interface KernelExports {
  packA(src: number, rs: number, cs: number, rows: number, kc: number, dst: number): void;
  packB(src: number, rs: number, cs: number, cols: number, kc: number, dst: number): void;
  gemmBlock(ap: number, bp: number, cp: number, ldc: number, kc: number, panelsA: number, panelsB: number, accumulate: number): void;
  matmulRange(
    a: number,
    ars: number,
    acs: number,
    bpack: number,
    c: number,
    ldc: number,
    row0: number,
    row1: number,
    panel0: number,
    panel1: number,
    K: number,
    kcb: number,
    mcb: number,
    apack: number,
  ): void;
  packBRange(b: number, brs: number, bcs: number, N: number, K: number, kcb: number, bpack: number, panel0: number, panel1: number): void;
  topkRows(x: number, rows: number, n: number, k: number, values: number, indices: number): void;
  topkRowsRange(x: number, n: number, k: number, values: number, indices: number, row0: number, row1: number): void;
  expSumRows(x: number, rows: number, n: number, out: number, stats: number, store: number): void;
  expSumRowsRange(x: number, n: number, out: number, stats: number, store: number, row0: number, row1: number): void;
  gatherRowsCopy(table: number, rowBytes: number, idx: number, count: number, out: number): void;
  unaryExp(x: number, out: number, i0: number, i1: number): void;
  unaryErf(x: number, out: number, i0: number, i1: number): void;
  unaryGelu(x: number, out: number, i0: number, i1: number): void;
  unaryTanh(x: number, out: number, i0: number, i1: number): void;
  unarySigmoid(x: number, out: number, i0: number, i1: number): void;
  unarySilu(x: number, out: number, i0: number, i1: number): void;
  unaryGeluGrad(x: number, out: number, i0: number, i1: number): void;
  binaryAdd(a: number, b: number, out: number, i0: number, i1: number, mode: number): void;
  binarySub(a: number, b: number, out: number, i0: number, i1: number, mode: number): void;
  binaryMul(a: number, b: number, out: number, i0: number, i1: number, mode: number): void;
  binaryDiv(a: number, b: number, out: number, i0: number, i1: number, mode: number): void;
  sumAxisCols(x: number, len: number, inner: number, out: number, j0: number, j1: number): void;
  expertRowDots(rows: number, vec: number, out: number, S: number, W: number, t0: number, t1: number): void;
  expertRowMix(rows: number, coef: number, out: number, S: number, W: number, t0: number, t1: number): void;
  expertTableRows(src: number, tok: number, coef: number, starts: number, out: number, W: number, u0: number, u1: number): void;
  expertRowDotsAt(table: number, idx: number, vec: number, out: number, S: number, W: number, t0: number, t1: number): void;
  expertRowMixAt(table: number, idx: number, coef: number, out: number, S: number, W: number, t0: number, t1: number): void;
}

/** Names of the exports, in a fixed order shared with the workers. */
export const KERNEL_NAMES = [
  'packA',
  'packB',
  'gemmBlock',
  'matmulRange',
  'packBRange',
  'topkRows',
  'topkRowsRange',
  'expSumRows',
  'expSumRowsRange',
  'gatherRowsCopy',
  'unaryExp',
  'unaryErf',
  'unaryGelu',
  'unaryTanh',
  'unarySigmoid',
  'unarySilu',
  'unaryGeluGrad',
  'binaryAdd',
  'binarySub',
  'binaryMul',
  'binaryDiv',
  'sumAxisCols',
  'expertRowDots',
  'expertRowMix',
  'expertTableRows',
  'expertRowDotsAt',
  'expertRowMixAt',
] as const satisfies ReadonlyArray<keyof KernelExports>;

/** Builds the kernel module's bytes; `shared` selects an imported shared or plain memory. */
function buildKernelModule(shared: boolean): Uint8Array<ArrayBuffer> {
  const mb = new ModuleBuilder({ initialPages: 1, maximumPages: MAX_PAGES, shared });
  emitMatmul(mb);
  emitRows(mb);
  emitSoftmax(mb);
  emitUnary(mb);
  emitBinary(mb);
  emitSum(mb);
  emitExpertMix(mb);
  return mb.toBytes();
}

/** The instantiated kernel module plus its memory and a bump allocator for scratch space. */
export class WasmRuntime {
  readonly exports: KernelExports;
  private f32View: Float32Array;
  private i32View: Int32Array;

  private constructor(
    readonly module: WebAssembly.Module,
    readonly memory: WebAssembly.Memory,
    readonly shared: boolean,
  ) {
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    this.exports = instance.exports as unknown as KernelExports;
    this.f32View = new Float32Array(memory.buffer);
    this.i32View = new Int32Array(memory.buffer);
  }

  /**
   * Compiles the module, or returns null where WebAssembly SIMD is missing. Uses shared memory when
   * SharedArrayBuffer exists (needed by the worker pool), plain memory otherwise.
   */
  static create(): WasmRuntime | null {
    const choice = chooseModule();
    if (!choice) return null;
    try {
      return WasmRuntime.instantiate(new WebAssembly.Module(choice.bytes), choice.shared);
    } catch {
      return null;
    }
  }

  /** As `create`, compiling off the main thread (browsers refuse large synchronous compiles). */
  static async createAsync(): Promise<WasmRuntime | null> {
    const choice = chooseModule();
    if (!choice) return null;
    try {
      return WasmRuntime.instantiate(await WebAssembly.compile(choice.bytes), choice.shared);
    } catch {
      return null;
    }
  }

  private static instantiate(module: WebAssembly.Module, shared: boolean): WasmRuntime {
    const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MAX_PAGES, shared });
    return new WasmRuntime(module, memory, shared);
  }

  /** Grows the memory to at least `bytes`; false when that exceeds the 2 GiB limit. */
  ensure(bytes: number): boolean {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) {
      const pages = Math.ceil((bytes - have) / PAGE);
      if (have / PAGE + pages > MAX_PAGES) return false;
      this.memory.grow(pages);
    }
    if (this.f32View.length * 4 !== this.memory.buffer.byteLength) {
      this.f32View = new Float32Array(this.memory.buffer);
      this.i32View = new Int32Array(this.memory.buffer);
    }
    return true;
  }

  /** A Float32Array over the whole memory (valid until the next `ensure`). */
  get f32(): Float32Array {
    return this.f32View;
  }

  /** An Int32Array over the whole memory (valid until the next `ensure`). */
  get i32(): Int32Array {
    return this.i32View;
  }
}

// Feature detection by validating our own module: SIMD (and threads, for shared memory) or nothing.
function chooseModule(): { bytes: Uint8Array<ArrayBuffer>; shared: boolean } | null {
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.validate !== 'function') return null;
  if (typeof SharedArrayBuffer === 'function') {
    const bytes = buildKernelModule(true);
    if (WebAssembly.validate(bytes)) return { bytes, shared: true };
  }
  const bytes = buildKernelModule(false);
  return WebAssembly.validate(bytes) ? { bytes, shared: false } : null;
}

/** Lays out scratch buffers after the control block, 64-byte aligned; `end` is the bytes needed. */
export class Layout {
  end = CONTROL_BYTES;

  /** Reserves `bytes` and returns the byte address. */
  take(bytes: number): number {
    const at = this.end;
    this.end = at + Math.ceil(bytes / 64) * 64;
    return at;
  }
}
