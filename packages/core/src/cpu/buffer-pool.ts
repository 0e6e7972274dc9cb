// Reuse of the CPU backend's large buffers. A fresh typed array costs a page fault per 4 KiB page the
// first time it is written, since allocators hand large blocks back to the system when they are freed:
// on our 2-core VMs ≈ 0.7–1 ms/MiB in Node and ≈ 6.6 ms/MiB in Chromium, as much as the arithmetic of a
// whole training step (the demo model allocates ≈ 165 MB a step). Buffers of collected storages are
// handed out again instead: the lab's page went from 825 to 216 ms a step (docs/benchmarks.md).
//
// A storage's buffer is reclaimed when the typed array that *is* the storage has been garbage-collected
// (a FinalizationRegistry holds the ArrayBuffer meanwhile). So no other view of a pooled buffer may
// outlive that array: backend code keeps subarrays local to a call, ops keep the tensors whose storage
// they read later, arrays handed to users are copies (readSync) or pinned (Tensor.data).
//
// Finalizers run between tasks, never inside synchronous code or between microtasks: a training loop
// gets buffers back only when it yields to the event loop (`await loss.read()` does on the CPU too,
// and so does the Trainer's read of its loss each step). Within one task the pool takes on at most `maxTaskBytes`
// of new buffers (more once finalizers show the loop yields): a loop that never yields pins no more,
// and beyond that allocates as without a pool (the engine's allocator then reuses freed memory).
import { allocTyped, type DType, type TypedArray } from '../dtype.js';

/** Smaller buffers come from the engine's own heap, which reuses memory without page faults. */
const MIN_BYTES = 64 * 1024;
/** Larger buffers are rare and long-lived (tables, optimizer state): not worth holding on to. */
const MAX_BYTES = 256 * 1024 * 1024;
const MiB = 1024 * 1024;
const MAX_TASK_BUDGET = 1024 * MiB;

/**
 * The buffer size that serves `bytes`: the next m·2^e with m in 8…15, at most 12.5 % more, so that
 * sizes which vary a little from step to step (a sparse gradient's touched rows) share buffers.
 */
function sizeClass(bytes: number): number {
  const e = Math.max(0, Math.ceil(Math.log2(bytes)) - 4);
  const unit = 2 ** e;
  return Math.ceil(bytes / unit) * unit;
}

export interface BufferPoolStats {
  /** Buffers handed out again instead of allocated. */
  reused: number;
  /** Buffers given back by release() before any collection (the gradients backward() alone held). */
  released: number;
  /** Buffers of a poolable size allocated fresh. */
  allocated: number;
  /** Buffers of a poolable size allocated unpooled: none was free, and the current task had used up its budget of new ones. */
  unpooled: number;
  /** Bytes of free buffers held for reuse. */
  freeBytes: number;
  /** Bytes handed out and not yet reclaimed: live storages, and collected ones whose finalizer has not run. */
  outstandingBytes: number;
}

export interface BufferPoolLimits {
  /** Most bytes of free buffers kept (default 512 MiB); 0 turns reuse off. */
  maxFreeBytes?: number;
  /**
   * Most bytes of new buffers the pool takes on within one task (default 64 MiB; more, up to twice what
   * finalizers returned since the last task, in a loop that yields): what a loop that never yields
   * pins (beyond that it allocates as if there were no pool), and how fast the pool grows.
   */
  maxTaskBytes?: number;
}

