// The fused expert mix on typed arrays (PEER's singleton experts, He 2024, eqs. 3–4): for token t and
// slot s (a head's k-th expert), e = idx[t,s]:
//   z[t,s] = down[e]·x[t]            y[t] = Σₛ gates[t,s]·σ(z[t,s])·up[e]
// Rows of down and up are read in place: nothing the size of the gathered rows is allocated, and the
// backward writes each touched table row once (coalesced, ascending). One thread, every sum in a
// fixed order, so results never depend on anything but the inputs.
import type { TypedArray } from '../dtype.js';
import { erf, erf32 } from './math.js';
import { sortRowPositions } from './unique-rows.js';

/** The hidden neuron's activation σ (GELU is the exact erf form). */
export type ExpertActivation = 'gelu' | 'relu' | 'silu' | 'tanh';

/** σ and σ' for one activation; `f32` picks the float32-accurate erf, as core's elementwise loops do. */
export function activationPair(act: ExpertActivation, f32: boolean): { f: (z: number) => number; df: (z: number) => number } {
  const e = f32 ? erf32 : erf;
  switch (act) {
    case 'gelu':
      return {
        f: (z) => 0.5 * z * (1 + e(z * Math.SQRT1_2)),
        df: (z) => 0.5 * (1 + e(z * Math.SQRT1_2)) + z * 0.3989422804014327 * Math.exp(-0.5 * z * z),
      };
    case 'relu':
      return { f: (z) => (z <= 0 ? 0 : z), df: (z) => (z > 0 ? 1 : 0) };
    case 'silu':
      return {
        f: (z) => z / (1 + Math.exp(-z)),
        df: (z) => {
          const s = 1 / (1 + Math.exp(-z));
          return s + z * s * (1 - s);
        },
      };
    case 'tanh':
      return {
        f: (z) => Math.tanh(z),
        df: (z) => {
          const t = Math.tanh(z);
          return 1 - t * t;
        },
      };
  }
}

/** Σᵢ a[ao + i]·b[bo + i] for i < n, in four interleaved partial sums (a fixed order). */
function dot(a: TypedArray, ao: number, b: TypedArray, bo: number, n: number): number {
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[ao + i]! * b[bo + i]!;
    s1 += a[ao + i + 1]! * b[bo + i + 1]!;
    s2 += a[ao + i + 2]! * b[bo + i + 2]!;
    s3 += a[ao + i + 3]! * b[bo + i + 3]!;
  }
  for (; i < n; i++) s0 += a[ao + i]! * b[bo + i]!;
  return s0 + s1 + (s2 + s3);
}

/** acc[i] += k·b[bo + i] for i < n, four elements a step. */
function axpy(acc: TypedArray, ao: number, k: number, b: TypedArray, bo: number, n: number): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    acc[ao + i] += k * b[bo + i]!;
    acc[ao + i + 1] += k * b[bo + i + 1]!;
    acc[ao + i + 2] += k * b[bo + i + 2]!;
    acc[ao + i + 3] += k * b[bo + i + 3]!;
  }
  for (; i < n; i++) acc[ao + i] += k * b[bo + i]!;
}

/**
 * Forward: y [T, Do] (overwritten) and the pre-activations z [T, S] the backward needs.
 * x [T, D], down [N, D], up [N, Do], idx int32 [T, S] (in range), gates [T, S]; all contiguous.
 */
export function expertMixForward(
  x: TypedArray,
  down: TypedArray,
  up: TypedArray,
  idx: Int32Array,
  gates: TypedArray,
  T: number,
  S: number,
  D: number,
  Do: number,
  act: ExpertActivation,
  y: TypedArray,
  z: TypedArray,
): void {
  const { f } = activationPair(act, y instanceof Float32Array);
  const acc = new Float64Array(Do);
  for (let t = 0; t < T; t++) {
    const xo = t * D;
    acc.fill(0);
    for (let s = 0; s < S; s++) {
      const p = t * S + s;
      const e = idx[p]!;
      const zp = dot(down, e * D, x, xo, D);
      z[p] = zp;
      const c = gates[p]! * f(z[p]!);
      axpy(acc, 0, c, up, e * Do, Do);
    }
    const yo = t * Do;
    for (let j = 0; j < Do; j++) y[yo + j] = acc[j]!;
  }
}

