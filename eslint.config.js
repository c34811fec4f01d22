// Lint: typescript-eslint's recommended rules plus the few that keep the layers honest.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/node_modules/**', 'bench/results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // The domain is pure: no I/O, no clock, no framework.
    files: ['libs/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['node:*', '@nestjs/*', '@strata/*', 'typeorm', 'better-sqlite3', 'fs', 'path', 'crypto'] }],
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'time comes in with the command' }, { object: 'Math', property: 'random', message: 'randomness comes in with the command' }],
    },
  },
  {
    // Layers know nothing of the event log or the read models (DESIGN.md: adapters never reach sideways).
    files: ['libs/layers/**/*.ts', 'libs/runtime/**/*.ts', 'libs/registry/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['@strata/eventstore', '@strata/projections', '@nestjs/*'] }] },
  },
  {
    // The runtime's plain-JS shim (run by node, no build step) follows the runtime's rule above.
    files: ['libs/runtime/**/*.mjs'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['@strata/eventstore', '@strata/projections', '@nestjs/*'] }] },
  },
  {
    // The CLI speaks HTTP: of Strata it may import only the API types.
    files: ['apps/cli/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['@strata/domain', '@strata/eventstore', '@strata/projections', '@strata/layers', '@strata/runtime', '@strata/registry'] }] },
  },
);
