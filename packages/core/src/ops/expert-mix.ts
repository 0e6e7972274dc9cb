// expertMix: a weighted sum of single-neuron experts read from two tables (PEER, He 2024, eqs. 3–4).
// On the CPU backend one fused loop reads the chosen rows in place; on any other backend the rows are
// read in place too, by the backend's rowDots and embeddingBag kernels. The composition at the end
// (indexSelect + matmul + activation + mul + matmul) is the reference both are tested against.
import { record } from '../autograd.js';
import { cpuBackend } from '../cpu/cpu-backend.js';
import { jsKernels, kernels as cpuKernels } from '../cpu/kernels.js';
import { expertMixBackward, expertMixForward, type ExpertActivation } from '../cpu/expert-mix.js';
import type { TypedArray } from '../dtype.js';
import { cpuBufferPool } from '../cpu/buffer-pool.js';
import { ShapeError, fmt } from '../errors.js';
import { SparseGrad } from '../sparse-grad.js';
import type { Tensor } from '../tensor.js';
import { gelu, mul, relu, silu, tanh } from './elementwise.js';
import { embeddingBag, rowDots } from './embedding-bag.js';
import { indexSelect } from './indexing.js';
import { matmul } from './linalg.js';
import { reshape, transpose, unsqueeze } from './movement.js';
import { checkRowIndices, hostElements, rowSparseTableGrad, sortSlotsByRow } from './row-sparse.js';
import { requireInt, sameBackend, wrap } from './util.js';

export type { ExpertActivation } from '../cpu/expert-mix.js';

const ACTIVATIONS: Readonly<Record<ExpertActivation, (x: Tensor) => Tensor>> = { gelu, relu, silu, tanh };

/**
 * y[t] = Σₛ gates[t,s] · σ(down[e]·x[t]) · up[e] with e = indices[t,s]: x [T, D], down [N, D],
 * up [N, Do], indices int32 [T, S], gates [T, S] → y [T, Do]. Differentiable in x, down, up and
 * gates; the tables get row-sparse gradients (SparseGrad, coalesced on the CPU backend), so a step
 * costs O(touched rows) however large N is. On the CPU backend a fused loop reads the chosen rows in
 * place (float64; float32 on its WebAssembly SIMD kernel, or without the WebAssembly matmul; otherwise
 * the composed ops run); on other backends their rowDots and embeddingBag kernels read the rows.
 * @example expertMix(x, down.weight, up.weight, experts, gates, 'gelu') // PEER's experts
 */
export function expertMix(x: Tensor, down: Tensor, up: Tensor, indices: Tensor, gates: Tensor, activation: ExpertActivation): Tensor {
  checkArgs(x, down, up, indices, gates, activation);
  if (x.dtype === 'int32') return expertMixComposed(x, down, up, indices, gates, activation);
  if (x.backend !== cpuBackend) return expertMixRows(x, down, up, indices, gates, activation);
  if (!fusedPays(x.dtype)) return expertMixComposed(x, down, up, indices, gates, activation);
  return expertMixFused(x, down, up, indices, gates, activation);
}

/**
 * expertMix as rowDots → activation → gates → embeddingBag: no [T, S, D] copy of the chosen rows in
 * the forward pass, and in the backward only the tables' row-sparse gradients are that size. What
 * every backend but the CPU runs (each of the two reads is one kernel there).
 */
function expertMixRows(x: Tensor, down: Tensor, up: Tensor, indices: Tensor, gates: Tensor, activation: ExpertActivation): Tensor {
  checkArgs(x, down, up, indices, gates, activation);
  const hidden = ACTIVATIONS[activation](rowDots(down, indices, x)); // σ(uᵢᵀx): [T, S]
  return embeddingBag(up, indices, mul(hidden, gates)); // Σᵢ gᵢ·σ(uᵢᵀx)·vᵢ
}

/**
 * Whether the fused loop is the faster CPU path: always for float64; for float32 when its WebAssembly
 * SIMD kernel is installed (expertMix alone at N = 1024², 512 tokens × 128 slots, dim 256, fwd+bwd, in
 * ad-hoc runs on a loaded 2-core machine: 618 ms with one thread against 906 ms composed; see issue 12
 * in docs/benchmarks.md), or while matmul runs the plain TypeScript kernel too. The plain TypeScript
 * fused loop alone measured slower than the composed ops on the WebAssembly matmul.
 */
function fusedPays(dtype: string): boolean {
  return (
    dtype === 'float64' || cpuKernels.expertMixForwardF32 !== jsKernels.expertMixForwardF32 || cpuKernels.matmulF32 === jsKernels.matmulF32
  );
}