/**
 * Backward of the dense inputs: dx [T, D] and dgates [T, S] (overwritten), plus per slot the
 * coefficients of the table gradients: dz[p] = ∂L/∂z[p] (for down) and c[p] = gates[p]·σ(z[p])
 * (for up). Reads every chosen row of up (a = up[e]·dy[t]) and of down (dx += dz·down[e]) once.
 */
export function expertMixBackward(
  down: TypedArray,
  up: TypedArray,
  idx: Int32Array,
  gates: TypedArray,
  z: TypedArray,
  dy: TypedArray,
  T: number,
  S: number,
  D: number,
  Do: number,
  act: ExpertActivation,
  dx: TypedArray,
  dgates: TypedArray,
  dz: Float64Array,
  c: Float64Array,
): void {
  const { f, df } = activationPair(act, dx instanceof Float32Array);
  const acc = new Float64Array(D);
  for (let t = 0; t < T; t++) {
    const go = t * Do;
    acc.fill(0);
    for (let s = 0; s < S; s++) {
      const p = t * S + s;
      const e = idx[p]!;
      const a = dot(up, e * Do, dy, go, Do); // ∂L/∂(gᵢσ(zᵢ))
      const zp = z[p]!;
      const h = f(zp);
      const g = gates[p]!;
      dgates[p] = a * h;
      c[p] = g * h;
      const d = a * g * df(zp);
      dz[p] = d;
      axpy(acc, 0, d, down, e * D, D);
    }
    const xo = t * D;
    for (let i = 0; i < D; i++) dx[xo + i] = acc[i]!;
  }
}

/**
 * The coalesced row-sparse gradient of a table read at idx [T, S]: row idx[p] receives
 * coef[p]·src[t] (t = ⌊p / S⌋, src [T, W]). Returns the distinct rows ascending and their summed
 * values [rows, W] (duplicates summed in slot order), written once each.
 */
export function expertTableGrad<A extends TypedArray>(
  coef: Float64Array,
  src: TypedArray,
  S: number,
  W: number,
  sorted: { rows: Int32Array; positions: Int32Array },
  out: (size: number) => A,
): { rows: Int32Array; values: A } {
  const { rows, positions } = sorted;
  const n = rows.length;
  let distinct = 0;
  for (let i = 0; i < n; i++) if (i === 0 || rows[i] !== rows[i - 1]) distinct++;
  const unique = new Int32Array(distinct);
  const values = out(distinct * W);
  // Written in place: the first slot of a row sets it, later slots (repeats) add in slot order.
  let u = -1;
  for (let i = 0; i < n; i++) {
    const p = positions[i]!;
    const k = coef[p]!;
    const so = Math.floor(p / S) * W;
    if (i === 0 || rows[i] !== rows[i - 1]) {
      u++;
      unique[u] = rows[i]!;
      const o = u * W;
      for (let j = 0; j < W; j++) values[o + j] = k * src[so + j]!;
    } else {
      axpy(values, u * W, k, src, so, W);
    }
  }
  return { rows: unique, values };
}

/** Throws a RangeError naming the op, the slot and the table size for the first index outside [0, N). */
export function checkRowIndices(op: string, idx: Int32Array, N: number): void {
  for (let p = 0; p < idx.length; p++) {
    const e = idx[p]!;
    if (!(e >= 0 && e < N)) throw new RangeError(`${op}: index ${e} at slot ${p} out of range for tables of ${N} rows`);
  }
}

/** Slots of idx sorted by table row, ties in slot order (shared by both tables' gradients). */
export function sortSlotsByRow(idx: Int32Array): { rows: Int32Array; positions: Int32Array } {
  return sortRowPositions(idx);
}
