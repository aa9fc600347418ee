/**
 * Domain behaviour through the in-process harness (real git, real SQLite, a
 * recording session backend): sling, sessions, nudges and the witness, done,
 * prime, and the town event stream they report to.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtimeProbe } from '../../src/app/index.js';
import { parseToml, renderToml, setKey } from '../../src/core/town/config.js';
import { parseIdentity } from '../../src/core/agents/identity.js';
import { startSession } from '../../src/core/agents/sessions.js';
import { recordSignal } from '../../src/core/agents/signals.js';
import { witnessPatrol } from '../../src/core/agents/witness.js';
import { Mailbox } from '../../src/core/comms/mail.js';
import { nudgeAgent } from '../../src/core/comms/nudge.js';
import { followEvents } from '../../src/core/events/follow.js';
import { answerPermission, brokerPermission } from '../../src/core/governance/permissions.js';
import { approveGate } from '../../src/core/work/gates.js';
import { runRefinery } from '../../src/core/merge/refinery.js';
import { createConvoy } from '../../src/core/work/convoys.js';
import { assemblePrime } from '../../src/core/work/prime.js';
import { finishWork, slingBeads } from '../../src/core/work/work.js';
import { TOWN_LEDGER } from '../../src/shared/paths.js';
import { townHarness, type Harness } from '../support/harness.js';

/** A polecat with a hooked bead and a (recorded) running session. */
async function slungPolecat(h: Harness): Promise<{ bead: string; agent: string }> {
  const bead = await h.bead('Add a file', { run: ['echo hi > hi.txt'] });
  const [result] = await slingBeads(h.town, [bead], 'app', { runtime: 'shell' }, runtimeProbe(h.env));
  return { bead, agent: (result as { agent: string }).agent };
}

const kinds = async (h: Harness) => (await h.ledger.townEvents(0)).map((e) => e.kind);

describe('the town event stream', () => {
  it('a sling is reported as bead.slung then session.started, with the bead, agent and rig', async () => {
    const h = await townHarness();
    const { bead, agent } = await slungPolecat(h);
    expect(h.backend.started).toHaveLength(1);
    const events = await h.ledger.townEvents(0, { kinds: ['bead', 'session'] });
    expect(events.map((e) => [e.kind, e.bead, e.agent, e.rig])).toEqual([
      ['bead.slung', bead, agent, 'app'],
      ['session.started', bead, agent, 'app'],
    ]);
    expect(events[0]?.actor).toBe('human');
    expect(events[1]?.payload).toMatchObject({ runtime: 'shell', backend: 'tmux' });
  });

  it('reads by position: nothing twice, nothing missed, filters by kind noun, rig and agent', async () => {
    const h = await townHarness();
    const a = await h.ledger.emit({ kind: 'mr.queued', rig: 'app', bead: 'app-1' });
    await h.ledger.emit({ kind: 'convoy.landed', bead: 'hq-cv-1' });
    const c = await h.ledger.emit({ kind: 'mr.merged', rig: 'app', bead: 'app-1', agent: 'app/polecats/nux' });
    expect((await h.ledger.townEvents(a)).map((e) => e.kind)).toEqual(['convoy.landed', 'mr.merged']);
    expect((await h.ledger.townEvents(0, { kinds: ['mr'] })).map((e) => e.id)).toEqual([a, c]);
    expect(await h.ledger.townEvents(0, { kinds: ['mr.*', 'convoy.landed'] })).toHaveLength(3);
    expect((await h.ledger.townEvents(0, { agent: 'app/polecats/nux' })).map((e) => e.id)).toEqual([c]);
    expect(await h.ledger.townEvents(0, { rig: 'other' })).toEqual([]);
  });

  it('a follower sees every event in order, including those appended while it follows', async () => {
    const h = await townHarness();
    await h.ledger.emit({ kind: 'mr.queued', bead: 'x-1' });
    const seen: number[] = [];
    const stop = new AbortController();
    const following = followEvents(h.ledger, { after: 0, filter: {}, pollMs: 10, signal: stop.signal }, (e) => {
      seen.push(e.id);
      if (seen.length === 5) stop.abort();
    });
    for (let i = 0; i < 4; i++) await h.ledger.emit({ kind: 'mr.merged', bead: `x-${i}` });
    const last = await following;
    const all = (await h.ledger.townEvents(0)).map((e) => e.id);
    expect(seen).toEqual(all);
    expect(last).toBe(all.at(-1));
  });

  it('an event is written in the transaction of its change: a failed update leaves no event', async () => {
    const h = await townHarness();
    const bead = await h.bead('x');
    await expect(
      h.ledger.update([bead], { status: 'hooked', expect: { statuses: ['closed'] }, townEvent: { kind: 'bead.slung', bead } }),
    ).resolves.toMatchObject({ failed: [{ id: bead }] });
    expect(await kinds(h)).toEqual([]);
  });
});

