// Kills a training process (fixtures/crash-train.ts) with SIGKILL at random moments around its
// checkpoint writes, resumes it, and checks after every kill and at the end what a user relies on:
// the checkpoint on disk loads, the resumed process removes the temp files the killed one left, and
// the finished run's log equals an uninterrupted run's, step for step, with no step twice.
// Used by checkpoint-crash.test.ts (a few trials) and scripts/reliability/crash-checkpoints.ts (100+).
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCheckpoint } from '../../src/index.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/crash-train.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** What the trials saw. */
export interface CrashStats {
  /** Processes killed. */
  kills: number;
  /** Kills that left a checkpoint temp file behind (the kill landed inside a write). */
  killsMidWrite: number;
  /** Checkpoints that loaded after a kill (must equal kills). */
  loadableAfterKill: number;
  /** Temp files still present once the resumed process had loaded the checkpoint (must be 0). */
  leftoverAfterResume: number;
  /** Runs compared with the uninterrupted one. */
  runs: number;
  /** Runs whose log equals the uninterrupted run's, every step once (must equal runs). */
  exactRuns: number;
  /** One line per problem found. */
  problems: string[];
}

interface Child {
  proc: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
  /** Resolves with the first stdout line matching `re`, or null if the process exits first. */
  waitFor(re: RegExp): Promise<RegExpExecArray | null>;
}

function start(dir: string, steps: number, resume: boolean): Child {
  const proc = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', FIXTURE, dir, String(steps), ...(resume ? ['--resume'] : [])],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray | null) => void }[] = [];
  let stderr = '';
  let buf = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(line);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const m = waiters[i]!.re.exec(line);
        if (m) waiters.splice(i, 1)[0]!.resolve(m);
      }
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      for (const w of waiters.splice(0)) w.resolve(null);
      if (code !== 0 && code !== null) lines.push(`stderr: ${stderr}`);
      resolve(code);
    }),
  );
  return {
    proc,
    lines,
    exited,
    waitFor(re) {
      const seen = lines.map((l) => re.exec(l)).find((m) => m);
      if (seen) return Promise.resolve(seen);
      if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(null);
      return new Promise((resolve) => waiters.push({ re, resolve }));
    },
  };
}

/** Watches `dir` for checkpoint temp files: next() resolves when one is created after the call. */
function tempAppears(dir: string): { next(): Promise<void>; close(): void } {
  let wake: (() => void) | null = null;
  const w = watch(dir, (_event, name) => {
    if (name?.startsWith('checkpoint.safetensors.tmp-')) wake?.();
  });
  return {
    next: () => new Promise<void>((resolve) => (wake = resolve)),
    close: () => w.close(),
  };
}

const temps = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('checkpoint.safetensors.tmp-'));

/** The train and eval records of a finished log, as `kind:step:value` strings in file order. */
function logSignature(dir: string): string[] {
  return readFileSync(join(dir, 'log.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const r = JSON.parse(l) as { kind: string; step: number; loss?: number; valLoss?: number };
      return `${r.kind}:${r.step}:${r.kind === 'train' ? r.loss : r.valLoss}`;
    });
}

