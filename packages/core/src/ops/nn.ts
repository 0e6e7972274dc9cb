import type { RowOp } from '../backend.js';
import { record } from '../autograd.js';
import { ShapeError, fmt } from '../errors.js';
import { getGlobalRng, type Rng } from '../random.js';
import { normalizeDim } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { abs, add, cast, div, exp, lt, maximum, mul, neg, sqrt, sub } from './elementwise.js';
import { max, mean, reduceDims, sum } from './reduce.js';
import { expand, reshape, transpose } from './movement.js';
import { gather, where } from './indexing.js';
import { requireFloat, requireInt, wrap } from './util.js';
import { cpuBackend } from '../cpu/cpu-backend.js';

/** Runs a last-axis row kernel along `dim` (moved last and back). */
function alongDim(op: RowOp, x: Tensor, dim: number, fn: (xLast: Tensor) => Tensor): Tensor {
  requireFloat(op, x);
  const d = normalizeDim(op, dim, x.ndim, x.shape);
  if (d === x.ndim - 1) return fn(x);
  return transpose(fn(transpose(x, d, -1)), d, -1);
}

/** softmax along `dim`: exp(x) / sum(exp(x)), computed stably. */
export function softmax(x: Tensor, dim = -1): Tensor {
  if (x.ndim === 0) throw new ShapeError('softmax: needs at least 1 dim, got a scalar');
  return alongDim('softmax', x, dim, (xl) => {
    const out = wrap(xl.backend, xl.backend.rowOp('softmax', xl), xl.shape, xl.dtype);
    // dx = y ⊙ (dy − Σ dy⊙y)
    return record('softmax', out, [xl], (dy) => [mul(out, sub(dy, sum(mul(dy, out), -1, true)))]);
  });
}

/** log(softmax(x)) along `dim`, computed stably. */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  if (x.ndim === 0) throw new ShapeError('logSoftmax: needs at least 1 dim, got a scalar');
  return alongDim('logSoftmax', x, dim, (xl) => {
    const out = wrap(xl.backend, xl.backend.rowOp('logSoftmax', xl), xl.shape, xl.dtype);
    // dx = dy − softmax(x) · Σ dy
    return record('logSoftmax', out, [xl], (dy) => [sub(dy, mul(exp(out), sum(dy, -1, true)))]);
  });
}

/** log(sum(exp(x))) over `dim` (one dim or several), computed stably. */
export function logsumexp(x: Tensor, dim: number | readonly number[] = -1, keepdim = false): Tensor {
  requireFloat('logsumexp', x);
  const dims = reduceDims('logsumexp', x, dim);
  if (dims.length !== 1) {
    // Several dims: move them last, merge them, reduce once.
    const rest = x.shape.map((_, i) => i).filter((i) => !dims.includes(i));
    const moved = reshape(x.permute([...rest, ...dims]), [...rest.map((i) => x.shape[i]!), -1]);
    const r = logsumexp(moved, -1, false);
    return keepdim
      ? reshape(
          r,
          x.shape.map((v, i) => (dims.includes(i) ? 1 : v)),
        )
      : r;
  }
  const d = dims[0]!;
  const xl = d === x.ndim - 1 ? x : transpose(x, d, -1);
  const outShape = xl.shape.slice(0, -1);
  const out = wrap(xl.backend, xl.backend.rowOp('logsumexp', xl), outShape, xl.dtype);
  const r = record('logsumexp', out, [xl], (dy) => {
    const kept = [...outShape, 1];
    return [mul(expand(reshape(dy, kept), xl.shape), exp(sub(xl, reshape(out, kept))))];
  });
  return keepdim
    ? reshape(
        r,
        x.shape.map((v, i) => (i === d ? 1 : v)),
      )
    : r;
}

export interface CrossEntropyOptions {
  /** Targets equal to this contribute nothing (and do not count in the mean). */
  ignoreIndex?: number;
  /** 'mean' (default) over non-ignored targets, 'sum', or 'none' (per-target losses). */
  reduction?: 'mean' | 'sum' | 'none';
  /** Label smoothing in [0, 1). */
  labelSmoothing?: number;
}

