// Bundles each CLI into CommonJS files. Measured on Node 20 (see bench/README):
// one CJS file starts faster than split ESM chunks (no per-module ESM resolution),
// and better-sqlite3's JavaScript is bundled too (its dozen small files cost
// ~10 ms through the module loader); its native addon stays in node_modules.
// Commands are still initialised lazily: only the invoked command's code runs.
// gt is a tiny launcher over two bundles: gt-hot.cjs for the commands agent
// hooks run every turn (prime, signal, hook, mail check) and gt-full.cjs for
// the rest, because V8 parses a whole bundle before running it (~40 ms for
// the full one on these machines).
import { build } from 'esbuild';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';

const version = JSON.parse(readFileSync('package.json', 'utf8')).version;
// Replaces src/core/town/config.ts, however it is imported ('./config.js' from core/town too), with `stand-in`.
const CONFIG = resolve('src/core/town/config.js');
const replaceConfig = (name, standIn) => ({
  name,
  setup(b) {
    b.onResolve({ filter: /(^|\/)config\.js$/ }, (args) => (resolve(args.resolveDir, args.path) === CONFIG ? { path: resolve(standIn) } : undefined));
  },
});
// The session host and the hot commands load the config schemas on first use, from a bundle of their own
// (the hot commands only for a rare event: a rate limit reported through `gt signal stop-failure`).
const lazyConfig = replaceConfig('lazy-config', 'scripts/lazy-config.ts');
// node:child_process, node:crypto, node:tty and node:http load ~20 more built-in modules (streams,
// net, dgram; the crypto classes): ~2-3 ms and ~2 MB of peak memory each on every start (measured on `bd
// ready`), though a read never spawns, hashes or asks about a terminal. In the hot bundles their functions are forwarders that
// load the module on first call. Only functions can be forwarded: importing any other name from
// these modules fails the build here ("No matching export"), it never misbehaves at run time.
const LAZY_BUILTINS = {
  child_process: ['spawn', 'spawnSync', 'execFile', 'execFileSync', 'exec', 'execSync', 'fork'],
  crypto: ['createHash', 'createHmac', 'randomBytes', 'randomUUID', 'timingSafeEqual'],
  tty: ['isatty'],
  http: ['createServer', 'request', 'get'],
};
// bd's config and formula commands validate with zod (~450 KB, more than half of bd's bundle); bd ready,
// create and the other hot commands never run it, yet V8 reads and keeps every byte of a bundle. In bd
// it is a file of its own (dist/gt-zod.cjs), required by the modules that use it when they first load.
const zodApart = {
  name: 'zod-apart',
  setup(b) {
    b.onResolve({ filter: /^zod(\/.*)?$/ }, (args) => (args.path === 'zod' ? { path: './gt-zod.cjs', external: true } : undefined));
  },
};
// node-postgres's lib/stream.js without its Cloudflare Workers probe (see scripts/pg-stream.mjs).
const pgNodeStreams = {
  name: 'pg-node-streams',
  setup(b) {
    b.onResolve({ filter: /^\.\/stream(\.js)?$/ }, (args) =>
      /\/node_modules\/pg\/lib$/.test(args.resolveDir) ? { path: resolve('scripts/pg-stream.mjs') } : undefined,
    );
  },
};
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    // gt's own code and commander; other packages (nodemailer, behind a dynamic import) keep the module as it is.
    b.onResolve({ filter: /^(node:)?(child_process|crypto|tty|http)$/ }, (args) =>
      args.namespace === 'lazy-builtin'
        ? { path: args.path, external: true }
        : /\/node_modules\//.test(args.importer) && !/\/node_modules\/commander\//.test(args.importer)
          ? undefined
          : { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' },
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: [
        `let m; const load = () => (m ??= require('node:${args.path}'));`,
        ...LAZY_BUILTINS[args.path].map((name) => `export function ${name}(...a) { return load().${name}(...a); }`),
      ].join('\n'),
      loader: 'js',
    }));
  },
};
rmSync('dist', { recursive: true, force: true });
for (const [entry, out, plugins] of [
  ['src/bin/bd.ts', 'bd', []],
  ['src/bin/bd-main.ts', 'bd-main', [lazyBuiltins, zodApart]],
  ['scripts/zod.ts', 'gt-zod', []],
  ['src/bin/gt.ts', 'gt', []],
  ['src/bin/gt-full.ts', 'gt-full', [lazyBuiltins]],
  ['src/bin/gt-hot.ts', 'gt-hot', [lazyConfig, lazyBuiltins]],
  ['src/bin/gt-host.ts', 'gt-host', [lazyConfig]],
  ['src/core/town/config.ts', 'gt-config', []],
  // The daemon's OTLP exporter (the OpenTelemetry SDK), loaded only when [telemetry] otlp_endpoint is set.
  ['src/infra/telemetry.ts', 'gt-otel', []],
  // The PostgreSQL ledger store with node-postgres, loaded only for a postgres:// ledger (issue 19).
  ['src/ledger/postgres/store.ts', 'gt-pg', [pgNodeStreams]],
]) {
  await build({
    entryPoints: [entry],
    outfile: `dist/${out}.cjs`,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    minify: process.env.GT_NO_MINIFY !== '1',
    keepNames: false,
    banner: { js: '#!/usr/bin/env node' },
    define: { __GT_VERSION__: JSON.stringify(version) },
    sourcemap: 'linked',
    logLevel: 'warning',
    // The dashboard resolves htmx from its own file: __filename in a bundle, import.meta.url from source (never both).
    logOverride: { 'empty-import-meta': 'silent' },
    plugins,
  });
  chmodSync(`dist/${out}.cjs`, 0o755);
}
// gt feed's terminal UI (Ink and React) is an ES module bundle of its own: Ink's layout engine
// needs top-level await, and no other command should parse it. dist/gt-full.cjs imports it
// only when `gt feed` runs; the core calls it makes stay in gt-full (src/ui/feed/run.ts).
await build({
  entryPoints: ['src/ui/feed/app.ts'],
  outfile: 'dist/gt-feed.mjs',
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  logLevel: 'warning',
  // Ink connects to React's devtools only when DEV=true (a package gt does not ship): a stand-in.
  plugins: [
    {
      name: 'no-devtools',
      setup(b) {
        b.onResolve({ filter: /^react-devtools-core$/ }, () => ({ path: 'react-devtools-core', namespace: 'stand-in' }));
        b.onLoad({ filter: /.*/, namespace: 'stand-in' }, () => ({ contents: 'export default { initialize() {}, connectToDevTools() {} };', loader: 'js' }));
      },
    },
  ],
  // The CommonJS packages inside (React) need a require.
  banner: { js: "import { createRequire as __gtRequire } from 'node:module'; const require = __gtRequire(import.meta.url);" },
  define: { 'process.env.NODE_ENV': '"production"' },
});