describe('agent state churn', () => {
  it('10,000 turns of hook signals leave the ledger flat: no audit rows, one coalesced state event, the same file size', async () => {
    const h = await townHarness();
    const { agent } = await slungPolecat(h);
    const identity = parseIdentity(agent);
    const turns = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await recordSignal(h.town, identity, 'prompt-submit');
        await recordSignal(h.town, identity, 'stop');
      }
    };
    const size = () => {
      const db = join(h.root, TOWN_LEDGER);
      let wal = 0;
      try {
        wal = statSync(`${db}-wal`).size;
      } catch {
        wal = 0;
      }
      return statSync(db).size + wal;
    };
    const auditRows = async () => (await h.ledger.events(0, 1_000_000)).length;
    await turns(1_000);
    const [sizeAfter1k, auditAfter1k, eventsAfter1k] = [size(), await auditRows(), (await h.ledger.townEvents(0)).length];
    await turns(9_000);
    expect(await auditRows()).toBe(auditAfter1k);
    expect((await h.ledger.townEvents(0)).length).toBe(eventsAfter1k);
    expect((await h.ledger.townEvents(0, { kinds: ['agent.state'] })).map((e) => e.payload.state)).toEqual(['idle']);
    // Pages freed by superseded state events are reused; the WAL is bounded by checkpoints.
    expect(size()).toBeLessThanOrEqual(sizeAfter1k + 256 * 1024);
    const record = await h.town.agent(identity);
    expect(record?.state).toBe('idle');
  }, 120_000);
});

