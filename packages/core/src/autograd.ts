import type { SparseGrad } from './sparse-grad.js';
import type { Tensor } from './tensor.js';
import type { TypedArray } from './dtype.js';
import { cpuBackend } from './cpu/cpu-backend.js';
import { cpuBufferPool } from './cpu/buffer-pool.js';
import { shapesEqual } from './shape.js';

/**
 * Reverse-mode autograd, micrograd style: every op that sees an input requiring grad records a node
 * (its inputs and a backward closure written in terms of other ops). `backward()` orders the graph
 * topologically and walks it in reverse, summing gradients per tensor. The whole engine is this file:
 * recording (`record`), the walk (`runBackward`) and the three rules for the gradients it hands
 * around (accumulate, densify, own).
 *
 * Where each op's gradient lives (always in the op's own `record(...)` call, beside its forward):
 *
 * | file                 | ops                                                                                 |
 * |----------------------|-------------------------------------------------------------------------------------|
 * | ops/elementwise.ts   | cast, add sub mul div pow maximum minimum, neg exp log sqrt abs tanh sigmoid relu   |
 * |                      | gelu silu erf square reciprocal sin cos (clamp is composed); comparisons, sign and  |
 * |                      | geluGrad have none                                                                  |
 * | ops/reduce.ts        | sum max min cumsum (mean, var, std composed; argmax has none)                       |
 * | ops/movement.ts      | clone reshape permute expand slice concat (transpose, squeeze, stack, split, … are |
 * |                      | views or compositions of these)                                                     |
 * | ops/indexing.ts      | gather scatterAdd indexSelect (row-sparse gradient: SparseGrad) topk where          |
 * |                      | (maskedFill composed; oneHot has none)                                              |
 * | ops/linalg.ts        | matmul                                                                              |
 * | ops/nn.ts            | softmax logSoftmax logsumexp (crossEntropy, layerNorm, dropout composed)            |
 * | ops/device.ts        | to(backend): the gradient moves back                                                |
 * | ops/expert-mix.ts    | expertMix: dx, dgates, row-sparse table gradients (CPU fused; else composed ops)    |
 * | ops/embedding-bag.ts | embeddingBag: dweights, row-sparse table gradient (CPU fused; else composed ops)     |
 * | ops/losses.ts, ops/sort.ts, ops/triangular.ts | composed from the ops above; no gradient code          |
 */

/** What a backward closure returns per input: a dense gradient, a row-sparse one, or null (no gradient). */
export type InputGrad = Tensor | SparseGrad | null;

export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  readonly backward: (grad: Tensor) => readonly InputGrad[];
}

let gradEnabled = true;
let checkNumerics = false;

/**
 * Runs fn without recording gradients (like torch.no_grad). fn must be synchronous: grad mode is a
 * global flag, and code after an `await` would run after it was restored (or leak it into other
 * work), so an async fn is refused before it runs, and a fn that returns a Promise throws.
 */
export function noGrad<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError(`noGrad: expected a function, got ${typeof fn}`);
  if (fn.constructor?.name === 'AsyncFunction') throw new TypeError(ASYNC_NO_GRAD);
  const prev = gradEnabled;
  gradEnabled = false;
  let result: T;
  try {
    result = fn();
  } finally {
    gradEnabled = prev;
  }
  if (typeof (result as { then?: unknown } | null)?.then === 'function') throw new TypeError(ASYNC_NO_GRAD);
  return result;
}

const ASYNC_NO_GRAD =
  'noGrad: fn is async (returned a Promise); code after an await would run with gradients on again. ' +
  'Pass a synchronous function, e.g. `const y = noGrad(() => model.forward(x)); await y.read();`';

/** Whether ops currently record the graph. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Debug flag: when on, every op checks its output and throws at the first NaN/Inf, naming the op and shapes. */
export function setCheckNumerics(on: boolean): void {
  checkNumerics = on;
}

export function getCheckNumerics(): boolean {
  return checkNumerics;
}

/** @internal Attaches a grad node to `out` when grad mode is on and some input requires grad. */
export function record(op: string, out: Tensor, inputs: readonly Tensor[], backward: GradNode['backward']): Tensor {
  if (checkNumerics) assertFinite(op, out, inputs);
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out._setNode({ op, inputs, backward });
  }
  return out;
}

function assertFinite(op: string, out: Tensor, inputs: readonly Tensor[]): void {
  if (out.dtype === 'int32') return;
  const data = out.toTypedArray();
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      const shapes = inputs.map((t) => `[${t.shape.join(',')}]`).join(', ');
      throw new RangeError(
        `checkNumerics: ${op} produced ${data[i]} at flat index ${i} of its output [${out.shape.join(',')}] (inputs: ${shapes})`,
      );
    }
  }
}

/** Tensors reachable from `root` through grad nodes, inputs before outputs (iterative DFS: deep graphs must not overflow the stack). */
function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.gradNode?.inputs ?? [];
    if (i < inputs.length) {
      top[1] = i + 1;
      const child = inputs[i]!;
      if (child.requiresGrad && !visited.has(child)) {
        visited.add(child);
        stack.push([child, 0]);
      }
    } else {
      order.push(t);
      stack.pop();
    }
  }
  return order;
}

