// A JSON-lines metrics log: one JSON object per line, appended as the run goes, so a crashed or
// interrupted run keeps everything logged so far and `tail -f` shows progress.
import { nodeBuiltin } from '../node-builtin.js';

/** Appends one JSON object per line to a file. */
export class JsonlLog {
  /** Opens `path` (creating its directory); `append` false truncates it first. */
  constructor(
    readonly path: string,
    append = false,
  ) {
    const { mkdirSync, writeFileSync } = nodeBuiltin('node:fs', 'JsonlLog');
    try {
      mkdirSync(nodeBuiltin('node:path', 'JsonlLog').dirname(path), { recursive: true });
      if (!append) writeFileSync(path, '');
    } catch (err) {
      throw new Error(`JsonlLog: cannot write the log file ${path}: ${(err as Error).message}`);
    }
  }

  /** Appends `record` as one line (NaN and ±Infinity become null, as JSON requires). */
  write(record: object): void {
    nodeBuiltin('node:fs', 'JsonlLog').appendFileSync(this.path, `${JSON.stringify(record)}\n`);
  }
}
