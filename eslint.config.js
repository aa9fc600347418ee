// Lint: type-aware rules for promise safety, plus the dependency direction of
// design §5 and §9: core ← ledger/infra ← app (the composition root) ← cli/daemon/ui/bin,
// and edges never import each other.
import tseslint from 'typescript-eslint';

const layer = (name) => [`**/${name}/*`, `**/${name}/**`, `../${name}`, `../../${name}`];
const forbid = (message, ...layers) => ({
  'no-restricted-imports': ['error', { patterns: [{ group: layers.flatMap(layer), message }] }],
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.bench/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'scripts/*.mjs'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      // Port methods and command bodies are async by contract, whether or not this one awaits.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/shared/**'],
    rules: forbid('shared/ is the bottom layer: it imports nothing of gt', 'core', 'ledger', 'infra', 'cli', 'daemon', 'ui', 'bin'),
  },
  {
    files: ['src/core/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['ledger', 'infra', 'cli', 'daemon', 'ui', 'bin'].flatMap(layer),
              message: 'core/ imports only shared/ and declares ports that ledger/ and infra/ implement (design §5)',
            },
          ],
          paths: ['node:fs', 'node:child_process', 'node:net', 'better-sqlite3', 'commander'].map((name) => ({
            name,
            message: 'core/ does no I/O of its own: declare a port',
          })),
        },
      ],
    },
  },
  {
    files: ['src/ledger/**', 'src/infra/**'],
    rules: forbid('ledger/ and infra/ implement core ports; they never import an edge (cli, daemon, ui)', 'cli', 'daemon', 'ui', 'bin'),
  },
  {
    files: ['src/app/**'],
    rules: forbid('src/app/ is the composition root: edges import it, never the other way round', 'cli', 'daemon', 'ui', 'bin'),
  },
  // Edges reach stores and ports only through the composition root (src/app/).
  {
    files: ['src/cli/**'],
    rules: forbid(
      'cli/ is an edge: it never imports another edge, and gets ledger/ and infra/ only through src/app/',
      'daemon',
      'ui',
      'bin',
      'ledger',
      'infra',
    ),
  },
  {
    files: ['src/daemon/**'],
    rules: forbid(
      'daemon/ is an edge: it never imports another edge, and gets ledger/ and infra/ only through src/app/',
      'cli',
      'ui',
      'bin',
      'ledger',
      'infra',
    ),
  },
  {
    files: ['src/ui/**'],
    rules: forbid(
      'ui/ is an edge: it never imports another edge, and gets ledger/ and infra/ only through src/app/',
      'cli',
      'daemon',
      'bin',
      'ledger',
      'infra',
    ),
  },
  { files: ['src/bin/**'], rules: forbid('bin/ starts an edge; ledger/ and infra/ come through src/app/', 'ledger', 'infra') },
  { files: ['**/*.js', '**/*.mjs'], extends: [tseslint.configs.disableTypeChecked] },
  {
    files: ['test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
