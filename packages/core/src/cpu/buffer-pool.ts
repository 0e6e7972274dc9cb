// Reuse of the CPU backend's large buffers. A fresh typed array costs a page fault per 4 KiB page the
// first time it is written, since allocators hand large blocks back to the system when they are freed:
// on our 2-core VMs ≈ 0.7–1 ms/MiB in Node and ≈ 6.6 ms/MiB in Chromium, as much as the arithmetic of a
// whole training step (the demo model allocates ≈ 165 MB a step). Buffers of collected storages are
// handed out again instead: the lab's page went from 857 to 259 ms a step (docs/benchmarks.md).
//
// A storage's buffer is reclaimed when the typed array that *is* the storage has been garbage-collected
// (a FinalizationRegistry holds the ArrayBuffer meanwhile). So no other view of a pooled buffer may
// outlive that array: backend code keeps subarrays local to a call, ops keep the tensors whose storage
// they read later, arrays handed to users are copies (readSync) or pinned (Tensor.data).
//
// Finalizers run between tasks, never inside synchronous code or between microtasks: a training loop
// gets buffers back only when it yields to the event loop (`nextTask()`; Trainer does it every step).
// A loop that never yields pins at most `maxUnreturnedBytes` before the pool stops handing out buffers.
import { allocTyped, type DType, type TypedArray } from '../dtype.js';

/** Smaller buffers come from the engine's own heap, which reuses memory without page faults. */
const MIN_BYTES = 64 * 1024;
/** Larger buffers are rare and long-lived (tables, optimizer state): not worth holding on to. */
const MAX_BYTES = 256 * 1024 * 1024;
const MiB = 1024 * 1024;

export interface BufferPoolStats {
  /** Buffers handed out again instead of allocated. */
  reused: number;
  /** Buffers of a poolable size allocated fresh. */
  allocated: number;
  /** Buffers of a poolable size allocated unpooled because too many had been handed out since finalizers last ran. */
  unpooled: number;
  /** Bytes of free buffers held for reuse. */
  freeBytes: number;
  /** Bytes handed out and not yet reclaimed: live storages, and collected ones whose finalizer has not run. */
  outstandingBytes: number;
}

export interface BufferPoolLimits {
  /** Most bytes of free buffers kept (default 512 MiB); 0 turns reuse off. */
  maxFreeBytes?: number;
  /** Most bytes handed out since finalizers last ran (default 512 MiB): what a loop that never yields can pin. */
  maxUnreturnedBytes?: number;
}

export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private freeBytes = 0;
  private outstandingBytes = 0;
  private unreturnedBytes = 0;
  private reused = 0;
  private allocated = 0;
  private unpooled = 0;
  private maxFreeBytes = 512 * MiB;
  private maxUnreturnedBytes = 512 * MiB;
  private readonly registry = new FinalizationRegistry<ArrayBuffer>((buffer) => this.reclaim(buffer));

  /**
   * A typed array of `size` elements. `zeroed`: every element 0, as a fresh array; `false` when the
   * caller writes every element before anything reads one (a reused buffer keeps its old contents).
   */
  alloc(dtype: DType, size: number, zeroed = true): TypedArray {
    const bytes = size * (dtype === 'float64' ? 8 : 4);
    if (bytes < MIN_BYTES || bytes > MAX_BYTES || this.maxFreeBytes === 0) return allocTyped(dtype, size);
    if (this.unreturnedBytes + bytes > this.maxUnreturnedBytes) {
      this.unpooled++;
      return allocTyped(dtype, size);
    }
    const buffer = this.free.get(bytes)?.pop();
    let out: TypedArray;
    if (buffer) {
      this.freeBytes -= bytes;
      this.reused++;
      out = typedView(dtype, buffer);
      if (zeroed) out.fill(0);
    } else {
      this.allocated++;
      out = allocTyped(dtype, size);
    }
    this.outstandingBytes += bytes;
    this.unreturnedBytes += bytes;
    // The array is its own unregister token (held weakly), so pin() can find it.
    this.registry.register(out, out.buffer as ArrayBuffer, out);
    return out;
  }

  /** Takes `array` out of reuse for good (its buffer is freed normally when collected): for arrays handed to users. */
  pin(array: TypedArray): void {
    if (this.registry.unregister(array)) this.outstandingBytes -= array.byteLength;
  }

  /** Drops every free buffer (the garbage collector frees them); PyTorch's `torch.cuda.empty_cache()`. */
  emptyCache(): void {
    this.free.clear();
    this.freeBytes = 0;
  }

  setLimits(limits: BufferPoolLimits): void {
    for (const [name, v] of Object.entries(limits)) {
      if (v !== undefined && !(Number.isFinite(v) && v >= 0)) {
        throw new RangeError(`BufferPool.setLimits: ${name} must be a finite number of bytes ≥ 0, got ${String(v)}`);
      }
    }
    this.maxFreeBytes = limits.maxFreeBytes ?? this.maxFreeBytes;
    this.maxUnreturnedBytes = limits.maxUnreturnedBytes ?? this.maxUnreturnedBytes;
    if (this.freeBytes > this.maxFreeBytes) this.emptyCache();
  }

  stats(): BufferPoolStats {
    const { reused, allocated, unpooled, freeBytes, outstandingBytes } = this;
    return { reused, allocated, unpooled, freeBytes, outstandingBytes };
  }

  private reclaim(buffer: ArrayBuffer): void {
    const bytes = buffer.byteLength;
    this.outstandingBytes -= bytes;
    this.unreturnedBytes = 0;
    if (this.freeBytes + bytes > this.maxFreeBytes) return;
    let list = this.free.get(bytes);
    if (!list) this.free.set(bytes, (list = []));
    list.push(buffer);
    this.freeBytes += bytes;
  }
}

function typedView(dtype: DType, buffer: ArrayBuffer): TypedArray {
  return dtype === 'float32' ? new Float32Array(buffer) : dtype === 'float64' ? new Float64Array(buffer) : new Int32Array(buffer);
}

/** The CPU backend's pool: `cpuBufferPool.stats()`, `.emptyCache()`, `.setLimits({...})`. */
export const cpuBufferPool = new BufferPool();

/**
 * Resolves in a new task of the event loop (not a microtask), after pending finalizers, timers and
 * I/O: a training loop that awaits it each step gets the step's buffers back for the next one.
 */
export function nextTask(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate;
  if (immediate) return new Promise((resolve) => void immediate(resolve));
  // Browsers: a message round trip is a new task without setTimeout's 4 ms clamp on nested timers.
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
