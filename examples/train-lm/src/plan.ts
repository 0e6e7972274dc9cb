// The training plan of a run: how many steps, the learning-rate schedule, batch size, evaluation and
// corpus. It is saved in the checkpoint (config.train), so `--resume FILE` alone continues the run
// exactly as planned, and a resume that would change the plan has to say how (`--extend`).
import { resolve } from 'node:path';
import { warmupCosine, type LrSchedule } from '@myriad/train';
import { UsageError } from './parse.js';

/** How a resumed run may change its planned number of steps. */
export type ExtendMode = 'keep-schedule' | 'replan';
export const EXTEND_MODES: readonly ExtendMode[] = ['keep-schedule', 'replan'];

/** What `config.train` of a checkpoint records. */
export interface TrainPlan {
  /** Total optimizer steps of the run. */
  steps: number;
  /** Warmup-cosine schedule: linear warmup to `lr` over `warmupSteps`, cosine down to `minLr` at `scheduleSteps`, then `minLr`. */
  lr: number;
  minLr: number;
  warmupSteps: number;
  scheduleSteps: number;
  batchSize: number;
  evalEvery: number;
  evalBatches: number;
  /** Absolute path of the corpus, or null for the bundled Moby-Dick. */
  corpus: string | null;
}

/** What a plan is made from (the CLI's options). */
interface PlanOptions {
  steps: number;
  lr: number;
  batchSize: number;
  evalEvery: number;
  evalBatches: number;
  corpus: string | null;
}

/** A new run's plan: warmup over min(50, ⌈steps/10⌉) steps, cosine to lr/10 at the last step. */
export function freshPlan(o: PlanOptions): TrainPlan {
  return {
    steps: o.steps,
    lr: o.lr,
    minLr: o.lr / 10,
    warmupSteps: Math.min(50, Math.ceil(o.steps / 10)),
    scheduleSteps: o.steps,
    batchSize: o.batchSize,
    evalEvery: o.evalEvery,
    evalBatches: o.evalBatches,
    corpus: o.corpus === null ? null : resolve(o.corpus),
  };
}

/** The learning rate of every step under `plan`. */
export function planSchedule(plan: TrainPlan): LrSchedule {
  return warmupCosine({ lr: plan.lr, minLr: plan.minLr, warmupSteps: plan.warmupSteps, totalSteps: plan.scheduleSteps });
}

/** The plan a checkpoint config records (`config.train`), or null when it has none (older checkpoints, the routing lab's). */
export function savedPlan(config: unknown, path: string): TrainPlan | null {
  const t = (config as { train?: unknown } | null)?.train;
  if (t === undefined) return null;
  const p = t as Record<string, unknown>;
  const num = (k: string, min: number, int: boolean) =>
    typeof p[k] === 'number' && (p[k] as number) >= min && (!int || Number.isInteger(p[k]));
  const ok =
    typeof t === 'object' &&
    t !== null &&
    num('steps', 1, true) &&
    num('lr', 0, false) &&
    num('minLr', 0, false) &&
    num('warmupSteps', 0, true) &&
    num('scheduleSteps', 0, true) &&
    num('batchSize', 1, true) &&
    num('evalEvery', 0, true) &&
    num('evalBatches', 1, true) &&
    (p.corpus === null || typeof p.corpus === 'string');
  if (!ok) throw new UsageError(`--resume: ${path} records an unreadable training plan (config.train = ${JSON.stringify(t)})`);
  return p as unknown as TrainPlan;
}

const fmtLr = (lr: number) => String(Number(lr.toPrecision(3)));

/**
 * The plan of a resumed run. Without a saved plan, the options make a fresh one (what older versions
 * did). With one, options not given come from it; a different --steps needs `extend`:
 * 'keep-schedule' keeps the saved schedule (past its end the lr stays at minLr), 'replan' makes a
 * warmup-cosine schedule for the new total (same warmup; --lr may set a new peak).
 */
export function resumePlan(
  saved: TrainPlan | null,
  step: number,
  o: PlanOptions,
  given: ReadonlySet<string>,
  extend: ExtendMode | null,
  path: string,
): { plan: TrainPlan; note: string | null } {
  if (saved === null) {
    const plan = freshPlan(o);
    if (plan.steps < step) throw new UsageError(`--resume: ${path} is at step ${step}; give --steps >= ${step}`);
    return {
      plan,
      note: `${path} records no training plan (an older checkpoint or the routing lab's): planning ${plan.steps} steps from these options`,
    };
  }
  const steps = given.has('steps') ? o.steps : saved.steps;
  if (steps < step)
    throw new UsageError(`--resume: ${path} is at step ${step}; --steps ${steps} would end before it (give --steps >= ${step})`);
  if (given.has('batch') && o.batchSize !== saved.batchSize) {
    throw new UsageError(
      `--resume: ${path} was trained with --batch ${saved.batchSize}; --batch ${o.batchSize} would change the data order (leave it out)`,
    );
  }
  const lrChanged = given.has('lr') && o.lr !== saved.lr;
  if (lrChanged && extend !== 'replan') {
    throw new UsageError(
      `--resume: ${path} was planned with --lr ${fmtLr(saved.lr)}; to train on with --lr ${fmtLr(o.lr)}, re-plan the schedule with --extend replan`,
    );
  }
  const keep = {
    ...saved,
    steps,
    evalEvery: given.has('eval-every') ? o.evalEvery : saved.evalEvery,
    evalBatches: given.has('eval-batches') ? o.evalBatches : saved.evalBatches,
  };
  if (given.has('corpus')) keep.corpus = o.corpus === null ? null : resolve(o.corpus);
  if (steps === saved.steps && !lrChanged) return { plan: keep, note: null };
  const lr = lrChanged ? o.lr : saved.lr;
  const replanned: TrainPlan = {
    ...keep,
    lr,
    minLr: lrChanged ? lr / 10 : saved.minLr,
    warmupSteps: Math.min(saved.warmupSteps, steps),
    scheduleSteps: steps,
  };
  const before = planSchedule(saved)(step);
  const after = planSchedule(replanned)(step);
  if (extend === null) {
    throw new UsageError(
      `--resume: ${path} was planned for ${saved.steps} steps (now at step ${step}, lr ${fmtLr(before)}) and --steps ${steps} changes that; ` +
        `add --extend keep-schedule (continue the planned schedule: past step ${saved.scheduleSteps} the lr stays at ${fmtLr(saved.minLr)}) ` +
        `or --extend replan (a warmup-cosine schedule for ${steps} steps: the lr at step ${step} becomes ${fmtLr(after)})`,
    );
  }
  if (extend === 'keep-schedule') {
    return {
      plan: keep,
      note: `--extend keep-schedule: ${saved.steps} → ${steps} steps on the planned schedule (lr ${fmtLr(before)} now, ${fmtLr(saved.minLr)} from step ${saved.scheduleSteps} on)`,
    };
  }
  return {
    plan: replanned,
    note: `--extend replan: a schedule for ${steps} steps; the lr at step ${step} goes from ${fmtLr(before)} to ${fmtLr(after)}`,
  };
}
