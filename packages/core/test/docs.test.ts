import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, it } from 'vitest';

// Runs every ```ts snippet of docs/core.md (except those whose first line names a *.test.ts file), so the
// documentation cannot drift from the API. Imports become dynamic imports; TypeScript is stripped.
const docPath = fileURLToPath(new URL('../../../docs/core.md', import.meta.url));
const snippets = [...readFileSync(docPath, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

/** `import { a, b as c } from 'm'` -> `const { a, b: c } = await __import('m')`; default and namespace imports likewise. */
function rewriteImports(code: string): string {
  return code.replace(/^import\s+(.+?)\s+from\s+'([^']+)';$/gm, (_, what: string, from: string) => {
    const mod = `await __import(${JSON.stringify(from)})`;
    if (what.startsWith('{')) return `const ${what.replace(/\btype\s+\w+,?/g, '').replace(/\s+as\s+/g, ': ')} = ${mod};`;
    if (what.startsWith('* as ')) return `const ${what.slice(5)} = ${mod};`;
    return `const ${what} = (${mod}).default;`;
  });
}

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<void>;

describe('docs/core.md snippets run', () => {
  snippets.forEach((code, i) => {
    const title = `snippet ${i + 1}: ${code.split('\n').find((l) => !l.startsWith('import') && l.trim() !== '')?.slice(0, 60)}`;
    if (/^\/\/ .*\.test\.ts$/m.test(code.split('\n')[0]!)) {
      it.skip(`${title} (a vitest test file)`, () => {});
      return;
    }
    it(title, async () => {
      const js = ts.transpileModule(rewriteImports(code), { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
      await new AsyncFunction('__import', js)((spec: string) => import(/* @vite-ignore */ spec));
    });
  });
});
