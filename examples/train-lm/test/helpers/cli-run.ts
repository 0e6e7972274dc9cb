// Running the train-lm CLI from a test, and reading the log it writes.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/** Runs the CLI in a child process without blocking, so independent runs overlap; a failed spawn resolves with code null. */
export function cliAsync(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', main, ...args], { timeout: timeoutMs });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => resolve({ code: null, out, err: `${err}spawn failed: ${e.message}` }));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** One line of a run's log.jsonl. */
export interface LogRecord {
  kind: string;
  step: number;
  loss?: number;
  lr?: number;
  gradNorm?: number;
  valLoss?: number;
}

/** The records of `run`/log.jsonl, in order. */
export function readLog(run: string): LogRecord[] {
  return readFileSync(join(run, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as LogRecord);
}
