// A JSON-lines metrics log: one JSON object per line, appended as the run goes, so a crashed or
// interrupted run keeps everything logged so far and `tail -f` shows progress. A run resumed from
// the checkpoint of step S redoes the steps after S, so reopening the log for it first drops the
// records of those steps (and a line torn by the crash), and the log never holds a step twice.
import { nodeBuiltin } from '../node-builtin.js';

/** Appends one JSON object per line to a file. */
export class JsonlLog {
  /**
   * Opens `path` (creating its directory); `append` false truncates it first. With `append` and
   * `resumeStep` S, records whose `step` is greater than S are removed first (the file is rewritten
   * atomically), as is an unterminated last line.
   */
  constructor(
    readonly path: string,
    append = false,
    resumeStep?: number,
  ) {
    if (resumeStep !== undefined && !(Number.isInteger(resumeStep) && resumeStep >= 0)) {
      throw new RangeError(`JsonlLog: resumeStep must be a non-negative integer, got ${resumeStep}`);
    }
    const { mkdirSync, writeFileSync } = nodeBuiltin('node:fs', 'JsonlLog');
    try {
      mkdirSync(nodeBuiltin('node:path', 'JsonlLog').dirname(path), { recursive: true });
      if (!append) writeFileSync(path, '');
      else if (resumeStep !== undefined) truncateAfterStep(path, resumeStep);
    } catch (err) {
      throw new Error(`JsonlLog: cannot write the log file ${path}: ${(err as Error).message}`);
    }
  }

  /** Appends `record` as one line (NaN and ±Infinity become null, as JSON requires). */
  write(record: object): void {
    nodeBuiltin('node:fs', 'JsonlLog').appendFileSync(this.path, `${JSON.stringify(record)}\n`);
  }
}

/** The `step` of a log line, or null when the line is not a JSON object with a numeric step (kept as is). */
function stepOf(line: string): number | null {
  try {
    const r: unknown = JSON.parse(line);
    return typeof r === 'object' && r !== null && typeof (r as { step?: unknown }).step === 'number' ? (r as { step: number }).step : null;
  } catch {
    return null;
  }
}

/** Rewrites the log at `path` without records of steps after `step`; leaves it alone when nothing changes. */
function truncateAfterStep(path: string, step: number): void {
  const fs = nodeBuiltin('node:fs', 'JsonlLog');
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // nothing logged yet
    throw err;
  }
  const lines = text.split('\n');
  const torn = lines.pop() !== ''; // the text after the last newline: empty unless a write was cut short
  const kept = lines.filter((l) => {
    const s = stepOf(l);
    return s === null || s <= step;
  });
  if (!torn && kept.length === lines.length) return;
  const out = kept.map((l) => `${l}\n`).join('');
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  try {
    const fd = fs.openSync(tmp, 'wx');
    try {
      fs.writeFileSync(fd, out);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path); // readers see the old log or the new one, never a torn one
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
