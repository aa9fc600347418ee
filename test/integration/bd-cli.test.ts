import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SqliteDatabase as Database } from '../../src/ledger/sqlite/store.js';
import { BD, GT, isolatedEnv, tempDir, workspace } from '../support/env.js';

interface JsonIssue {
  id: string;
  title: string;
  status: string;
  priority: number;
  issue_type: string;
  labels?: string[];
  dependencies?: Array<{ depends_on_id: string; type: string }>;
  dependents?: Array<{ issue_id: string; type: string }>;
  dependency_count?: number;
  dependent_count?: number;
  blocked_by?: string[];
  close_reason?: string;
  schema_version?: number;
}

describe('bd: the protocol Beads scripts rely on', () => {
  it('init, create, show, close (scripttests create.txt, close.txt)', () => {
    const w = workspace('test');
    expect(existsSync(join(w.dir, '.beads', 'beads.db'))).toBe(true);
    const created = w.bd(['create', 'Test issue']);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/Created issue:/);
    const id = /(test-[0-9a-z]+)/.exec(created.stdout)?.[1] as string;
    expect(id).toBeDefined();
    const closed = w.bd(['close', id, '--reason', 'Fixed']);
    expect(closed.stdout).toMatch(new RegExp(`Closed ${id}`));
    expect(w.bd(['show', id]).stdout).toMatch(/closed/);
  });

  it('create errors (create_errors.txt)', () => {
    const w = workspace('test');
    const cases: Array<[string[], RegExp]> = [
      [['create'], /title required/],
      [['create', ''], /title is required/],
      [['create', 'x', '--type', 'invalid-type'], /invalid issue type/],
      [['create', 'x', '--priority', '99'], /invalid priority/],
      [['create', 'x'.repeat(501)], /500 characters or less/],
      [['create', 'x', '--metadata', '{bad json'], /invalid JSON in --metadata/],
      [['create', 'x', '--metadata', '[1,2]'], /must be a JSON object/],
      [['create', 'x', '--due', 'not-a-date'], /invalid --due format/],
    ];
    for (const [args, message] of cases) {
      const r = w.bd(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
    expect(w.json<JsonIssue[]>(['list'])).toEqual([]);
  });

  it('dependencies (dep_add.txt, dep_remove.txt, dep_errors.txt, blocked.txt, ready.txt)', () => {
    const w = workspace('test');
    const a = w.bd(['q', 'First']).stdout.trim();
    const b = w.bd(['q', 'Second', '--deps', a]).stdout.trim();
    expect(w.bd(['blocked']).stdout).toMatch(/test-/);
    expect(w.json<JsonIssue[]>(['ready']).map((i) => i.id)).toEqual([a]);
    const c = w.bd(['q', 'Third']).stdout.trim();
    expect(w.bd(['dep', 'add', c, a]).stdout).toMatch(/Added dependency/);
    expect(w.bd(['show', c]).stdout).toMatch(/Dependencies \(1\)/);
    expect(w.bd(['dep', 'remove', c, a]).stdout).toMatch(/Removed dependency/);
    const unknown = w.bd(['dep', 'add', c, 'test-nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no issue found/);
    expect(w.bd(['dep', 'add', c, c]).stderr).toMatch(/cannot depend on itself/);
    const cycle = w.bd(['dep', 'add', a, b]);
    expect(cycle.code).toBe(1);
    expect(cycle.stderr).toMatch(/would create a dependency cycle/);
    expect(w.bd(['dep', a, '--blocks', c]).stdout).toMatch(`${c} depends on ${a}`);
    const blocked = w.json<JsonIssue[]>(['blocked']);
    expect(blocked.map((i) => [i.id, i.blocked_by])).toEqual(
      expect.arrayContaining([
        [b, [a]],
        [c, [a]],
      ]),
    );
    const tree = w.json<Array<{ id: string; depth: number }>>(['dep', 'tree', b]);
    expect(tree.map((n) => [n.id, n.depth])).toEqual([
      [b, 0],
      [a, 1],
    ]);
    expect(w.json<unknown[]>(['dep', 'cycles'])).toEqual([]);
  });

  it('update (update.txt, update_errors.txt) and unknown IDs exit 1', () => {
    const w = workspace('test');
    const id = w.bd(['q', 'Work']).stdout.trim();
    const claimed = w.bd(['update', id, '--claim']);
    expect(claimed.stdout).toMatch(/Updated issue:/);
    expect(w.bd(['show', id]).stdout).toMatch(/in_progress/);
    expect(w.bd(['update', id, '--priority', '99']).stderr).toMatch(/invalid priority/);
    expect(w.bd(['update', id, '--estimate', '-5']).stderr).toMatch(/estimate must be a non-negative/);
    expect(w.bd(['update', id, '--due', 'not-a-date']).stderr).toMatch(/invalid --due format/);
    expect(w.bd(['update', id, '--title', '  ']).stderr).toMatch(/title is required/);
    expect(w.bd(['update', id, '--status', 'garbage']).stderr).toMatch(/invalid status "garbage"/);
    for (const args of [
      ['show', 'test-zzzz'],
      ['update', 'test-zzzz', '-p', '1'],
      ['close', 'test-zzzz'],
    ]) {
      const r = w.bd(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/no issue found matching "test-zzzz"/);
    }
    const other = w.bd(['update', id, '--claim'], { env: { BD_ACTOR: 'someone-else' } });
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/already claimed by tester/);
  });

  it('close: guard exits 1, partial multi-close exits 0, no ID and nothing touched says so', () => {
    const w = workspace('test');
    expect(w.bd(['close']).stderr).toMatch(/no issue ID provided/);
    const a = w.bd(['q', 'A']).stdout.trim();
    const b = w.bd(['q', 'B', '--deps', a]).stdout.trim();
    const guarded = w.bd(['close', b]);
    expect(guarded.code).toBe(1);
    expect(guarded.stderr).toMatch(new RegExp(`cannot close ${b}: blocked by open issues \\[${a}\\]`));
    const partial = w.bd(['close', a, 'test-nope']);
    expect(partial.code).toBe(0);
    expect(partial.stdout).toMatch(`Closed ${a}`);
    expect(partial.stderr).toMatch(/no issue found/);
    const forced = w.json<JsonIssue>(['close', b, '--force', '-r', 'obsolete']);
    expect(forced).toMatchObject({ id: b, status: 'closed', close_reason: 'obsolete', schema_version: 1 });
    expect(w.bd(['reopen', b]).stdout).toMatch(`Reopened ${b}`);
  });

  it('labels, comments, search, stats, delete preview (label.txt, comments.txt, search.txt, stats.txt, delete.txt)', () => {
    const w = workspace('test');
    const id = w.bd(['q', 'Login is slow']).stdout.trim();
    expect(w.bd(['label', 'add', id, 'perf']).stdout).toMatch(`Added label 'perf' to ${id}`);
    expect(w.json<string[]>(['label', 'list', id])).toEqual(['perf']);
    expect(w.bd(['label', 'add', id, ' ']).stderr).toMatch(/label cannot be empty/);
    expect(w.bd(['comments', 'add', id, 'Repro: log in twice', '--author', 'alice']).stdout).toMatch(/Comment added/);
    expect(w.json<Array<{ author: string; text: string }>>(['comments', id])).toEqual([
      expect.objectContaining({ author: 'alice', text: 'Repro: log in twice' }),
    ]);
    expect(w.bd(['comments', 'add', id, '']).stderr).toMatch(/comment text cannot be empty/);
    expect(w.bd(['search']).stderr).toMatch(/search query is required/);
    expect(w.json<JsonIssue[]>(['search', 'slow']).map((i) => i.id)).toEqual([id]);
    const stats = w.bd(['stats']).stdout;
    expect(stats).toMatch(/Total Issues:\s+1/);
    expect(stats).toMatch(/Open:\s+1/);
    expect(stats).toMatch(/Closed:\s+0/);
    expect(w.bd(['delete', id]).stdout).toMatch(/DELETE PREVIEW/);
    expect(w.json<JsonIssue[]>(['list']).map((i) => i.id)).toEqual([id]);
    expect(w.bd(['delete', id, '--force']).code).toBe(0);
    expect(w.json<JsonIssue[]>(['list'])).toEqual([]);
  });

  it('JSON contract: arrays raw (also empty), objects with schema_version, show is an array, errors are JSON on stderr', () => {
    const w = workspace('test');
    expect(w.bd(['list', '--json']).stdout.trim()).toBe('[]');
    expect(w.bd(['ready', '--json']).stdout.trim()).toBe('[]');
    const created = w.json<JsonIssue>(['create', 'JSON please', '-p', 'P1', '-l', 'a,b']);
    expect(created).toMatchObject({ schema_version: 1, title: 'JSON please', priority: 1, labels: ['a', 'b'] });
    const shown = w.json<JsonIssue[]>(['show', created.id]);
    expect(Array.isArray(shown)).toBe(true);
    expect(shown[0]).toMatchObject({ id: created.id, status: 'open', dependents: [] });
    const ready = w.json<JsonIssue[]>(['ready']);
    expect(ready[0]).toMatchObject({ id: created.id, dependency_count: 0, dependent_count: 0, labels: ['a', 'b'] });
    const error = w.bd(['show', 'test-nope', '--json']);
    expect(error.code).toBe(1);
    expect(JSON.parse(error.stderr)).toMatchObject({ schema_version: 1, code: 'not_found', error: expect.stringMatching(/no issue found/) as string });
  });

  it('child IDs, parent-child visible from both sides, partial IDs', () => {
    const w = workspace('test');
    const epic = w.json<JsonIssue>(['create', 'Epic', '-t', 'epic']);
    const child = w.json<JsonIssue>(['create', 'Child', '--parent', epic.id]);
    expect(child.id).toBe(`${epic.id}.1`);
    const [shownEpic] = w.json<JsonIssue[]>(['show', epic.id]);
    const [shownChild] = w.json<JsonIssue[]>(['show', child.id]);
    expect(shownEpic?.dependents).toEqual([expect.objectContaining({ issue_id: child.id, type: 'parent-child' })]);
    expect(shownChild?.dependencies).toEqual([expect.objectContaining({ depends_on_id: epic.id, type: 'parent-child' })]);
    const hash = epic.id.slice('test-'.length);
    expect(w.json<JsonIssue[]>(['show', hash])[0]?.id).toBe(epic.id);
  });

  it('a write through a partial ID needs it unique and says on stderr which ID it took (as git takes a short hash)', () => {
    const w = workspace('cal');
    for (const id of ['cal-8vj', 'cal-8vk', 'cal-x1']) expect(w.bd(['create', `Work ${id}`, '--id', id]).code).toBe(0);
    const typo = w.bd(['update', 'cal-8v', '--priority', '0']);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('ambiguous ID "cal-8v" matches 2 issues: cal-8vj, cal-8vk');
    const partial = w.bd(['update', 'cal-x', '--priority', '0']);
    expect(partial.code).toBe(0);
    expect(partial.stderr).toBe('Note: "cal-x" resolved to cal-x1\n');
    expect(w.bd(['close', 'x', '--reason', 'done']).stderr).toBe('Note: "x" resolved to cal-x1\n');
    // An exact ID, or the hash without the prefix, is no partial ID: nothing is said.
    expect(w.bd(['reopen', 'cal-x1']).stderr).toBe('');
    expect(w.bd(['label', 'add', 'x1', 'later']).stderr).toBe('');
  });

  it('actor comes from --actor, then BEADS_ACTOR/BD_ACTOR, then git user.name, then $USER', () => {
    const w = workspace('test');
    const by = (args: string[], env: Record<string, string> = {}) => {
      const r = w.bd(['create', 'who', '--json', ...args], { env });
      return (JSON.parse(r.stdout) as { created_by: string }).created_by;
    };
    expect(by(['--actor', 'flag'])).toBe('flag');
    expect(by([], { BEADS_ACTOR: 'beads-env', BD_ACTOR: 'bd-env' })).toBe('beads-env');
    expect(by([], { BD_ACTOR: 'bd-env' })).toBe('bd-env');
    spawnSync('git', ['init', '-q'], { cwd: w.dir });
    spawnSync('git', ['config', 'user.name', 'Git Person'], { cwd: w.dir });
    expect(by([], { BD_ACTOR: '', USER: 'unix' })).toBe('Git Person');
  });

  it('reads never ask git who is acting; the first write does (a fake git first on PATH records calls)', () => {
    const w = workspace('test');
    const bin = join(w.dir, 'fake-bin');
    mkdirSync(bin);
    const calls = join(w.dir, 'git-calls');
    writeFileSync(join(bin, 'git'), `#!/bin/sh\necho "$@" >> ${calls}\necho "Fake Git"\n`, { mode: 0o755 });
    const env = { BD_ACTOR: '', PATH: `${bin}:${process.env.PATH ?? ''}` };
    for (const args of [['ready'], ['list'], ['stats'], ['ready', '--json']]) expect(w.bd(args, { env }).code).toBe(0);
    expect(existsSync(calls)).toBe(false);
    const created = w.bd(['create', 'by git', '--json'], { env });
    expect((JSON.parse(created.stdout) as { created_by: string }).created_by).toBe('Fake Git');
    expect(readFileSync(calls, 'utf8')).toMatch(/config --get user.name/);
  });

  it('finds the ledger by walking up, or through BEADS_DIR; says what to do when there is none', () => {
    const w = workspace('test');
    const nested = join(w.dir, 'a', 'b');
    mkdirSync(nested, { recursive: true });
    expect(w.bd(['q', 'from below'], { cwd: nested }).code).toBe(0);
    const elsewhere = tempDir();
    expect(w.bd(['list', '--json'], { cwd: elsewhere, env: { BEADS_DIR: join(w.dir, '.beads') } }).stdout).toMatch(/from below/);
    const none = w.bd(['list'], { cwd: elsewhere });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no beads database found/);
    expect(none.stderr).toMatch(/bd init/);
  });

  it('inside a gt town (town.toml above, or GT_ROOT) uses the town ledger, not a repo .beads', () => {
    const town = tempDir();
    writeFileSync(join(town, 'town.toml'), 'name = "t"\n');
    const env = isolatedEnv(town);
    const run = (args: string[], cwd: string, extra: Record<string, string> = {}) =>
      spawnSync(process.execPath, [BD, ...args], { cwd, env: { ...env, ...extra }, encoding: 'utf8' });
    const rig = join(town, 'rig', 'crew', 'max');
    mkdirSync(join(rig, '.beads'), { recursive: true });
    const missing = run(['list'], rig);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/inside the gt town .* whose ledger .*\.gt\/ledger\.db does not exist yet/);
    expect(missing.stderr).toMatch(/gt install/);
    const init = run(['init'], rig);
    expect(init.status).toBe(1);
    expect(init.stderr).toMatch(/inside the gt town/);
    mkdirSync(join(town, '.gt'));
    // `bd init` in a town directory creates ./.beads; the town ledger itself is made by gt install (issue 3).
    const db = new Database(join(town, '.gt', 'ledger.db'));
    db.close();
    expect(run(['--db', join(town, '.gt', 'ledger.db'), 'q', 'town work'], rig).status).toBe(0);
    expect(run(['list', '--json'], rig).stdout).toMatch(/town work/);
    expect(run(['list', '--json'], tempDir(), { GT_ROOT: town }).stdout).toMatch(/town work/);
  });

  it('refuses a database written by a newer gt, and changes nothing', () => {
    const w = workspace('test');
    w.bd(['q', 'existing']);
    const path = join(w.dir, '.beads', 'beads.db');
    const db = new Database(path);
    db.pragma('user_version = 999');
    db.close();
    const before = readFileSync(path);
    const r = w.bd(['q', 'new']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/schema version 999, newer than this gt understands/);
    expect(r.stderr).toMatch(/upgrade gt/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('init refuses to overwrite an existing ledger', () => {
    const w = workspace('test');
    const id = w.bd(['q', 'keep me']).stdout.trim();
    const again = w.bd(['init', '--prefix', 'other']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
    expect(w.json<JsonIssue[]>(['list']).map((i) => i.id)).toEqual([id]);
  });

  it('help has examples; unknown commands and flags are usage errors (exit 2)', () => {
    const w = workspace('test');
    expect(w.bd(['--help']).stdout).toMatch(/Examples:/);
    expect(w.bd(['ready', '--help']).stdout).toMatch(/bd ready --claim/);
    const unknown = w.bd(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
    const flag = w.bd(['list', '--bogus']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/unknown option '--bogus'/);
    const gt = spawnSync(process.execPath, [GT, 'bd', 'list', '--json'], { cwd: w.dir, env: w.env, encoding: 'utf8' });
    expect(gt.status).toBe(0);
    expect(gt.stdout.trim()).toBe('[]');
  });

  it('NO_COLOR and non-TTY output carry no escape codes', () => {
    const w = workspace('test');
    w.bd(['q', 'plain']);
    const out = w.bd(['list']).stdout + w.bd(['stats']).stdout;
    expect(out).not.toMatch(/\u001b\[/);
  });
});
