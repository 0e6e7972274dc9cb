// Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), PyTorch semantics:
//   g ← g + λ·p (Adam's L2)   or   p ← p·(1 − lr·λ) (AdamW's decoupled decay)
//   m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  p ← p − (lr/(1−β₁ᵗ)) · m / (√v/√(1−β₂ᵗ) + ε)
// A row-sparse gradient is applied lazily, like torch.optim.SparseAdam: only its rows of p, m and v
// change; other rows are not decayed and their moments do not shrink. The step count t (for bias
// correction) is per parameter and advances on every step the parameter has a gradient.
import type { CoalescedRows } from './coalesce.js';
import type { FloatArray } from './live-data.js';
import { Optimizer, type BaseHyper, type ParamGroup, type ParamState, type ParamsInput } from './optimizer.js';

/** Adam / AdamW hyper-parameters. */
export interface AdamHyper extends BaseHyper {
  /** Decay rates (β₁, β₂) of the first and second moment (default [0.9, 0.999]). */
  betas: [number, number];
  /** Added to the denominator for stability (default 1e-8). */
  eps: number;
}

interface AdamConsts {
  b1: number;
  b2: number;
  eps: number;
  stepSize: number; // lr / (1 − β₁ᵗ)
  bc2Sqrt: number; // √(1 − β₂ᵗ)
  l2: number; // coupled weight decay (Adam)
  keep: number; // 1 − lr·λ (AdamW), 1 otherwise
}

// One kernel for dense and sparse updates, so touched rows come out bit-identical either way.
// Branch-free: with l2 = 0 and keep = 1 the extra terms are exact no-ops (g + 0·p = g, p·1 = p).
function adamRange(c: AdamConsts, p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, pStart: number, gStart: number, n: number): void {
  const { b1, b2, eps, stepSize, l2, keep } = c;
  const a1 = 1 - b1;
  const a2 = 1 - b2;
  const invBc2Sqrt = 1 / c.bc2Sqrt;
  const end = pStart + n;
  const shift = gStart - pStart;
  for (let i = pStart; i < end; i++) {
    const gi = g[i + shift]! + l2 * p[i]!;
    const mi = b1 * m[i]! + a1 * gi;
    const vi = b2 * v[i]! + a2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i]! * keep - (stepSize * mi) / (Math.sqrt(vi) * invBc2Sqrt + eps);
  }
}

/** Adam with L2 weight decay added to the gradient; row-sparse gradients are applied lazily. */
export class Adam extends Optimizer<AdamHyper> {
  /** Weight decay is decoupled (AdamW) when true. */
  protected readonly decoupled: boolean = false;

  /** `new Adam(model.parameters(), { lr: 1e-3 })`. */
  constructor(params: ParamsInput<AdamHyper>, options: Partial<AdamHyper> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, ...options });
  }

  protected override validate(group: ParamGroup<AdamHyper>, index: number): void {
    super.validate(group, index);
    const [b1, b2] = group.betas ?? [];
    if (!(b1! >= 0 && b1! < 1 && b2! >= 0 && b2! < 1)) {
      throw new RangeError(`${this.constructor.name}: group ${index} has betas=${JSON.stringify(group.betas)}; expected two numbers in [0, 1)`);
    }
    if (!(group.eps >= 0)) throw new RangeError(`${this.constructor.name}: group ${index} has eps=${group.eps}; expected >= 0`);
  }

  protected bufferNames(): string[] {
    return ['expAvg', 'expAvgSq'];
  }

  private consts(group: ParamGroup<AdamHyper>, step: number): AdamConsts {
    const [b1, b2] = group.betas;
    return {
      b1,
      b2,
      eps: group.eps,
      stepSize: group.lr / (1 - b1 ** step),
      bc2Sqrt: Math.sqrt(1 - b2 ** step),
      l2: this.decoupled ? 0 : group.weightDecay,
      keep: this.decoupled ? 1 - group.lr * group.weightDecay : 1,
    };
  }

  protected updateDense(group: ParamGroup<AdamHyper>, state: ParamState, p: FloatArray, g: FloatArray): void {
    const { expAvg, expAvgSq } = state.buffers;
    adamRange(this.consts(group, state.step), p, g, expAvg!, expAvgSq!, 0, 0, p.length);
  }

  protected updateRows(group: ParamGroup<AdamHyper>, state: ParamState, p: FloatArray, g: CoalescedRows, rowSize: number): void {
    const { expAvg, expAvgSq } = state.buffers;
    const c = this.consts(group, state.step);
    const { rows, offsets, values, summed } = g;
    for (let r = 0; r < rows.length; r++) {
      const o = offsets[r]!;
      if (o >= 0) adamRange(c, p, values, expAvg!, expAvgSq!, rows[r]! * rowSize, o, rowSize);
      else adamRange(c, p, summed, expAvg!, expAvgSq!, rows[r]! * rowSize, -o - 1, rowSize);
    }
  }
}

/** AdamW: Adam with decoupled weight decay p ← p·(1 − lr·λ) (default λ = 0.01), lazily on sparse rows. */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;

  /** `new AdamW(groups, { lr: 3e-4, weightDecay: 0.1 })`. */
  constructor(params: ParamsInput<AdamHyper>, options: Partial<AdamHyper> = {}) {
    super(params, { weightDecay: 0.01, ...options });
  }
}
