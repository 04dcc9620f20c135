// Typed lint for the whole project. Workflow code runs in Temporal's deterministic sandbox, so
// it may not import Node built-ins or packages with side effects (I/O, clocks, randomness).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
// Builtins without I/O, which core/'s pure code may use (hashing, path arithmetic).
const pureBuiltins = ['path', 'node:path', 'crypto', 'node:crypto'];
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
  {
    ignores: [
      'node_modules/',
      '.lockstep/',
      '.tools/',
      'examples/fleet/',
      'coverage/',
      'bench/results/',
      'tests/gate/fixtures/',
      'tests/fixtures/**/*.js',
    ],
  },
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
              group: ['**/activities/**', '**/workers/**', '**/cli/**', '**/client/**', '**/config/**'],
              allowTypeImports: true,
              message: 'Workflows may import only types from activities/ and config/ (shared values live in core/).',
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', 'setInterval', 'process', 'require'],
    },
  },
  {
    // core/ is the vocabulary every layer shares: plain data, ids and pure functions. It depends on
    // nothing of the layers above it (types of config/ excepted) and does no I/O.
    files: ['core/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.filter((m) => !pureBuiltins.includes(m)),
            ...sideEffectPackages.filter((m) => !['@temporalio/workflow', 'yaml', 'zod'].includes(m)),
          ].map((name) => ({
            name,
            message: 'core/ does no I/O: side effects live in activities/, the client in client/.',
          })),
          patterns: [
            {
              group: [
                '**/activities/**',
                '**/workflows/**',
                '**/workers/**',
                '**/cli/**',
                '**/client/**',
                '**/bench/**',
                '**/scripts/**',
              ],
              message: 'core/ depends on no other layer.',
            },
            { group: ['**/config/**'], allowTypeImports: true, message: 'core/ may import only types from config/.' },
          ],
        },
      ],
      'no-restricted-globals': ['error', 'process', 'require'],
    },
  },
  {
    files: ['activities/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/workflows/**', '**/workers/**', '**/cli/**', '**/client/**', '**/bench/**'],
              message: 'Activities depend on core/ and config/, never on workflows, workers or the CLI.',
            },
          ],
        },
      ],
    },
  },
  {
    // The CLI and the bench reach Temporal and this machine through client/. They never touch the
    // activities' libraries themselves: a side effect of a change runs on a worker (with the
    // worker's credentials), and what runs on this machine around it lives in client/machine/.
    files: ['cli/**/*.ts', 'bench/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/activities/**', '!**/activities/index.ts'],
              message:
                'cli/ and bench/ reach activities through a worker, or through client/machine/ for work on this machine.',
            },
            // The activity interfaces name what a history holds (the audit describes each activity by them).
            {
              group: ['**/activities/index.ts'],
              allowTypeImports: true,
              message: 'cli/ and bench/ may import only the activity interfaces, as types.',
            },
            {
              group: ['**/workflows/**'],
              allowTypeImports: true,
              message: 'cli/ and bench/ may import only types from workflows/.',
            },
          ],
        },
      ],
    },
  },
  {
    // client/ serves the CLI, the bench and the scripts; of it, only client/machine/ (this host's
    // Docker, git and files, without Temporal) may use the activities' libraries outside workers/.
    files: ['client/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/activities/**'],
              message:
                'Of client/, only client/machine/ may import activities/ (work on this machine, without Temporal).',
            },
            {
              group: ['**/cli/**', '**/bench/**', '**/scripts/**'],
              message: 'client/ serves cli/, bench/ and scripts/, never the other way.',
            },
            {
              group: ['**/workflows/**'],
              allowTypeImports: true,
              message: 'client/ may import only types from workflows/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['client/machine/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/cli/**', '**/bench/**', '**/scripts/**'],
              message: 'client/ serves cli/, bench/ and scripts/, never the other way.',
            },
            {
              group: ['**/workflows/**'],
              allowTypeImports: true,
              message: 'client/ may import only types from workflows/.',
            },
          ],
        },
      ],
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
