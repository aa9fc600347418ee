/**
 * A town across hosts (issue 19 §2): the pure rules (a missed heartbeat is
 * host-lost, host names, town.toml edits), then placement, the dispatch
 * compare-and-set and host-lost through two in-process towns — two town
 * directories, each its own host, sharing one real SQLite ledger (the
 * PostgreSQL two-host run is test/e2e/hosts.test.ts).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configParsers, openLedger, townPorts } from '../../src/app/index.js';
import { single } from '../../src/core/beads/ledger.js';
import { remoteAgentState } from '../../src/core/agents/agent-state.js';
import { parseIdentity } from '../../src/core/agents/identity.js';
import { readAgents } from '../../src/core/agents/supervision.js';
import { heartbeatMissed, holdTownJobs, hostBeadId, markLostHosts, renewHost, TOWN_JOBS_ID, townJobsLease } from '../../src/core/hosts/hosts.js';
import { hostNameFrom, hostsView, joinHost, withHostName } from '../../src/core/hosts/join.js';
import { claimDispatch, rigBeadId, rigsHere } from '../../src/core/hosts/placement.js';
import { moveRig } from '../../src/core/hosts/rigs.js';
import { dispatchQueue } from '../../src/core/scheduler/dispatch.js';
import { QUEUE_LABEL } from '../../src/core/scheduler/queue.js';
import { Town } from '../../src/core/town/town.js';
import { slingBeads, type RuntimeProbe } from '../../src/core/work/work.js';
import { TOWN_LEDGER } from '../../src/shared/paths.js';
import { onCleanup } from '../support/env.js';
import { RecordingBackend, RecordingDetached, townHarness, type Harness } from '../support/harness.js';

const probe: RuntimeProbe = { exists: () => true, version: () => undefined };

describe('hosts: the pure rules', () => {
  it('a host that missed its heartbeat window is lost, and so are its agents; a beating host shows what it recorded', () => {
    const now = Date.parse('2026-11-28T00:00:30Z');
    expect(heartbeatMissed({ heartbeat_at: '2026-11-28T00:00:10Z' }, now, 30_000)).toBe(false);
    expect(heartbeatMissed({ heartbeat_at: '2026-11-28T00:00:00Z' }, now, 30_000)).toBe(true);
    expect(heartbeatMissed({}, now, 30_000)).toBe(true);
    expect(remoteAgentState({ recorded: 'working', host: 'b', heartbeatAt: now - 5_000, now }, 30_000)).toMatchObject({ state: 'working' });
    expect(remoteAgentState({ recorded: 'working', host: 'b', heartbeatAt: now - 30_000, now }, 30_000)).toMatchObject({
      state: 'host-lost',
      reason: expect.stringContaining('host b missed its heartbeat') as string,
    });
    expect(remoteAgentState({ recorded: 'idle', host: 'b', now }, 30_000).state).toBe('host-lost');
  });

  it('names a host from a machine name, and sets [host] name in a town.toml without touching the rest', () => {
    expect(hostNameFrom('Build-02.corp.example')).toBe('build-02');
    expect(hostNameFrom('42box')).toBe('box');
    const text = '# my town\nname = "t"\n\n[daemon]\ninterval = "5s"\n';
    expect(withHostName(text, 'a')).toBe(`${text}\n[host]\nname = "a"\n`);
    expect(withHostName('name = "t"\n[host]\nlost_after = "1m"\n', 'b')).toBe('name = "t"\n[host]\nname = "b"\nlost_after = "1m"\n');
    expect(withHostName('[host]\nname = "x"\n', 'c')).toBe('[host]\nname = "c"\n');
  });
});

interface TwoHosts {
  h: Harness;
  a: Town;
  b: Town;
  backendB: RecordingBackend;
}

/** Makes the harness town host `a`, and a second town directory host `b` on the same ledger file. */
async function twoHosts(): Promise<TwoHosts> {
  const h = await townHarness();
  const townFile = join(h.root, 'town.toml');
  writeFileSync(townFile, withHostName(readFileSync(townFile, 'utf8'), 'a'));
  h.town.reloadConfig();
  await joinHost(h.town, 'a');
  const rootB = join(h.root, '..', 'town-b');
  mkdirSync(join(rootB, '.gt'), { recursive: true });
  writeFileSync(join(rootB, 'town.toml'), 'name = "test"\n[host]\nname = "b"\n');
  const ledgerB = openLedger(join(h.root, TOWN_LEDGER), 'human');
  onCleanup(() => ledgerB.release());
  const backendB = new RecordingBackend();
  const b = new Town(
    rootB,
    ledgerB,
    { ...townPorts(rootB, h.env, () => undefined), backend: () => backendB, detached: new RecordingDetached() },
    await configParsers(),
  );
  await joinHost(b, 'b');
  return { h, a: h.town, b, backendB };
}