describe('nudges and the witness', () => {
  it('the witness wakes an idle agent through the nudge lock, and its next hook event confirms the wake', async () => {
    const h = await townHarness();
    h.town.reloadConfig();
    const { bead, agent } = await slungPolecat(h);
    const identity = parseIdentity(agent);
    await recordSignal(h.town, identity, 'stop'); // idle at its prompt
    // The "runtime": text typed at its prompt makes its prompt hook fire, as Claude Code's does.
    h.backend.onSend = () => {
      setTimeout(() => void recordSignal(h.town, identity, 'prompt-submit'), 50);
    };
    const writeConfig = h.town.ports.files.read(join(h.root, 'town.toml')) ?? '';
    h.town.ports.files.write(join(h.root, 'town.toml'), `${writeConfig}\n[witness]\nidle_wake = "0s"\nmax_wakes = 3\n`);
    h.town.reloadConfig();
    const [action] = await witnessPatrol(h.town, { confirmSec: 5 });
    expect(action).toMatchObject({ agent, bead, action: 'woken', confirmed: true });
    expect(h.backend.sent.at(-1)?.text).toContain(bead);
    const events = await h.ledger.townEvents(0, { kinds: ['nudge', 'agent.woken'] });
    expect(events.map((e) => e.kind)).toEqual(['nudge.sent', 'nudge.confirmed', 'agent.woken']);
    expect(events[2]?.payload).toMatchObject({ confirmed: true, wakes: 1 });
  });

  it('a wake-up no hook event answers is reported unconfirmed, and no nudge.confirmed is recorded', async () => {
    const h = await townHarness();
    const { agent } = await slungPolecat(h);
    const identity = parseIdentity(agent);
    await recordSignal(h.town, identity, 'stop');
    const result = await nudgeAgent(h.town, 'human', identity, 'are you there?', { waitSec: 0.5 });
    expect(result).toEqual({ agent, delivery: 'typed', confirmed: false });
    expect(h.backend.sent.at(-1)?.text).toBe('[nudge from human] are you there?');
    expect((await h.ledger.townEvents(0, { kinds: ['nudge'] })).map((e) => e.kind)).toEqual(['nudge.sent']);
  });

  it('a busy agent gets the nudge queued in its durable inbox, delivered once at its next turn boundary', async () => {
    const h = await townHarness();
    const { agent } = await slungPolecat(h);
    const identity = parseIdentity(agent);
    await recordSignal(h.town, identity, 'prompt-submit'); // working
    const result = await nudgeAgent(h.town, 'human', identity, 'use the v2 API', { idleWaitSec: 0.3 });
    expect(result.delivery).toBe('queued');
    expect(h.backend.sent).toEqual([]);
    const mailbox = new Mailbox(h.ledger, agent);
    expect((await mailbox.takePending(agent)).map((m) => m.subject)).toEqual(['use the v2 API']);
    expect(await mailbox.takePending(agent)).toEqual([]);
    expect((await h.ledger.townEvents(0, { kinds: ['mail'] })).map((e) => e.kind)).toEqual(['mail.sent', 'mail.delivered']);
  });
});

describe('prime, done and sessions', () => {
  it('prime shows the hooked bead with its branch and steps, and marks the handoff note read once shown', async () => {
    const h = await townHarness();
    const { bead, agent } = await slungPolecat(h);
    const identity = parseIdentity(agent);
    await new Mailbox(h.ledger, agent).send(agent, 'HANDOFF', 'tests pass; next: docs', { kind: 'handoff' });
    const prime = await assemblePrime(h.town, identity);
    expect(prime.text).toContain(`## Hooked: ${bead}`);
    expect(prime.text).toContain(`branch polecat/`);
    expect(prime.text).toContain('$ echo hi > hi.txt');
    expect(prime.text).toContain('tests pass; next: docs');
    expect(prime.json).toMatchObject({ agent, hooked: [{ id: bead }], handoff: { read: false } });
    const again = await assemblePrime(h.town, identity);
    expect(again.json).toMatchObject({ handoff: { read: true } });
  });

  it('done files the merge request and ends the session: from outside when the agent runs it, at once when a person does', async () => {
    const h = await townHarness();
    const { bead, agent } = await slungPolecat(h);
    const identity = parseIdentity(agent);
    const record = await h.town.agent(identity);
    const dir = h.town.path(record?.workdir ?? '');
    h.git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'work']);
    const done = await finishWork(h.town, identity, 'COMPLETED', { caller: agent });
    expect(done).toMatchObject({ bead, commits: 1 });
    // Only that run's session: one started meanwhile (a gate opened, a handoff) is not stopped by a late stop.
    expect(h.detached.calls).toEqual([{ what: 'stop', agent, run: record?.run }]);
    expect(h.backend.stopped).toEqual([]);
    expect((await h.ledger.townEvents(0, { kinds: ['work', 'mr'] })).map((e) => [e.kind, e.bead])).toEqual([
      ['mr.queued', bead],
      ['work.done', bead],
    ]);

    // The detached stop ran (a moment later, from outside); slung again and finished by a person, it is stopped here and now.
    h.backend.kill(record?.session ?? '');
    const second = await h.bead('Another');
    await slingBeads(h.town, [second], agent, { runtime: 'shell' }, runtimeProbe(h.env));
    await finishWork(h.town, identity, 'DEFERRED', { message: 'not now' });
    expect(h.backend.stopped).toEqual([record?.session]);
    expect((await h.ledger.townEvents(0, { kinds: ['session.ended'] })).map((e) => e.agent)).toEqual([agent]);
  });

  it('a crashed session is restarted by the witness on the same hook, reported as session.died then agent.restarted', async () => {
    const h = await townHarness();
    const { bead, agent } = await slungPolecat(h);
    const record = await h.town.agent(parseIdentity(agent));
    h.backend.kill(record?.session ?? '');
    const [action] = await witnessPatrol(h.town);
    expect(action).toMatchObject({ agent, bead, action: 'restarted' });
    expect(h.backend.started).toHaveLength(2);
    expect((await h.ledger.townEvents(0, { kinds: ['session', 'agent.restarted'] })).map((e) => e.kind)).toEqual([
      'session.started',
      'session.died',
      'session.started',
      'agent.restarted',
    ]);
    // startSession is the one way a session starts: the record says so.
    await expect(
      startSession(h.town, parseIdentity(agent), { runtime: h.town.runtimeFor(parseIdentity(agent), 'shell'), backend: 'tmux', hooked: true }),
    ).resolves.toMatchObject({ state: 'starting' });
  });
});

