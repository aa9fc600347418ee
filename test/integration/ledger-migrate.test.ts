import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BD, GT, isolatedEnv, POSTGRES_TESTS, tempDir } from '../support/env.js';
import { freshDatabase } from '../support/postgres.js';

function cli(script: string, args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [script, ...args], { cwd, env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

// Issue 19: a town's ledger moves between SQLite and PostgreSQL, verified, and only then switched.
describe.skipIf(!POSTGRES_TESTS)('gt ledger migrate', () => {
  it('moves a town to PostgreSQL and back with identical exports; refuses a non-empty target; never prints the password', async () => {
    const base = tempDir();
    const root = join(base, 'town');
    const env = isolatedEnv(base, { GT_ROOT: root });
    const gt = (args: string[]) => cli(GT, args, base, env);
    const bd = (args: string[]) => cli(BD, args, root, env);
    expect(gt(['install', root]).code).toBe(0);
    const a = bd(['create', 'first', '-l', 'api', '--silent']).stdout.trim();
    const b = bd(['create', 'second', '-p', '1', '--silent']).stdout.trim();
    expect(bd(['dep', 'add', b, a]).code).toBe(0);
    expect(bd(['comments', 'add', a, 'a note']).code).toBe(0);
    expect(bd(['close', a]).code).toBe(0);
    const before = bd(['export', '--all']).stdout;
    expect(before).toContain('"a note"');

    const url = await freshDatabase();
    const password = new URL(url).password;
    const to = gt(['ledger', 'migrate', '--to', url, '--json']);
    expect(to.code, to.stderr).toBe(0);
    expect(`${to.stdout}${to.stderr}`).not.toContain(password);
    const result = JSON.parse(to.stdout) as { tables: Record<string, number>; switched: boolean; to: string };
    expect(result).toMatchObject({ switched: true, tables: { issues: 2, dependencies: 1, labels: 1, comments: 1 } });
    expect(result.to).toMatch(/^postgres:\/\/postgres:\S+@127\.0\.0\.1/);
    expect(result.to).not.toContain(password);
    expect(readFileSync(join(root, 'town.toml'), 'utf8')).toContain(url);
    // The town now runs on PostgreSQL: the same export, and new writes land there.
    expect(bd(['export', '--all']).stdout).toBe(before);
    expect(bd(['ready', '--json']).stdout).toContain(b);
    const c = bd(['create', 'third, on postgres', '--silent']).stdout.trim();
    const onPostgres = bd(['export', '--all']).stdout;
    expect(onPostgres).toContain(c);

    // Back to SQLite: the old file is still there, so it takes --force; without it nothing changes.
    const refused = gt(['ledger', 'migrate', '--to', 'sqlite']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/already exists; nothing was changed/);
    expect(readFileSync(join(root, 'town.toml'), 'utf8')).toContain(url);
    const back = gt(['ledger', 'migrate', '--to', 'sqlite', '--force']);
    expect(back.code, back.stderr).toBe(0);
    expect(`${back.stdout}${back.stderr}`).not.toContain(password);
    expect(readFileSync(join(root, 'town.toml'), 'utf8')).not.toContain('postgres://');
    expect(bd(['export', '--all']).stdout).toBe(onPostgres);

    // The PostgreSQL database still holds the town: migrating into it again is refused as not empty.
    const again = gt(['ledger', 'migrate', '--to', url]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/is not empty .*nothing was changed/);
    expect(`${again.stdout}${again.stderr}`).not.toContain(password);
    expect(readFileSync(join(root, 'town.toml'), 'utf8')).not.toContain('postgres://');
  }, 180_000);
});
