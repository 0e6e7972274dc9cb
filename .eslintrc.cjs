// Not ESLint's configuration (that is eslint.config.js): import-x's no-unused-modules rule lists the
// project's files through ESLint's legacy file enumerator, which needs this file for its ignores.
module.exports = {
  root: true,
  ignorePatterns: ['**/node_modules/**', '**/dist/**', 'runs/**', 'python/**', '**/*.tmp.ts'],
};
