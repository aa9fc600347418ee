import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteDatabase as Database } from '../../src/ledger/sqlite/store.js';
import { GT, workspace } from '../support/env.js';

interface Item {
  id: string;
  title: string;
  status: string;
  defer_until?: string;
}

describe('bd queries and filters', () => {
  it('list filters: status, type, priority, labels (all/any/none), assignee, parent, metadata', () => {
    const w = workspace('q');
    const epic = w.json<Item>(['create', 'Epic', '-t', 'epic', '-l', 'area:auth']);
    const bug = w.json<Item>(['create', 'Login bug', '-t', 'bug', '-p', '0', '-l', 'area:auth,urgent', '--parent', epic.id, '-a', 'alice']);
    const task = w.json<Item>(['create', 'Docs', '-p', '3', '-l', 'docs', '--metadata', '{"team":"core","size":3}']);
    w.bd(['close', task.id]);
    const ids = (args: string[]) =>
      w
        .json<Item[]>(['list', ...args])
        .map((i) => i.id)
        .sort();
    expect(ids([])).toEqual([epic.id, bug.id].sort());
    expect(ids(['--all'])).toEqual([epic.id, bug.id, task.id].sort());
    expect(ids(['--status', 'closed'])).toEqual([task.id]);
    expect(ids(['-t', 'bug'])).toEqual([bug.id]);
    expect(ids(['-p', 'P0'])).toEqual([bug.id]);
    expect(ids(['-l', 'area:auth,urgent'])).toEqual([bug.id]);
    expect(ids(['--all', '--label-any', 'urgent,docs'])).toEqual([bug.id, task.id].sort());
    expect(ids(['--exclude-label', 'urgent'])).toEqual([epic.id]);
    expect(ids(['-a', 'alice'])).toEqual([bug.id]);
    expect(ids(['--no-assignee'])).toEqual([epic.id]);
    expect(ids(['--parent', epic.id])).toEqual([bug.id]);
    expect(ids(['--no-parent', '--all'])).toEqual([epic.id, task.id].sort());
    expect(ids(['--all', '--metadata-field', 'team=core'])).toEqual([task.id]);
    expect(ids(['--all', '--has-metadata-key', 'size'])).toEqual([task.id]);
    expect(ids(['--all', '--title-contains', 'login'])).toEqual([bug.id]);
    const limited = w.bd(['list', '-n', '1', '--json']);
    expect((JSON.parse(limited.stdout) as Item[]).map((i) => i.id)).toEqual([bug.id]);
    expect(limited.stderr).toMatch(/showing the first 1/);
    expect(w.bd(['list', '--sort', 'bogus']).stderr).toMatch(/invalid --sort "bogus"/);
  });

  it('ready --explain says why each issue is ready or blocked', () => {
    const w = workspace('q');
    const a = w.bd(['q', 'A']).stdout.trim();
    const b = w.bd(['q', 'B', '--deps', a]).stdout.trim();
    const explained = w.json<{
      ready: Array<{ id: string; reason: string }>;
      blocked: Array<{ id: string; blocked_by: Array<{ id: string; status: string }> }>;
      summary: { total_ready: number; total_blocked: number; cycle_count: number };
    }>(['ready', '--explain']);
    expect(explained.ready).toEqual([expect.objectContaining({ id: a, reason: 'no blocking dependencies' })]);
    expect(explained.blocked).toEqual([expect.objectContaining({ id: b, blocked_by: [expect.objectContaining({ id: a, status: 'open' })] })]);
    expect(explained.summary).toEqual({ total_ready: 1, total_blocked: 1, cycle_count: 0 });
    expect(w.bd(['ready', '--explain']).stdout).toMatch(new RegExp(`${b} .* waiting on ${a} \\[open\\]`));
  });

  it('ready --claim takes the top issue and records the actor', () => {
    const w = workspace('q');
    w.bd(['q', 'low', '-p', '4']);
    const top = w.bd(['q', 'top', '-p', '0']).stdout.trim();
    const claimed = w.json<{ id: string; assignee: string; status: string }>(['ready', '--claim']);
    expect(claimed).toMatchObject({ id: top, assignee: 'tester', status: 'in_progress' });
    expect(w.json<Item[]>(['ready']).map((i) => i.title)).toEqual(['low']);
  });

  it('defer with --until hides the issue until then; plain defer parks it; undefer on other statuses reports the status', () => {
    const w = workspace('q');
    const later = w.bd(['q', 'later']).stdout.trim();
    const parked = w.bd(['q', 'parked']).stdout.trim();
    w.bd(['defer', later, '--until', '+2d']);
    w.bd(['defer', parked]);
    expect(w.json<Item[]>(['ready'])).toEqual([]);
    expect(w.json<Item[]>(['show', parked])[0]?.status).toBe('deferred');
    expect(w.json<Item[]>(['show', later])[0]).toMatchObject({ status: 'open', defer_until: expect.stringMatching(/Z$/) as string });
    expect(
      w
        .json<Item[]>(['ready', '--include-deferred'])
        .map((i) => i.id)
        .sort(),
    ).toEqual([later].sort());
    w.bd(['undefer', later, parked]);
    expect(
      w
        .json<Item[]>(['ready'])
        .map((i) => i.id)
        .sort(),
    ).toEqual([later, parked].sort());
    const again = w.bd(['undefer', later]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is not deferred \(status: open\)/);
    expect(w.bd(['defer', later, '--until', 'whenever']).stderr).toMatch(/invalid --until format/);
  });

  it('custom types and statuses are validated when configured and then accepted', () => {
    const w = workspace('q');
    expect(w.bd(['create', 'x', '-t', 'incident']).stderr).toMatch(/invalid issue type "incident"/);
    expect(w.bd(['config', 'set', 'types.custom', 'incident,postmortem']).code).toBe(0);
    expect(w.json<{ issue_type: string }>(['create', 'x', '-t', 'incident']).issue_type).toBe('incident');
    const bad = w.bd(['config', 'set', 'status.custom', 'Review Me']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/invalid custom status name "Review Me"/);
    expect(w.bd(['config', 'get', 'status.custom']).code).toBe(1);
    expect(w.json<{ value: string }>(['config', 'get', 'issue_prefix']).value).toBe('q');
  });

  it('the audit trail is append-only at the database level', () => {
    const w = workspace('q');
    const id = w.bd(['q', 'audited']).stdout.trim();
    w.bd(['update', id, '-s', 'in_progress']);
    const events = w.json<Array<{ id: number; event_type: string; actor: string }>>(['events', id]);
    expect(events.map((e) => e.event_type)).toEqual(['created', 'status_changed']);
    expect(events.every((e) => e.actor === 'tester')).toBe(true);
    const db = new Database(join(w.dir, '.beads', 'beads.db'));
    expect(() => db.prepare('UPDATE events SET actor = ?').run('mallory')).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM events').run()).toThrow(/append-only/);
    db.close();
    expect(w.json<Array<{ id: number }>>(['events', '--after', String(events[0]?.id)]).map((e) => e.id)).toEqual([events[1]?.id]);
  });

  it('doctor reports healthy ledgers and cycles (import refuses one; dep add --no-cycle-check makes it)', () => {
    const w = workspace('c');
    expect(w.json<{ ok: boolean }>(['doctor']).ok).toBe(true);
    const file = join(w.dir, 'cycle.jsonl');
    const line = (id: string, dep: string) =>
      JSON.stringify({
        id,
        title: id,
        status: 'open',
        priority: 2,
        issue_type: 'task',
        created_at: '2026-01-01T00:00:00Z',
        updated_at: '2026-01-01T00:00:00Z',
        dependencies: [{ issue_id: id, depends_on_id: dep, type: 'blocks', created_at: '2026-01-01T00:00:00Z' }],
      });
    writeFileSync(file, `${line('c-a', 'c-b')}\n${line('c-b', 'c-a')}\n`);
    const refused = w.bd(['import', file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/blocking cycle among c-a, c-b/);
    writeFileSync(file, `${line('c-a', 'c-b')}\n${JSON.stringify({ id: 'c-b', title: 'c-b', created_at: '2026-01-01T00:00:00Z' })}\n`);
    expect(w.bd(['import', file]).code).toBe(0);
    expect(w.bd(['dep', 'add', 'c-b', 'c-a', '--no-cycle-check']).code).toBe(0);
    expect(w.json<string[][]>(['dep', 'cycles'])).toEqual([['c-a', 'c-b']]);
    const doctor = w.bd(['doctor']);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/dependency cycle: c-a ↔ c-b/);
  });
});

