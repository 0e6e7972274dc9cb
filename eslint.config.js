// ESLint (flat config): typescript-eslint's recommended rules, plus import-x for the import graph:
// no cycles except the tensor ↔ ops family, and no exports that nothing imports. Run with `npm run lint`
// (part of `npm test`). Formatting is Prettier's job (`npm run format:check`), so stylistic rules are off.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import prettier from 'eslint-config-prettier';

// Files of the one allowed import cycle: Tensor's methods call the ops, the ops build Tensors, and a
// gradient is a Tensor or a SparseGrad (which ops create and which builds Tensors).
const TENSOR_OPS = ['packages/core/src/tensor.ts', 'packages/core/src/sparse-grad.ts', 'packages/core/src/ops/**/*.ts'];

// Where an export counts as public without an import in the repo: package entry points (the
// `exports` maps), runnable programs, benches, tests and config files.
const ENTRY_POINTS = [
  'packages/*/src/index.ts',
  'packages/core/src/testing/index.ts',
  'packages/*/bench/**',
  'packages/*/test/**',
  'examples/*/src/main.ts',
  'examples/*/bench/**',
  'examples/*/test/**',
  'scripts/**',
  '*.config.ts',
  '*.config.js',
  'examples/*/vite.config.ts',
  // Ambient declarations (`declare module 'virtual:…'`) are read by the compiler, not imported.
  '**/*.d.ts',
];

export default tseslint.config(
  {
    ignores: ['**/node_modules/**', '**/dist/**', 'runs/**', 'python/**', '**/*.tmp.ts', '.eslintrc.cjs', 'packages/gpu/vendor/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.js', '**/*.mjs'],
    plugins: { 'import-x': importX },
    languageOptions: { globals: { console: 'readonly', process: 'readonly', globalThis: 'readonly' } },
    settings: {
      'import-x/extensions': ['.ts', '.js', '.mjs'],
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.json', noWarnOnMultipleProjects: true })],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-unused-modules': [
        'error',
        { unusedExports: true, src: ['packages', 'examples/train-lm', 'examples/routing-lab', 'scripts'], ignoreExports: ENTRY_POINTS },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  { files: TENSOR_OPS, rules: { 'import-x/no-cycle': 'off' } },
  prettier,
);
