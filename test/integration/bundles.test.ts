/**
 * What each bundle carries (design §4: the commands hooks run every turn start
 * fast). Node parses a whole bundle before running any of it, so the config
 * schemas (zod, ~475 KB) must stay out of the hot and session-host bundles, and
 * the launcher must hold nothing but the choice of bundle. A module that pulls
 * them in again (it happened: a hot command's import chain reached the config)
 * fails here, not in a benchmark nobody runs.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BD, GT, isolatedEnv, ROOT, runAsync, tempDir } from '../support/env.js';

const bundle = (name: string) => join(ROOT, 'dist', name);

describe('the bundles', () => {
  it('keep the config schemas out of the hot and session-host bundles; the full one has them', () => {
    for (const name of ['gt-hot.cjs', 'gt-host.cjs']) {
      expect(readFileSync(bundle(name), 'utf8').includes('ZodError'), `${name} holds zod`).toBe(false);
      expect(statSync(bundle(name)).size, `${name} size`).toBeLessThan(250_000);
    }
    expect(readFileSync(bundle('gt-full.cjs'), 'utf8')).toContain('ZodError');
  });

  it('keep zod out of bd: its config and formula commands load it from a file of its own', () => {
    expect(readFileSync(bundle('bd-main.cjs'), 'utf8').includes('ZodError')).toBe(false);
    expect(readFileSync(bundle('gt-zod.cjs'), 'utf8')).toContain('ZodError');
  });

  it("keep node-postgres's Cloudflare Workers probe out of gt-pg (on Node 20 it loads Node's fetch on every connection)", () => {
    const pgBundle = readFileSync(bundle('gt-pg.cjs'), 'utf8');
    expect(pgBundle).not.toContain('Cloudflare');
    expect(pgBundle).toContain('getBuiltinModule("node:net")');
  });

  it('the launchers hold only the choice of bundle and the compile cache', () => {
    expect(statSync(bundle('gt.cjs')).size).toBeLessThan(4_000);
    expect(statSync(bundle('bd.cjs')).size).toBeLessThan(4_000);
  });
});

// Node 20 keeps gt's own cache files (vm.Script cached data); Node 22 and later Node's compile cache, in <dir>/node.
const OWN_CACHE = Number(process.versions.node.split('.')[0]) < 22;

describe('the compile cache', () => {
  const setup = () => {
    const dir = tempDir();
    const cache = join(dir, 'cache');
    const env = isolatedEnv(dir, { GT_COMPILE_CACHE: cache });
    const bd = (args: string[], extra: Record<string, string> = {}) => {
      const r = spawnSync(process.execPath, [BD, ...args], { cwd: dir, env: { ...env, ...extra }, encoding: 'utf8', timeout: 60_000 });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const files = () => readdirSync(cache).filter((f) => f.endsWith('.v8'));
    expect(bd(['init', '--prefix', 'cc']).code).toBe(0);
    return { dir, cache, env, bd, files };
  };

  it('is written on the first run, used on the next, and the output is the same', () => {
    const { cache, bd, files } = setup();
    const first = bd(['create', 'Cached start', '--json']);
    expect(first.code).toBe(0);
    if (OWN_CACHE) expect(files().some((f) => f.startsWith('bd-main-create-'))).toBe(true);
    else expect(readdirSync(join(cache, 'node')).length).toBeGreaterThan(0);
    const listed = bd(['list', '--json']);
    const again = bd(['list', '--json']);
    expect(again).toEqual(listed);
    expect((JSON.parse(again.stdout) as Array<{ title: string }>).map((i) => i.title)).toEqual(['Cached start']);
  });

  it.runIf(OWN_CACHE)('survives a corrupt or truncated cache file: runs as without one and writes a good one', () => {
    const { cache, bd, files } = setup();
    expect(bd(['create', 'One', '--json']).code).toBe(0);
    expect(bd(['list']).code).toBe(0);
    const [file] = files().filter((f) => f.startsWith('bd-main-list-'));
    const path = join(cache, file as string);
    const size = statSync(path).size;
    // Same length, garbage inside: V8 rejects it (its checks), the process compiles and replaces it.
    writeFileSync(path, Buffer.alloc(size, 0x5a));
    const corrupt = bd(['list']);
    expect(corrupt.code).toBe(0);
    expect(corrupt.stdout).toContain('One');
    const [rewritten] = files().filter((f) => f.startsWith('bd-main-list-'));
    expect(readFileSync(join(cache, rewritten as string)).equals(Buffer.alloc(size, 0x5a))).toBe(false);
    // Cut short (a crash mid-write cannot leave this — writes are renamed into place — but a full disk might).
    writeFileSync(join(cache, rewritten as string), readFileSync(join(cache, rewritten as string)).subarray(0, 100));
    const truncated = bd(['list']);
    expect(truncated.code).toBe(0);
    expect(truncated.stdout).toContain('One');
  });

  it('is safe when many processes write it at once, and never needed: an unwritable place only costs speed', async () => {
    const { dir, cache, env, bd, files } = setup();
    const results = await Promise.all(Array.from({ length: 6 }, () => runAsync(BD, ['ready', '--json'], { cwd: dir, env })));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    if (OWN_CACHE) {
      expect(files().filter((f) => f.startsWith('bd-main-ready-'))).toHaveLength(1);
      expect(readdirSync(cache).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    }
    // A cache directory that cannot be made (its parent is a file).
    writeFileSync(join(dir, 'a-file'), '');
    const readOnly = bd(['ready', '--json'], { GT_COMPILE_CACHE: join(dir, 'a-file', 'cache') });
    expect(readOnly.code, readOnly.stderr).toBe(0);
    expect(readOnly.stdout.trim()).toBe('[]');
    const off = bd(['ready', '--json'], { GT_COMPILE_CACHE: 'off' });
    expect(off.stdout.trim()).toBe('[]');
  });

  it.runIf(OWN_CACHE)("covers gt's full bundle too: written by the first command, then used by every other one", () => {
    const { dir, cache, env, files } = setup();
    const gt = (args: string[]) => spawnSync(process.execPath, [GT, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
    const first = gt(['version']);
    expect(first.status, first.stderr).toBe(0);
    expect(files().filter((f) => f.startsWith('gt-full-full-'))).toHaveLength(1);
    const [file] = files().filter((f) => f.startsWith('gt-full-full-'));
    const written = statSync(join(cache, file as string)).mtimeMs;
    // Used, not rewritten: the next command (another one) runs from it.
    expect(gt(['version']).stdout).toBe(first.stdout);
    expect(gt(['help']).status).toBe(0);
    expect(statSync(join(cache, file as string)).mtimeMs).toBe(written);
  });

  it.runIf(OWN_CACHE)('covers the bundles a bundle loads on demand: bd cook loads zod from gt-zod.cjs through a cache file of its own', () => {
    const { bd, files } = setup();
    const first = bd(['cook', 'nosuch']);
    expect(first.stderr).toContain('no formula named "nosuch"');
    expect(files().filter((f) => f.startsWith('gt-zod-lib-'))).toHaveLength(1);
    expect(bd(['cook', 'nosuch'])).toEqual(first);
    expect(files().filter((f) => f.startsWith('gt-zod-lib-'))).toHaveLength(1);
  });
});
