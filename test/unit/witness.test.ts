/**
 * The witness over an in-process town (real git and SQLite, a recording
 * session backend): each problem state is recorded as a transition (from, to,
 * why) and acted on once; gt agents reads the same state.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseIdentity } from '../../src/core/agents/identity.js';
import { recordSignal } from '../../src/core/agents/signals.js';
import { readAgent } from '../../src/core/agents/supervision.js';
import { witnessPatrol } from '../../src/core/agents/witness.js';
import { slingBeads } from '../../src/core/work/work.js';
import { runtimeProbe } from '../../src/app/index.js';
import { townHarness, type Harness } from '../support/harness.js';

async function slung(h: Harness, witness: string): Promise<{ bead: string; agent: string; session: string }> {
  const toml = join(h.root, 'town.toml');
  h.town.ports.files.write(toml, `${h.town.ports.files.read(toml) ?? ''}\n[witness]\n${witness}\n`);
  h.town.reloadConfig();
  const bead = await h.bead('Add a file', { run: ['echo hi > hi.txt'] });
  const [result] = await slingBeads(h.town, [bead], 'app', { runtime: 'shell' }, runtimeProbe(h.env));
  const agent = (result as { agent: string }).agent;
  return { bead, agent, session: (await h.town.agent(parseIdentity(agent)))?.session as string };
}

const transitions = async (h: Harness, agent: string) =>
  (await h.ledger.townEvents(0, { kinds: ['agent.state', 'agent.problem'], agent })).map((e) => [e.kind, e.payload.from, e.payload.state]);

describe('the witness acts on the state machine', () => {
  it('a zombie (session without its agent process) is recorded as a transition, its session stopped and started again', async () => {
    const h = await townHarness();
    const { agent, bead, session } = await slung(h, '');
    await recordSignal(h.town, parseIdentity(agent), 'prompt-submit');
    h.backend.zombies.set(session, { session: true, process: false });
    const [action] = await witnessPatrol(h.town, { pass: 7 });
    expect(action).toMatchObject({ agent, bead, action: 'restarted', state: 'zombie' });
    expect(h.backend.stopped).toEqual([session]);
    expect(h.backend.started).toHaveLength(2);
    const problem = (await h.ledger.townEvents(0, { kinds: ['agent.problem'] }))[0];
    expect(problem).toMatchObject({ agent, actor: 'app/witness', payload: { from: 'working', state: 'zombie', pass: 7 } });
    expect(await transitions(h, agent)).toEqual(
      expect.arrayContaining([
        ['agent.problem', 'working', 'zombie'],
        ['agent.state', 'zombie', 'starting'],
      ]),
    );
  });

  it('a stalled agent is interrupted once, then escalated once; gt agents reads stalled', async () => {
    const h = await townHarness();
    const { agent, bead } = await slung(h, 'stall_after = "0s"');
    await recordSignal(h.town, parseIdentity(agent), 'prompt-submit');
    const [first] = await witnessPatrol(h.town);
    expect(first).toMatchObject({ action: 'interrupted', state: 'stalled' });
    expect(h.backend.started).toHaveLength(2);
    await recordSignal(h.town, parseIdentity(agent), 'prompt-submit');
    const [second] = await witnessPatrol(h.town);
    expect(second).toMatchObject({ action: 'escalated', state: 'stalled' });
    expect(await witnessPatrol(h.town)).toEqual([]);
    expect(h.backend.started).toHaveLength(2);
    const record = await h.town.agent(parseIdentity(agent));
    expect((await readAgent(h.town, record!)).state).toBe('stalled');
    expect(record?.supervision).toMatchObject({ bead, escalated: 'stall' });
    const raised = await h.ledger.townEvents(0, { kinds: ['escalation.raised'] });
    expect(raised.map((e) => [e.payload.source, e.payload.reason])).toEqual([['witness', 'stall']]);
  });

  it('counters start again with a new bead: a crash loop on one bead does not stop restarts for the next', async () => {
    const h = await townHarness();
    const { agent, session } = await slung(h, 'crash_loop_restarts = 1\nrestart_backoff = "0s"');
    h.backend.kill(session);
    expect((await witnessPatrol(h.town))[0]).toMatchObject({ action: 'restarted', state: 'dead' });
    h.backend.kill(session);
    expect((await witnessPatrol(h.town))[0]).toMatchObject({ action: 'escalated', state: 'dead' });
    expect(await witnessPatrol(h.town)).toEqual([]);
    // A person takes the bead back and slings another: the witness restarts it again.
    const hooked = (await h.town.agent(parseIdentity(agent)))?.supervision.bead as string;
    await h.ledger.update([hooked], { status: 'open', assignee: null });
    const next = await h.bead('Another', { run: ['true'] });
    await slingBeads(h.town, [next], agent, { runtime: 'shell' }, runtimeProbe(h.env));
    h.backend.kill(session);
    // Hooked a moment ago and started since: not taken for a session still being started by sling.
    expect((await witnessPatrol(h.town))[0]).toMatchObject({ action: 'restarted', bead: next });
  });
});