describe('bd flags scripts written for Beads use', () => {
  it('list --ready, --pinned/--no-pinned, --deferred and --overdue', () => {
    const w = workspace('f');
    const a = w.bd(['q', 'A']).stdout.trim();
    const b = w.bd(['q', 'B', '--deps', a]).stdout.trim();
    const late = w.bd(['q', 'late', '--due', '2020-01-01']).stdout.trim();
    const later = w.bd(['q', 'later', '--defer', '+3d']).stdout.trim();
    const pin = w.json<{ id: string }>(['create', 'pin']).id;
    w.bd(['update', pin, '--status', 'pinned']);
    const ids = (args: string[]) =>
      w
        .json<Item[]>(['list', ...args])
        .map((i) => i.id)
        .sort();
    expect(ids(['--ready'])).toEqual([a, late].sort());
    expect(ids(['--deferred'])).toEqual([later]);
    expect(ids(['--overdue'])).toEqual([late]);
    expect(ids(['--status', 'pinned'])).toEqual([pin]);
    expect(ids([])).toContain(b);
  });

  it('create --stdin, show --short, dep add --blocked-by, update --no-history', () => {
    const w = workspace('f');
    const id = w.bd(['q', 'From stdin', '--stdin'], { input: 'long description\nfrom a pipe' }).stdout.trim();
    expect(w.json<Array<{ description: string }>>(['show', id])[0]?.description).toBe('long description\nfrom a pipe');
    expect(w.bd(['show', id, '--short']).stdout.trim().split('\n')).toHaveLength(1);
    const other = w.bd(['q', 'Other']).stdout.trim();
    expect(w.bd(['dep', 'add', other, '--blocked-by', id]).stdout).toMatch(`${other} depends on ${id}`);
    expect(w.bd(['dep', 'add', other]).stderr).toMatch(/exactly once/);
    w.bd(['update', id, '--no-history']);
    expect(w.json<Array<{ no_history?: boolean }>>(['show', id])[0]?.no_history).toBe(true);
    w.bd(['update', id, '--history']);
    expect(w.json<Array<{ no_history?: boolean }>>(['show', id])[0]?.no_history).toBeUndefined();
  });

  it('close --suggest-next lists what the close made ready; --claim-next takes the next issue', () => {
    const w = workspace('f');
    const a = w.bd(['q', 'A', '-p', '1']).stdout.trim();
    const b = w.bd(['q', 'B', '--deps', a, '-p', '0']).stdout.trim();
    w.bd(['q', 'C', '-p', '3']);
    const suggested = w.bd(['close', a, '--suggest-next']);
    expect(suggested.stdout).toMatch(new RegExp(`Now ready:\\n  ${b} P0 B`));
    const d = w.bd(['q', 'D', '-p', '2']).stdout.trim();
    const next = w.json<{ closed: Array<{ id: string }>; claimed: { id: string; status: string } | null }>(['close', b, '--claim-next']);
    expect(next.closed.map((c) => c.id)).toEqual([b]);
    expect(next.claimed).toMatchObject({ id: d, status: 'in_progress' });
  });
});