/** Sets a host's last heartbeat `ms` ago. */
async function beatAgo(town: Town, host: string, ms: number): Promise<void> {
  await town.ledger.update([hostBeadId(host)], { setMetadata: { heartbeat_at: new Date(Date.now() - ms).toISOString() }, volatile: true });
}

describe('hosts: placement, the dispatch compare-and-set, host-lost', () => {
  it('one host at a time runs the town-wide jobs; another takes them over when the holder stops renewing its lease', async () => {
    const { a, b } = await twoHosts();
    expect(await holdTownJobs(a, 'a')).toBe(true);
    expect(await holdTownJobs(b, 'b')).toBe(false);
    expect(await holdTownJobs(a, 'a')).toBe(true);
    expect((await hostsView(b)).map((v) => [v.name, v.town_jobs])).toEqual([
      ['a', true],
      ['b', false],
    ]);
    // Host a stops renewing: once the lease is older than host.lost_after, b takes it, and a no longer holds it.
    const old = new Date(Date.now() - 10 * 60_000).toISOString();
    await a.ledger.update([TOWN_JOBS_ID], { setMetadata: { renewed_at: old }, volatile: true });
    expect(await holdTownJobs(b, 'b')).toBe(true);
    expect(await holdTownJobs(a, 'a')).toBe(false);
    expect((await townJobsLease(a.ledger)).holder).toBe('b');
  });

  it('a sling from another host is queued for the rig’s host, whose daemon alone spawns it', async () => {
    const { h, a, b, backendB } = await twoHosts();
    // Joining placed the rig of host a's directory on a.
    expect((await a.ledger.find(rigBeadId('app')))?.metadata?.host).toBe('a');
    expect(await rigsHere(a)).toEqual(['app']);
    expect(await rigsHere(b)).toEqual([]);
    const id = await h.bead('Across hosts');
    const [result] = await slingBeads(b, [id], 'app', { runtime: 'shell' }, probe);
    expect(result?.queued?.reason).toBe('rig app runs on host a: its daemon starts it');
    expect((await a.ledger.show([id]))[0]?.labels).toContain(QUEUE_LABEL);
    // Host b's daemon leaves it alone: app is not its rig.
    expect(await dispatchQueue(b, probe)).toEqual([]);
    expect(backendB.started).toHaveLength(0);
    const outcomes = await dispatchQueue(a, probe);
    expect(outcomes).toMatchObject([{ bead: id, result: 'dispatched', agent: expect.stringMatching(/^app\/polecats\//) as string }]);
    expect(h.backend.started).toHaveLength(1);
    const bead = (await a.ledger.show([id]))[0];
    expect(bead?.status).toBe('hooked');
    // The claim went with the queue entry once it was hooked; the agent records the host it runs on.
    expect(bead?.metadata?.dispatch_host).toBeUndefined();
    const agent = await a.agent(parseIdentity(result?.agent || (outcomes[0]?.agent as string)));
    expect(agent?.host).toBe('a');
  });

  it('the dispatch claim is a compare-and-set: the second host loses while the first beats, and takes over a lost holder’s claim', async () => {
    const { h, a, b } = await twoHosts();
    const id = await h.bead('Contested');
    await a.ledger.update([id], { addLabels: [QUEUE_LABEL], setMetadata: { queue_target: 'mayor' } });
    expect(await claimDispatch(a, id)).toBe(true);
    expect(await claimDispatch(b, id)).toBe(false);
    expect(await claimDispatch(a, id)).toBe(true);
    // The check is inside the write: a claim made on a stale reading (no holder yet) is refused, not applied.
    await expect(
      b.ledger
        .update([id], { setMetadata: { dispatch_host: 'b' }, expect: { statuses: ['open'], assignee: null, metadata: { dispatch_host: null } } })
        .then(single),
    ).rejects.toThrow(/its dispatch_host is now "a"/);
    expect((await a.ledger.find(id))?.metadata?.dispatch_host).toBe('a');
    // Host a stops beating: its claim is taken over.
    await beatAgo(b, 'a', 60_000);
    expect(await claimDispatch(b, id)).toBe(true);
    expect((await a.ledger.find(id))?.metadata?.dispatch_host).toBe('b');
  });

  it('a host that stops beating: its agents show host-lost everywhere else, their beads stay hooked; it returns with one event', async () => {
    const { h, a, b } = await twoHosts();
    const id = await h.bead('Hooked on a');
    const [slung] = await slingBeads(a, [id], 'app', { runtime: 'shell' }, probe);
    const address = slung?.agent as string;
    const fromB = async () => (await readAgents(b)).find((r) => r.agent.address === address);
    expect((await fromB())?.state).toBe('starting');
    await beatAgo(b, 'a', 60_000);
    await new Promise((r) => setTimeout(r, 1100)); // the reading caches heartbeats for a second
    expect(await fromB()).toMatchObject({ state: 'host-lost', hooked: [expect.objectContaining({ id })] });
    expect((await hostsView(b)).find((v) => v.name === 'a')?.state).toBe('lost');
    // Host b notices once (a compare-and-set on the host's state), even asked twice.
    expect(await markLostHosts(b, 'b')).toEqual(['a']);
    expect(await markLostHosts(b, 'b')).toEqual([]);
    // Its own host sees the agent as it is; the bead was never unhooked.
    expect((await readAgents(a)).find((r) => r.agent.address === address)?.state).not.toBe('host-lost');
    expect((await a.ledger.show([id]))[0]?.status).toBe('hooked');
    await renewHost(a, 'a', { pid: process.pid, load: 0, cores: 2, agents: 1 });
    const kinds = (await a.ledger.townEvents(0, { kinds: ['host'] }, 100)).map((e) => `${e.kind}:${String(e.payload.host)}`);
    expect(kinds.filter((k) => k === 'host.lost:a')).toHaveLength(1);
    expect(kinds.at(-1)).toBe('host.returned:a');
  });

  it('gt rig move from a lost host: the rig is placed on the new host and its hooked work is queued there, to resume from its worker’s checkpoint', async () => {
    const { h, a, b } = await twoHosts();
    const id = await h.bead('Moves with its rig');
    const [slung] = await slingBeads(a, [id], 'app', { runtime: 'shell' }, probe);
    // Its host is alive and its agent runs: a move is refused without --force.
    await expect(moveRig(b, 'app', 'b')).rejects.toThrow(/still running on a/);
    await beatAgo(b, 'a', 60_000);
    await new Promise((r) => setTimeout(r, 1100));
    const moved = await moveRig(b, 'app', 'b');
    expect(moved).toMatchObject({ rig: 'app', from: 'a', to: 'b', reslung: [{ bead: id, from_agent: slung?.agent }] });
    const bead = (await b.ledger.show([id]))[0];
    expect(bead).toMatchObject({ status: 'open' });
    expect(bead?.labels).toContain(QUEUE_LABEL);
    expect(bead?.metadata).toMatchObject({ queue_target: 'app', queue_force: true, resume_agent: slung?.agent });
    expect(await rigsHere(a)).toEqual([]);
    const events = await b.ledger.townEvents(0, { kinds: ['rig.moved'] }, 10);
    expect(events[0]?.payload).toMatchObject({ host: 'b', from: 'a' });
  });
});
