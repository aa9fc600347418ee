/**
 * gt status (issue 14 §6): the whole town on one screen that fits 80 columns,
 * `--json` with every section, and `--watch` redrawing in place in a real
 * tmux pane — a change made meanwhile appears, nothing scrolls, q and Ctrl-C
 * leave cleanly and give the terminal back.
 */
import { describe, expect, it } from 'vitest';
import { GT } from '../support/env.js';
import { makeTown, waitFor, type TestTown } from '../support/town.js';

const pane = (town: TestTown, session: string, escapes = false) => town.tmux(['capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', `=${session}:`]).stdout;
const paneFormat = (town: TestTown, session: string, format: string) => town.tmux(['display-message', '-p', '-t', `=${session}:`, format]).stdout.trim();

function watchIn(town: TestTown, session: string, env: string): void {
  const command = `${env} ${JSON.stringify(process.execPath)} ${JSON.stringify(GT)} status --watch --interval 300ms; echo EXITED=$?; sleep 60`;
  const started = town.tmux(['new-session', '-d', '-x', '80', '-y', '30', '-s', session, '-c', town.root, 'sh', '-c', command]);
  expect(started.code, started.stderr).toBe(0);
}

describe('gt status', () => {
  it('shows every section within 80 columns, and --json holds them all', () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead(`A title long enough to need cutting at the edge of an eighty column terminal, ${'x'.repeat(40)}`, ['sleep 60']);
    expect(town.gt(['sling', bead, 'app', '--agent', 'shell']).code).toBe(0);
    const text = town.gt(['status']);
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    for (const label of ['Town', 'Daemon', 'Rigs', 'Agents', 'Hooked', 'Scheduler', 'Convoys', 'Cost', 'Beads'])
      expect(
        lines.some((l) => l.startsWith(label)),
        label,
      ).toBe(true);
    expect(lines.every((l) => [...l].length <= 80)).toBe(true);
    expect(text.stdout).toMatch(new RegExp(`^Hooked +${bead} `, 'm'));
    expect(text.stdout).toContain('…');
    expect(text.stdout).not.toMatch(/\u001b\[/); // no colour off a terminal

    const json = town.json<Record<string, unknown>>(['status']);
    expect(Object.keys(json)).toEqual(
      expect.arrayContaining(['town', 'root', 'daemon', 'rigs', 'agents', 'hooked', 'scheduler', 'convoys', 'cost_today', 'beads']),
    );
    expect(json.daemon).toMatchObject({ running: false, state: 'stopped' });
    expect(json.hooked).toEqual([expect.objectContaining({ bead, agent: expect.stringMatching(/^app\/polecats\//) })]);
    expect(json.agents).toMatchObject({ total: 1 });
  });

  it('--watch redraws in place in a real terminal, shows a change, and leaves on q or Ctrl-C', async () => {
    const town = makeTown({ rig: 'app' });
    town.bead('First', ['true']);
    watchIn(town, 'watch', 'NO_COLOR=1');
    await waitFor('the first frame', () => /Beads +1 ready/.test(pane(town, 'watch')) || undefined, 30_000);
    expect(paneFormat(town, 'watch', '#{alternate_on}')).toBe('1');
    const first = pane(town, 'watch');
    expect(first.split('\n')[0]).toMatch(/^Town /);
    expect(first).toContain('q to quit');
    expect(pane(town, 'watch', true)).not.toMatch(/\u001b\[3[123]m/); // NO_COLOR: no colour

    // A change made meanwhile appears on the same screen: redrawn, not scrolled.
    town.bead('Second', ['true']);
    await waitFor('the change to appear', () => /Beads +2 ready/.test(pane(town, 'watch')) || undefined, 30_000);
    const second = pane(town, 'watch');
    expect(second.match(/^Town /gm)).toHaveLength(1);
    expect(paneFormat(town, 'watch', '#{history_size}')).toBe('0');

    town.tmux(['send-keys', '-t', '=watch:', 'q']);
    await waitFor('q to end it', () => /EXITED=0/.test(pane(town, 'watch')) || undefined, 30_000);
    expect(paneFormat(town, 'watch', '#{alternate_on}')).toBe('0');

    // Colour on a terminal without NO_COLOR; Ctrl-C leaves as cleanly.
    watchIn(town, 'colour', 'unset NO_COLOR;');
    await waitFor('the colour frame', () => /Beads +2 ready/.test(pane(town, 'colour')) || undefined, 30_000);
    expect(pane(town, 'colour', true)).toMatch(/\u001b\[(1|33)m/);
    town.tmux(['send-keys', '-t', '=colour:', 'C-c']);
    await waitFor('Ctrl-C to end it', () => /EXITED=0/.test(pane(town, 'colour')) || undefined, 30_000);
    expect(paneFormat(town, 'colour', '#{alternate_on}')).toBe('0');
  });
});
