// Typed lint for the whole project. Workflow code runs in Temporal's deterministic sandbox, so
// it may not import Node built-ins or packages with side effects (I/O, clocks, randomness).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
const sideEffectPackages = [
  '@temporalio/activity',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/testing',
  'dockerode',
  'simple-git',
  'openai',
  'commander',
  'yaml',
  'zod',
];

export default tseslint.config(
  // Fixture repositories stand for other teams' code (CommonJS, their own globals): not ours to lint.
  { ignores: ['node_modules/', '.lockstep/', '.tools/', 'examples/fleet/', 'coverage/', 'bench/results/', 'tests/gate/fixtures/', 'tests/fixtures/**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [...nodeBuiltins, ...sideEffectPackages].map((name) => ({
            name,
            message: 'Workflow code must stay deterministic: do side effects in activities/.',
            allowTypeImports: true,
          })),
          patterns: [
            {
              group: ['**/activities/**', '**/workers/**', '**/cli/**', '**/config/**'],
              allowTypeImports: true,
              message: 'Workflows may import only types from activities/, workers/, cli/ and config/.',
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', 'setInterval', 'process', 'require'],
    },
  },
  {
    // Test fakes implement async interfaces without awaiting anything.
    files: ['tests/**/*.ts'],
    rules: { '@typescript-eslint/require-await': 'off' },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