/** @internal Backpropagates `grad` (same shape as root) and accumulates into the leaves' `.grad`. */
export function runBackward(root: Tensor, grad: Tensor): void {
  const order = topoOrder(root);
  const grads = new Map<Tensor, InputGrad>([[root, grad]]);
  // Storage already visible to the caller (the seed gradient, gradients stored in leaves so far): a
  // leaf's first gradient is copied only when it would share one of these, or is a view.
  const claimed = new Set<object>([grad.storage]);
  const inFlight = new GradStorages(claimed);
  noGrad(() => {
    for (let n = order.length - 1; n >= 0; n--) {
      const t = order[n]!;
      const g = grads.get(t);
      grads.delete(t);
      if (g === undefined || g === null) continue;
      inFlight.drop(g);
      const node = t.gradNode;
      if (node === null) {
        // The first gradient is copied: backward closures may hand the same tensor to several inputs.
        t.grad = t.grad === null ? ownGrad(g, claimed) : accumulateGrad(t.grad, g);
        inFlight.settle([g]);
        continue;
      }
      const dense = densifyGrad(g);
      const inputGrads = node.backward(dense);
      const done: InputGrad[] = [g, dense, ...inputGrads];
      node.inputs.forEach((input, i) => {
        const ig = inputGrads[i] ?? null;
        if (!input.requiresGrad || ig === null) return;
        const shape = ig.shape;
        if (!shapesEqual(shape, input.shape)) {
          throw new Error(
            `backward: ${node.op} returned a gradient of shape [${shape.join(',')}] for an input of shape [${input.shape.join(',')}] (bug in the op's gradient)`,
          );
        }
        // A non-leaf needs a dense gradient for its own backward; leaves keep sparse ones.
        const value = input.gradNode === null ? ig : densifyGrad(ig);
        const before = grads.get(input) ?? null;
        const sum = accumulateGrad(before, value);
        grads.set(input, sum);
        inFlight.hold(sum);
        inFlight.drop(before);
        done.push(value, before);
      });
      inFlight.settle(done);
    }
  });
}

/**
 * The storages the gradients in flight hold, counted. Once a tensor's gradient has gone through its
 * node's backward, nothing holds it but the engine: a storage that no pending gradient, leaf gradient
 * or seed holds, and that backward itself allocated, goes back to the CPU backend's buffer pool at
 * once, for the rest of the same backward to reuse, instead of at a garbage collection steps later.
 */
class GradStorages {
  private readonly counts = new Map<object, number>();
  /** Only buffers allocated after this mark (during this backward) are returned: never a forward tensor's. */
  private readonly since = cpuBufferPool.mark();

  constructor(private readonly claimed: Set<object>) {}

  hold(g: InputGrad): void {
    for (const t of parts(g)) this.counts.set(t.storage, (this.counts.get(t.storage) ?? 0) + 1);
  }

  drop(g: InputGrad): void {
    for (const t of parts(g)) {
      const n = (this.counts.get(t.storage) ?? 1) - 1;
      if (n > 0) this.counts.set(t.storage, n);
      else this.counts.delete(t.storage);
    }
  }

  /** Returns the storages of `gs` that nothing holds any more to the pool. */
  settle(gs: readonly InputGrad[]): void {
    for (const t of gs.flatMap(parts)) {
      if (t.backend === cpuBackend && !this.counts.has(t.storage) && !this.claimed.has(t.storage))
        cpuBufferPool.release(t.storage as TypedArray, this.since);
    }
  }
}

function parts(g: InputGrad): Tensor[] {
  return g === null ? [] : isSparseGrad(g) ? [g.indices, g.values] : [g];
}

// ---- the rules for gradients in flight ----

/** Whether a gradient is row-sparse (told apart structurally: autograd imports no value from sparse-grad.ts or tensor.ts). */
function isSparseGrad(g: Tensor | SparseGrad): g is SparseGrad {
  return !('backend' in g);
}

/** @internal A gradient as a dense Tensor (a SparseGrad scattered into a zero table). */
export function densifyGrad(g: Tensor | SparseGrad): Tensor {
  return isSparseGrad(g) ? g.toDense() : g;
}

/** Sum of two gradients of one tensor: two sparse ones stay sparse (rows concatenated), anything else is added densely. */
function accumulateGrad(a: InputGrad, b: InputGrad): InputGrad {
  if (a === null) return b;
  if (b === null) return a;
  if (isSparseGrad(a) && isSparseGrad(b)) return a.addSparse(b);
  return densifyGrad(a).add(densifyGrad(b));
}

/**
 * The gradient a leaf keeps. Backward closures may hand one tensor (or views of it) to several
 * inputs, and optimizers update `.grad` in place, so a gradient that is a view or shares storage with
 * the seed or another leaf's gradient is copied; a fresh, whole, unshared one is kept as it is.
 */
function ownGrad(g: Tensor | SparseGrad, claimed: Set<object>): Tensor | SparseGrad {
  const parts = isSparseGrad(g) ? [g.indices, g.values] : [g];
  // Only CPU storage is looked at (elsewhere a look counts as a read-back); other gradients are copied.
  const owned = parts.every((t) => !claimed.has(t.storage) && t.backend === cpuBackend && isWholeStorage(t, t.backend.hostData(t.storage)));
  const kept = owned ? g : g.clone();
  for (const t of isSparseGrad(kept) ? [kept.indices, kept.values] : [kept]) claimed.add(t.storage);
  return kept;
}

/** @internal Whether `t` is a contiguous view covering all of its host storage `host` (so writes touch nothing else). */
export function isWholeStorage(t: Tensor, host: TypedArray | null): boolean {
  return host !== null && t.offset === 0 && host.length === t.size && t.isContiguous();
}
