import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpuBackend, setBackend } from '@myriad/core';
import { afterAll } from 'vitest';
import { describeDocSnippets } from '../../../scripts/doc-snippets.js';

// The snippets of the cross-package docs run against the real packages, so the guide and the
// tutorial cannot drift from the API.
const DOCS = [
  'README.md',
  'docs/guide.md',
  'docs/moe-routing.md',
  'docs/nn.md',
  'docs/train.md',
  'packages/core/README.md',
  'packages/nn/README.md',
  'packages/train/README.md',
  'packages/gpu/README.md',
];
for (const doc of DOCS) {
  const path = fileURLToPath(new URL(`../../../${doc}`, import.meta.url));
  if (!existsSync(path)) throw new Error(`${doc} is missing`);
  describeDocSnippets(doc, path, { timeout: 60_000 });
}

// packages/gpu/README.md switches the global backend; later test files must start on the CPU.
afterAll(() => setBackend(cpuBackend));
