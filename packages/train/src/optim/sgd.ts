// Stochastic gradient descent with momentum and Nesterov momentum (PyTorch semantics, dampening 0):
//   g ← g + λ·p;  b ← μ·b + g;  g ← g + μ·b (Nesterov) or b;  p ← p − lr·g.
// A row-sparse gradient updates only its rows and their momentum rows (lazy momentum).
import type { CoalescedRows } from './coalesce.js';
import type { FloatArray } from './live-data.js';
import { Optimizer, type BaseHyper, type ParamGroup, type ParamState, type ParamsInput } from './optimizer.js';

/** SGD hyper-parameters. */
export interface SGDHyper extends BaseHyper {
  /** Momentum μ (default 0: plain SGD). */
  momentum: number;
  /** Nesterov momentum (needs momentum > 0). */
  nesterov: boolean;
}

// One kernel for dense and sparse updates, so the two give bit-identical rows.
function sgdRange(h: SGDHyper, p: FloatArray, g: FloatArray, buf: FloatArray | undefined, pStart: number, gStart: number, n: number): void {
  const { lr, weightDecay: wd, momentum: mu, nesterov } = h;
  for (let j = 0; j < n; j++) {
    const i = pStart + j;
    let d = g[gStart + j]!;
    if (wd !== 0) d += wd * p[i]!;
    if (buf) {
      const b = mu * buf[i]! + d;
      buf[i] = b;
      d = nesterov ? d + mu * b : b;
    }
    p[i] = p[i]! - lr * d;
  }
}

/** Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay. */
export class SGD extends Optimizer<SGDHyper> {
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

  protected bufferNames(group: ParamGroup<SGDHyper>): string[] {
    return group.momentum > 0 ? ['momentumBuffer'] : [];
  }

  protected updateDense(group: ParamGroup<SGDHyper>, state: ParamState, p: FloatArray, g: FloatArray): void {
    sgdRange(group, p, g, this.momentumOf(group, state), 0, 0, p.length);
  }

  protected updateRows(group: ParamGroup<SGDHyper>, state: ParamState, p: FloatArray, g: CoalescedRows, rowSize: number): void {
    const buf = this.momentumOf(group, state);
    const { rows, offsets, values, summed } = g;
    for (let r = 0; r < rows.length; r++) {
      const o = offsets[r]!;
      if (o >= 0) sgdRange(group, p, values, buf, rows[r]! * rowSize, o, rowSize);
      else sgdRange(group, p, summed, buf, rows[r]! * rowSize, -o - 1, rowSize);
    }
  }

  private momentumOf(group: ParamGroup<SGDHyper>, state: ParamState): FloatArray | undefined {
    return group.momentum === 0 ? undefined : state.buffers.momentumBuffer;
  }
}
