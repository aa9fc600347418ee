/**
 * Loads a bundle through V8's code cache. Compiling a bundle is most of what a
 * hot command costs over a bare `node` (measured with --cpu-prof on `bd ready`:
 * 25 ms of ~95 ms), and it is the same work on every run, so the compiled code
 * is kept on disk and reused:
 *   - Node 22 and later: Node's own `module.enableCompileCache()`;
 *   - Node 20: `vm.Script` with `cachedData`, written when the process exits
 *     (so the cache holds the functions the command actually ran, not only the
 *     top level), one file per bundle and command kind (gt's full bundle and
 *     its hosts one each: the first run's functions, and the rest compiled
 *     lazily as before).
 * The cache lives in $XDG_CACHE_HOME/gt (or ~/.cache/gt, else the temp dir);
 * GT_COMPILE_CACHE=off turns it off, GT_COMPILE_CACHE=<dir> moves it. It is
 * only ever an accelerator: a missing, stale, truncated or foreign file is
 * ignored (V8 checks its version, flags and source length; the file's own
 * length and the bundle's size and mtime are in its name), writes go to a
 * private temporary file renamed into place (two processes writing at once
 * both leave a whole file), and any failure to read or write falls back to a
 * plain compile without a word.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { constants, Script } from 'node:vm';

type Wrapped = (exports: unknown, require: NodeJS.Require, module: { exports: unknown }, filename: string, dirname: string) => void;

function cacheDir(env: NodeJS.ProcessEnv): string | undefined {
  const setting = env.GT_COMPILE_CACHE;
  if (setting === 'off' || setting === '0' || env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  if (setting) return setting;
  const base = env.XDG_CACHE_HOME || (env.HOME ? join(env.HOME, '.cache') : undefined);
  return base ? join(base, 'gt') : join(tmpdir(), `gt-cache-${process.getuid?.() ?? 'user'}`);
}

/** Makes the directory; false when it cannot be (a read-only home): the caller then runs without a cache. */
function ensureDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs the CommonJS bundle `file` (a sibling of the launcher). `kind` names
 * the cache file on Node 20, so `bd ready` and `bd create` each keep the code
 * they run; `kind` undefined loads the bundle plainly there. A bundle run from
 * the cache on Node 20 cannot import() (vm.Script needs an experimental loader
 * for it): gt's launcher lends its own import for the feed's ES module.
 */
export function runBundle(file: string, kind?: string): void {
  const dir = cacheDir(process.env);
  const enable = (Module as { enableCompileCache?: (dir: string) => unknown }).enableCompileCache;
  if (dir === undefined || kind === undefined || typeof enable === 'function') {
    if (dir !== undefined && typeof enable === 'function') {
      try {
        enable(join(dir, 'node'));
      } catch {
        // No cache then.
      }
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the bundle is chosen at run time
    require(file);
    return;
  }
  runCached(file, kind, dir);
}

/**
 * The bundles a bundle loads on demand (`gt-pg.cjs` for a PostgreSQL ledger, `gt-config.cjs`,
 * `gt-zod.cjs`, `gt-otel.cjs`): siblings in the same folder, required by path. Through the
 * cache too, one file each, and once per process like any module.
 */
const siblings = new Map<string, unknown>();

function requireFor(file: string, dir: string): NodeJS.Require {
  const plain = createRequire(file);
  const folder = dirname(file);
  const wrapped = ((id: string) => {
    const path = id.startsWith('./') ? join(folder, id.slice(2)) : id;
    if (!path.endsWith('.cjs') || dirname(path) !== folder) return plain(id) as unknown;
    if (!siblings.has(path)) siblings.set(path, runCached(path, 'lib', dir));
    return siblings.get(path);
  }) as NodeJS.Require;
  return Object.assign(wrapped, { resolve: plain.resolve, cache: plain.cache, main: plain.main, extensions: plain.extensions });
}

function runCached(file: string, kind: string, dir: string): unknown {
  const source = readFileSync(file, 'utf8');
  const stat = statSync(file);
  // Everything that makes compiled code stale is in the name: the bundle (size, mtime), the engine, the command kind;
  // and where the bundle is, so two installs (a global gt and a project's) do not replace each other's files.
  const stem = `${basename(file, '.cjs')}-${kind}-${pathHash(dirname(file))}-`;
  const name = `${stem}${process.version}-${process.arch}-${stat.size}-${Math.trunc(stat.mtimeMs)}`;
  let cached: Buffer | undefined;
  let expected = 0;
  try {
    const found = readdirSafe(dir).find((f) => f.startsWith(`${name}-`) && f.endsWith('.v8'));
    if (found) {
      expected = Number(found.slice(name.length + 1, -3));
      const data = readFileSync(join(dir, found));
      if (data.length === expected) cached = data;
    }
  } catch {
    cached = undefined;
  }
  // The CommonJS wrapper, as Node's loader adds it; the bundle's shebang line is blanked in place (same length, same line numbers).
  const body = source.startsWith('#!') ? `//${source.slice(2)}` : source;
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${body}\n})`, {
    filename: file,
    ...(cached ? { cachedData: cached } : {}),
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (!cached || script.cachedDataRejected) {
    process.once('exit', () => {
      try {
        if (!ensureDir(dir)) return;
        const data = script.createCachedData();
        const temp = join(dir, `.${name}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
        writeFileSync(temp, data);
        renameSync(temp, join(dir, `${name}-${data.length}.v8`));
        // Older builds' and engines' caches of this bundle and kind are dead weight.
        for (const f of readdirSafe(dir)) if (f.startsWith(stem) && !f.startsWith(`${name}-${data.length}.`)) unlinkSync(join(dir, f));
      } catch {
        // A cache that cannot be written is only a slower next start.
      }
    });
  }
  const module = { exports: {} };
  (script.runInThisContext() as Wrapped)(module.exports, requireFor(file, dir), module, file, dirname(file));
  return module.exports;
}

/** FNV-1a of a path, in base 36: a short stable name for it (node:crypto would cost more than the whole lookup). */
function pathHash(path: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(36);
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
