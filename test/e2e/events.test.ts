/**
 * `gt events`: the town's typed event stream, followed live by a real process
 * while the whole loop runs (sling → sessions → done → merge queue → convoy
 * landed), then compared with what the ledger holds.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { TownEvent } from '../../src/core/events/town-events.js';
import { GT } from '../support/env.js';
import { makeTown, waitFor } from '../support/town.js';

type Event = TownEvent;

describe('gt events', () => {
  it('follows a whole run in order and without gaps: sling, sessions, done, merge requests, merges, the convoy landing', async () => {
    const town = makeTown({ rig: 'app', test: 'sh test.sh' });
    expect(town.gt(['config', 'set', 'role_agents.polecat', 'shell']).code).toBe(0);
    const ids = ['one', 'two'].map((n) => town.bead(`Add ${n}`, [`echo ${n} > ${n}.txt`]));

    const follower = spawn(process.execPath, [GT, 'events', '--follow', '--json'], { cwd: town.base, env: town.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    follower.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => follower.on('exit', (code) => resolve(code)));
    const seen = () =>
      out
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Event);

    const slung = town.json<Array<{ bead: string; agent: string; convoy?: string }>>(['sling', ...ids, 'app']);
    const convoy = slung[0]?.convoy as string;
    expect(convoy).toBeTruthy();
    await waitFor('two merge requests', () => town.json<unknown[]>(['mq', 'list', 'app']).length === 2 || undefined, 60_000);
    expect(town.gt(['up']).code).toBe(0);
    await waitFor("the convoy to land in the follower's output", () => seen().some((e) => e.kind === 'convoy.landed') || undefined, 60_000);
    follower.kill('SIGTERM');
    expect(await exited).toBe(0);

    const live = seen();
    const stored = town.json<Event[]>(['events', '--after', '0']);
    // In order, nothing twice, and every stored event was seen live (agent.state is coalesced: the ledger keeps the latest).
    const liveIds = live.map((e) => e.id);
    expect(liveIds).toEqual([...liveIds].sort((a, b) => a - b));
    expect(new Set(liveIds).size).toBe(liveIds.length);
    const storedIds = stored.filter((e) => e.id <= (liveIds.at(-1) ?? 0)).map((e) => e.id);
    expect(storedIds.filter((id) => !liveIds.includes(id))).toEqual([]);
    expect(live.filter((e) => e.kind !== 'agent.state')).toEqual(stored.filter((e) => e.kind !== 'agent.state' && e.id <= (liveIds.at(-1) ?? 0)));

    for (const { bead, agent } of slung) {
      const of = (kind: string) => live.findIndex((e) => e.kind === kind && e.bead === bead);
      const order = ['bead.slung', 'session.started', 'mr.queued', 'work.done', 'mr.merged'].map(of);
      expect(
        order.every((i) => i >= 0),
        `every step of ${bead} is reported`,
      ).toBe(true);
      expect(order).toEqual([...order].sort((a, b) => a - b));
      expect(live[of('bead.slung')]).toMatchObject({ agent, rig: 'app', actor: 'human' });
      expect(live[of('work.done')]).toMatchObject({ agent, payload: { status: 'COMPLETED', commits: 1 } });
      expect(live[of('mr.merged')]?.payload).toMatchObject({ branch: expect.stringContaining(bead) as unknown });
    }
    // The convoy lands once, after the last merge.
    const landed = live.filter((e) => e.kind === 'convoy.landed');
    expect(landed).toHaveLength(1);
    expect(landed[0]).toMatchObject({ bead: convoy, payload: { total: 2 } });
    expect(live.findLastIndex((e) => e.kind === 'mr.merged')).toBeLessThan(live.indexOf(landed[0] as Event));

    // Filters and the human format.
    expect(town.json<Event[]>(['events', '--type', 'mr', '--after', '0']).map((e) => e.kind)).toEqual(
      stored.filter((e) => e.kind.startsWith('mr.')).map((e) => e.kind),
    );
    const text = town.gt(['events', '--type', 'convoy.landed']);
    expect(text.stdout).toContain(`convoy.landed`);
    expect(text.stdout).toContain(convoy);
  }, 120_000);

  it('refuses an unknown kind, a bad --since and a bad --after, saying what to use', () => {
    const town = makeTown({ rig: 'app' });
    const kind = town.gt(['events', '--type', 'mr.exploded']);
    expect(kind.code).toBe(2);
    expect(kind.stderr).toContain('unknown event kind "mr.exploded"');
    const since = town.gt(['events', '--since', 'yesterday-ish']);
    expect(since.code).toBe(2);
    expect(since.stderr).toContain('neither a duration nor a date');
    expect(town.gt(['events', '--after', '-3']).code).toBe(2);
    expect(town.json<unknown[]>(['events', '--since', '10m'])).toEqual([]);
  });
});
