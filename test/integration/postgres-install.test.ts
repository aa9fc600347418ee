import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BD, GT, isolatedEnv, onCleanup, POSTGRES_TESTS, tempDir } from '../support/env.js';
import { freshDatabase, startPostgres } from '../support/postgres.js';

function cli(script: string, args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [script, ...args], { cwd, env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

// Issue 19, a new user's first steps: a town on PostgreSQL is installed whole or not at all, and a mistyped URL says what is wrong.
describe.skipIf(!POSTGRES_TESTS)('gt install --ledger on PostgreSQL', () => {
  it('leaves nothing behind when the database is missing, installs on retry, and --force repairs a PostgreSQL town', async () => {
    const server = await startPostgres();
    const name = `gt_install_${process.pid}_${Date.now()}`;
    const url = new URL(server.url);
    url.pathname = `/${name}`;
    const password = url.password;
    const base = tempDir();
    const root = join(base, 'pgtown');
    const env = isolatedEnv(base, { GT_ROOT: root });
    const gt = (args: string[]) => cli(GT, args, base, env);

    const missing = gt(['install', root, '--ledger', url.toString()]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(new RegExp(`database "?${name}"? does not exist`));
    expect(missing.stderr).toContain(`createdb ${name}`);
    expect(missing.stderr).toMatch(/nothing was changed/);
    expect(missing.stderr).not.toContain(password);
    expect(existsSync(root)).toBe(false);

    await server.createDatabase(name);
    onCleanup(() => server.dropDatabase(url.toString()));
    const retry = gt(['install', root, '--ledger', url.toString(), '--json']);
    expect(retry.code, retry.stderr).toBe(0);
    // The password is masked the same way in --json as in text.
    expect(retry.stdout).toContain(':***@');
    expect(retry.stdout).not.toContain('[redacted]');
    expect(retry.stdout).not.toContain(password);
    expect(existsSync(join(root, 'mayor', 'AGENTS.md'))).toBe(true);

    // --force on a PostgreSQL town puts back a deleted mayor/ (no SQLite file is touched).
    rmSync(join(root, 'mayor'), { recursive: true, force: true });
    const repaired = gt(['install', root, '--force']);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(existsSync(join(root, 'mayor', 'AGENTS.md'))).toBe(true);
    expect(existsSync(join(root, '.gt', 'ledger.db'))).toBe(false);

    // Pointed at an existing empty database, --force makes the schema there.
    const empty = await freshDatabase();
    const toml = join(root, 'town.toml');
    writeFileSync(toml, readFileSync(toml, 'utf8').replace(url.toString(), empty));
    const filled = gt(['install', root, '--force']);
    expect(filled.code, filled.stderr).toBe(0);
    const created = cli(BD, ['create', 'first on the new database', '--silent'], root, env);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout.trim()).toMatch(/^hq-/);
  }, 180_000);
});

describe('ledger.url in town.toml', () => {
  it('a mistyped ledger.url scheme is named as such, by the hot path and the full config alike', () => {
    const base = tempDir();
    const root = join(base, 'town');
    const env = isolatedEnv(base, { GT_ROOT: root });
    const gt = (args: string[]) => cli(GT, args, base, env);
    expect(gt(['install', root]).code).toBe(0);
    const toml = join(root, 'town.toml');
    writeFileSync(toml, `${readFileSync(toml, 'utf8')}\n[ledger]\nurl = "postgress://gt:pw@127.0.0.1:5432/town"\n`);
    for (const run of [gt(['status']), gt(['install', root, '--force']), cli(BD, ['ready'], root, env)]) {
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain('town.toml');
      expect(run.stderr).toContain('ledger.url');
      expect(run.stderr).toMatch(/postgres:\/\/ or postgresql:\/\/ URL, or the path of a SQLite file/);
      expect(run.stderr).not.toMatch(/is missing|bd init|gt install --force/);
      expect(run.stderr).not.toContain(':pw@');
    }
  }, 120_000);
});
