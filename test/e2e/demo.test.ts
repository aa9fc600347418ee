/** `gt demo` (what `npm run demo` runs): the whole loop lands, and nothing is left running. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GT, isolatedEnv, tempDir } from '../support/env.js';

describe('gt demo', () => {
  it('lands four beads through polecats and the refinery, then cleans up after itself', () => {
    const home = tempDir('gt-demo-home-');
    const r = spawnSync(process.execPath, [GT, 'demo', '--json'], { cwd: home, env: isolatedEnv(home), encoding: 'utf8', timeout: 240_000 });
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as {
      landed: boolean;
      town: string;
      beads: Array<{ status: string; worker: string; commit: string }>;
      origin_log: string[];
    };
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

  /** Starts gt demo as a terminal would (its own process group), and presses Ctrl-C once polecats work. */
  async function interruptedDemo(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; town: string }> {
    const home = tempDir('gt-demo-home-');
    const child = spawn(process.execPath, [GT, 'demo', ...args], { cwd: home, env: isolatedEnv(home), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    const deadline = Date.now() + 120_000;
    while (!stderr.includes('slung') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(stderr).toContain('slung');
    process.kill(-(child.pid as number), 'SIGINT'); // Ctrl-C: the whole foreground group
    const { code, signal } = await exited;
    return { code, signal, stderr, town: /town: (\S+)/.exec(stderr)?.[1] as string };
  }

  it('Ctrl-C stops its sessions and removes its temporary town (exit 130); with --keep it says where the town is and how to remove it', async () => {
    const run = await interruptedDemo([]);
    expect({ code: run.code, signal: run.signal }, run.stderr).toEqual({ code: 130, signal: null });
    expect(run.stderr).toContain('interrupted (SIGINT): stopping the sessions and removing the temporary town');
    expect(existsSync(dirname(run.town))).toBe(false);
    const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
    expect(ps.split('\n').filter((line) => line.includes(run.town))).toEqual([]);

    const kept = await interruptedDemo(['--keep', '--backend', 'headless']);
    expect(kept.code, kept.stderr).toBe(130);
    expect(kept.stderr).toContain(`the town is kept at ${kept.town}; remove it with: rm -rf ${dirname(kept.town)}`);
    expect(existsSync(kept.town)).toBe(true);
    // The kept town passes its own doctor's file-modes check: config files are private, as gt install writes them.
    for (const file of ['town.toml', join('sample', 'rig.toml')]) expect(statSync(join(kept.town, file)).mode & 0o777).toBe(0o600);
    rmSync(dirname(kept.town), { recursive: true, force: true });
  });
});
