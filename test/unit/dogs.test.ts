/**
 * Dogs (issue 14 §4), each through the in-process harness (real git, real
 * SQLite): it does its job, never destroys uncommitted or unmerged work (what
 * a dog removes is on a checkpoint ref first), and a second run right after
 * the first does nothing.
 */
import { appendFileSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dogPorts, runtimeProbe } from '../../src/app/index.js';
import { parseIdentity } from '../../src/core/agents/identity.js';
import { readRunLogs } from '../../src/core/agents/run-logs.js';
import { Mailbox } from '../../src/core/comms/mail.js';
import { dogList, dueDogs, runDog, type DogRun } from '../../src/core/dogs/dogs.js';
import { finishWork, listPolecats, slingBeads, unslingBead } from '../../src/core/work/work.js';
import { townHarness, type Harness } from '../support/harness.js';

const ports = dogPorts();
const run = (h: Harness, dog: string, dryRun = false): Promise<DogRun> => runDog(h.town, dog, ports, { dryRun });
const user = ['-c', 'user.name=t', '-c', 'user.email=t@t'];

function setConfig(h: Harness, toml: string): void {
  appendFileSync(join(h.root, 'town.toml'), `\n${toml}\n`);
  h.town.reloadConfig();
}

/** The harness town's clock, moved: dogs judge age by the town's `now`. */
function moveClock(h: Harness, ms: number): void {
  const base = h.town.ports.now;
  h.town.ports.now = () => new Date(Date.parse(base()) + ms).toISOString();
}

async function sling(h: Harness, title: string): Promise<{ bead: string; agent: string; dir: string; session: string }> {
  const bead = await h.bead(title);
  const [result] = await slingBeads(h.town, [bead], 'app', { runtime: 'shell' }, runtimeProbe(h.env));
  const agent = (result as { agent: string }).agent;
  const record = await h.town.agent(parseIdentity(agent));
  return { bead, agent, dir: h.town.path(record?.workdir ?? ''), session: record?.session ?? '' };
}

/** A file on a ref, or undefined when the ref does not hold it. */
function show(h: Harness, ref: string, path: string): string | undefined {
  try {
    return h.git(h.town.repoDir('app'), ['show', `${ref}:${path}`]);
  } catch {
    return undefined;
  }
}

const checkpoints = (h: Harness) =>
  h
    .git(h.town.repoDir('app'), ['for-each-ref', '--format=%(refname)', 'refs/gt/checkpoints/'])
    .split('\n')
    .filter((r) => r !== '');

