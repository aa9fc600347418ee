/**
 * Convoys (issue 5, first part): beads tracked together until all are closed.
 */
import { describe, expect, it } from 'vitest';
import { makeTown, waitFor } from '../support/town.js';

interface Convoy { id: string; name: string; status: string; closed: number; total: number; owner: string; notify: string[] }

describe('convoys', () => {
  it('lands once every tracked bead is closed: never when empty, idempotently, and reopens when work is added', () => {
    const town = makeTown({ rig: 'app' });
    const a = town.bead('Part A', ['true']);
    const b = town.bead('Part B', ['true']);
    const unknown = town.gt(['convoy', 'create', 'Nope', a, 'app-zzz']);
    expect(unknown.code).toBe(4);
    expect(town.json<Convoy[]>(['convoy', 'list', '--all'])).toEqual([]);

    const convoy = town.json<Convoy>(['convoy', 'create', 'Login rework', a, b, '--notify', 'mayor']);
    expect(convoy).toMatchObject({ name: 'Login rework', status: 'open', closed: 0, total: 2, owner: 'human', notify: ['mayor'] });
    expect(convoy.id).toMatch(/^hq-cv-/);
    const empty = town.json<Convoy>(['convoy', 'create', 'Nothing yet']);
    expect(town.json<Convoy[]>(['convoy', 'check'])).toEqual([]);

    expect(town.gt(['bd', 'close', a]).code).toBe(0);
    expect(town.json<Convoy[]>(['convoy', 'check'])).toEqual([]);
    expect(town.json<Convoy>(['convoy', 'show', convoy.id])).toMatchObject({ status: 'open', closed: 1, total: 2 });
    expect(town.gt(['bd', 'close', b]).code).toBe(0);
    expect(town.json<Convoy[]>(['convoy', 'check'])).toMatchObject([{ id: convoy.id, status: 'landed', closed: 2 }]);
    expect(town.json<Convoy[]>(['convoy', 'check'])).toEqual([]);
    for (const who of ['human', 'mayor']) {
      expect(town.json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', who]).filter((m) => m.subject === 'Convoy landed: Login rework'), who).toHaveLength(1);
    }
    expect(town.json<Convoy>(['convoy', 'show', empty.id]).status).toBe('open');
    expect(town.json<Convoy[]>(['convoy', 'list']).map((c) => c.id)).toEqual([empty.id]);

    const c = town.bead('Part C', ['true']);
    expect(town.json<Convoy>(['convoy', 'add', convoy.id, c])).toMatchObject({ status: 'open', closed: 2, total: 3 });
    const closed = town.json<Convoy>(['convoy', 'close', empty.id]);
    expect(closed.status).toBe('closed');
    expect(town.gt(['convoy', 'close', empty.id]).code).toBe(5);
    expect(town.gt(['convoy', 'show', 'hq-nope']).code).toBe(4);
  });

  it('lands when the refinery merges the last bead (a close event), and says so to the owner', async () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead('Ship it', ['echo shipped > SHIPPED.md', 'git add SHIPPED.md', 'git commit -qm "ship it"']);
    const convoy = town.json<Convoy>(['convoy', 'create', 'Release', bead]);
    expect(town.gt(['sling', bead, 'app', '--agent', 'shell']).code).toBe(0);
    await waitFor('the merge request', () => town.json<unknown[]>(['refinery', 'queue', 'app']).length === 1 || undefined, 60_000);
    expect(town.json<Array<{ result: string }>>(['refinery', 'run', 'app'])).toMatchObject([{ result: 'merged' }]);
    expect(town.json<Convoy>(['convoy', 'show', convoy.id])).toMatchObject({ status: 'landed', closed: 1, total: 1 });
    expect(town.json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', 'human']).some((m) => m.subject === 'Convoy landed: Release')).toBe(true);
  });
});
