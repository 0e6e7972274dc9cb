// Parameter groups for weight decay: decay matrices, not norms, biases or product keys (as nanoGPT and
// the PKM paper do). Works on any model with namedParameters(), falling back to parameters().
import type { Tensor } from '@myriad/core';

/** Anything with parameters; `namedParameters()` lets names decide the groups. */
export interface HasParameters {
  parameters(): Iterable<Tensor>;
  namedParameters?(): Iterable<[string, Tensor]>;
}

/** Options for `weightDecayGroups`. */
export interface WeightDecayGroupOptions {
  /** Decay of the decayed group. */
  weightDecay: number;
  /**
   * Decides which parameters are exempt. Default: tensors with fewer than 2 dimensions (biases, norm
   * weights) and parameters whose name's last part is `bias` or `keys` or contains `norm`.
   */
  noDecay?: (name: string, param: Tensor) => boolean;
}

/** The default exemption rule of `weightDecayGroups`. */
export function isNoDecayParameter(name: string, param: Tensor): boolean {
  if (param.ndim < 2) return true;
  const parts = name.split('.');
  const last = parts[parts.length - 1] ?? '';
  return last === 'bias' || last === 'keys' || parts.some((s) => /norm/i.test(s));
}

/** Two groups `[{ params: decayed, weightDecay }, { params: exempt, weightDecay: 0 }]` (empty ones dropped). */
export function weightDecayGroups(
  model: HasParameters,
  options: WeightDecayGroupOptions,
): Array<{ params: Tensor[]; weightDecay: number }> {
  const noDecay = options.noDecay ?? isNoDecayParameter;
  const named: Iterable<[string, Tensor]> = model.namedParameters
    ? model.namedParameters()
    : Array.from(model.parameters(), (p, i): [string, Tensor] => [String(i), p]);
  const decay: Tensor[] = [];
  const exempt: Tensor[] = [];
  const seen = new Set<Tensor>();
  for (const [name, p] of named) {
    if (seen.has(p)) continue; // tied weights are listed once
    seen.add(p);
    (noDecay(name, p) ? exempt : decay).push(p);
  }
  return [
    { params: decay, weightDecay: options.weightDecay },
    { params: exempt, weightDecay: 0 },
  ].filter((g) => g.params.length > 0);
}
