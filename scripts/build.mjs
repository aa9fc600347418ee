// Bundles each CLI into one CommonJS file. Measured on Node 20 (see bench/README):
// one CJS file starts faster than split ESM chunks (no per-module ESM resolution),
// and better-sqlite3's JavaScript is bundled too (its dozen small files cost
// ~10 ms through the module loader); its native addon stays in node_modules.
// Commands are still initialised lazily: only the invoked command's code runs.
import { build } from 'esbuild';
import { chmodSync, readFileSync, rmSync } from 'node:fs';

const version = JSON.parse(readFileSync('package.json', 'utf8')).version;
rmSync('dist', { recursive: true, force: true });
for (const name of ['bd', 'gt']) {
  await build({
    entryPoints: [`src/bin/${name}.ts`],
    outfile: `dist/${name}.cjs`,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    minify: true,
    keepNames: false,
    banner: { js: '#!/usr/bin/env node' },
    define: { __GT_VERSION__: JSON.stringify(version) },
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  chmodSync(`dist/${name}.cjs`, 0o755);
}
