// Type-aware lint for the whole tree (server, emulator, tools, tests); formatting is Prettier's job.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'dist-tools/', 'node_modules/', 'coverage/', 'test-results/', 'bench-results/', 'data/', 'public/', '*.mjs', '*.mts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Promises dropped on purpose are marked with `void`; anything else is a bug.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true }],
      // Nest injects classes by their runtime value: a type-only import would break DI metadata.
      '@typescript-eslint/no-extraneous-class': 'off',
      eqeqeq: ['error', 'always'],
      // Interface methods that return a Promise without awaiting anything are fine.
      '@typescript-eslint/require-await': 'off',
      // ws hands over RawData (Buffer | ArrayBuffer | Buffer[]); its toString() is the text frame.
      '@typescript-eslint/no-base-to-string': ['error', { ignoredTypeNames: ['Error', 'RegExp', 'URL', 'URLSearchParams', 'RawData'] }],
    },
  },
  {
    // Tests and the emulator read whatever peers sent: loosely typed on purpose.
    files: ['test/**', 'emulator/**', 'scripts/**', '**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Vitest fixtures must destructure their first argument, even when they need nothing from it.
      'no-empty-pattern': 'off',
    },
  },
  prettier,
);
