// Node's built-in modules, reached synchronously through process.getBuiltinModule (Node >= 20.16),
// which browser bundlers do not follow: the file helpers of @myriad/train (TextDataset.fromFile,
// readCheckpoint, saveCheckpoint, JsonlLog, defaultCorpusPath) stay out of browser bundles, and
// calling one in a browser says what to use there instead. (core's worker pool does the same.)
import type * as NodeFs from 'node:fs';
import type * as NodeModule from 'node:module';
import type * as NodePath from 'node:path';

interface Builtins {
  'node:fs': typeof NodeFs;
  'node:path': typeof NodePath;
  'node:module': typeof NodeModule;
}

/** The Node built-in `id`, or an Error naming `caller` where there is none (a browser). */
export function nodeBuiltin<K extends keyof Builtins>(id: K, caller: string): Builtins[K] {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const mod = proc?.getBuiltinModule?.(id);
  if (!mod) {
    throw new Error(
      `${caller} reads or writes files through Node's ${id}, which this runtime lacks (a browser, or Node < 20.16); ` +
        'in a browser use the in-memory forms: TextDataset.fromString, checkpointFromBytes / checkpointToBytes',
    );
  }
  return mod as Builtins[K];
}