describe('bd round trips and odd files', () => {
  it('every CLI-settable field survives export → import into a fresh ledger', () => {
    const w = workspace('rt');
    const parent = w.bd(['q', 'Parent']).stdout.trim();
    const other = w.bd(['q', 'Other']).stdout.trim();
    const full = w.json<{ id: string }>([
      'create',
      'Everything set',
      '-t',
      'feature',
      '-p',
      'P1',
      '-d',
      'desc <b>',
      '--design',
      'design',
      '--acceptance',
      'accept',
      '--notes',
      'notes',
      '-a',
      'alice',
      '--owner',
      'owner@example.com',
      '-l',
      'x,y',
      '--parent',
      parent,
      '--deps',
      `discovered-from:${other}`,
      '--external-ref',
      'gh-9',
      '--spec-id',
      'SPEC-1',
      '--metadata',
      '{"k":"v"}',
      '-e',
      '30',
      '--due',
      '2027-01-15T10:00:00Z',
      '--defer',
      '2027-01-01T00:00:00Z',
    ]);
    w.bd(['comments', 'add', full.id, 'a comment']);
    w.bd(['close', other, '-r', 'wontfix: out of scope']);
    const exported = w.bd(['export', '-o', join(w.dir, 'out.jsonl')]);
    expect(exported.code).toBe(0);
    const fresh = workspace('rt');
    expect(fresh.bd(['import', join(w.dir, 'out.jsonl')]).code).toBe(0);
    const strip = (x: Record<string, unknown>) => {
      const { dependents: _d, is_blocked: _b, ...rest } = x;
      return rest;
    };
    for (const id of [full.id, other]) {
      expect(strip(fresh.json<Array<Record<string, unknown>>>(['show', id])[0] as Record<string, unknown>)).toEqual(
        strip(w.json<Array<Record<string, unknown>>>(['show', id])[0] as Record<string, unknown>),
      );
    }
    expect(fresh.json<Array<Record<string, unknown>>>(['show', full.id])[0]).toMatchObject({
      design: 'design',
      acceptance_criteria: 'accept',
      owner: 'owner@example.com',
      external_ref: 'gh-9',
      spec_id: 'SPEC-1',
      metadata: { k: 'v' },
      estimated_minutes: 30,
      due_at: '2027-01-15T10:00:00Z',
      labels: ['x', 'y'],
    });
  });

  it('a file that is not a ledger is reported, not damaged', () => {
    const w = workspace('odd', false);
    const path = join(w.dir, 'notes.db');
    writeFileSync(path, 'this is not sqlite at all, just text that happens to be long enough to look like a header'.repeat(20));
    const before = readFileSync(path);
    const r = w.bd(['--db', path, 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not a gt ledger|not a database/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('gt answers --version and --help, and runs bd', () => {
    const w = workspace('g');
    const version = spawnSync(process.execPath, [GT, '--version'], { encoding: 'utf8', env: w.env });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const help = spawnSync(process.execPath, [GT, '--help'], { encoding: 'utf8', env: w.env });
    expect(help.stdout).toMatch(/Examples:/);
    expect(help.stdout).toMatch(/Exit codes:/);
    const unknown = spawnSync(process.execPath, [GT, 'frob'], { encoding: 'utf8', env: w.env });
    expect(unknown.status).toBe(2);
  });
});
