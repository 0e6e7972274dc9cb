// Runs every ```ts snippet of a markdown file as a vitest test, so documentation cannot drift from
// the API. Imports become dynamic imports and TypeScript is stripped. A snippet whose first line is
// a comment naming a *.test.ts file (a vitest file shown as an example) is listed as skipped.
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, it } from 'vitest';

/** `import { a, b as c } from 'm'` -> `const { a, b: c } = await __import('m')`; default and namespace imports likewise. */
export function rewriteImports(code: string): string {
  return code.replace(/^import\s+([\s\S]+?)\s+from\s+'([^']+)';$/gm, (_, what: string, from: string) => {
    const mod = `await __import(${JSON.stringify(from)})`;
    if (what.startsWith('type ')) return '';
    if (what.startsWith('{')) return `const ${what.replace(/\btype\s+\w+,?/g, '').replace(/\s+as\s+/g, ': ')} = ${mod};`;
    if (what.startsWith('* as ')) return `const ${what.slice(5)} = ${mod};`;
    return `const ${what} = (${mod}).default;`;
  });
}

/** The ```ts code blocks of a markdown text. */
export function tsSnippets(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<void>;

/** Declares one test per snippet of the markdown file at `path`. */
export function describeDocSnippets(title: string, path: string, options: { timeout?: number } = {}): void {
  const snippets = tsSnippets(readFileSync(path, 'utf8'));
  describe(`${title} snippets run`, () => {
    it('has snippets', () => {
      if (snippets.length === 0) throw new Error(`${path} has no \`\`\`ts snippets`);
    });
    snippets.forEach((code, i) => {
      const name = `snippet ${i + 1}: ${code
        .split('\n')
        .find((l) => !l.startsWith('import') && l.trim() !== '')
        ?.slice(0, 60)}`;
      if (/^\/\/ .*\.test\.ts$/m.test(code.split('\n')[0]!)) {
        it.skip(`${name} (a vitest test file)`, () => {});
        return;
      }
      it(
        name,
        async () => {
          const js = ts.transpileModule(rewriteImports(code), {
            compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
          }).outputText;
          await new AsyncFunction('__import', js)((spec: string) => import(/* @vite-ignore */ spec));
        },
        options.timeout ?? 30_000,
      );
    });
  });
}
