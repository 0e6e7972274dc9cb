// Crash safety, end to end: a training process is killed with SIGKILL at random moments around its
// checkpoint writes (10 times in one run, resuming after each), and the run must end exactly where an
// uninterrupted one does: same losses, every step logged once, no temp file left, and after every
// kill a checkpoint that loads. scripts/reliability/crash-checkpoints.ts runs 100+ kills.
import { describe, expect, it } from 'vitest';
import { crashRun, newCrashStats, referenceRun } from './helpers/crash-harness.js';

describe('checkpoints survive SIGKILL', () => {
  it('10 kills during checkpointing, 10 resumes: loadable checkpoints, no leftovers, the same run as without kills', async () => {
    const steps = 60;
    const stats = newCrashStats();
    const [reference] = await Promise.all([referenceRun(steps)]);
    const seed = Date.now() % 100_000; // random kill moments each run; the seed is in every failure message
    await crashRun({ steps, kills: 10, seed, reference, stats });
    expect(stats.problems, `kill seed ${seed}`).toEqual([]);
    expect(stats.kills).toBe(10);
    expect(stats.killsMidWrite).toBeGreaterThan(0); // else the kills missed the writes and the clean-up went untested
    expect(stats.loadableAfterKill).toBe(stats.kills);
    expect(stats.leftoverAfterResume).toBe(0);
    expect([stats.runs, stats.exactRuns]).toEqual([1, 1]);
  }, 60_000);
});
