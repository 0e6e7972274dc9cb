import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeDocSnippets } from '../../../scripts/doc-snippets.js';

// The snippets of the cross-package docs run against the real packages, so the guide and the
// tutorial cannot drift from the API.
const DOCS = ['README.md', 'docs/guide.md', 'docs/moe-routing.md', 'docs/nn.md', 'docs/train.md'];
for (const doc of DOCS) {
  const path = fileURLToPath(new URL(`../../../${doc}`, import.meta.url));
  if (!existsSync(path)) throw new Error(`${doc} is missing`);
  describeDocSnippets(doc, path, { timeout: 60_000 });
}
