import { Rng, SparseGrad, Tensor, noGrad, tensor } from '../index.js';

export interface GradCheckOptions {
  /** Central-difference step (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Relative tolerance, against the numerical gradient (default 1e-4). */
  rtol?: number;
  /** Indices of the inputs to check (default: every float input). */
  wrt?: readonly number[];
  /** Seed of the random output projection (default 1). */
  seed?: number;
  /** Throw an Error with the report when the check fails (default true). */
  throwOnFail?: boolean;
}

export interface GradCheckWorst {
  /** Which input (position in `inputs`). */
  input: number;
  /** Multi-dimensional index of the element. */
  index: number[];
  analytic: number;
  numeric: number;
}

export interface GradCheckResult {
  ok: boolean;
  /** Largest |analytic − numeric| − (atol + rtol·|numeric|) over all elements (≤ 0 when ok). */
  maxExcess: number;
  /** Largest |analytic − numeric|. */
  maxAbsError: number;
  /** The element with the largest excess. */
  worst: GradCheckWorst | null;
  message: string;
}

function unravel(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = flat % shape[d]!;
    flat = Math.floor(flat / shape[d]!);
  }
  return index;
}

/**
 * Checks the analytic gradients of `fn` against central differences, in float64. Float inputs are
 * cast to float64 leaves (int32 inputs such as indices pass through unchanged). A non-scalar output
 * is reduced to a scalar by a fixed random projection, so every output element is exercised by one
 * backward pass. SparseGrad gradients are densified. Returns a report; throws on failure unless
 * `throwOnFail: false`.
 */
export function gradCheck(fn: (...inputs: Tensor[]) => Tensor, inputs: readonly Tensor[], options: GradCheckOptions = {}): GradCheckResult {
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-4, seed = 1, throwOnFail = true } = options;
  const wrt = options.wrt ?? inputs.flatMap((t, i) => (t.dtype === 'int32' ? [] : [i]));
  for (const i of wrt) {
    if (inputs[i] === undefined || inputs[i]!.dtype === 'int32')
      throw new TypeError(`gradCheck: input ${i} is not a float tensor and cannot be differentiated`);
  }
  const data = inputs.map((t, i) => (wrt.includes(i) ? Float64Array.from(t.toTypedArray()) : null));
  const leaves = (): Tensor[] => inputs.map((t, i) => (data[i] ? tensor(data[i]!, { shape: t.shape, dtype: 'float64' }) : t));

  // Fixed random projection w: loss = Σ w ⊙ fn(x).
  const probe = noGrad(() => fn(...leaves()));
  if (probe.dtype !== 'float64')
    throw new TypeError(`gradCheck: fn returned ${probe.dtype} for float64 inputs; expected float64 (is an op casting down?)`);
  const rng = new Rng(seed);
  const w = new Float64Array(probe.size);
  for (let i = 0; i < w.length; i++) w[i] = rng.random() * 2 - 1;
  const weights = tensor(w, { shape: probe.shape, dtype: 'float64' });
  const lossAt = (xs: Tensor[]): number => {
    const out = fn(...xs).toTypedArray();
    let s = 0;
    for (let i = 0; i < out.length; i++) s += out[i]! * w[i]!;
    return s;
  };

  // Analytic gradients.
  const xs = leaves();
  for (const i of wrt) xs[i]!.requiresGrad = true;
  const out = fn(...xs);
  const analytic: Float64Array[] = [];
  if (out.requiresGrad) out.backward(weights);
  for (const i of wrt) {
    const g = xs[i]!.grad;
    const dense = g === null ? null : g instanceof SparseGrad ? g.toDense() : g;
    analytic[i] = dense === null ? new Float64Array(inputs[i]!.size) : Float64Array.from(dense.toTypedArray());
  }

  // Numerical gradients, one element at a time.
  const result: GradCheckResult = { ok: true, maxExcess: -Infinity, maxAbsError: 0, worst: null, message: '' };
  noGrad(() => {
    for (const i of wrt) {
      const x = data[i]!;
      for (let j = 0; j < x.length; j++) {
        const orig = x[j]!;
        x[j] = orig + eps;
        const up = lossAt(leaves());
        x[j] = orig - eps;
        const down = lossAt(leaves());
        x[j] = orig;
        const numeric = (up - down) / (2 * eps);
        const a = analytic[i]![j]!;
        const err = Math.abs(a - numeric);
        const excess = Number.isNaN(err) ? Infinity : err - (atol + rtol * Math.abs(numeric));
        result.maxAbsError = Math.max(result.maxAbsError, err);
        if (excess > result.maxExcess) {
          result.maxExcess = excess;
          result.worst = { input: i, index: unravel(j, inputs[i]!.shape), analytic: a, numeric };
        }
      }
    }
  });
  if (result.maxExcess > 0) {
    result.ok = false;
    const w0 = result.worst!;
    const shapes = inputs.map((t) => `[${t.shape.join(',')}]`).join(', ');
    result.message =
      `gradCheck: analytic and numerical gradients differ (inputs ${shapes}; eps=${eps}, atol=${atol}, rtol=${rtol}): ` +
      `worst at input ${w0.input} [${w0.index.join(',')}]: analytic ${w0.analytic}, numeric ${w0.numeric}, |diff| ${Math.abs(w0.analytic - w0.numeric).toExponential(3)}`;
    if (throwOnFail) throw new Error(result.message);
  }
  return result;
}
