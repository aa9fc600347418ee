/**
 * Escalations through the in-process harness (real git, real SQLite): every
 * automatic source raises exactly one escalation through raiseEscalation, it
 * reaches the person's inbox, blocks the stuck bead (bd blocked says why),
 * is raised again when nobody acks it, and closes with its subject.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtimeProbe } from '../../src/app/index.js';
import { parseIdentity } from '../../src/core/agents/identity.js';
import { recordSignal } from '../../src/core/agents/signals.js';
import { witnessPatrol } from '../../src/core/agents/witness.js';
import {
  ackEscalation,
  ackFromChannel,
  ackEscalationMail,
  closeEscalation,
  listEscalations,
  raiseEscalation,
  reescalateStale,
  settleEscalations,
} from '../../src/core/comms/escalations.js';
import { Mailbox } from '../../src/core/comms/mail.js';
import { brokerPermission } from '../../src/core/governance/permissions.js';
import { notificationLog } from '../../src/core/notify/outbox.js';
import { runRefinery } from '../../src/core/merge/refinery.js';
import { parseToml, parseTownConfig, renderToml, setKey } from '../../src/core/town/config.js';
import { checkGates } from '../../src/core/work/gates.js';
import { finishWork, slingBeads } from '../../src/core/work/work.js';
import { townHarness, type Harness } from '../support/harness.js';

async function slungPolecat(h: Harness, title = 'Add a file'): Promise<{ bead: string; agent: string }> {
  const bead = await h.bead(title, { run: ['echo hi > hi.txt'] });
  const [result] = await slingBeads(h.town, [bead], 'app', { runtime: 'shell' }, runtimeProbe(h.env));
  return { bead, agent: (result as { agent: string }).agent };
}

function configure(h: Harness, toml: string): void {
  const file = join(h.root, 'town.toml');
  h.town.ports.files.write(file, `${h.town.ports.files.read(file) ?? ''}\n${toml}\n`);
  h.town.reloadConfig();
}

const inbox = (h: Harness, address: string) => new Mailbox(h.ledger, address).inbox(address);

describe('each automatic source raises exactly one escalation', () => {
  it('gt done ESCALATED: one high escalation about the bead, which it blocks; the person and the Mayor get mail; bd blocked names it', async () => {
    const h = await townHarness();
    const { bead, agent } = await slungPolecat(h);
    await finishWork(h.town, parseIdentity(agent), 'ESCALATED', { message: 'the API key is missing', keepSession: true });
    const [escalation, ...rest] = await listEscalations(h.town);
    expect(rest).toEqual([]);
    expect(escalation).toMatchObject({
      severity: 'high',
      source: 'done',
      subject: bead,
      agent,
      state: 'open',
      blocks: true,
      message: 'the API key is missing',
    });
    const [blocked] = await h.ledger.blocked({});
    expect(blocked).toMatchObject({ id: bead, blocked_by: [escalation?.id] });
    expect((await h.ledger.ready({})).map((b) => b.id)).not.toContain(bead);
    expect((await inbox(h, 'human')).map((m) => [m.subject, m.escalation])).toEqual([[`ESCALATED ${bead}: Add a file`, escalation?.id]]);
    expect((await inbox(h, 'mayor')).map((m) => m.escalation)).toEqual([escalation?.id]);
    // The same problem again is the same escalation.
    const again = await raiseEscalation(h.town, {
      message: 'still',
      severity: 'high',
      source: 'done',
      reason: 'done-escalated',
      subject: bead,
      raisedBy: agent,
    });
    expect(again).toMatchObject({ deduped: true, escalation: { id: escalation?.id } });
    expect(await listEscalations(h.town)).toHaveLength(1);
    expect((await h.ledger.townEvents(0, { kinds: ['escalation.raised'] })).map((e) => e.payload.escalation)).toEqual([escalation?.id]);
  });

  it('the witness: a stalled agent is escalated once, however many passes follow', async () => {
    const h = await townHarness();
    configure(h, '[witness]\nidle_wake = "0s"\nmax_wakes = 0');
    const { bead, agent } = await slungPolecat(h);
    await recordSignal(h.town, parseIdentity(agent), 'stop');
    expect((await witnessPatrol(h.town))[0]).toMatchObject({ action: 'escalated', bead });
    await witnessPatrol(h.town);
    const escalations = await listEscalations(h.town);
    expect(escalations).toHaveLength(1);
    expect(escalations[0]).toMatchObject({ source: 'witness', reason: 'gupp-violation', subject: bead, agent, raised_by: 'app/witness' });
    expect((await inbox(h, 'mayor')).map((m) => m.subject)).toEqual([`STALLED ${agent}: ${bead}`]);
  });

  it('the witness: a crash loop is escalated once, and the restarts stop', async () => {
    const h = await townHarness();
    configure(h, '[witness]\nrestart_backoff = "0s"\ncrash_loop_restarts = 1\ncrash_loop_window = "10m"');
    const { bead, agent } = await slungPolecat(h);
    const actions: string[] = [];
    for (let pass = 0; pass < 4; pass++) {
      h.backend.kill((await h.town.agent(parseIdentity(agent)))?.session ?? '');
      actions.push(...(await witnessPatrol(h.town)).map((a) => a.action));
    }
    expect(actions.filter((a) => a === 'escalated')).toHaveLength(1);
    const escalations = await listEscalations(h.town);
    expect(escalations).toHaveLength(1);
    expect(escalations[0]).toMatchObject({ source: 'witness', reason: 'crash-loop', severity: 'high', subject: bead, agent });
    expect((await inbox(h, 'human')).map((m) => m.subject)).toEqual([`CRASH LOOP ${agent}: ${bead}`]);
  });

  it('a permission timeout: one escalation per piece of work, however often the agent asks again', async () => {
    const h = await townHarness();
    configure(h, '[permissions]\ndefault = "ask"\ntimeout = "50ms"');
    const { bead, agent } = await slungPolecat(h);
    const identity = parseIdentity(agent);
    for (const command of ['make deploy', 'make release']) {
      await expect(brokerPermission(h.town, identity, { tool: 'Bash', input: { command }, cwd: h.town.path('app') }, { pollMs: 10 })).resolves.toMatchObject({
        action: 'deny',
        decided_via: 'timeout',
      });
    }
    const escalations = await listEscalations(h.town);
    expect(escalations).toHaveLength(1);
    expect(escalations[0]).toMatchObject({ source: 'permission', subject: bead, agent, blocks: false });
    expect((await inbox(h, 'human')).filter((m) => m.subject.startsWith('PERMISSION TIMEOUT'))).toHaveLength(1);
  });

  it('a gate past its timeout: one escalation, closed when the gate opens', async () => {
    const h = await townHarness();
    const gate = await h.ledger.create({ title: 'Wait for sign-off', type: 'gate', prefix: 'app', metadata: { await_type: 'human', timeout: '1ms' } });
    await new Promise((r) => setTimeout(r, 5));
    const run = () => Promise.resolve({ code: 1, stdout: '' });
    await checkGates(h.town, run);
    await checkGates(h.town, run);
    const [escalation, ...rest] = await listEscalations(h.town);
    expect(rest).toEqual([]);
    expect(escalation).toMatchObject({ source: 'gate', reason: 'gate-timeout', subject: gate.id, blocks: false });
    await h.ledger.close([gate.id], { reason: 'signed off' });
    expect(await settleEscalations(h.town)).toEqual([escalation?.id]);
    expect(await listEscalations(h.town)).toEqual([]);
    expect(await inbox(h, 'human')).toEqual([]); // its mail is handled with it
  });

  it('a budget stop: one escalation a day, however many slings it refuses', async () => {
    const h = await townHarness();
    configure(h, '[budgets]\ndaily_tokens = 10');
    const today = h.town.ports.now();
    h.town.ports.files.write(
      h.town.path('.gt/runs/r1/usage.jsonl'),
      `${JSON.stringify({ at: today, run: 'r1', agent: 'app/polecats/x', input_tokens: 50, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, usd: 0, priced: true, source: 'stream-json' })}\n`,
    );
    for (const title of ['One', 'Two']) {
      const bead = await h.bead(title);
      await expect(slingBeads(h.town, [bead], 'app', { runtime: 'shell' }, runtimeProbe(h.env))).rejects.toThrow(/dispatch is paused/);
    }
    const escalations = await listEscalations(h.town);
    expect(escalations).toHaveLength(1);
    expect(escalations[0]).toMatchObject({ source: 'budget', reason: `budget-${today.slice(0, 10)}`, title: `BUDGET REACHED ${today.slice(0, 10)}` });
  });

  it('a merge rejected twice: one escalation after the second rejection, not the first', async () => {
    const h = await townHarness();
    const rigToml = h.town.path('app', 'rig.toml');
    let raw = parseToml(h.town.ports.files.read(rigToml) ?? '', rigToml);
    raw = setKey(setKey(raw, 'merge.test', '"false"'), 'merge.push', 'false');
    h.town.ports.files.write(rigToml, renderToml(raw));
    h.town.reloadConfig();
    const bead = await h.bead('Flaky work', { run: ['true'] });
    for (let round = 1; round <= 3; round++) {
      const [slung] = await slingBeads(h.town, [bead], 'app', { runtime: 'shell', ...(round > 1 ? { force: true } : {}) }, runtimeProbe(h.env));
      const identity = parseIdentity((slung as { agent: string }).agent);
      const dir = h.town.path((await h.town.agent(identity))?.workdir ?? '');
      h.git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', `try ${round}`]);
      await finishWork(h.town, identity, 'COMPLETED', { keepSession: true });
      const [outcome] = await runRefinery(h.town, 'app');
      expect(outcome?.result).toBe('rejected');
      const escalations = await listEscalations(h.town, { subject: bead });
      expect(escalations).toHaveLength(round === 1 ? 0 : 1);
    }
    const [escalation] = await listEscalations(h.town);
    expect(escalation).toMatchObject({ source: 'refinery', reason: 'merge-rejected', subject: bead, raised_by: 'app/refinery' });
  });
});

describe('routes, re-escalation, acking and closing', () => {
  it('the person always gets it; routes add the rest; a notify route goes to the notifications outbox, an unknown channel is recorded as failed', async () => {
    const h = await townHarness();
    configure(h, '[escalation.routes]\nlow = []\ncritical = ["mail:app/crew/ada", "notify:phone", "notify:pager"]\n[notify.phone]\ntype = "desktop"');
    const { escalation } = await raiseEscalation(h.town, {
      message: 'the disk is full',
      severity: 'critical',
      source: 'person',
      reason: 'disk',
      raisedBy: 'human',
    });
    expect(escalation.deliveries.map((d) => [d.route, d.result])).toEqual([
      ['mail:human', 'delivered'],
      ['mail:app/crew/ada', 'delivered'],
      ['notify:phone', 'delivered'],
      ['notify:pager', 'failed'],
    ]);
    expect(escalation.deliveries[3]?.detail).toContain('no notification channel "pager"');
    expect((await inbox(h, 'app/crew/ada')).map((m) => m.subject)).toEqual(['the disk is full']);
    const [queued, ...others] = await notificationLog(h.town);
    expect(others).toEqual([]);
    expect(queued).toMatchObject({ channel: 'phone', severity: 'critical', kind: 'escalation', bead: escalation.id, status: 'pending' });
    expect(queued?.actions.map((a) => a.verb)).toEqual(['ack']);
    // The Ack button, pressed on the phone, acks it as gt escalations ack does.
    expect(await ackFromChannel(h.town, escalation.id, 'telegram:42')).toBe(`acked ${escalation.id}`);
    expect((await listEscalations(h.town))[0]).toMatchObject({ state: 'acked', acked_by: 'telegram:42' });
    const low = await raiseEscalation(h.town, { message: 'fyi', severity: 'low', source: 'person', reason: 'fyi', raisedBy: 'human' });
    expect(low.escalation.deliveries.map((d) => d.to)).toEqual(['human']);
  });

  it('an unacked escalation is raised one severity up after stale_after, at most max_reescalations times; an acked one is left alone', async () => {
    const h = await townHarness();
    configure(h, '[escalation]\nstale_after = "1ms"\nmax_reescalations = 2');
    const { escalation } = await raiseEscalation(h.town, {
      message: 'the key expired',
      severity: 'medium',
      source: 'person',
      reason: 'key',
      raisedBy: 'human',
    });
    const acked = await raiseEscalation(h.town, { message: 'seen', severity: 'medium', source: 'person', reason: 'seen', raisedBy: 'human' });
    await ackEscalation(h.town, acked.escalation.id, 'human');
    const rounds: string[] = [];
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 5));
      rounds.push(...(await reescalateStale(h.town)).map((r) => `${r.escalation}:${r.from}->${r.to}`));
    }
    expect(rounds).toEqual([`${escalation.id}:medium->high`, `${escalation.id}:high->critical`]);
    const [after] = await listEscalations(h.town, { states: ['open'] });
    expect(after).toMatchObject({ severity: 'critical', reescalations: 2 });
    expect((await inbox(h, 'mayor')).map((m) => m.subject).sort()).toEqual(['RE-ESCALATED (1) the key expired', 'RE-ESCALATED (2) the key expired']);
    expect((await h.ledger.townEvents(0, { kinds: ['escalation.reescalated'] })).map((e) => e.payload.round)).toEqual([1, 2]);
  });

  it('acking its mail acks the escalation; closing it closes every copy of its mail and makes the blocked bead work again', async () => {
    const h = await townHarness();
    const { bead, agent } = await slungPolecat(h);
    await finishWork(h.town, parseIdentity(agent), 'ESCALATED', { message: 'stuck', keepSession: true });
    const [mail] = await inbox(h, 'human');
    expect(await ackEscalationMail(h.town, [mail?.id ?? ''], 'human')).toHaveLength(1);
    const [escalation] = await listEscalations(h.town);
    expect(escalation).toMatchObject({ state: 'acked', acked_by: 'human' });
    await closeEscalation(h.town, escalation?.id ?? '', 'human', 'gave it the key');
    expect(await inbox(h, 'mayor')).toEqual([]);
    const [subject] = await h.ledger.show([bead]);
    expect(subject).toMatchObject({ status: 'open' });
    expect(subject?.labels).not.toContain('gt:escalated');
    expect(await h.ledger.blocked({})).toEqual([]);
    expect((await h.ledger.townEvents(0, { kinds: ['escalation'] })).map((e) => e.kind)).toEqual([
      'escalation.raised',
      'escalation.acked',
      'escalation.closed',
    ]);
  });

  it('slinging an escalated bead again answers its escalation', async () => {
    const h = await townHarness();
    const { bead, agent } = await slungPolecat(h);
    await finishWork(h.town, parseIdentity(agent), 'ESCALATED', { message: 'stuck' });
    await slingBeads(h.town, [bead], 'app', { runtime: 'shell' }, runtimeProbe(h.env));
    const [closed] = await listEscalations(h.town, { states: ['closed'] });
    expect(closed?.close_reason).toContain('slung again');
  });

  it('routes are validated: the error names the file and the key', () => {
    expect(() => parseTownConfig('name = "t"\n[escalation.routes]\nhigh = ["mail:mayor", "pager:ops"]\n', '/t/town.toml')).toThrow(
      /\/t\/town\.toml: key escalation\.routes\.high\.1: a route/,
    );
    expect(() => parseTownConfig('name = "t"\n[escalation.routes]\nurgent = ["mail:mayor"]\n', '/t/town.toml')).toThrow(
      /key escalation\.routes: unknown key\(s\) "urgent"/,
    );
    expect(() => parseTownConfig('name = "t"\n[escalation]\nstale_after = "soon"\n', '/t/town.toml')).toThrow(/key escalation\.stale_after/);
  });
});