describe('the polecats dog and sling reuse', () => {
  it('reclaims an idle dirty polecat: its changes end up on a checkpoint ref, the worktree is reset, and sling reuses it', async () => {
    const h = await townHarness();
    const first = await sling(h, 'Leaves a mess');
    // A busy polecat beside it, dirty too: never touched.
    const busy = await sling(h, 'Still working');
    writeFileSync(join(busy.dir, 'wip.md'), 'in progress\n');
    writeFileSync(join(first.dir, 'notes.md'), 'half-done thoughts\n');
    writeFileSync(join(first.dir, 'README.md'), '# changed, never committed\n');
    h.backend.kill(first.session);
    await unslingBead(h.town, first.bead, {});

    const dry = await run(h, 'polecats', true);
    expect(dry.actions).toMatchObject([{ action: 'reclaimed', target: first.agent }]);
    expect(h.git(first.dir, ['status', '--porcelain'])).not.toBe('');
    expect((await dogList(h.town)).find((d) => d.dog === 'polecats')?.runs).toBe(0);

    const done = await run(h, 'polecats');
    expect(done.result).toBe('did-work');
    expect(done.actions).toMatchObject([{ action: 'reclaimed', target: first.agent }]);
    expect(h.git(first.dir, ['status', '--porcelain'])).toBe('');
    const [ref] = checkpoints(h).filter((r) => r.includes(first.agent));
    expect(h.git(first.dir, ['show', `${ref}:notes.md`])).toBe('half-done thoughts\n');
    expect(h.git(first.dir, ['show', `${ref}:README.md`])).toBe('# changed, never committed\n');
    expect(readFileSync(join(busy.dir, 'wip.md'), 'utf8')).toBe('in progress\n');
    expect((await h.ledger.townEvents(0, { kinds: ['polecat.reclaimed'] })).map((e) => e.agent)).toEqual([first.agent]);

    expect((await run(h, 'polecats')).actions).toEqual([]);
    // The next sling takes the reclaimed polecat instead of making a third.
    const next = await sling(h, 'Next');
    expect(next.agent).toBe(first.agent);
    expect((await listPolecats(h.town)).map((p) => p.agent).sort()).toEqual([first.agent, busy.agent].sort());
  });

  it('sling reuses a polecat whose finished work waits in the merge queue, and reclaims a dirty one rather than spawn', async () => {
    const h = await townHarness();
    const a = await sling(h, 'A');
    writeFileSync(join(a.dir, 'a.txt'), 'a\n');
    h.git(a.dir, ['add', '-A']);
    h.git(a.dir, [...user, 'commit', '-qm', 'a']);
    await finishWork(h.town, parseIdentity(a.agent), 'COMPLETED');
    // Its commit is unmerged, but the queued branch holds it: the polecat is free.
    const b = await sling(h, 'B');
    expect(b.agent).toBe(a.agent);
    expect(h.git(h.town.repoDir('app'), ['rev-parse', `refs/heads/polecat/${a.agent.split('/')[2]}/${a.bead}`]).trim()).toMatch(/^[0-9a-f]{40}$/);

    writeFileSync(join(b.dir, 'b.txt'), 'b\n');
    await finishWork(h.town, parseIdentity(b.agent), 'ESCALATED', { message: 'stuck' });
    writeFileSync(join(b.dir, 'after.txt'), 'written after the escalation\n');
    const c = await sling(h, 'C');
    expect(c.agent).toBe(a.agent);
    const saved = checkpoints(h).filter((r) => r.includes(a.agent));
    expect(saved.map((ref) => show(h, ref, 'after.txt'))).toContain('written after the escalation\n');
    expect(await listPolecats(h.town)).toHaveLength(1);
  });

  it('removes idle clean polecats beyond keep_idle, idle longest first, and keeps busy ones', async () => {
    const h = await townHarness();
    setConfig(h, '[dogs.polecats]\nkeep_idle = 1');
    const slung = [];
    for (const title of ['One', 'Two', 'Three']) slung.push(await sling(h, title));
    for (const p of slung.slice(0, 2)) {
      h.backend.kill(p.session);
      await unslingBead(h.town, p.bead, {});
    }
    const result = await run(h, 'polecats');
    // Two idle, keep one: the one that started first goes.
    expect(result.actions).toMatchObject([{ action: 'removed', target: slung[0]?.agent }]);
    expect((await listPolecats(h.town)).map((p) => p.agent).sort()).toEqual([slung[1]?.agent, slung[2]?.agent].sort());
    expect((await run(h, 'polecats')).actions).toEqual([]);
  });
});

describe('the orphans dog', () => {
  it('checkpoints and removes a worktree, a branch and a session no agent owns; a second run does nothing', async () => {
    const h = await townHarness();
    const repo = h.town.repoDir('app');
    const ghost = h.town.path('app', 'polecats', 'ghost');
    h.git(repo, ['worktree', 'add', '-q', '-b', 'polecat/ghost/app-zz', ghost, 'main']);
    writeFileSync(join(ghost, 'lost.md'), 'would be lost\n');
    h.git(ghost, ['add', 'lost.md']);
    h.git(ghost, [...user, 'commit', '-qm', 'ghost work']);
    writeFileSync(join(ghost, 'dirty.md'), 'uncommitted\n');
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(ghost, old, old);
    // A branch nobody has checked out or names, with a commit of its own.
    h.git(repo, ['branch', 'polecat/gone/app-yy', 'polecat/ghost/app-zz']);
    await h.backend.start({ name: 'gt-app-ghost', cwd: ghost, argv: ['true'], env: {}, runDir: ghost });
    // Owned things stay: a live polecat, its worktree, branch and session.
    const live = await sling(h, 'Live');

    const result = await run(h, 'orphans');
    expect(result.actions.map((a) => [a.action, a.target])).toEqual([
      ['stopped', 'tmux session gt-app-ghost'],
      ['removed', 'app/polecats/ghost'],
      ['deleted', 'branch polecat/ghost/app-zz'],
      ['deleted', 'branch polecat/gone/app-yy'],
    ]);
    const refs = checkpoints(h);
    const tree = refs.find((r) => r.startsWith('refs/gt/checkpoints/app/polecats/ghost/') && !r.includes('-branch-')) as string;
    expect(h.git(repo, ['show', `${tree}:lost.md`])).toBe('would be lost\n');
    expect(h.git(repo, ['show', `${tree}:dirty.md`])).toBe('uncommitted\n');
    // The ghost branch's commit is on the worktree's checkpoint; the other branch's too, so nothing is unmerged and unsaved.
    expect(h.git(repo, ['for-each-ref', '--format=%(refname:short)', 'refs/heads/polecat/']).trim()).toBe(`polecat/${live.agent.split('/')[2]}/${live.bead}`);
    expect(await h.backend.list()).toEqual([live.session]);
    expect((await run(h, 'orphans')).actions).toEqual([]);
  });
});

