/**
 * A town across hosts from the CLI, the parts a person meets first: joining a
 * town whose daemon already runs (the daemon takes the new host up at its next
 * pass, not after a restart).
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTown, waitFor } from '../support/town.js';

interface HostRow {
  name: string;
  state: string;
  heartbeat_at?: string;
  town_jobs: boolean;
}

describe('gt host join from the CLI', () => {
  it('in a town whose daemon runs: the running daemon beats for the new host and holds the town jobs', async () => {
    const town = makeTown({ rig: 'app' });
    const up = town.gt(['up']);
    expect(up.code, up.stderr).toBe(0);
    const joined = town.gt(['host', 'join', join(town.root, '.gt', 'ledger.db'), '--name', 'a']);
    expect(joined.code, joined.stderr).toBe(0);
    const first = town.json<HostRow[]>(['hosts'])[0]?.heartbeat_at ?? '';
    // Without a restart the daemon renews the heartbeat (a daemon that never read [host] would leave it, and the host lost).
    const host = await waitFor(
      'the running daemon to beat for host a',
      () => town.json<HostRow[]>(['hosts']).find((h) => h.name === 'a' && (h.heartbeat_at ?? '') > first && h.town_jobs),
      60_000,
    );
    expect(host.state).toBe('up');
    // A rig that is not there: the hint names where rigs are listed.
    const nosuch = town.gt(['rig', 'move', 'nosuch', 'a']);
    expect(nosuch.code).not.toBe(0);
    expect(nosuch.stderr).toContain('see gt rig list');
    // A sling from a second host to a's rig: handed to a's daemon, said so.
    const rootB = join(town.root, '..', 'town-b');
    const joinedB = town.gt(['host', 'join', join(town.root, '.gt', 'ledger.db'), '--name', 'b', rootB]);
    expect(joinedB.code).toBe(0);
    expect(joinedB.stdout).not.toContain('no host yet');
    const bead = town.bead('Across hosts', ['true']);
    const slung = town.gt(['sling', bead, 'app'], { cwd: rootB, env: { GT_ROOT: rootB } });
    expect(slung.code, slung.stderr).toBe(0);
    expect(slung.stderr).toContain("1 handed to host a's daemon");
    // gt rig list on host b lists a's rig too, with its host.
    expect(town.json<Array<{ name: string; host?: string }>>(['rig', 'list'], { env: { GT_ROOT: rootB } }).map((r) => [r.name, r.host])).toEqual([
      ['app', 'a'],
    ]);
  });

  it('a second directory joining a SQLite town whose first directory is no host: says to join that one too', () => {
    const town = makeTown({ rig: 'app' });
    const joined = town.gt(['host', 'join', join(town.root, '.gt', 'ledger.db'), '--name', 's2', join(town.root, '..', 'town-s2')]);
    expect(joined.code, joined.stderr).toBe(0);
    expect(joined.stdout).toContain("The town's first directory is no host yet: run gt host join");
  });

  it('a join that cannot reach the ledger leaves nothing behind: no new directory, no town.toml in an empty one', () => {
    const town = makeTown();
    // Nothing listens on port 1: the connection is refused at once.
    const url = 'postgres://gt:secret@127.0.0.1:1/town';
    const fresh = join(town.root, '..', 'never-made');
    const failed = town.gt(['host', 'join', url, '--name', 'c', fresh]);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).not.toContain('secret');
    expect(existsSync(fresh)).toBe(false);
    const empty = join(town.root, '..', 'empty-dir');
    mkdirSync(empty);
    expect(town.gt(['host', 'join', url, '--name', 'c', empty]).code).not.toBe(0);
    expect(readdirSync(empty)).toEqual([]);
  });
});
