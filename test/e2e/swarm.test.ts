/**
 * The swarm view (issue 17 §1) on a real tmux server: the Mayor leads on the
 * left at 30%, three working shell polecats are tiled on the right, each pane
 * titled `name · bead · state` with a border in its own colour — read back
 * from tmux itself. The panes are the agents' own (their sessions live on, gt
 * attach and peek reach them); a finished polecat's pane leaves and the
 * daemon rebalances the layout; a new sling's pane comes; hide and show round
 * trip. The view is also saved as docs/swarm.png (see swarm-screenshot.ts).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_COLOURS } from '../../src/core/agents/agent-colour.js';
import { GT, ROOT } from '../support/env.js';
import { makeTown, waitFor, type TestTown } from '../support/town.js';
import { screenshotSwarm } from '../support/swarm-screenshot.js';

interface Pane {
  pane: string;
  role: string;
  agent: string | null;
  colour: string | null;
  title: string;
}
interface View {
  socket: string;
  window: string;
  target: string;
  panes: Pane[];
  hidden: string[];
}

const AGENT_HEX = new Map<string, string>(AGENT_COLOURS.map((c) => [c.name, c.hex]));

/** Every pane of the view's window as tmux reports it, in order. */
function panes(town: TestTown, window: string) {
  const out = town.tmux([
    'list-panes',
    '-t',
    window,
    '-F',
    '#{pane_id}\t#{pane_left}\t#{pane_top}\t#{pane_width}\t#{pane_height}\t#{window_width}\t#{@gt_title}\t#{E:pane-border-style}\t#{@gt_session}',
  ]);
  expect(out.code, out.stderr).toBe(0);
  return out.stdout
    .trim()
    .split('\n')
    .map((line) => {
      const [id, left, top, width, height, windowWidth, title, border, session] = line.split('\t');
      return {
        id,
        left: Number(left),
        top: Number(top),
        width: Number(width),
        height: Number(height),
        windowWidth: Number(windowWidth),
        title,
        border,
        session,
      };
    });
}

/** Leader at 30% on the left; the others share the right column in equal heights (one line apart at most). */
function balanced(list: ReturnType<typeof panes>): boolean {
  const [leader, ...rest] = list;
  if (!leader || leader.left !== 0 || Math.abs(leader.width - Math.round(leader.windowWidth * 0.3)) > 1) return false;
  const heights = rest.map((p) => p.height);
  return rest.every((p) => p.left === leader.width + 1) && Math.max(...heights) - Math.min(...heights) <= 1;
}

