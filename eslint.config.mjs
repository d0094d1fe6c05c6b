// ESLint: typescript-eslint's type-aware recommended rules (floating promises, the no-unsafe-*
// family ...) over src/, test/ and bench/. `npm run lint`; formatting is Prettier's job.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      // One program from tsconfig.json (which includes src/, test/ and bench/): about half the
      // time of projectService, which builds its programs file by file.
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Lazy `require` keeps cloud SDKs out of the start-up path (kits' factories).
      '@typescript-eslint/no-require-imports': 'off',
      // An `async` method without `await` implements a Promise-returning interface: it turns a
      // throw into a rejection, which callers rely on. Removing `async` would change that.
      '@typescript-eslint/require-await': 'off',
      // Async generators cannot be arrow functions: they name the instance `self`.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['self'] }],
    },
  },
  {
    // Tests and the bench read what SDKs, emulators and parsed documents hand back (untyped
    // JSON, SDK internals) to assert on it: the no-unsafe-* family would demand a type for
    // every such probe. src/ keeps them; floating promises and the rest apply everywhere.
    files: ['test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
