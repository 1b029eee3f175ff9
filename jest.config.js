/**
 * Every test runs against real servers: one embedded PostgreSQL for the whole run (test/support/global-setup.ts),
 * Temporal test servers per file, real HTTP. Hence generous timeouts and few workers.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'commonjs' },
        sourceMaps: 'inline',
      },
    ],
  },
  setupFiles: ['<rootDir>/test/support/quiet-temporal.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 120000,
  maxWorkers: 2,
  // Data directories of embedded servers must never be crawled for tests or watched.
  modulePathIgnorePatterns: [
    '<rootDir>/dist/',
    '<rootDir>/dist-bench/',
    '<rootDir>/.data/',
    '<rootDir>/.test-data/',
    '<rootDir>/.tools/',
  ],
  watchPathIgnorePatterns: ['<rootDir>/.data/', '<rootDir>/.test-data/'],
};