describe('gt swarm', () => {
  it('shows the Mayor and three working polecats in one window, follows them as they finish and come, and hides and shows a pane', async () => {
    const town = makeTown({ rig: 'app' });
    const gates = join(town.base, 'gates');
    mkdirSync(gates);
    for (const [key, value] of [['daemon.interval', '"1s"']] as const) expect(town.gt(['config', 'set', key, value]).code).toBe(0);
    // The Mayor: a program that stays up (cat echoes what it is told).
    expect(town.gt(['config', 'agent', 'set', 'lead', 'cat']).code).toBe(0);
    const mayor = town.gt(['mayor', 'start', '--agent', 'lead', '--backend', 'tmux']);
    expect(mayor.code, mayor.stderr).toBe(0);
    const beads = [1, 2, 3].map((n) =>
      town.bead(`Task ${n}`, [`echo "working on task ${n}"`, `while [ ! -e ${gates}/go-${n} ]; do sleep 0.2; done`, `echo done > task-${n}.txt`, 'git add -A']),
    );
    const slung = town.json<Array<{ bead: string; agent: string }>>(['sling', ...beads, 'app', '--agent', 'shell', '--backend', 'tmux']);
    expect(slung).toHaveLength(3);
    const agents = () => town.json<Array<{ agent: string; state: string; pane: string | null; colour: string | null; session: string }>>(['agents']);
    await waitFor('three working polecats', () => agents().filter((a) => a.state === 'working').length === 3 || undefined, 30_000);

    const view = town.json<View>(['swarm', 'app']);
    expect(view.socket).toBe(town.socket);
    expect(view.panes.map((p) => p.role)).toEqual(['leader', 'agent', 'agent', 'agent']);
    expect(view.panes[0]?.agent).toBe('mayor');
    expect(view.panes.slice(1).map((p) => p.agent)).toEqual(slung.map((s) => s.agent).sort());
    for (const p of view.panes.slice(1)) expect(p.title).toBe(`${p.agent?.split('/').pop()} · ${slung.find((s) => s.agent === p.agent)?.bead} · working`);
    const colours = view.panes.map((p) => p.colour);
    expect(new Set(colours).size).toBe(4);

    // tmux itself: four panes, each the agent's own (its pane id as recorded at start), titled and bordered in its colour.
    const shown = panes(town, view.window);
    expect(shown.map((p) => p.id)).toEqual(view.panes.map((p) => p.pane));
    const byAgent = new Map(agents().map((a) => [a.agent, a]));
    for (const p of view.panes) {
      const tmux = shown.find((s) => s.id === p.pane);
      expect(tmux?.title).toBe(p.title);
      expect(tmux?.border).toBe(`fg=${p.colour}`);
      expect(p.pane).toBe(byAgent.get(p.agent as string)?.pane);
    }
    expect(town.tmux(['show-options', '-w', '-t', view.window, '-v', 'pane-border-status']).stdout.trim()).toBe('top');
    expect(balanced(shown)).toBe(true);
    // Their sessions live on, and gt reaches the agents there: peek reads the polecat's pane in the view.
    const first = slung.map((s) => s.agent).sort()[0] as string;
    expect(town.tmux(['has-session', '-t', `=${byAgent.get(first)?.session}`]).code).toBe(0);
    expect(town.gt(['peek', first]).stdout).toContain('working on task');
    expect(agents().every((a) => a.state === 'working' || a.agent === 'mayor')).toBe(true);

    // The picture in the README (docs/swarm.png with UPDATE_SCREENSHOTS=1), where Chromium is installed (as the feed's).
    const picture = await screenshotSwarm(town.socket, view.window, join(ROOT, 'docs', 'swarm.png'));
    if (picture) expect(existsSync(picture)).toBe(true);

    // The daemon keeps the view: polecat 1 finishes → its pane leaves and the rest rebalance.
    expect(town.gt(['up', '--mode', 'tmux']).code).toBe(0);
    // The team mode the daemon captured when it started, as gt status shows it.
    await waitFor(
      'the daemon to report its team mode',
      () => town.json<{ team: { daemon: string | null } }>(['status']).team.daemon === 'tmux' || undefined,
      30_000,
    );
    const done = slung.find((s) => s.bead === beads[0]) as { agent: string };
    writeFileSync(join(gates, 'go-1'), '');
    await waitFor(
      'the finished polecat to leave the view, rebalanced',
      () => {
        const now = panes(town, view.window);
        return now.length === 3 && !now.some((p) => p.id === view.panes.find((v) => v.agent === done.agent)?.pane) && balanced(now);
      },
      60_000,
    );

    // Hide and show: the pane goes back to its own session (gt attach reaches it there) and returns.
    const other = slung.map((s) => s.agent).find((a) => a !== done.agent) as string;
    const pane = view.panes.find((p) => p.agent === other)?.pane as string;
    town.json(['swarm', 'hide', other]);
    expect(panes(town, view.window).map((p) => p.id)).not.toContain(pane);
    expect(town.tmux(['display', '-p', '-t', pane, '#{session_name}']).stdout.trim()).toBe(byAgent.get(other)?.session);
    const shownAgain = town.json<View[]>(['swarm', 'show', other]);
    expect(shownAgain[0]?.panes.map((p) => p.pane)).toContain(pane);
    await waitFor('a balanced view after show', () => balanced(panes(town, view.window)) || undefined, 20_000);

    // A new sling: its polecat's pane comes without a command.
    const next = town.bead('Task 4', [`while [ ! -e ${gates}/go-4 ]; do sleep 0.2; done`]);
    const [fourth] = town.json<Array<{ agent: string }>>(['sling', next, 'app', '--agent', 'shell', '--backend', 'tmux']);
    await waitFor(
      "the new polecat's pane",
      () => {
        const now = panes(town, view.window);
        return now.length === 4 && now.some((p) => p.title?.startsWith(`${fourth?.agent.split('/').pop()} · `)) && balanced(now);
      },
      60_000,
    );

    // gt down --all: the sessions stop and the view goes with them, so the town's tmux server has nothing left.
    // gt down --all: the sessions stop, the Mayor's too, and the view they filled goes with them.
    const down = town.gt(['down', '--all']);
    expect(down.code, down.stderr).toBe(0);
    await waitFor('the town tmux server to be empty', () => town.tmux(['list-sessions']).code !== 0 || undefined, 20_000);
  });

  it('gt down --all closes a view led by a shell of its own (no Mayor), so the town tmux server is left empty', async () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead('Task', ['sleep 600']);
    const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--agent', 'shell', '--backend', 'tmux']);
    await waitFor(
      'a working polecat',
      () => town.json<Array<{ agent: string; state: string }>>(['agents']).find((a) => a.agent === slung?.agent && a.state === 'working'),
      30_000,
    );
    const view = town.json<View>(['swarm', 'app']);
    expect(view.panes.map((p) => p.role)).toEqual(['leader', 'agent']);
    expect(view.panes[0]?.agent).toBeNull();
    const down = town.gt(['down', '--all', '--json']);
    expect(down.code, down.stderr).toBe(0);
    expect(JSON.parse(down.stdout)).toMatchObject({ sessions_stopped: [slung?.agent], swarm_view_closed: true });
    expect(town.tmux(['has-session', '-t', '=gt-swarm']).code).not.toBe(0);
    await waitFor('the town tmux server to be empty', () => town.tmux(['list-sessions']).code !== 0 || undefined, 20_000);
  });

  it('team mode iterm2: inside iTerm2 with it2 on PATH, gt swarm splits a titled, coloured pane per agent attached to its session, and closes those that leave', async () => {
    const town = makeTown({ rig: 'app' });
    const gates = join(town.base, 'gates');
    const bin = join(town.base, 'it2-bin');
    const calls = join(town.base, 'it2-calls.jsonl');
    mkdirSync(gates);
    mkdirSync(bin);
    // A stand-in for the it2 CLI: records every call; a split prints the new session's id as it2 does.
    writeFileSync(
      join(bin, 'it2'),
      `#!/usr/bin/env node\nconst fs = require('fs');\nfs.appendFileSync(${JSON.stringify(calls)}, JSON.stringify(process.argv.slice(2)) + '\\n');\nif (process.argv[3] === 'split') { const n = fs.readFileSync(${JSON.stringify(calls)}, 'utf8').split('\\n').length; console.log('Created new pane: ' + String(n).padStart(8, '0') + '-0000-4000-8000-000000000000'); }\n`,
      { mode: 0o755 },
    );
    const iterm = { TERM_PROGRAM: 'iTerm.app', ITERM_SESSION_ID: 'w0t0p0:LEADER00-0000-4000-8000-000000000000', PATH: `${bin}:${town.env.PATH}` };
    const beads = [1, 2].map((n) => town.bead(`Task ${n}`, [`while [ ! -e ${gates}/go-${n} ]; do sleep 0.2; done`]));
    const slung = town.json<Array<{ bead: string; agent: string }>>(['sling', ...beads, 'app', '--agent', 'shell', '--backend', 'tmux']);
    const agents = () => town.json<Array<{ agent: string; state: string; colour: string | null; session_alive: boolean }>>(['agents']);
    await waitFor('two working polecats', () => agents().filter((a) => a.state === 'working').length === 2 || undefined, 30_000);

    // auto: iTerm2 is detected from the terminal and it2 on PATH (and is tmux without it2).
    expect(town.json<{ team: { here: string } }>(['status'], { env: iterm }).team.here).toBe('iterm2');
    expect(town.json<{ team: { here: string } }>(['status'], { env: { TERM_PROGRAM: 'iTerm.app' } }).team.here).toBe('tmux');
    const view = town.json<{ mode: string; leader: string; panes: Array<{ agent: string; session: string; colour: string; title: string }> }>(
      ['swarm', 'app'],
      {
        env: iterm,
      },
    );
    expect(view.leader).toBe('LEADER00-0000-4000-8000-000000000000');
    const sorted = slung.map((s) => s.agent).sort();
    expect(view.panes.map((p) => p.agent)).toEqual(sorted);
    const read = () =>
      readFileSync(calls, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as string[]);
    const [a, b] = view.panes as [(typeof view.panes)[0], (typeof view.panes)[0]];
    const colourOf = new Map(agents().map((x) => [x.agent, x.colour]));
    expect(read()).toEqual([
      ['session', 'split', '-v', '-s', view.leader],
      ['session', 'set-name', '-s', a.session, a.title],
      ['session', 'set-color', '-s', a.session, a.colour],
      ['session', 'run', '-s', a.session, `exec 'env' 'GT_ROOT=${town.root}' '${join(town.root, '.gt', 'bin', 'gt')}' 'attach' '${a.agent}'`],
      ['session', 'split', '-s', a.session],
      ['session', 'set-name', '-s', b.session, b.title],
      ['session', 'set-color', '-s', b.session, b.colour],
      ['session', 'run', '-s', b.session, `exec 'env' 'GT_ROOT=${town.root}' '${join(town.root, '.gt', 'bin', 'gt')}' 'attach' '${b.agent}'`],
    ]);
    expect(a.title).toMatch(/ · working$/);
    expect(a.colour).not.toBe(b.colour);
    expect(AGENT_HEX.get(colourOf.get(a.agent) ?? '')).toBe(a.colour);

    // The daemon, started from this iTerm2 terminal, captures team mode iterm2 and keeps the view: the first
    // polecat finishes and its pane is closed; hide closes the other, show splits it again.
    expect(town.gt(['config', 'set', 'daemon.interval', '"1s"']).code).toBe(0);
    expect(town.gt(['up'], { env: iterm }).code).toBe(0);
    await waitFor(
      'the daemon to capture iterm2',
      () => town.json<{ team: { daemon: string | null } }>(['status']).team.daemon === 'iterm2' || undefined,
      30_000,
    );
    const before = read().length;
    writeFileSync(join(gates, `go-${beads.indexOf(slung.find((s) => s.agent === a.agent)?.bead as string) + 1}`), '');
    const closeA = JSON.stringify(['session', 'close', '-f', '-s', a.session]);
    await waitFor("the daemon to close the finished polecat's pane", () => read().some((c) => JSON.stringify(c) === closeA) || undefined, 60_000);
    // Meanwhile titles followed states (set-name); nothing else was split or closed.
    expect(
      read()
        .slice(before)
        .filter((c) => c[1] !== 'set-name'),
    ).toEqual([['session', 'close', '-f', '-s', a.session]]);
    town.json(['swarm', 'hide', b.agent], { env: iterm });
    expect(read().at(-1)).toEqual(['session', 'close', '-f', '-s', b.session]);
    const back = town.json<{ panes: Array<{ agent: string; session: string }>; hidden: string[] }>(['swarm', 'show', b.agent], { env: iterm });
    expect(back.panes.map((p) => p.agent)).toEqual([b.agent]);
    expect(back.hidden).toEqual([]);
    expect(
      read()
        .filter((c) => c[1] === 'split')
        .at(-1),
    ).toEqual(['session', 'split', '-v', '-s', view.leader]);
  });

  it("run from a pane of the town's own tmux, gt swarm makes that window the view with the caller's pane as its leader", async () => {
    const town = makeTown({ rig: 'app' });
    const gates = join(town.base, 'gates');
    mkdirSync(gates);
    const bead = town.bead('Task', [`while [ ! -e ${gates}/go ]; do sleep 0.2; done`]);
    const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--agent', 'shell', '--backend', 'tmux']);
    const me = town.tmux(['new-session', '-d', '-s', 'me', '-x', '160', '-y', '40', '-c', town.root, '-P', '-F', '#{window_id} #{pane_id}', 'sh']);
    expect(me.code, me.stderr).toBe(0);
    const [window, pane] = me.stdout.trim().split(' ');
    const out = join(town.base, 'swarm.json');
    // Typed into the pane, as a person would: TMUX and TMUX_PANE are tmux's own.
    town.tmux(['send-keys', '-t', pane as string, '-l', `'${process.execPath}' '${GT}' swarm app --json > '${out}'`]);
    town.tmux(['send-keys', '-t', pane as string, 'Enter']);
    const view = await waitFor(
      'gt swarm to answer',
      () => (existsSync(out) && readFileSync(out, 'utf8').trim() ? (JSON.parse(readFileSync(out, 'utf8')) as View) : undefined),
      30_000,
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n--- the pane:\n${town.tmux(['capture-pane', '-p', '-t', pane as string]).stdout}`);
    });
    expect(view.window).toBe(window);
    expect(view.panes.map((p) => [p.pane === pane ? 'me' : p.role, p.agent])).toEqual([
      ['me', null],
      ['agent', slung?.agent],
    ]);
    expect(balanced(panes(town, window as string))).toBe(true);
  });
});
