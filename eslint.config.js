// Shared strict, type-aware lint for every package and tools/.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.nx/**', '**/coverage/**', '**/*.config.*', 'vitest.shared.ts'] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      'no-restricted-exports': ['error', { restrictDefaultExports: { direct: true, named: true, defaultFrom: true, namedFrom: true, namespaceFrom: true } }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Bit-twiddling on packet headers is the job here.
      'no-bitwise': 'off',
    },
  },
  {
    // koffi may be imported only by a package's native shim.
    files: ['packages/*/src/**/*.ts', 'tools/*/src/**/*.ts'],
    ignores: ['packages/*/src/native/**', 'tools/*/src/native/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'koffi', message: 'koffi belongs under src/native/ only.' }], patterns: [{ group: ['@netvsc/*/src/*', '@netvsc/*/dist/*', '../../*/src/*'], message: 'Import another package through its public entry point.' }] }],
    },
  },
  {
    files: ['**/test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
);
