/** `gt demo` (what `npm run demo` runs): the whole loop lands, and nothing is left running. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GT, isolatedEnv, tempDir } from '../support/env.js';

describe('gt demo', () => {
  it('lands four beads through polecats and the refinery, then cleans up after itself', () => {
    const home = tempDir('gt-demo-home-');
    const r = spawnSync(process.execPath, [GT, 'demo', '--json'], { cwd: home, env: isolatedEnv(home), encoding: 'utf8', timeout: 240_000 });
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { landed: boolean; town: string; beads: Array<{ status: string; worker: string; commit: string }>; origin_log: string[] };
    expect(summary.landed).toBe(true);
    expect(summary.beads).toHaveLength(4);
    for (const bead of summary.beads) {
      expect(bead.status).toBe('closed');
      expect(bead.worker).toMatch(/^sample\/polecats\/[a-z-]+$/);
      expect(bead.commit).toMatch(/^[0-9a-f]{40}$/);
    }
    expect(summary.origin_log).toHaveLength(5); // the seed commit and one per bead
    expect(r.stderr).toContain('slung');
    // Nothing left behind: the temporary town is gone and no process still runs in it.
    expect(existsSync(summary.town)).toBe(false);
    const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
    expect(ps.split('\n').filter((line) => line.includes(summary.town))).toEqual([]);
  });
});
