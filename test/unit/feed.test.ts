/**
 * `gt feed`'s Ink UI (ink-testing-library) over a real in-process town: the
 * agent tree, convoys and events as the town has them, the problems view,
 * search and filter, and a permission ask approved with `a`.
 */
import { join } from 'node:path';
import { createElement } from 'react';
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { runtimeProbe } from '../../src/app/index.js';
import { parseIdentity } from '../../src/core/agents/identity.js';
import { brokerPermission } from '../../src/core/governance/permissions.js';
import { createConvoy } from '../../src/core/work/convoys.js';
import { slingBeads } from '../../src/core/work/work.js';
import { FeedApp } from '../../src/ui/feed/app.js';
import { agentRows, bar, scrollWindow } from '../../src/ui/feed/model.js';
import { feedSource } from '../../src/ui/feed/run.js';
import { townHarness, type Harness } from '../support/harness.js';

const daemon = () => ({ running: false, log: '' });

async function frameWith(lastFrame: () => string | undefined, text: string | RegExp, ms = 20_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const frame = lastFrame() ?? '';
    if (typeof text === 'string' ? frame.includes(text) : text.test(frame)) return frame;
    if (Date.now() > deadline) throw new Error(`no frame with ${String(text)}; last:\n${frame}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function slung(h: Harness): Promise<{ bead: string; agent: string }> {
  const bead = await h.bead('Add a greeting', { run: ['echo hi > hi.txt'] });
  const [result] = await slingBeads(h.town, [bead], 'app', { runtime: 'shell' }, runtimeProbe(h.env));
  return { bead, agent: (result as { agent: string }).agent };
}

describe('gt feed (Ink)', () => {
  it('shows the agent tree, convoys and the event stream of the town, live', async () => {
    const h = await townHarness();
    const { bead, agent } = await slung(h);
    const other = await h.bead('Write the docs');
    await createConvoy(h.town, 'Greeting release', [bead, other], { owner: 'human' });
    const ui = render(createElement(FeedApp, { source: feedSource(h.town, daemon), options: { noColor: true, pollMs: 50, refreshMs: 200 } }));
    try {
      const frame = await frameWith(ui.lastFrame, 'Greeting release');
      expect(frame).toContain('1 Agents');
      expect(frame).toContain(agent.split('/')[2] as string);
      expect(frame).toContain(bead);
      expect(frame).toMatch(/Greeting release\s+░{8} 0\/2/);
      expect(frame).toContain(`→ ${bead} → ${agent}: Add a greeting`);
      // A new event arrives without anything pressed.
      await h.ledger.emit({ kind: 'mr.merged', rig: 'app', bead, agent, payload: { commit: 'abcdef1234567' } });
      await frameWith(ui.lastFrame, `✓ ${bead} merged as abcdef1234`);
    } finally {
      ui.unmount();
      // Reads already under way finish before the town closes.
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  it('at 80x24 with more events than the events pane holds, every pane keeps its title and 3 focuses the events', async () => {
    const h = await townHarness();
    const { bead, agent } = await slung(h);
    for (let i = 0; i < 40; i++) await h.ledger.emit({ kind: 'mail.sent', agent, bead, payload: { to: 'mayor', subject: `note ${i}` } });
    const ui = render(createElement(FeedApp, { source: feedSource(h.town, daemon), options: { noColor: true, pollMs: 50, refreshMs: 200 } }));
    Object.defineProperty(ui.stdout, 'columns', { value: 80 });
    Object.defineProperty(ui.stdout, 'rows', { value: 24 });
    ui.stdout.emit('resize');
    try {
      const frame = await frameWith(ui.lastFrame, 'note 39');
      for (const title of ['1 Agents', '2 Convoys', '3 Events']) expect(frame).toContain(title);
      expect(frame.split('\n').length).toBeLessThanOrEqual(24);
      ui.stdin.write('3');
      await frameWith(ui.lastFrame, '▸ 3 Events');
    } finally {
      ui.unmount();
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  it('p shows the problems, most urgent first; a approves the selected agent’s permission ask', async () => {
    const h = await townHarness();
    const { agent } = await slung(h);
    // Town policy asks a person for everything here.
    const toml = join(h.root, 'town.toml');
    h.town.ports.files.write(toml, `${h.town.ports.files.read(toml) ?? ''}\n[permissions]\ndefault = "ask"\ntimeout = "60s"\n`);
    h.town.reloadConfig();
    const asked = brokerPermission(h.town, parseIdentity(agent), { tool: 'Bash', input: { command: 'npm publish' }, cwd: h.town.path('app') }, { pollMs: 50 });
    const ui = render(createElement(FeedApp, { source: feedSource(h.town, daemon), options: { noColor: true, pollMs: 50, refreshMs: 200 } }));
    try {
      await frameWith(ui.lastFrame, 'waiting-permission');
      ui.stdin.write('p');
      await frameWith(ui.lastFrame, /waiting-permission\s+app\/polecats\//);
      ui.stdin.write('a');
      await frameWith(ui.lastFrame, /allowed|failed|no permission/, 10_000).then((f) => expect(f.split('\n').at(-1)).toContain('allowed'));
      const outcome = await asked;
      expect(outcome.action).toBe('allow');
      await frameWith(ui.lastFrame, /allowed/);
      ui.stdin.write('p');
      ui.stdin.write('?');
      await frameWith(ui.lastFrame, 'gt feed — keys');
    } finally {
      ui.unmount();
      // Reads already under way finish before the town closes.
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  it('search and the rig filter narrow every pane; esc clears them', async () => {
    const h = await townHarness();
    const { agent } = await slung(h);
    const ui = render(createElement(FeedApp, { source: feedSource(h.town, daemon), options: { noColor: true, pollMs: 50, refreshMs: 200 } }));
    try {
      await frameWith(ui.lastFrame, agent.split('/')[2] as string);
      for (const ch of '/nomatch') ui.stdin.write(ch);
      ui.stdin.write('\r');
      const none = await frameWith(ui.lastFrame, '/nomatch');
      expect(none).toContain('No agents yet.');
      ui.stdin.write('\u001b');
      await frameWith(ui.lastFrame, 'filters cleared');
      ui.stdin.write('f');
      for (const ch of 'rig:other') ui.stdin.write(ch);
      ui.stdin.write('\r');
      const filtered = await frameWith(ui.lastFrame, 'rig:other');
      expect(filtered).toContain('No events yet.');
    } finally {
      ui.unmount();
      // Reads already under way finish before the town closes.
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  it('lays rows out for a narrow pane and keeps the selection in view', async () => {
    expect(bar(1, 4, 8)).toBe('██░░░░░░');
    expect(scrollWindow(100, 99, 10)).toEqual({ start: 90, selected: 99 });
    expect(scrollWindow(3, 7, 10)).toEqual({ start: 0, selected: 2 });
    const h = await townHarness();
    await slung(h);
    const snapshot = await feedSource(h.town, daemon).snapshot();
    const rows = agentRows(snapshot, { search: '' }, Date.now());
    expect(rows.map((r) => r.text.trim().split(/\s+/)[0])).toEqual(['app', 'polecats', expect.any(String)]);
  });
});
