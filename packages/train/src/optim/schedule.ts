// Learning-rate schedules: functions from the step number (0-based) to a learning rate.

/** A learning-rate schedule: step (0-based) to learning rate. */
export type LrSchedule = (step: number) => number;

/** Options for `warmupCosine`. */
export interface WarmupCosineOptions {
  /** Peak learning rate, reached at the end of warmup. */
  lr: number;
  /** Floor the cosine decays to (default 0). */
  minLr?: number;
  /** Steps of linear warmup from lr / warmupSteps up to lr (default 0: start at lr). */
  warmupSteps?: number;
  /** Step at which the cosine reaches minLr; later steps stay at minLr. */
  totalSteps: number;
}

/**
 * Linear warmup then cosine decay to `minLr` (as nanoGPT):
 * lr(s) = lr·(s+1)/W for s < W, then minLr + ½(1 + cos(π·(s−W)/(S−W)))·(lr − minLr), and minLr for s ≥ S.
 */
export function warmupCosine(options: WarmupCosineOptions): LrSchedule {
  const { lr, totalSteps } = options;
  const minLr = options.minLr ?? 0;
  const warmup = options.warmupSteps ?? 0;
  if (!(lr > 0) || !(minLr >= 0) || minLr > lr) {
    throw new RangeError(`warmupCosine: need lr > 0 and 0 <= minLr <= lr, got lr=${lr}, minLr=${minLr}`);
  }
  if (!Number.isInteger(warmup) || warmup < 0 || !Number.isInteger(totalSteps) || totalSteps < warmup) {
    throw new RangeError(`warmupCosine: need integers 0 <= warmupSteps <= totalSteps, got warmupSteps=${warmup}, totalSteps=${totalSteps}`);
  }
  return (step: number): number => {
    if (step < warmup) return (lr * (step + 1)) / warmup;
    if (step >= totalSteps) return minLr;
    const progress = (step - warmup) / (totalSteps - warmup);
    return minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (lr - minLr);
  };
}

/** A schedule that always returns `lr`. */
export function constantLr(lr: number): LrSchedule {
  if (!(lr > 0)) throw new RangeError(`constantLr: lr must be > 0, got ${lr}`);
  return () => lr;
}
