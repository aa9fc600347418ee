// Bundles the CLIs. Each bin is a tiny entry that loads only the command it runs:
// esbuild splits every dynamically imported command into its own chunk, so a hot
// command such as `bd ready` parses and compiles only what it needs.
import { build } from 'esbuild';
import { chmodSync, readFileSync, rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: { bd: 'src/bin/bd.ts', gt: 'src/bin/gt.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3'],
  // commander is CommonJS: give every ESM chunk a real `require` for its node: imports.
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __gtRequire } from 'node:module';\nconst require = __gtRequire(import.meta.url);" },
  define: { __GT_VERSION__: JSON.stringify(JSON.parse(readFileSync('package.json', 'utf8')).version) },
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  logLevel: 'warning',
});
chmodSync('dist/bd.js', 0o755);
chmodSync('dist/gt.js', 0o755);