describe('permissions and gates report to the stream', () => {
  it("an ask is permission.asked with the agent waiting-permission; a person's answer is permission.decided in the same transaction as the decision", async () => {
    const h = await townHarness();
    const { agent } = await slungPolecat(h);
    const identity = parseIdentity(agent);
    const toml = join(h.root, 'town.toml');
    h.town.ports.files.write(toml, `${h.town.ports.files.read(toml) ?? ''}\n[permissions]\ndefault = "ask"\ntimeout = "30s"\n`);
    h.town.reloadConfig();
    const asking = brokerPermission(h.town, identity, { tool: 'Bash', input: { command: 'make deploy' }, cwd: h.town.path('app') }, { pollMs: 20 });
    const asked = await (async () => {
      for (;;) {
        const [event] = await h.ledger.townEvents(0, { kinds: ['permission.asked'] });
        if (event) return event;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    expect(asked).toMatchObject({ agent, actor: agent, payload: { tool: 'Bash' } });
    expect((await h.town.agent(identity))?.state).toBe('waiting-permission');
    await answerPermission(h.town, asked.bead as string, 'allow', { by: 'human', via: 'person' }, 'fine');
    await expect(asking).resolves.toMatchObject({ action: 'allow', decided_by: 'human' });
    const [decided] = await h.ledger.townEvents(asked.id, { kinds: ['permission.decided'] });
    expect(decided).toMatchObject({ actor: 'human', agent, bead: asked.bead, payload: { decision: 'allow', decided_via: 'person', reason: 'fine' } });
    expect((await h.town.agent(identity))?.state).toBe('working');
  });

  it('approving a gate is gate.opened, by whom', async () => {
    const h = await townHarness();
    const gate = await h.ledger.create({ title: 'Ship?', type: 'gate', prefix: h.town.rig('app').prefix, metadata: { await_type: 'human' } });
    await approveGate(h.town, gate.id, 'human', 'ok');
    expect((await h.ledger.townEvents(0, { kinds: ['gate'] })).map((e) => [e.kind, e.bead, e.actor, e.rig])).toEqual([
      ['gate.opened', gate.id, 'human', 'app'],
    ]);
  });
});

describe("the refinery's progress lines", () => {
  it('name the bead and its merge request, and a convoy lands after the merge that completed it', async () => {
    const h = await townHarness();
    const lines: string[] = [];
    h.town.ports.progress = (line) => lines.push(line);
    const { bead, agent } = await slungPolecat(h);
    const convoy = await createConvoy(h.town, 'Greeting', [bead], { owner: 'human' });
    const identity = parseIdentity(agent);
    h.git(h.town.path((await h.town.agent(identity))?.workdir ?? ''), [
      '-c',
      'user.name=t',
      '-c',
      'user.email=t@t',
      'commit',
      '-q',
      '--allow-empty',
      '-m',
      'work',
    ]);
    await finishWork(h.town, identity, 'COMPLETED', { caller: agent });
    const [outcome] = await runRefinery(h.town, 'app');
    expect(outcome).toMatchObject({ result: 'merged', bead });
    const refinery = lines.filter((l) => l.startsWith('refinery app: '));
    expect(refinery).toEqual([
      `refinery app: merged ${bead} (MR ${outcome?.merge_request ?? ''}) as ${outcome?.commit?.slice(0, 12) ?? ''}`,
      `refinery app: convoy ${convoy.id} "Greeting" landed`,
    ]);
  });
});

describe('what a session is given', () => {
  it("an agent gets the secrets its runtime needs and those town.toml passes, never the rest of the person's", async () => {
    const h = await townHarness({
      env: { ANTHROPIC_API_KEY: 'sk-ant-test-key', GITHUB_TOKEN: 'ghp_person', AWS_SECRET_ACCESS_KEY: 'aws', NPM_TOKEN: 'npm', LANG: 'C.UTF-8' },
    });
    const claude = await h.bead('Claude work');
    await slingBeads(h.town, [claude], 'app', { runtime: 'claude', noStart: true }, runtimeProbe(h.env));
    const agent = (await h.town.agents()).find((a) => a.role === 'polecat');
    await startSession(h.town, parseIdentity(agent?.address ?? ''), {
      runtime: h.town.runtimeFor(parseIdentity(agent?.address ?? ''), 'claude'),
      backend: 'tmux',
      hooked: true,
    });
    const env = h.backend.started.at(-1)?.env ?? {};
    expect(env.ANTHROPIC_API_KEY).toBe('sk-ant-test-key');
    expect(env.LANG).toBe('C.UTF-8');
    expect(Object.keys(env).filter((k) => ['GITHUB_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'NPM_TOKEN'].includes(k))).toEqual([]);
    // A person passes one on purpose.
    const toml = join(h.root, 'town.toml');
    h.town.ports.files.write(toml, renderToml(setKey(parseToml(h.town.ports.files.read(toml) ?? '', toml), 'sessions.pass_env', '["NPM_TOKEN"]')));
    h.town.reloadConfig();
    await startSession(h.town, parseIdentity(agent?.address ?? ''), {
      runtime: h.town.runtimeFor(parseIdentity(agent?.address ?? ''), 'shell'),
      backend: 'tmux',
      hooked: true,
    });
    const shell = h.backend.started.at(-1)?.env ?? {};
    expect(shell.NPM_TOKEN).toBe('npm');
    expect(shell.ANTHROPIC_API_KEY).toBeUndefined();
    expect(shell.GITHUB_TOKEN).toBeUndefined();
  });
});

describe('the merge queue and the repository it shares with agents', () => {
  it('runs no repository hook, even one an agent pointed the shared config at (core.hooksPath)', async () => {
    const h = await townHarness();
    const { agent } = await slungPolecat(h);
    const identity = parseIdentity(agent);
    const dir = h.town.path((await h.town.agent(identity))?.workdir ?? '');
    const hooks = join(h.root, 'evil-hooks');
    const marker = join(h.root, 'HOOK_RAN');
    for (const name of ['pre-rebase', 'post-rewrite', 'post-checkout', 'post-merge', 'reference-transaction']) {
      h.town.ports.files.write(join(hooks, name), `#!/bin/sh\ntouch ${marker}\n`, 0o755);
    }
    h.git(dir, ['config', 'core.hooksPath', hooks]);
    h.git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'work', '--no-verify']);
    h.town.ports.files.remove(marker);
    await finishWork(h.town, identity, 'COMPLETED', { caller: agent });
    h.town.ports.files.remove(marker);
    const [outcome] = await runRefinery(h.town, 'app');
    expect(outcome).toMatchObject({ result: 'merged' });
    expect(h.town.ports.files.exists(marker)).toBe(false);
  });
});
