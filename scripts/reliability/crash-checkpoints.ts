// Kills training processes with SIGKILL at random moments around their checkpoint writes, resumes
// them, and counts what survived (see packages/train/test/helpers/crash-harness.ts for the checks).
//
//   node --conditions=source --import tsx scripts/reliability/crash-checkpoints.ts [kills=100] [killsPerRun=10] [seed=1]
//
// Exits 1 if any checkpoint failed to load after a kill, any temp file outlived the resume, or any
// finished run differs from the uninterrupted one.
import { crashRun, newCrashStats, referenceRun } from '../../packages/train/test/helpers/crash-harness.js';

const [kills, perRun, seed] = [process.argv[2] ?? '100', process.argv[3] ?? '10', process.argv[4] ?? '1'].map(Number) as [
  number,
  number,
  number,
];
if (![kills, perRun, seed].every(Number.isInteger) || kills < 1 || perRun < 1) {
  console.error(
    `crash-checkpoints: usage: crash-checkpoints.ts [kills >= 1] [killsPerRun >= 1] [integer seed], got ${process.argv.slice(2).join(' ')}`,
  );
  process.exit(2);
}

const steps = 6 * perRun; // room for every kill of a run (each comes after 1-3 new steps) before the end
const t0 = performance.now();
const reference = await referenceRun(steps);
const stats = newCrashStats();
for (let run = 0; stats.kills < kills; run++) {
  await crashRun({ steps, kills: Math.min(perRun, kills - stats.kills), seed: seed * 10_007 + run, reference, stats });
  process.stderr.write(`\r  run ${run + 1}: ${stats.kills}/${kills} kills`);
  if (stats.problems.length > 20) break;
}
process.stderr.write('\n');
const seconds = (performance.now() - t0) / 1000;
console.log(
  `crash-checkpoints: ${stats.kills} SIGKILLs over ${stats.runs} runs of ${steps} steps (checkpoint every step) in ${seconds.toFixed(0)} s`,
);
console.log(`  kills that landed inside a checkpoint write (temp file left): ${stats.killsMidWrite}`);
console.log(`  checkpoints loadable after the kill: ${stats.loadableAfterKill}/${stats.kills}`);
console.log(`  temp files left once the resumed process loaded the checkpoint: ${stats.leftoverAfterResume}`);
console.log(
  `  finished runs equal to the uninterrupted run (losses, eval, each step logged once, no temp file): ${stats.exactRuns}/${stats.runs}`,
);
for (const p of stats.problems.slice(0, 10)) console.log(`  problem: ${p}`);
process.exit(stats.problems.length > 0 ? 1 : 0);