describe('the mail dog', () => {
  it("acks gt's mail about a bead once that bead is closed, and leaves a person's mail alone", async () => {
    const h = await townHarness();
    const bead = await h.bead('Hard one');
    const gt = new Mailbox(h.ledger, 'app/polecats/nux');
    const escalated = await gt.send('mayor', `ESCALATED ${bead}: Hard one`, 'could not', { kind: 'protocol' });
    const stalled = await gt.send('human', `STALLED app/polecats/nux: ${bead}`, 'idle', { kind: 'protocol' });
    const personal = await new Mailbox(h.ledger, 'human').send('mayor', `ESCALATED ${bead}: my words`, 'about it');
    const loop = await gt.send('mayor', `CRASH LOOP app/polecats/nux: ${bead}`, 'restarted 3 times', { kind: 'protocol' });
    const request = await h.ledger.create({ title: 'Bash: rm -rf', prefix: 'hq', type: 'permission' });
    await h.ledger.close([request.id], { reason: 'timeout', force: true });
    const timeout = await gt.send('mayor', `PERMISSION TIMEOUT ${request.id}: app/polecats/nux`, 'denied', { kind: 'protocol' });
    expect((await run(h, 'mail')).actions).toEqual([]);
    await h.ledger.close([bead], { reason: 'fixed' });
    const result = await run(h, 'mail');
    expect(result.actions.map((a) => a.target).sort()).toEqual([escalated.id, stalled.id, loop.id].sort());
    const inbox = new Mailbox(h.ledger, 'mayor');
    expect((await inbox.inbox('mayor')).map((m) => m.id).sort()).toEqual([personal.id, timeout.id].sort());
    expect((await run(h, 'mail')).actions).toEqual([]);
  });
});

describe('the compact dog', () => {
  it('deletes old closed bookkeeping and closed wisps, keeps work, open things and anything linked to open work', async () => {
    const h = await townHarness();
    const work = await h.bead('Real work');
    await h.ledger.close([work], { reason: 'done' });
    const mail = new Mailbox(h.ledger, 'human');
    const oldMail = await mail.send('mayor', 'read it', 'x');
    await mail.ack([oldMail.id]);
    const openMail = await mail.send('mayor', 'still open', 'x');
    const wisp = await h.ledger.create({ title: 'a wisp step', prefix: 'app', ephemeral: true });
    await h.ledger.close([wisp.id], { reason: 'done', force: true });
    // A closed gate that open work still depends on stays.
    const openWork = await h.bead('Waits on a gate');
    const gate = await h.ledger.create({ title: 'gate', prefix: 'app', type: 'gate' });
    await h.ledger.addDependency(openWork, gate.id, 'blocks');
    await h.ledger.close([gate.id], { reason: 'opened', force: true });

    expect((await run(h, 'compact')).actions).toEqual([]);
    moveClock(h, 8 * 86_400_000);
    const result = await run(h, 'compact');
    expect(result.actions.map((a) => a.target).sort()).toEqual([oldMail.id, wisp.id].sort());
    expect(await h.ledger.find(oldMail.id)).toBeUndefined();
    for (const kept of [work, openMail.id, gate.id, openWork]) expect(await h.ledger.find(kept)).toBeDefined();
    expect((await run(h, 'compact')).actions).toEqual([]);
  });
});

describe('the logs dog', () => {
  it("rotates past days' lines into daily files, keeps today's in the live log, and drops days past keep_days", async () => {
    const h = await townHarness();
    setConfig(h, '[dogs.logs]\nkeep_days = 3');
    const day = (n: number) => new Date(Date.parse(h.town.ports.now()) - n * 86_400_000).toISOString().slice(0, 10);
    const line = (n: number, msg: string) => `time=${day(n)}T10:00:00.000Z level=info msg=${msg}\n`;
    const live = join(h.root, '.gt', 'daemon.log');
    writeFileSync(live, `${line(5, 'ancient')}${line(1, 'yesterday')}Error: a crash trace\n    at somewhere\n${line(0, 'today')}`);
    mkdirSync(join(h.root, '.gt', 'logs'), { recursive: true });
    writeFileSync(join(h.root, '.gt', 'logs', `daemon-${day(10)}.log`), 'old\n');
    writeFileSync(join(h.root, '.gt', 'logs', 'notify.log'), `${line(2, 'sent')}${line(0, 'sent-today')}`);

    const result = await run(h, 'logs');
    expect(result.actions.map((a) => [a.action, a.target])).toEqual([
      ['rotated', `.gt/logs/daemon-${day(5)}.log`],
      ['rotated', `.gt/logs/daemon-${day(1)}.log`],
      ['rotated', `.gt/logs/notify-${day(2)}.log`],
      ['removed', `.gt/logs/daemon-${day(10)}.log`],
      ['removed', `.gt/logs/daemon-${day(5)}.log`],
    ]);
    expect(readFileSync(live, 'utf8')).toBe(line(0, 'today'));
    expect(readFileSync(join(h.root, '.gt', 'logs', `daemon-${day(1)}.log`), 'utf8')).toBe(`${line(1, 'yesterday')}Error: a crash trace\n    at somewhere\n`);
    expect(readFileSync(join(h.root, '.gt', 'logs', 'notify.log'), 'utf8')).toBe(line(0, 'sent-today'));
    expect((await run(h, 'logs')).actions).toEqual([]);
  });
});