/** expertMix's fused CPU loop, whichever path expertMix would pick (tests and benchmarks). */
export function expertMixFused(x: Tensor, down: Tensor, up: Tensor, indices: Tensor, gates: Tensor, activation: ExpertActivation): Tensor {
  const { T, S, D, Do } = checkArgs(x, down, up, indices, gates, activation);
  if (x.backend !== cpuBackend || x.dtype === 'int32')
    throw new TypeError(`expertMixFused: needs float tensors on the CPU backend, got ${x.dtype} on ${x.backend.name}`);
  const N = down.shape[0]!;
  const xs = hostElements(x);
  const ds = hostElements(down);
  const us = hostElements(up);
  const gs = hostElements(gates);
  const idx = hostElements(indices) as Int32Array;
  checkRowIndices('expertMix', idx, N);
  const y = cpuBufferPool.alloc(x.dtype, T * Do);
  const z = cpuBufferPool.alloc(x.dtype, T * S);
  // float32 goes through the kernel seam (WebAssembly SIMD when installed); float64 runs the plain loop.
  const f32 = x.dtype === 'float32';
  if (f32) {
    cpuKernels.expertMixForwardF32(
      xs as Float32Array,
      ds as Float32Array,
      us as Float32Array,
      idx,
      gs as Float32Array,
      T,
      S,
      D,
      Do,
      activation,
      y as Float32Array,
      z as Float32Array,
    );
  } else {
    expertMixForward(xs, ds, us, idx, gs, T, S, D, Do, activation, y, z);
  }
  const out = wrap(cpuBackend, y, [T, Do], x.dtype);
  return record('expertMix', out, [x, down, up, gates], (dy) => {
    // Read from the tensor again, not through a view captured above: a view alone does not keep a pooled storage alive.
    const idx = hostElements(indices) as Int32Array;
    const dx = cpuBufferPool.alloc(x.dtype, T * D);
    const dgates = cpuBufferPool.alloc(x.dtype, T * S);
    const dz = new Float64Array(T * S);
    const c = new Float64Array(T * S);
    const g = hostElements(dy);
    if (f32) {
      const [d32, u32, g32] = [ds as Float32Array, us as Float32Array, gs as Float32Array];
      cpuKernels.expertMixBackwardF32(
        d32,
        u32,
        idx,
        g32,
        z as Float32Array,
        g as Float32Array,
        T,
        S,
        D,
        Do,
        activation,
        dx as Float32Array,
        dgates as Float32Array,
        dz,
        c,
      );
    } else {
      expertMixBackward(ds, us, idx, gs, z, g, T, S, D, Do, activation, dx, dgates, dz, c);
    }
    const sorted = down.requiresGrad || up.requiresGrad ? sortSlotsByRow(idx) : null;
    const tableGrad = (table: Tensor, coef: Float64Array, src: TypedArray, width: number): SparseGrad | null =>
      table.requiresGrad && sorted !== null ? rowSparseTableGrad(table, coef, src, S, width, sorted) : null;
    return [
      x.requiresGrad ? wrap(cpuBackend, dx, [T, D], x.dtype) : null,
      tableGrad(down, dz, xs, D),
      tableGrad(up, c, g, Do),
      gates.requiresGrad ? wrap(cpuBackend, dgates, [T, S], x.dtype) : null,
    ];
  });
}

/**
 * expertMix written with the ops PEER used before the fused kernel (the reference): gather uᵢ and vᵢ, σ(uᵢᵀx), weight by gᵢ, sum the vᵢ.
 */
export function expertMixComposed(
  x: Tensor,
  down: Tensor,
  up: Tensor,
  indices: Tensor,
  gates: Tensor,
  activation: ExpertActivation,
): Tensor {
  const { T, S, Do } = checkArgs(x, down, up, indices, gates, activation);
  const u = indexSelect(down, 0, indices); // uᵢ: [T, S, D]
  const v = indexSelect(up, 0, indices); // vᵢ: [T, S, Do]
  const hidden = ACTIVATIONS[activation](matmul(u, unsqueeze(x, -1))); // σ(uᵢᵀx): [T, S, 1]
  const gated = mul(hidden, reshape(gates, [T, S, 1])); // gᵢ·σ(uᵢᵀx)
  return reshape(matmul(transpose(gated), v), [T, Do]); // Σᵢ gᵢ·σ(uᵢᵀx)·vᵢ
}

function checkArgs(x: Tensor, down: Tensor, up: Tensor, indices: Tensor, gates: Tensor, activation: ExpertActivation) {
  requireInt('expertMix', 'indices', indices);
  sameBackend('expertMix', x, down, up, indices, gates);
  if (!(activation in ACTIVATIONS)) {
    throw new RangeError(`expertMix: unknown activation '${String(activation)}'; expected one of ${Object.keys(ACTIVATIONS).join(', ')}`);
  }
  if (x.ndim !== 2 || down.ndim !== 2 || up.ndim !== 2 || indices.ndim !== 2) {
    throw new ShapeError(
      `expertMix: expected x [T, D], down [N, D], up [N, Do], indices [T, S]; got x ${fmt(x.shape)}, down ${fmt(down.shape)}, up ${fmt(up.shape)}, indices ${fmt(indices.shape)}`,
    );
  }
  const [T, D] = x.shape as [number, number];
  const [S] = indices.shape.slice(1) as [number];
  const Do = up.shape[1]!;
  if (indices.shape[0] !== T || down.shape[1] !== D || up.shape[0] !== down.shape[0]) {
    throw new ShapeError(
      `expertMix: shapes disagree: x ${fmt(x.shape)}, down ${fmt(down.shape)}, up ${fmt(up.shape)}, indices ${fmt(indices.shape)} (need x [T, D], down [N, D], up [N, Do], indices [T, S])`,
    );
  }
  if (gates.ndim !== 2 || gates.shape[0] !== T || gates.shape[1] !== S) {
    throw new ShapeError(`expertMix: gates ${fmt(gates.shape)} must match indices ${fmt([T, S])}`);
  }
  for (const [name, t] of [
    ['down', down],
    ['up', up],
    ['gates', gates],
  ] as const) {
    if (t.dtype !== x.dtype) throw new TypeError(`expertMix: ${name} is ${t.dtype} but x is ${x.dtype}; cast one of them`);
  }
  return { T, S, D, Do };
}
