/**
 * `gt dog` as a person and an agent meet it: the list before and after a run,
 * a dry run that changes nothing, usage and not-found errors with their exit
 * codes, agents limited to --dry-run, and a bad `[dogs]` setting named by file
 * and key. `bd list` leaves gt's bookkeeping out unless asked.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTown } from '../support/town.js';

interface DogStatus {
  dog: string;
  enabled: boolean;
  every: string;
  idle_reason?: string;
  last_run_at?: string;
  last_result?: string;
  next_run_at?: string;
  runs: number;
}

describe('gt dog', () => {
  it('lists every dog, runs one (dry runs change nothing), refuses agents and bad names, validates [dogs]', () => {
    const town = makeTown({ rig: 'app' });
    const before = town.json<DogStatus[]>(['dog', 'list']);
    expect(before.map((d) => d.dog)).toEqual(['logs', 'runs', 'polecats', 'orphans', 'mail', 'compact', 'export', 'memory']);
    expect(before.find((d) => d.dog === 'export')).toMatchObject({ enabled: true, idle_reason: 'export.auto is off', runs: 0 });
    expect(before.find((d) => d.dog === 'polecats')).toMatchObject({ every: '5m', runs: 0 });

    const dry = town.json<{ dog: string; dry_run: boolean; result: string }>(['dog', 'run', 'orphans', '--dry-run']);
    expect(dry).toMatchObject({ dog: 'orphans', dry_run: true, result: 'nothing' });
    expect(town.json<DogStatus[]>(['dog', 'list']).find((d) => d.dog === 'orphans')?.runs).toBe(0);

    const ran = town.gt(['dog', 'run', 'orphans']);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toContain('Ran dog orphans');
    expect(ran.stdout).toContain('nothing to do');
    const orphans = town.json<DogStatus[]>(['dog', 'list']).find((d) => d.dog === 'orphans');
    expect(orphans).toMatchObject({ runs: 1, last_result: 'nothing' });
    expect(Date.parse(orphans?.next_run_at ?? '') - Date.parse(orphans?.last_run_at ?? '')).toBe(10 * 60_000);
    expect(town.gt(['dog', 'list']).stdout).toMatch(/orphans\s+10m\s+(?:now|\S+ ago)\s+nothing to do\s+in 10m/);

    expect(town.gt(['dog', 'run']).code).toBe(2);
    expect(town.gt(['dog', 'run', 'fetch']).code).toBe(4);
    const agent = town.gt(['dog', 'run', 'logs'], { env: { GT_AGENT: 'app/polecats/nux' } });
    expect(agent.code).toBe(5);
    expect(agent.stderr).toContain('--dry-run');
    expect(town.gt(['dog', 'run', 'logs', '--dry-run'], { env: { GT_AGENT: 'app/polecats/nux' } }).code).toBe(0);

    appendFileSync(join(town.root, 'town.toml'), '\n[dogs.logs]\nevery = "soon"\n');
    const bad = town.gt(['dog', 'list']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('key dogs.logs.every');
  });

  it("bd list, search and stats leave gt's bookkeeping out; --include-infra and --type show it", () => {
    const town = makeTown({ rig: 'app' });
    const work = town.bead('Real work', ['true']);
    expect(town.gt(['mail', 'send', 'mayor', '-s', 'Real news', '-m', 'hello']).code).toBe(0);
    const types = (args: string[]) => [...new Set(town.json<Array<{ issue_type: string }>>(['bd', ...args]).map((i) => i.issue_type))].sort();
    expect(town.json<Array<{ id: string }>>(['bd', 'list']).map((i) => i.id)).toEqual([work]);
    expect(types(['list', '--include-infra'])).toEqual(expect.arrayContaining(['message', 'rig', 'task']));
    expect(types(['list', '--type', 'message'])).toEqual(['message']);
    expect(town.json<unknown[]>(['bd', 'search', 'Real'])).toHaveLength(1);
    expect(town.json<unknown[]>(['bd', 'search', 'Real', '--include-infra'])).toHaveLength(2);
    expect(town.json<{ total_issues: number }>(['bd', 'stats']).total_issues).toBe(1);
    expect(town.json<{ total_issues: number }>(['bd', 'stats', '--include-infra']).total_issues).toBeGreaterThan(2);
  });
});
