import { fileURLToPath } from 'node:url';
import { describeDocSnippets } from '../../../scripts/doc-snippets.js';

// Every ```ts snippet of docs/core.md runs, so the documentation cannot drift from the API.
describeDocSnippets('docs/core.md', fileURLToPath(new URL('../../../docs/core.md', import.meta.url)));