describe('the runs dog', () => {
  it('prunes old run folders but never an active agent’s, keeping their usage for gt costs', async () => {
    const h = await townHarness();
    const live = await sling(h, 'Running');
    const runs = join(h.root, '.gt', 'runs');
    const stamp = (daysAgo: number) => new Date(Date.now() - daysAgo * 86_400_000).toISOString().replace(/[-:]/g, '').slice(0, 15);
    const old = `${stamp(30)}-gt-app-old-abcd`;
    mkdirSync(join(runs, old), { recursive: true });
    writeFileSync(join(runs, old, 'agent.log'), 'old output\n');
    writeFileSync(join(runs, old, 'usage.jsonl'), `${JSON.stringify({ at: '2026-01-01T00:00:00Z', run: old, agent: 'app/polecats/old', usd: 1.5 })}\n`);
    const past = new Date(Date.now() - 30 * 86_400_000);
    utimesSync(join(runs, old), past, past);
    utimesSync(join(runs, old, 'agent.log'), past, past);
    const record = await h.town.agent(parseIdentity(live.agent));
    // The live agent's run is old too, and still kept.
    utimesSync(join(runs, record?.run ?? ''), past, past);
    moveClock(h, 30 * 86_400_000);
    const before = readRunLogs<{ at: string; usd: number }>(h.town, 'usage.jsonl');

    const result = await run(h, 'runs');
    expect(result.actions.map((a) => a.target)).toEqual([`.gt/runs/${old}`]);
    expect(readRunLogs<{ at: string; usd: number }>(h.town, 'usage.jsonl')).toEqual(before);
    expect(h.town.ports.files.exists(join(runs, record?.run ?? ''))).toBe(true);
    expect((await run(h, 'runs')).actions).toEqual([]);
  });
});

describe('the export dog and the schedule', () => {
  it('exports only with export.auto, rewrites only when the ledger changed, and records last and next run', async () => {
    const h = await townHarness();
    expect((await dueDogs(h.town)).map((d) => d.name)).not.toContain('export');
    expect((await dogList(h.town)).find((d) => d.dog === 'export')).toMatchObject({ idle_reason: 'export.auto is off', runs: 0 });
    setConfig(h, '[export]\nauto = true');
    expect((await dueDogs(h.town)).map((d) => d.name)).toContain('export');
    const bead = await h.bead('Exported work');
    const first = await run(h, 'export');
    expect(first.actions).toMatchObject([{ action: 'exported', target: '.gt/export/issues.jsonl' }]);
    expect(readFileSync(join(h.root, '.gt', 'export', 'issues.jsonl'), 'utf8')).toContain(bead);
    expect((await run(h, 'export')).actions).toEqual([]);
    await h.bead('More work');
    expect((await run(h, 'export')).actions).toHaveLength(1);

    // Every run is logged, whoever ran it: one line per run and per action.
    const log = readFileSync(join(h.root, '.gt', 'logs', 'dogs.log'), 'utf8');
    expect(log).toMatch(/level=info msg=dog\.did-work dog=export actions=1 duration_ms=\d+ by=human\n/);
    expect(log).toMatch(/msg=dog\.export\.exported target=\.gt\/export\/issues\.jsonl detail="\d+ issue\(s\)"\n/);
    expect(log.match(/msg=dog\.nothing dog=export/g)).toHaveLength(1);
    const status = (await dogList(h.town)).find((d) => d.dog === 'export');
    expect(status).toMatchObject({ runs: 3, last_result: 'did-work', last_action_count: 1, every: '15m' });
    expect(Date.parse(status?.next_run_at ?? '') - Date.parse(status?.last_run_at ?? '')).toBe(15 * 60_000);
    expect((await dueDogs(h.town)).map((d) => d.name)).not.toContain('export');
    // The dog's record is gt's bookkeeping: a role bead, out of plain lists.
    expect(await h.ledger.find('hq-dog-export')).toMatchObject({ issue_type: 'role' });
  });
});