export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private freeBytes = 0;
  private outstandingBytes = 0;
  private taskBytes = 0;
  private reused = 0;
  private released = 0;
  private allocated = 0;
  private unpooled = 0;
  private maxFreeBytes = 512 * MiB;
  private maxTaskBytes = 64 * MiB;
  /** Pooled arrays handed out so far, and each live one's number (for release()). */
  private serial = 0;
  private readonly born = new WeakMap<TypedArray, number>();
  /** Whether a callback waits for the end of the current task to reset `taskBytes`. */
  private taskWatch = false;
  /** New bytes the current task may take on, and the bytes finalizers returned since the last reset. */
  private taskBudget = this.maxTaskBytes;
  private reclaimedBytes = 0;
  private readonly registry = new FinalizationRegistry<{ buffer: ArrayBuffer; bytes: number }>((held) => this.reclaim(held));

  /**
   * A typed array of `size` elements. `zeroed`: every element 0, as a fresh array; `false` when the
   * caller writes every element before anything reads one (a reused buffer keeps its old contents).
   */
  alloc(dtype: DType, size: number, zeroed = true): TypedArray {
    const used = size * (dtype === 'float64' ? 8 : 4);
    if (used < MIN_BYTES || used > MAX_BYTES || this.maxFreeBytes === 0) return allocTyped(dtype, size);
    const bytes = sizeClass(used);
    let buffer = this.free.get(bytes)?.pop();
    const reused = buffer !== undefined;
    if (buffer) {
      this.freeBytes -= bytes;
      this.reused++;
    } else {
      // New buffers are pinned until the event loop turns: a task takes on at most maxTaskBytes of them.
      if (this.taskBytes + bytes > this.taskBudget) {
        this.unpooled++;
        return allocTyped(dtype, size);
      }
      this.allocated++;
      this.taskBytes += bytes;
      this.watchTask();
      buffer = new ArrayBuffer(bytes);
    }
    const out = typedView(dtype, buffer, size);
    // A reused buffer holds old values; a fresh one is zero already.
    if (zeroed && reused) out.fill(0);
    this.outstandingBytes += bytes;
    // The array is its own unregister token (held weakly), so pin() and release() can find it.
    this.registry.register(out, { buffer, bytes }, out);
    this.born.set(out, ++this.serial);
    return out;
  }

  /** A mark for release(): arrays handed out after it are the ones it may return. */
  mark(): number {
    return this.serial;
  }

  /**
   * Takes `array`'s buffer back at once, before the garbage collector finds the array unreachable, if
   * the pool handed it out after `since`. For code that knows no view of the array is used again (the
   * autograd engine with the gradients it alone held); false when the array is not such a one.
   */
  release(array: TypedArray, since: number): boolean {
    if (!((this.born.get(array) ?? 0) > since) || !this.registry.unregister(array)) return false;
    const bytes = sizeClass(array.byteLength);
    this.outstandingBytes -= bytes;
    this.released++;
    this.keep(array.buffer as ArrayBuffer, bytes);
    return true;
  }

  /**
   * Once the event loop turns, pending finalizers can run: the task budget starts again, at
   * maxTaskBytes or twice what finalizers returned meanwhile (a loop that yields and whose steps
   * allocate more than maxTaskBytes lets the pool grow to its size within a few steps), at most 1 GiB.
   */
  private watchTask(): void {
    if (this.taskWatch) return;
    this.taskWatch = true;
    void nextTask().then(() => {
      this.taskWatch = false;
      this.taskBytes = 0;
      this.taskBudget = Math.min(Math.max(this.maxTaskBytes, 2 * this.reclaimedBytes), MAX_TASK_BUDGET);
      this.reclaimedBytes = 0;
    });
  }

  /** Takes `array` out of reuse for good (its buffer is freed normally when collected): for arrays handed to users. */
  pin(array: TypedArray): void {
    if (this.registry.unregister(array)) this.outstandingBytes -= sizeClass(array.byteLength);
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
    this.maxTaskBytes = limits.maxTaskBytes ?? this.maxTaskBytes;
    this.taskBudget = this.maxTaskBytes;
    if (this.freeBytes > this.maxFreeBytes) this.emptyCache();
  }

  stats(): BufferPoolStats {
    const { reused, released, allocated, unpooled, freeBytes, outstandingBytes } = this;
    return { reused, released, allocated, unpooled, freeBytes, outstandingBytes };
  }

  private reclaim({ buffer, bytes }: { buffer: ArrayBuffer; bytes: number }): void {
    this.outstandingBytes -= bytes;
    this.reclaimedBytes += bytes;
    this.keep(buffer, bytes);
  }

  private keep(buffer: ArrayBuffer, bytes: number): void {
    // A buffer transferred to another thread is detached (length 0): nothing to keep.
    if (buffer.byteLength !== bytes || this.freeBytes + bytes > this.maxFreeBytes) return;
    let list = this.free.get(bytes);
    if (!list) this.free.set(bytes, (list = []));
    list.push(buffer);
    this.freeBytes += bytes;
  }
}

function typedView(dtype: DType, buffer: ArrayBuffer, size: number): TypedArray {
  return dtype === 'float32'
    ? new Float32Array(buffer, 0, size)
    : dtype === 'float64'
      ? new Float64Array(buffer, 0, size)
      : new Int32Array(buffer, 0, size);
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
