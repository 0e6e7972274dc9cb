// Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), PyTorch semantics:
//   g ← g + λ·p (Adam's L2)   or   p ← p·(1 − lr·λ) (AdamW's decoupled decay)
//   m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  p ← p − (lr/(1−β₁ᵗ)) · m / (√v/√(1−β₂ᵗ) + ε)
// A row-sparse gradient is applied lazily, like torch.optim.SparseAdam: only its rows of p, m and v
// change; other rows are not decayed and their moments do not shrink. The step count t (for bias
// correction) is per parameter and advances on every step the parameter has a gradient.
import type { UpdateRule } from '@myriad/core';
import { Optimizer, type BaseHyper, type ParamGroup, type ParamsInput } from './optimizer.js';

/** Adam / AdamW hyper-parameters. */
export interface AdamHyper extends BaseHyper {
  /** Decay rates (β₁, β₂) of the first and second moment (default [0.9, 0.999]). */
  betas: [number, number];
  /** Added to the denominator for stability (default 1e-8). */
  eps: number;
}

/**
 * Adam's update of one element. Branch-free: with l2 = 0 and keep = 1 the extra terms are exact
 * no-ops (g + 0·p = g, p·1 = p), so one rule serves Adam and AdamW, dense and lazy rows alike.
 */
const ADAM_RULE: UpdateRule = {
  name: 'adam',
  state: ['param', 'expAvg', 'expAvgSq'],
  // stepSize = lr/(1 − β₁ᵗ), invBc2Sqrt = 1/√(1 − β₂ᵗ), l2 = Adam's coupled decay, keep = 1 − lr·λ (AdamW).
  scalars: ['b1', 'b2', 'eps', 'stepSize', 'invBc2Sqrt', 'l2', 'keep'],
  body: `const g = grad + l2 * param;
    expAvgNext = b1 * expAvg + (1.0 - b1) * g;
    expAvgSqNext = b2 * expAvgSq + (1.0 - b2) * g * g;
    paramNext = param * keep - (stepSize * expAvgNext) / (Math.sqrt(expAvgSqNext) * invBc2Sqrt + eps);`,
};

/** Adam with L2 weight decay added to the gradient; row-sparse gradients are applied lazily. */
export class Adam extends Optimizer<AdamHyper> {
  /** Weight decay is decoupled (AdamW) when true. */
  protected readonly decoupled: boolean = false;

  /** Its name in messages and checkpoints (survives minification). */
  static readonly kind: string = 'Adam';

  /** `new Adam(model.parameters(), { lr: 1e-3 })`. */
  constructor(params: ParamsInput<AdamHyper>, options: Partial<AdamHyper> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, ...options });
  }

  protected override validate(group: ParamGroup<AdamHyper>, index: number): void {
    super.validate(group, index);
    const [b1, b2] = group.betas ?? [];
    if (!(b1! >= 0 && b1! < 1 && b2! >= 0 && b2! < 1)) {
      throw new RangeError(`${this.kind}: group ${index} has betas=${JSON.stringify(group.betas)}; expected two numbers in [0, 1)`);
    }
    if (!(group.eps >= 0)) throw new RangeError(`${this.kind}: group ${index} has eps=${group.eps}; expected >= 0`);
  }

  protected rule(): UpdateRule {
    return ADAM_RULE;
  }

  protected scalars(group: ParamGroup<AdamHyper>, step: number): number[] {
    const [b1, b2] = group.betas;
    const l2 = this.decoupled ? 0 : group.weightDecay;
    const keep = this.decoupled ? 1 - group.lr * group.weightDecay : 1;
    return [b1, b2, group.eps, group.lr / (1 - b1 ** step), 1 / Math.sqrt(1 - b2 ** step), l2, keep];
  }
}

/** AdamW: Adam with decoupled weight decay p ← p·(1 − lr·λ) (default λ = 0.01), lazily on sparse rows. */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;

  /** Its name in messages and checkpoints (survives minification). */
  static override readonly kind: string = 'AdamW';

  /** `new AdamW(groups, { lr: 3e-4, weightDecay: 0.1 })`. */
  constructor(params: ParamsInput<AdamHyper>, options: Partial<AdamHyper> = {}) {
    super(params, { weightDecay: 0.01, ...options });
  }
}
