// Regression and binary-classification losses, composed of elementwise ops and reductions, so their
// gradients are those ops' and every backend runs them (crossEntropy lives in nn.ts with softmax).
import { ShapeError, fmt } from '../errors.js';
import { shapesEqual } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { abs, add, exp, ge, log, lt, maximum, mul, neg, square, sub, type Operand } from './elementwise.js';
import { where } from './indexing.js';
import { mean, sum } from './reduce.js';
import { requireFloat } from './util.js';

/** How a loss reduces its per-element values: 'mean' (default), 'sum', or 'none' (same shape as the input). */
export type Reduction = 'mean' | 'sum' | 'none';

/** Options of the elementwise losses. */
export interface LossOptions {
  /** 'mean' (default), 'sum' or 'none'. */
  reduction?: Reduction;
}

/** Options of `binaryCrossEntropyWithLogits`. */
export interface BCEWithLogitsOptions extends LossOptions {
  /** Weight of the positive term, broadcast over the last dim (torch's pos_weight). */
  posWeight?: Operand;
}

function checkPair(op: string, input: Tensor, target: Tensor): void {
  requireFloat(op, input);
  if (!shapesEqual(input.shape, target.shape)) {
    throw new ShapeError(`${op}: input ${fmt(input.shape)} and target ${fmt(target.shape)} must have the same shape`);
  }
}

function reduce(op: string, loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return loss;
  if (reduction === 'sum') return sum(loss);
  if (reduction === 'mean') return mean(loss);
  throw new RangeError(`${op}: reduction ${JSON.stringify(reduction)} must be 'mean', 'sum' or 'none'`);
}

/** Mean squared error (input − target)², reduced (torch.nn.functional.mse_loss). */
export function mseLoss(input: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  checkPair('mseLoss', input, target);
  return reduce('mseLoss', square(sub(input, target)), options.reduction ?? 'mean');
}

/** Mean absolute error |input − target|, reduced (torch.nn.functional.l1_loss). */
export function l1Loss(input: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  checkPair('l1Loss', input, target);
  return reduce('l1Loss', abs(sub(input, target)), options.reduction ?? 'mean');
}

/**
 * Binary cross-entropy −(y·log p + (1 − y)·log(1 − p)) of probabilities p in [0, 1] against targets y
 * in [0, 1]; each log is clamped at −100 as PyTorch does, so p = 0 or 1 gives a finite loss.
 */
export function binaryCrossEntropy(input: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  checkPair('binaryCrossEntropy', input, target);
  const logP = maximum(log(input), -100);
  const log1mP = maximum(log(sub(1, input)), -100);
  const loss = neg(add(mul(target, logP), mul(sub(1, target), log1mP)));
  return reduce('binaryCrossEntropy', loss, options.reduction ?? 'mean');
}

/** log(1 + e) for e in [0, 1], with the series e − e²/2 where 1 + e would round e away. */
function log1pSmall(e: Tensor): Tensor {
  return where(lt(e, 1e-4), sub(e, mul(square(e), 0.5)), log(add(e, 1)));
}

/**
 * softplus(x) = log(1 + eˣ) as max(x, 0) + log(1 + e^−|x|): never overflows. Both halves pick the
 * x ≥ 0 branch at 0 through where (not relu/abs, whose gradients are 0 there), so d/dx = σ(x) = ½ at 0.
 */
function softplus(x: Tensor): Tensor {
  const nonNeg = ge(x, 0);
  return add(where(nonNeg, x, 0), log1pSmall(exp(where(nonNeg, neg(x), x))));
}

/**
 * Binary cross-entropy on logits x (sigmoid folded in), in the stable form softplus(x) − x·y with
 * softplus(x) = max(x, 0) + log(1 + e^−|x|): finite for any x. With `posWeight` w the positive term
 * is weighted: (1 − y)·x + (1 + (w − 1)·y)·softplus(−x).
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, options: BCEWithLogitsOptions = {}): Tensor {
  checkPair('binaryCrossEntropyWithLogits', input, target);
  const sp = softplus(input);
  const pw = options.posWeight;
  let loss: Tensor;
  if (pw === undefined) {
    loss = sub(sp, mul(input, target));
  } else {
    const weight = add(mul(target, typeof pw === 'number' ? pw - 1 : sub(pw, 1)), 1);
    loss = add(mul(sub(1, target), input), mul(weight, sub(sp, input))); // softplus(−x) = softplus(x) − x
  }
  return reduce('binaryCrossEntropyWithLogits', loss, options.reduction ?? 'mean');
}
