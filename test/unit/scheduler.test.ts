/**
 * The dispatch scheduler (issue 14 §5): the pure decisions (dispatch order,
 * limits, spacing, back-off growth with bounded jitter), then the queue and
 * the back-off through the in-process harness (real git and SQLite, a
 * recording session backend).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseIdentity } from '../../src/core/agents/identity.js';
import { recordSignal } from '../../src/core/agents/signals.js';
import { witnessPatrol } from '../../src/core/agents/witness.js';
import { parseRigConfig, parseTownConfig } from '../../src/core/town/config.js';
import { readBackoffs } from '../../src/core/scheduler/backoff.js';
import {
  backoffWindow,
  decideStarts,
  describePlace,
  dispatchOrder,
  isRateLimit,
  nextBackoff,
  ordinal,
  startSlots,
  type BackoffPolicy,
  type Candidate,
  type SchedulerView,
} from '../../src/core/scheduler/decide.js';
import { dispatchQueue, resumeAfterBackoff } from '../../src/core/scheduler/dispatch.js';
import { listQueue, moveInQueue, removeFromQueue } from '../../src/core/scheduler/queue.js';
import { townStatus } from '../../src/core/town/status.js';
import { slingBeads, type RuntimeProbe } from '../../src/core/work/work.js';
import { townHarness, type Harness } from '../support/harness.js';

const view = (over: Partial<SchedulerView> = {}): SchedulerView => ({
  town: { max_per_runtime: {} },
  rigs: {},
  running: [],
  paused: {},
  ...over,
});
const cand = (id: string, over: Partial<Candidate> = {}): Candidate => ({ id, priority: 2, seq: 0, runtime: 'shell', rig: 'app', ...over });
const started = (decisions: Array<{ id: string; start: boolean }>) => decisions.filter((d) => d.start).map((d) => d.id);

describe('scheduling decisions (pure)', () => {
  it('orders by priority, then first queued, then ID', () => {
    const order = dispatchOrder([
      cand('c', { priority: 2, seq: 5 }),
      cand('a', { priority: 3, seq: 1 }),
      cand('b', { priority: 0, seq: 9 }),
      cand('e', { priority: 2, seq: 2 }),
      cand('d', { priority: 2, seq: 2 }),
    ]);
    expect(order.map((c) => c.id)).toEqual(['b', 'd', 'e', 'c', 'a']);
  });

  it('starts at most max_agents, counting the agents already running, the highest priority first', () => {
    const running = [{ address: 'app/polecats/x', rig: 'app', runtime: 'shell' }];
    const d = decideStarts(
      [cand('low', { priority: 3 }), cand('p1', { priority: 1, seq: 2 }), cand('p1-first', { priority: 1, seq: 1 }), cand('p2', { priority: 2 })],
      view({ town: { max_agents: 3, max_per_runtime: {} }, running }),
      0,
    );
    expect(started(d)).toEqual(['p1-first', 'p1']);
    expect(d.find((x) => x.id === 'p2')?.reason).toBe('max_agents 3 reached (3 running)');
  });

  it('a runtime at its cap waits without holding up other runtimes behind it; rig caps apply to their rig only', () => {
    const d = decideStarts(
      [
        cand('claude-1', { runtime: 'claude', seq: 1 }),
        cand('claude-2', { runtime: 'claude', seq: 2 }),
        cand('shell-1', { seq: 3 }),
        cand('web-1', { rig: 'web', seq: 4 }),
        cand('web-2', { rig: 'web', seq: 5 }),
        cand('app-shell', { seq: 6 }),
      ],
      view({
        town: { max_agents: 10, max_per_runtime: { claude: 1 } },
        rigs: { web: { max_agents: 1, max_per_runtime: {} }, app: { max_per_runtime: { shell: 2 } } },
      }),
      0,
    );
    expect(started(d)).toEqual(['claude-1', 'shell-1', 'web-1', 'app-shell']);
    expect(d.find((x) => x.id === 'claude-2')?.reason).toBe('max_per_runtime.claude 1 reached (1 running)');
    expect(d.find((x) => x.id === 'web-2')?.reason).toBe('rig web max_agents 1 reached (1 running)');
    // A third shell bead of app would meet the rig's own shell cap.
    const more = decideStarts([cand('s1'), cand('s2', { seq: 1 }), cand('s3', { seq: 2 })], view({ rigs: { app: { max_per_runtime: { shell: 2 } } } }), 0);
    expect(more.find((x) => x.id === 's3')?.reason).toBe('rig app max_per_runtime.shell 2 reached (2 running)');
  });

  it('a backed-off runtime starts nothing until its window ends; others go on', () => {
    const paused = { claude: 10_000 };
    const during = decideStarts([cand('c', { runtime: 'claude' }), cand('s', { seq: 1 })], view({ paused }), 5_000);
    expect(started(during)).toEqual(['s']);
    expect(during[0]?.reason).toBe('claude is backed off (rate limited) until 1970-01-01T00:00:10.000Z');
    expect(started(decideStarts([cand('c', { runtime: 'claude' })], view({ paused }), 10_000))).toEqual(['c']);
  });

  it('spaces starts start_spacing apart, the first no sooner than spacing after the last start', () => {
    expect(startSlots(3, undefined, 2000, 100)).toEqual([100, 2100, 4100]);
    expect(startSlots(2, 1000, 2000, 1500)).toEqual([3000, 5000]);
    expect(startSlots(2, 1000, 2000, 9000)).toEqual([9000, 11000]);
    expect(startSlots(3, 8000, 0, 9000)).toEqual([9000, 9000, 9000]);
  });

  it('backs off exponentially, capped, with jitter that only shortens the window and never beyond the jitter fraction', () => {
    const policy: BackoffPolicy = { initialMs: 30_000, maxMs: 600_000, jitter: 0.5 };
    expect([1, 2, 3, 4, 5, 6].map((level) => backoffWindow(level, policy, 0))).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 600_000]);
    expect(backoffWindow(60, policy, 0)).toBe(600_000);
    for (let level = 1; level <= 8; level++) {
      const full = Math.min(600_000, 30_000 * 2 ** (level - 1));
      for (const r of [0, 0.1, 0.5, 0.9, 0.999999]) {
        const w = backoffWindow(level, policy, r);
        expect(w).toBeLessThanOrEqual(full);
        expect(w).toBeGreaterThanOrEqual(full * 0.5);
      }
    }
    expect(backoffWindow(1, { ...policy, jitter: 0 }, 0.7)).toBe(30_000);
    // Different draws spread the agents' returns out.
    expect(new Set([0.1, 0.4, 0.8].map((r) => backoffWindow(2, policy, r))).size).toBe(3);
  });

  it('a limit within the window changes nothing; one soon after it goes a level up; one after a quiet spell starts over', () => {
    const policy: BackoffPolicy = { initialMs: 1000, maxMs: 8000, jitter: 0 };
    const first = nextBackoff(undefined, 0, policy, 0);
    expect(first).toEqual({ state: { level: 1, since: 0, until: 1000 }, extended: true });
    expect(nextBackoff(first.state, 500, policy, 0)).toEqual({ state: first.state, extended: false });
    const second = nextBackoff(first.state, 1500, policy, 0);
    expect(second.state).toEqual({ level: 2, since: 1500, until: 3500 });
    const third = nextBackoff(second.state, 3600, policy, 0);
    expect(third.state.level).toBe(3);
    expect(nextBackoff(third.state, third.state.until + 8001, policy, 0).state.level).toBe(1);
  });

  it('tells a rate limit or an overload from other failures', () => {
    expect(isRateLimit('rate_limit', '')).toBe(true);
    expect(isRateLimit('unknown', 'API Error: 529 {"type":"overloaded_error"}')).toBe(true);
    expect(isRateLimit('', 'exceeded retry limit, last status: 429 Too Many Requests')).toBe(true);
    expect(isRateLimit('invalid_request', 'scripted failure: bad request')).toBe(false);
    expect(isRateLimit('invalid_request', 'invalid_request: scripted failure: overloaded model')).toBe(false);
    expect(isRateLimit('unknown', 'unknown: API Error: 400 scripted failure: overloaded model')).toBe(false);
    expect(isRateLimit('unknown', 'unknown: API Error: 429 {"type":"rate_limit_error"}')).toBe(true);
    expect(isRateLimit('billing_error', 'credit balance is too low')).toBe(false);
  });

  it('says places as people do', () => {
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101].map(ordinal)).toEqual([
      '1st',
      '2nd',
      '3rd',
      '4th',
      '11th',
      '12th',
      '13th',
      '21st',
      '22nd',
      '23rd',
      '101st',
    ]);
    expect(describePlace({ position: 3, of: 7 })).toBe('queued, 3rd of 7');
  });
});

describe('[scheduler] config', () => {
  it('is optional, has defaults, and every mistake names the file and the key', () => {
    const defaults = parseTownConfig('name = "t"\n', '/t/town.toml').scheduler;
    expect(defaults).toEqual({ max_per_runtime: {}, start_spacing: '0s', backoff_initial: '30s', backoff_max: '10m', backoff_jitter: 0.5 });
    const ok = parseTownConfig('name = "t"\n[scheduler]\nmax_agents = 4\nstart_spacing = "2s"\n[scheduler.max_per_runtime]\nclaude = 2\n', '/t/town.toml');
    expect(ok.scheduler).toMatchObject({ max_agents: 4, start_spacing: '2s', max_per_runtime: { claude: 2 } });
    const bad = (text: string) => () => parseTownConfig(`name = "t"\n${text}`, '/t/town.toml');
    expect(bad('[scheduler]\nmax_agents = 0\n')).toThrow('/t/town.toml: key scheduler.max_agents: at least 1 agent');
    expect(bad('[scheduler]\nstart_spacing = "soon"\n')).toThrow('/t/town.toml: key scheduler.start_spacing: a duration');
    expect(bad('[scheduler.max_per_runtime]\nclaude = -1\n')).toThrow('/t/town.toml: key scheduler.max_per_runtime.claude: a count of agents');
    expect(bad('[scheduler]\nbackoff_jitter = 2\n')).toThrow('/t/town.toml: key scheduler.backoff_jitter: a fraction from 0 to 1');
    expect(bad('[scheduler]\nmax_agent = 3\n')).toThrow('/t/town.toml: key scheduler: unknown key(s) "max_agent"');
    const rig = 'name = "app"\ngit_url = "x"\ndefault_branch = "main"\nprefix = "app"\n';
    expect(parseRigConfig(`${rig}[scheduler]\nmax_agents = 2\n`, '/t/app/rig.toml').scheduler).toEqual({ max_agents: 2, max_per_runtime: {} });
    // Spacing and back-off are the town's: a rig cannot set them.
    expect(() => parseRigConfig(`${rig}[scheduler]\nstart_spacing = "1s"\n`, '/t/app/rig.toml')).toThrow(
      '/t/app/rig.toml: key scheduler: unknown key(s) "start_spacing"',
    );
  });
});

const probe: RuntimeProbe = { exists: () => true, version: () => '2.1.197' };

function configure(h: Harness, text: string): void {
  const file = join(h.root, 'town.toml');
  h.town.ports.files.write(file, `${h.town.ports.files.read(file) ?? ''}\n${text}\n`);
  h.town.reloadConfig();
}

describe('the dispatch queue', () => {
  it('a sling past max_agents queues the rest with their places; dispatch starts them in priority order as agents finish', async () => {
    const h = await townHarness();
    configure(h, '[scheduler]\nmax_agents = 2');
    const beads: string[] = [];
    for (const [i, p] of [2, 2, 3, 1, 2].entries()) beads.push(await h.bead(`Work ${i}`, { run: ['true'], priority: p }));
    const results = await slingBeads(h.town, beads, 'app', { runtime: 'shell' }, probe);
    // The P1 bead (4th given) and the first P2 start; the rest wait: P2, P2, then P3.
    expect(results.filter((r) => !r.queued).map((r) => r.bead)).toEqual([beads[0], beads[3]]);
    expect(h.backend.started).toHaveLength(2);
    const places = Object.fromEntries(results.filter((r) => r.queued).map((r) => [r.bead, r.queued && describePlace(r.queued)]));
    expect(places).toEqual({ [beads[1] as string]: 'queued, 1st of 3', [beads[4] as string]: 'queued, 2nd of 3', [beads[2] as string]: 'queued, 3rd of 3' });
    expect(results.find((r) => r.bead === beads[1])?.queued?.reason).toBe('max_agents 2 reached (2 running)');
    const [queuedBead] = await h.ledger.show([beads[1] as string]);
    expect(queuedBead).toMatchObject({ status: 'open', labels: ['gt:queued'] });
    expect(queuedBead?.assignee).toBeUndefined();
    expect((await h.ledger.townEvents(0, { kinds: ['bead.queued'] })).map((e) => e.bead)).toEqual([beads[1], beads[2], beads[4]]);

    // Nothing fits while both run.
    expect(await dispatchQueue(h.town, probe)).toEqual([]);
    // One finishes: the next in order starts, and only one.
    h.backend.kill(h.backend.started[0]?.name as string);
    const first = await dispatchQueue(h.town, probe);
    expect(first).toMatchObject([{ bead: beads[1], result: 'dispatched' }]);
    const [hooked] = await h.ledger.show([beads[1] as string]);
    expect(hooked).toMatchObject({ status: 'hooked', labels: [] });
    expect(Object.keys(hooked?.metadata ?? {}).filter((k) => k.startsWith('queue'))).toEqual([]);
    expect((await listQueue(h.town)).map((e) => e.id)).toEqual([beads[4], beads[2]]);
    const dispatched = await h.ledger.townEvents(0, { kinds: ['bead.dispatched'] });
    expect(dispatched[0]).toMatchObject({ bead: beads[1], actor: 'deacon', payload: { target: 'app', runtime: 'shell' } });
    const status = await townStatus({ town: h.town, daemon: { running: false, log: '' } });
    expect(status.scheduler).toMatchObject({ max_agents: 2, running: 2, queued: 2, next: [{ id: beads[4] }, { id: beads[2] }] });
  });

  it('remove and move change the queue; a move across priorities is refused with the positions allowed', async () => {
    const h = await townHarness();
    configure(h, '[scheduler]\nmax_agents = 1');
    const ids: string[] = [];
    for (const p of [2, 2, 2, 2, 3]) ids.push(await h.bead(`W${ids.length}`, { run: ['true'], priority: p }));
    await slingBeads(h.town, ids, 'app', { runtime: 'shell' }, probe);
    const order = async () => (await listQueue(h.town)).map((e) => e.id);
    expect(await order()).toEqual(ids.slice(1));
    await moveInQueue(h.town, ids[3] as string, 1);
    expect(await order()).toEqual([ids[3], ids[1], ids[2], ids[4]]);
    await moveInQueue(h.town, ids[3] as string, 3);
    expect(await order()).toEqual([ids[1], ids[2], ids[3], ids[4]]);
    await expect(moveInQueue(h.town, ids[4] as string, 1)).rejects.toThrow('is priority 3: it can move to positions 4–4');
    await removeFromQueue(h.town, [ids[2] as string]);
    expect(await order()).toEqual([ids[1], ids[3], ids[4]]);
    const [removed] = await h.ledger.show([ids[2] as string]);
    expect(removed).toMatchObject({ status: 'open', labels: [] });
    await expect(removeFromQueue(h.town, [ids[2] as string])).rejects.toThrow('is not queued');
    expect((await h.ledger.townEvents(0, { kinds: ['bead.dequeued'] })).map((e) => e.bead)).toEqual([ids[2]]);
  });

  it('a rate limit backs the runtime off: new starts of it queue, the witness leaves its agents alone, and they are resumed after the window', async () => {
    const h = await townHarness();
    // A window long enough for the checks below on a loaded machine; the test then waits it out.
    configure(h, '[scheduler]\nbackoff_initial = "5s"\nbackoff_max = "30s"\nbackoff_jitter = 0');
    const a = await h.bead('Claude work A');
    const [slung] = await slingBeads(h.town, [a], 'app', { runtime: 'claude' }, probe);
    const agent = parseIdentity(slung?.agent as string);
    await recordSignal(h.town, agent, 'stop-failure', { error: 'rate_limit', error_details: '429 {"type":"rate_limit_error"}' });
    const [backoff] = await readBackoffs(h.town);
    expect(backoff).toMatchObject({ runtime: 'claude', level: 1, agents: [agent.address], resumed: false });
    expect((backoff?.until ?? 0) - (backoff?.since ?? 0)).toBe(5000);
    // Another limit within the window (agents already running hit it too) opens no new window.
    await recordSignal(h.town, agent, 'stop-failure', { error: 'rate_limit' });
    const events = await h.ledger.townEvents(0, { kinds: ['runtime'] });
    expect(events).toMatchObject([{ kind: 'runtime.backoff', agent: agent.address, payload: { runtime: 'claude', level: 1, window_ms: 5000 } }]);

    // No new Claude start in the window, even with capacity free; other runtimes go on.
    const b = await h.bead('Claude work B');
    const s = await h.bead('Shell work', { run: ['true'] });
    const [queued] = await slingBeads(h.town, [b], 'app', { runtime: 'claude' }, probe);
    expect(queued?.queued?.reason).toMatch(/^claude is backed off \(rate limited\) until /);
    const [shell] = await slingBeads(h.town, [s], 'app', { runtime: 'shell' }, probe);
    expect(shell?.queued).toBeUndefined();
    // The witness would wake an idle agent with hooked work: not while its runtime is backed off.
    configure(h, '[witness]\nidle_wake = "0s"');
    expect((await witnessPatrol(h.town, { confirmSec: 0 })).filter((x) => x.agent === agent.address)).toEqual([]);
    expect(await resumeAfterBackoff(h.town)).toEqual([]);
    expect(await dispatchQueue(h.town, probe)).toEqual([]);

    await new Promise((r) => setTimeout(r, (backoff?.until ?? 0) - Date.now() + 50));
    const resumed = await resumeAfterBackoff(h.town, { confirmSec: 0 });
    expect(resumed).toMatchObject([{ runtime: 'claude', agent: agent.address, result: 'resumed' }]);
    expect(h.backend.sent.at(-1)).toMatchObject({ text: expect.stringContaining(`The claude rate limit window has passed. Continue your work on ${a}`) });
    expect((await h.ledger.townEvents(0, { kinds: ['runtime.resumed'] }))[0]?.payload).toMatchObject({ runtime: 'claude', agents: [agent.address] });
    expect(await resumeAfterBackoff(h.town)).toEqual([]);
    expect(await dispatchQueue(h.town, probe)).toMatchObject([{ bead: b, result: 'dispatched' }]);

    // The next limit soon after goes a level up: a longer window.
    await recordSignal(h.town, agent, 'stop-failure', { error: 'rate_limit' });
    const [again] = await readBackoffs(h.town);
    expect(again).toMatchObject({ level: 2, agents: [agent.address] });
    expect((again?.until ?? 0) - (again?.since ?? 0)).toBe(10_000);
    // Other failures are the witness's business, not the scheduler's.
    await recordSignal(h.town, agent, 'stop-failure', { error: 'invalid_request', error_details: 'bad tool schema' });
    expect((await readBackoffs(h.town))[0]?.level).toBe(2);
  });
});
