// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'dist-bench/**',
      'node_modules/**',
      '.tools/**',
      '.data/**',
      '.test-data/**',
      'coverage/**',
      '**/*.mjs',
      '**/*.js',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O libraries, and
    // activities only as types (the workflow proxies them).
    files: ['src/workflows/**/*.ts', 'src/domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'crypto', 'http', 'https', 'net', 'os', 'child_process'],
              message: 'Workflow and domain code must stay deterministic.',
            },
            {
              group: ['pg', 'express', 'pino', '@temporalio/client', '@temporalio/worker', '@temporalio/activity'],
              message: 'Workflow and domain code must stay free of I/O.',
            },
            {
              group: ['**/activities', '**/activities/*', '**/db/*', '**/api/*'],
              allowTypeImports: true,
              message: 'Import types only.',
            },
          ],
        },
      ],
    },
  },
);
