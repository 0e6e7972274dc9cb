// Stochastic gradient descent with momentum and Nesterov momentum (PyTorch semantics, dampening 0):
//   g ← g + λ·p;  b ← μ·b + g;  g ← g + μ·b (Nesterov) or b;  p ← p − lr·g.
// A row-sparse gradient updates only its rows and their momentum rows (lazy momentum).
import type { UpdateRule } from '@myriad/core';
import { Optimizer, type BaseHyper, type ParamGroup, type ParamsInput } from './optimizer.js';

/** SGD hyper-parameters. */
export interface SGDHyper extends BaseHyper {
  /** Momentum μ (default 0: plain SGD). */
  momentum: number;
  /** Nesterov momentum (needs momentum > 0). */
  nesterov: boolean;
}

/** Plain SGD of one element: p ← p − lr·(g + λ·p). */
const SGD_RULE: UpdateRule = {
  name: 'sgd',
  state: ['param'],
  scalars: ['lr', 'weightDecay'],
  body: `paramNext = param - lr * (grad + weightDecay * param);`,
};

/** SGD with (Nesterov when nesterov = 1) momentum of one element; the buffer b ← μ·b + g. */
const SGD_MOMENTUM_RULE: UpdateRule = {
  name: 'sgd-momentum',
  state: ['param', 'momentumBuffer'],
  scalars: ['lr', 'weightDecay', 'momentum', 'nesterov'],
  body: `const d = grad + weightDecay * param;
    momentumBufferNext = momentum * momentumBuffer + d;
    const step = nesterov > 0.5 ? d + momentum * momentumBufferNext : momentumBufferNext;
    paramNext = param - lr * step;`,
};

/** Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay. */
export class SGD extends Optimizer<SGDHyper> {
  /** Its name in messages and checkpoints (survives minification). */
  static readonly kind: string = 'SGD';

  /** `new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 })`. */
  constructor(params: ParamsInput<SGDHyper>, options: Partial<SGDHyper> & { lr: number }) {
    super(params, { weightDecay: 0, momentum: 0, nesterov: false, ...options });
  }

  protected override validate(group: ParamGroup<SGDHyper>, index: number): void {
    super.validate(group, index);
    if (!(group.momentum >= 0 && group.momentum < 1)) {
      throw new RangeError(`SGD: group ${index} has momentum=${group.momentum}; expected 0 <= momentum < 1`);
    }
    if (group.nesterov && group.momentum === 0) throw new RangeError(`SGD: group ${index} asks for nesterov with momentum 0`);
  }

  protected rule(group: ParamGroup<SGDHyper>): UpdateRule {
    return group.momentum > 0 ? SGD_MOMENTUM_RULE : SGD_RULE;
  }

  protected scalars(group: ParamGroup<SGDHyper>): number[] {
    const base = [group.lr, group.weightDecay];
    return group.momentum > 0 ? [...base, group.momentum, group.nesterov ? 1 : 0] : base;
  }
}
