/** One jest run over every package and the cross-package tests, so CI ends on one summary line. */
const path = require('node:path');
const names = ['domain', 'config', 'xrml', 'keys', 'store', 'issuance', 'soap', 'jobs', 'client', 'directory'];
const moduleNameMapper = Object.fromEntries(
  names.map((n) => [`^@openrms/${n}$`, path.join(__dirname, 'packages', n, 'src', 'index.ts')]),
);
moduleNameMapper['^@openrms/server$'] = path.join(__dirname, 'apps/server/src/index.ts');
moduleNameMapper['^@openrms/cli$'] = path.join(__dirname, 'apps/cli/src/index.ts');
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/apps', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true, tsconfig: '<rootDir>/tsconfig.json' }] },
  moduleNameMapper,
  // Deadlines for a loaded machine (the suite must pass with both cores busy); tests wait for conditions, not time.
  testTimeout: 180000,
  maxWorkers: 2,
};