/** A small seeded generator for the kill delays (timing itself is never reproducible). */
function prng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The log of an uninterrupted run of `steps` steps. */
export async function referenceRun(steps: number): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'myriad-crash-ref-'));
  try {
    const c = start(dir, steps, false);
    const code = await c.exited;
    if (code !== 0) throw new Error(`crash harness: the reference run exited with ${code}: ${c.lines.join('\n')}`);
    return logSignature(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One run of `steps` steps killed `kills` times (each `maxDelayMs` at most after a checkpoint write
 * begins, so most kills land inside one), resumed after each kill, then finished; adds what it saw to `stats`.
 */
export async function crashRun(options: {
  steps: number;
  kills: number;
  seed: number;
  reference: string[];
  stats: CrashStats;
  maxDelayMs?: number;
}): Promise<void> {
  const { steps, kills, reference, stats } = options;
  const random = prng(options.seed);
  const maxDelay = options.maxDelayMs ?? 15;
  const dir = mkdtempSync(join(tmpdir(), 'myriad-crash-'));
  const side = mkdtempSync(join(tmpdir(), 'myriad-crash-copy-'));
  try {
    let resumeFrom = 0;
    let resumed = false;
    for (let k = 0; k <= kills; k++) {
      const c = start(dir, steps, resumed);
      if (resumed) {
        const m = await c.waitFor(/^resumed (\d+)$/);
        if (!m) {
          stats.problems.push(`seed ${options.seed}: the resumed process did not resume: ${c.lines.slice(-3).join(' | ')}`);
          c.proc.kill('SIGKILL');
          return;
        }
        // Loading the checkpoint is where a resumed run clears what the killed save left. By the time
        // this runs, the resumed process may be writing its own next checkpoint: that temp file is live.
        const left = temps(dir).filter((f) => !f.startsWith(`checkpoint.safetensors.tmp-${c.proc.pid}-`));
        stats.leftoverAfterResume += left.length;
        if (left.length) stats.problems.push(`seed ${options.seed}: temp files after resume: ${left.join(', ')}`);
        resumeFrom = Number(m[1]);
      }
      if (k === kills) {
        const code = await c.exited;
        if (code !== 0) stats.problems.push(`seed ${options.seed}: the final run exited with ${code}: ${c.lines.slice(-3).join(' | ')}`);
        break;
      }
      // Kill at a random moment of a random step's checkpoint write: `step k` is printed just before it
      // starts (the first process is let through its first save, so that there is a checkpoint at all).
      // Half the kills wait for the temp file to appear, so they land inside the write itself; the
      // others come at a random delay, anywhere in encoding, writing, renaming or the next step.
      const target = Math.max(resumeFrom + 1, resumed ? 1 : 2) + Math.floor(random() * 3);
      const inWrite = random() < 0.5;
      const watcher = inWrite ? tempAppears(dir) : null;
      const reached = target < steps ? await c.waitFor(new RegExp(`^step ${target}$`)) : null;
      if (!reached) {
        watcher?.close();
        await c.exited; // finished before the kill: nothing to check this round
        break;
      }
      if (watcher) {
        await Promise.race([watcher.next(), c.exited]);
        watcher.close();
        await new Promise((r) => setTimeout(r, random() * 3));
      } else {
        await new Promise((r) => setTimeout(r, random() * maxDelay));
      }
      c.proc.kill('SIGKILL');
      await c.exited;
      stats.kills++;
      if (temps(dir).length > 0) stats.killsMidWrite++;
      // The checkpoint on disk must load; read a copy so this check does not clean the temp files itself.
      copyFileSync(join(dir, 'checkpoint.safetensors'), join(side, 'checkpoint.safetensors'));
      try {
        const ckpt = await readCheckpoint(join(side, 'checkpoint.safetensors'));
        const lastSaved = Math.max(...c.lines.filter((l) => l.startsWith('saved ')).map((l) => Number(l.slice(6))));
        if (ckpt.step < lastSaved) throw new Error(`it is at step ${ckpt.step}, before the announced save of step ${lastSaved}`);
        stats.loadableAfterKill++;
      } catch (e) {
        stats.problems.push(`seed ${options.seed}: checkpoint after kill ${k + 1} does not load: ${(e as Error).message}`);
      }
      resumed = true;
    }
    stats.runs++;
    const left = temps(dir);
    const log = logSignature(dir);
    if (left.length === 0 && log.join('\n') === reference.join('\n')) stats.exactRuns++;
    else {
      const diff = log.findIndex((l, i) => l !== reference[i]);
      stats.problems.push(
        `seed ${options.seed}: final state differs from the uninterrupted run: ${left.length} temp files; log of ${log.length} records vs ${reference.length}` +
          (diff >= 0 ? `, first difference at record ${diff}: ${log[diff]} vs ${reference[diff]}` : ''),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(side, { recursive: true, force: true });
  }
}

/** Empty counters. */
export function newCrashStats(): CrashStats {
  return { kills: 0, killsMidWrite: 0, loadableAfterKill: 0, leftoverAfterResume: 0, runs: 0, exactRuns: 0, problems: [] };
}