/** Cross-entropy between logits [..., C] and int32 class targets [...] (log-softmax + negative log-likelihood). */
export function crossEntropy(logits: Tensor, targets: Tensor, options: CrossEntropyOptions = {}): Tensor {
  requireFloat('crossEntropy', logits);
  requireInt('crossEntropy', 'targets', targets);
  const { ignoreIndex, reduction = 'mean', labelSmoothing = 0 } = options;
  if (logits.ndim < 1 || targets.ndim !== logits.ndim - 1 || targets.shape.some((v, i) => v !== logits.shape[i])) {
    throw new ShapeError(`crossEntropy: targets ${fmt(targets.shape)} must equal logits ${fmt(logits.shape)} without the last (class) dim`);
  }
  if (!(labelSmoothing >= 0 && labelSmoothing < 1))
    throw new RangeError(`crossEntropy: labelSmoothing ${labelSmoothing} must be in [0, 1)`);
  const C = logits.shape[logits.ndim - 1]!;
  // Targets are checked (and counted) on the CPU backend; on a device that would read them back every
  // step, so there the count of non-ignored targets is computed with ops and the gather's bounds apply.
  let kept: number | null = null;
  if (targets.backend === cpuBackend) {
    const t = targets.toTypedArray();
    kept = 0;
    for (let i = 0; i < t.length; i++) {
      const v = t[i]!;
      if (v === ignoreIndex) continue;
      if (v < 0 || v >= C) throw new RangeError(`crossEntropy: target ${v} at flat index ${i} out of range for ${C} classes`);
      kept++;
    }
  }
  const safeTargets = ignoreIndex === undefined ? targets : where(targets.eq(ignoreIndex), 0, targets).to('int32');
  const lsm = logSoftmax(logits, -1);
  let loss = neg(reshape(gather(lsm, -1, reshape(safeTargets, [...targets.shape, 1])), targets.shape));
  if (labelSmoothing > 0) loss = add(mul(loss, 1 - labelSmoothing), mul(neg(mean(lsm, -1)), labelSmoothing));
  if (ignoreIndex !== undefined) loss = mul(loss, cast(targets.ne(ignoreIndex), loss.dtype));
  if (reduction === 'none') return loss;
  const total = sum(loss);
  if (reduction === 'sum') return total;
  if (kept !== null || ignoreIndex === undefined) return div(total, Math.max(kept ?? targets.size, 1));
  return div(total, maximum(sum(cast(targets.ne(ignoreIndex), total.dtype)), 1));
}

/** Layer normalisation over the last `normalizedDims` dims: (x − mean)/√(var + eps)·weight + bias. */
export function layerNorm(x: Tensor, normalizedDims = 1, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  requireFloat('layerNorm', x);
  if (!Number.isInteger(normalizedDims) || normalizedDims < 1 || normalizedDims > x.ndim) {
    throw new RangeError(`layerNorm: normalizedDims ${normalizedDims} must be in [1, ${x.ndim}] for ${fmt(x.shape)}`);
  }
  const dims = Array.from({ length: normalizedDims }, (_, i) => x.ndim - normalizedDims + i);
  const normShape = x.shape.slice(-normalizedDims);
  for (const [name, p] of [
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (p && (p.ndim !== normShape.length || p.shape.some((v, i) => v !== normShape[i]))) {
      throw new ShapeError(`layerNorm: ${name} ${fmt(p.shape)} must have the normalized shape ${fmt(normShape)}`);
    }
  }
  // Each row is divided by m = max(max|x|, 1) first, so squares cannot overflow (float32 does from
  // |x| ≈ 1.8e19, and rows of 1e30 came out as zeros). LN(x) equals LN(x/m) with eps/m² for eps exactly,
  // so m is a constant for the gradient too (hence detach), and rows within [-1, 1] are computed as before.
  const m = maximum(max(abs(x.detach()), dims, true), 1);
  const xs = div(x, m);
  const mu = mean(xs, dims, true);
  const centered = sub(xs, mu);
  const variance = mean(mul(centered, centered), dims, true);
  let y = div(centered, sqrt(add(variance, div(eps, mul(m, m)))));
  if (weight) y = mul(y, weight);
  if (bias) y = add(y, bias);
  return y;
}

export interface DropoutOptions {
  /** Dropout is the identity when false (evaluation). Default true. */
  training?: boolean;
  /** Random source (the global generator by default). */
  rng?: Rng;
}

/** Zeroes each element with probability p and scales the rest by 1/(1−p) (inverted dropout). */
export function dropout(x: Tensor, p: number, options: DropoutOptions = {}): Tensor {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout: p=${p} must be in [0, 1)`);
  const { training = true, rng = getGlobalRng() } = options;
  if (!training || p === 0) return x;
  const u = new Float32Array(x.size);
  for (let i = 0; i < u.length; i++) u[i] = rng.random();
  const noise = wrap(x.backend, x.backend.fromTypedArray(u), x.shape, 'float32');
  const keep = cast(lt(noise, 1 - p), x.dtype);
  return mul(x, mul(keep, 1 / (1 - p)));
}
