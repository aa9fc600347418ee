/**
 * gt doctor on a real town (issue 14 §6): each fault made by hand with real
 * processes — a deleted worktree, an unknown folder, a daemon killed with
 * SIGKILL, a running session's hook settings removed, a file mode opened, an
 * orphan tmux session, a launcher removed, a stale lock, push protection
 * undone, a runtime that is not installed, no git identity, a config that
 * does not parse, a ledger of an unknown schema — is found; --fix repairs the
 * fixable ones and leaves work alone; a second --fix changes nothing.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteDatabase } from '../../src/ledger/sqlite/store.js';
import { makeTown, waitFor, type TestTown } from '../support/town.js';

interface CheckJson {
  check: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  message: string;
  fix?: string;
  fixable: boolean;
  fixed?: string[];
}
interface DoctorJson {
  ok: boolean;
  checks: CheckJson[];
  summary: { ok: number; warn: number; fail: number; skip: number; fixed: number };
}

function doctor(
  town: TestTown,
  args: string[] = [],
  env: Record<string, string> = {},
): { code: number; report: DoctorJson; byName: Record<string, CheckJson> } {
  const r = town.gt(['doctor', '--json', ...args], { env });
  expect(r.stdout, r.stderr).not.toBe('');
  const report = JSON.parse(r.stdout) as DoctorJson;
  return { code: r.code, report, byName: Object.fromEntries(report.checks.map((c) => [c.check, c])) };
}

const statuses = (report: DoctorJson) => Object.fromEntries(report.checks.map((c) => [c.check, c.status]));

const pidAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('gt doctor', () => {
  it('finds each injected fault, --fix repairs the fixable ones without touching work, and a second --fix changes nothing', async () => {
    const town = makeTown({ rig: 'app' });
    const identity = join(town.base, 'gitconfig');
    writeFileSync(identity, '[user]\n\tname = Pat\n\temail = pat@example.com\n');
    const withIdentity = { GIT_CONFIG_GLOBAL: identity };

    // A crew member with a commit of its own, a daemon, and an agent whose runtime hooks in like Gemini CLI (its settings file is gt's).
    expect(town.gt(['crew', 'add', 'ada', '--rig', 'app']).code).toBe(0);
    const ada = join(town.root, 'app', 'crew', 'ada');
    writeFileSync(join(ada, 'NOTES.md'), 'work in progress\n');
    town.git(ada, ['add', 'NOTES.md']);
    town.git(ada, ['-c', 'user.name=ada', '-c', 'user.email=ada@test', 'commit', '-q', '-m', 'notes']);
    const bot = join(town.base, 'gembot');
    writeFileSync(bot, '#!/bin/sh\nexec sleep 600\n', { mode: 0o755 });
    expect(town.gt(['config', 'agent', 'set', 'gembot', bot, '--like', 'gemini']).code).toBe(0);
    const bead = town.bead('Long work', ['sleep 600']);
    const slung = town.gt(['sling', bead, 'app', '--agent', 'gembot', '--backend', 'tmux']);
    expect(slung.code, slung.stderr).toBe(0);
    const polecat = town.json<Array<{ agent: string; session_alive: boolean }>>(['polecat', 'list'])[0];
    expect(polecat?.session_alive).toBe(true);
    const session = `gt-app-${polecat?.agent.split('/').pop() ?? ''}`;
    const settings = join(town.root, '.gt', 'settings', session, 'gemini-settings.json');
    expect(existsSync(settings)).toBe(true);
    expect(town.gt(['up']).code).toBe(0);

    // A healthy town: exit 0, every check named, nothing failing.
    const healthy = doctor(town, [], withIdentity);
    expect(healthy.code, JSON.stringify(healthy.report.checks.filter((c) => c.status !== 'ok'))).toBe(0);
    expect(healthy.report.checks.length).toBeGreaterThanOrEqual(25);
    for (const name of [
      'worktrees-missing',
      'worktrees-unknown',
      'daemon',
      'hooks-settings',
      'file-modes',
      'orphan-sessions',
      'launchers',
      'stale-locks',
      'push-protection',
      'runtimes',
      'git-identity',
    ])
      expect(healthy.byName[name]?.status, name).toBe('ok');

    // The faults.
    rmSync(ada, { recursive: true, force: true }); // 1. a deleted worktree (its commit lives on in the bare repository)
    const ghost = join(town.root, 'app', 'polecats', 'ghost');
    mkdirSync(ghost, { recursive: true }); // 2. an unknown folder, holding someone's file
    writeFileSync(join(ghost, 'keep.txt'), 'mine\n');
    const daemonPid = Number(readFileSync(join(town.root, '.gt', 'daemon.pid'), 'utf8'));
    process.kill(daemonPid, 'SIGKILL'); // 3. the daemon killed: its pidfile stays
    await waitFor('the daemon to die', () => !pidAlive(daemonPid));
    rmSync(settings); // 4. a running session's hook settings gone
    expect(town.tmux(['new-session', '-d', '-s', 'gt-app-stray', 'sleep', '600']).code).toBe(0); // 6. an orphan session
    expect(town.gt(['config', 'agent', 'set', 'ghostbot', join(town.base, 'no-such-bot')]).code).toBe(0);
    expect(town.gt(['config', 'set', 'role_agents.crew', 'ghostbot']).code).toBe(0); // 7. a runtime that is not installed
    rmSync(join(town.root, '.gt', 'bin', 'bd')); // 8. a launcher gone
    chmodSync(join(town.root, 'town.toml'), 0o644); // 5. (after the config writes, which write it 0600) a private file opened to others
    mkdirSync(join(town.root, '.gt', 'locks'), { recursive: true });
    writeFileSync(join(town.root, '.gt', 'locks', 'refinery-app.lock'), '2147483646\n'); // 9. a lock whose holder is gone
    town.git(join(town.root, 'app', '.repo.git'), ['config', 'receive.denyDeletes', 'false']); // 10. push protection undone
    // 11. no git identity: the environment without withIdentity (GIT_CONFIG_GLOBAL=/dev/null).

    const sick = doctor(town);
    expect(sick.code).toBe(1);
    expect(sick.report.ok).toBe(false);
    const found = statuses(sick.report);
    expect(found).toMatchObject({
      'worktrees-missing': 'fail',
      'worktrees-unknown': 'warn',
      daemon: 'fail',
      'hooks-settings': 'fail',
      'file-modes': 'fail',
      'orphan-sessions': 'warn',
      runtimes: 'fail',
      launchers: 'fail',
      'stale-locks': 'warn',
      'push-protection': 'fail',
      'git-identity': 'warn',
    });
    expect(sick.byName['worktrees-missing']?.message).toContain('app/crew/ada');
    expect(sick.byName['worktrees-unknown']?.message).toContain('app/polecats/ghost');
    expect(sick.byName['daemon']?.message).toContain('died');
    expect(sick.byName['hooks-settings']?.message).toContain(`${session}/gemini-settings.json is missing`);
    expect(sick.byName['file-modes']?.message).toContain('town.toml (644)');
    expect(sick.byName['orphan-sessions']?.message).toContain('gt-app-stray');
    expect(sick.byName['runtimes']?.message).toContain('no-such-bot');
    expect(sick.byName['launchers']?.message).toContain('.gt/bin/bd: missing');
    expect(sick.byName['git-identity']?.message).toContain('user.name');
    expect(sick.report.checks.every((c) => c.status === 'ok' || (c.message !== '' && c.fix !== undefined))).toBe(true);
    expect(sick.byName['runtimes']?.fixable).toBe(false);
    expect(sick.byName['worktrees-unknown']?.fixable).toBe(false);

    // The text form says the same, and offers --fix.
    const text = town.gt(['doctor']);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/FAIL {2}daemon +the daemon died/);
    expect(text.stdout).toContain('gt doctor --fix repairs what it safely can');

    // --fix: the fixable ones repaired, then looked at again.
    const fixed = doctor(town, ['--fix']);
    const after = statuses(fixed.report);
    expect(after).toMatchObject({
      'worktrees-missing': 'ok',
      daemon: 'ok',
      'hooks-settings': 'ok',
      'file-modes': 'ok',
      'orphan-sessions': 'ok',
      launchers: 'ok',
      'stale-locks': 'ok',
      'push-protection': 'ok',
      // Not fixable by gt: they stay, named.
      'worktrees-unknown': 'warn',
      runtimes: 'fail',
      'git-identity': 'warn',
    });
    expect(fixed.code).toBe(1); // the missing runtime still fails
    expect(fixed.report.summary.fixed).toBeGreaterThanOrEqual(8);
    expect(fixed.byName['worktrees-missing']?.fixed).toEqual(['recreated app/crew/ada on crew/ada']);
    // Work is kept: the recreated worktree has ada's commit, the unknown folder its file, the polecat its session.
    expect(town.git(ada, ['log', '-1', '--format=%s'])).toBe('notes\n');
    expect(readFileSync(join(ghost, 'keep.txt'), 'utf8')).toBe('mine\n');
    expect(statSync(join(town.root, 'town.toml')).mode & 0o777).toBe(0o600);
    expect(existsSync(settings)).toBe(true);
    expect(town.tmux(['has-session', '-t', '=gt-app-stray']).code).not.toBe(0);
    expect(town.tmux(['has-session', '-t', `=${session}`]).code).toBe(0);
    const newPid = Number(readFileSync(join(town.root, '.gt', 'daemon.pid'), 'utf8'));
    expect(newPid).not.toBe(daemonPid);
    expect(pidAlive(newPid)).toBe(true);

    // A second --fix finds nothing more to change.
    const again = doctor(town, ['--fix']);
    expect(again.report.summary.fixed).toBe(0);
    expect(again.report.checks.filter((c) => c.fixed)).toEqual([]);
    expect(statuses(again.report)).toEqual(after);

    // With the runtime put right and an identity, the town passes.
    expect(town.gt(['config', 'unset', 'role_agents.crew']).code).toBe(0);
    const well = doctor(town, [], withIdentity);
    expect(well.code, JSON.stringify(well.report.checks.filter((c) => c.status === 'fail'))).toBe(0);
  }, 300_000); // eight doctor runs and a daemon on a busy 2-core machine

  it('reports a config that does not parse and a ledger of an unknown schema, and the checks that cannot look say why', () => {
    const town = makeTown({ rig: 'app' });
    const townToml = join(town.root, 'town.toml');
    const good = readFileSync(townToml, 'utf8');
    writeFileSync(townToml, `${good}\n[daemon]\nintervall = "5s"\n`);
    let r = doctor(town);
    expect(r.code).toBe(1);
    expect(r.byName['config-files']).toMatchObject({ status: 'fail' });
    expect(r.byName['config-files']?.message).toContain('town.toml');
    expect(r.byName['budgets']).toMatchObject({ status: 'skip', message: 'not checked: town.toml does not parse (see config-files)' });
    writeFileSync(townToml, good);

    const rigToml = join(town.root, 'app', 'rig.toml');
    const goodRig = readFileSync(rigToml, 'utf8');
    writeFileSync(rigToml, goodRig.replace(/prefix = "app"/, 'prefix = "App!"'));
    r = doctor(town);
    expect(r.byName['config-files']?.status).toBe('fail');
    expect(r.byName['config-files']?.message).toMatch(/app\/rig\.toml.*prefix/);
    writeFileSync(rigToml, goodRig);

    const ledger = join(town.root, '.gt', 'ledger.db');
    const db = new SqliteDatabase(ledger);
    const version = db.pragma('user_version', { simple: true }) as number;
    db.pragma('user_version = 999');
    db.close();
    r = doctor(town);
    expect(r.code).toBe(1);
    expect(r.byName['ledger-schema']).toMatchObject({ status: 'fail', fixable: false });
    expect(r.byName['ledger-schema']?.message).toContain('schema version 999, newer than this gt understands');
    expect(r.byName['hooked-work']?.status).toBe('skip');
    // --fix leaves a ledger it does not understand alone.
    doctor(town, ['--fix']);
    const check = new SqliteDatabase(ledger);
    expect(check.pragma('user_version', { simple: true })).toBe(999);
    check.pragma(`user_version = ${version}`);
    check.close();
    expect(doctor(town).code).toBe(0);
  }, 150_000);
});
