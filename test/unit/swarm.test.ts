/**
 * Team mode and the swarm view's pure parts (issue 17): an agent's colour is
 * stable and distinct, auto mode picks what a user expects, and the layout
 * string is one tmux accepts (its checksum is tmux's own).
 */
import { describe, expect, it } from 'vitest';
import { AGENT_COLOURS, agentColour } from '../../src/core/agents/agent-colour.js';
import { backendOfMode, insideITerm2, resolveTeamMode } from '../../src/core/agents/team-mode.js';
import { gridColumns, layoutChecksum, swarmLayout } from '../../src/core/swarm/layout.js';
import { paneTitle, parseScopeKey, resolveScope, scopeKey, swarmMembers } from '../../src/core/swarm/view.js';
import { createConvoy } from '../../src/core/work/convoys.js';
import { parseTownConfig } from '../../src/core/town/config.js';
import { parseIdentity } from '../../src/core/agents/identity.js';
import { recordSignal } from '../../src/core/agents/signals.js';
import { answerClaudeHook } from '../../src/core/agents/claude-hooks.js';
import { slingBeads, type RuntimeProbe } from '../../src/core/work/work.js';
import { townHarness } from '../support/harness.js';

const probe: RuntimeProbe = { exists: () => true, version: () => '2.1.197' };

describe('agent colours', () => {
  it('hands out the first free palette colour, keeps an assigned one, and stays stable when the palette is full', () => {
    expect(agentColour('app/polecats/a').name).toBe('red');
    expect(agentColour('app/polecats/b', ['red', 'blue']).name).toBe('green');
    expect(agentColour('app/polecats/b', ['red', 'blue'], 'purple').name).toBe('purple');
    const all = AGENT_COLOURS.map((c) => c.name);
    expect(agentColour('app/polecats/z', all)).toEqual(agentColour('app/polecats/z', all));
    expect(new Set(AGENT_COLOURS.map((c) => c.hex)).size).toBe(AGENT_COLOURS.length);
  });
});

describe('team mode', () => {
  const facts = (iterm2: boolean, tmux: boolean) => ({ iterm2: () => iterm2, tmux });
  it('auto: iTerm2 inside iTerm2 with it2, tmux when installed, else in-process', () => {
    expect(resolveTeamMode('auto', facts(true, true))).toBe('iterm2');
    expect(resolveTeamMode('auto', facts(false, true))).toBe('tmux');
    expect(resolveTeamMode('auto', facts(false, false))).toBe('in-process');
    expect(() => resolveTeamMode('tmux', facts(false, false))).toThrow(/tmux is not installed/);
    expect(() => resolveTeamMode('iterm2', facts(false, true))).toThrow(/it2/);
    expect(() => resolveTeamMode('screen', facts(false, true))).toThrow(/unknown team mode/);
    expect(backendOfMode('in-process', true)).toBe('headless');
    expect(backendOfMode('iterm2', true)).toBe('tmux');
    expect(insideITerm2({ TERM_PROGRAM: 'iTerm.app' })).toBe(true);
    expect(insideITerm2({ ITERM_SESSION_ID: 'w0t0p0:ABC' })).toBe(true);
    expect(insideITerm2({ TERM_PROGRAM: 'Apple_Terminal' })).toBe(false);
  });

  it('sessions.mode is validated in town.toml, and an old town.toml without it keeps working', () => {
    expect(parseTownConfig('name = "t"\n', 'town.toml').sessions.mode).toBe('auto');
    expect(parseTownConfig('name = "t"\n[sessions]\nmode = "iterm2"\n', 'town.toml').sessions.mode).toBe('iterm2');
    expect(() => parseTownConfig('name = "t"\n[sessions]\nmode = "screen"\n', 'town.toml')).toThrow(/sessions\.mode/);
    expect(() => parseTownConfig('name = "t"\n[sessions]\nmode = "in-process"\nbackend = "tmux"\n', 'town.toml')).toThrow(/sessions\.backend/);
  });
});

describe('swarm layout', () => {
  it('puts the leader on the left at 30% and stacks teammates on the right until panes get short', () => {
    expect(layoutChecksum('200x50,0,0,0')).toMatch(/^[0-9a-f]{4}$/);
    // tmux's own layout for two panes one above the other (read back from tmux 3.3a).
    expect(layoutChecksum('200x50,0,0[200x25,0,0,0,200x24,0,26,1]')).toBe('e553');
    expect(swarmLayout(200, 50, [3, 4, 5, 6], true)).toBe(
      `${layoutChecksum('200x50,0,0{60x50,0,0,3,139x50,61,0[139x16,61,0,4,139x16,61,17,5,139x16,61,34,6]}')},200x50,0,0{60x50,0,0,3,139x50,61,0[139x16,61,0,4,139x16,61,17,5,139x16,61,34,6]}`,
    );
    expect(gridColumns(3, 50)).toBe(1);
    expect(gridColumns(8, 50)).toBe(2);
    expect(swarmLayout(80, 24, [1], true)).toMatch(/^[0-9a-f]{4},80x24,0,0,1$/);
  });

  it('names scopes and titles panes name · bead · state', () => {
    expect(parseScopeKey(scopeKey({ kind: 'rig', rig: 'app' }))).toEqual({ kind: 'rig', rig: 'app' });
    expect(parseScopeKey(scopeKey({ kind: 'convoy', convoy: 'hq-cv-1' }))).toEqual({ kind: 'convoy', convoy: 'hq-cv-1' });
    expect(parseScopeKey('all')).toEqual({ kind: 'all' });
    expect(paneTitle({ address: 'app/polecats/nux', name: 'nux', role: 'polecat', state: 'working' }, 'ap-12')).toBe('nux · ap-12 · working');
    expect(paneTitle({ address: 'mayor', role: 'mayor', state: 'idle' }, undefined)).toBe('mayor · - · idle');
  });
});

describe('agents in a town', () => {
  it('each new agent gets its own colour on its first session, kept on its agent bead', async () => {
    const h = await townHarness();
    const beads = [await h.bead('one'), await h.bead('two'), await h.bead('three')];
    const slung = await slingBeads(h.town, beads, 'app', { runtime: 'shell' }, probe);
    const colours = await Promise.all(slung.map(async (s) => (await h.town.agent(parseIdentity(s.agent)))?.colour));
    expect(new Set(colours).size).toBe(3);
    expect(colours.every((c) => AGENT_COLOURS.some((p) => p.name === c))).toBe(true);
  });

  it('a view of a rig shows its agents, a view of a convoy only those working on its beads; titles name the bead', async () => {
    const h = await townHarness();
    const beads = [await h.bead('one'), await h.bead('two')];
    const slung = await slingBeads(h.town, beads, 'app', { runtime: 'shell', backend: 'tmux', convoy: false }, probe);
    const convoy = await createConvoy(h.town, 'only one', [beads[0] as string], { owner: 'human' });
    const rig = await swarmMembers(h.town, { kind: 'rig', rig: 'app' });
    expect(rig.members.map((m) => m.address).sort()).toEqual(slung.map((s) => s.agent).sort());
    const view = await swarmMembers(h.town, await resolveScope(h.town, convoy.id, {}));
    expect(view.members.map((m) => [m.address, m.bead])).toEqual([[slung[0]?.agent, beads[0]]]);
    expect(view.members[0]?.title).toMatch(new RegExp(` · ${beads[0]} · `));
    expect(await resolveScope(h.town, undefined, { cwdRig: 'app' })).toEqual({ kind: 'rig', rig: 'app' });
    await expect(resolveScope(h.town, 'nowhere', {})).rejects.toThrow(/neither a rig nor a convoy/);
  });

  it('a TeammateIdle or TaskCompleted hook event records that the agent leads a Claude Code team, with one team.formed event', async () => {
    const h = await townHarness();
    const [slung] = await slingBeads(h.town, [await h.bead('lead work')], 'app', { runtime: 'claude' }, probe);
    const lead = parseIdentity(slung?.agent as string);
    const before = (await h.town.agent(lead))?.state;
    // Answered with nothing: a decision there would keep the teammate working.
    expect(await answerClaudeHook(h.town, lead, 'TeammateIdle', { team_name: 'refactor', teammate_name: 'researcher' }, { cwd: h.root })).toEqual({});
    await recordSignal(h.town, lead, 'task-completed', { team_name: 'refactor', teammate_name: 'tester', task_subject: 'tests' });
    const agent = await h.town.agent(lead);
    expect(agent).toMatchObject({ team: 'refactor', state: before });
    expect(agent?.team_lead_at).toBeTruthy();
    const events = await h.ledger.townEvents(0, { kinds: ['team.formed'] });
    expect(events).toMatchObject([{ kind: 'team.formed', agent: lead.address, payload: { team: 'refactor', teammate: 'researcher' } }]);
  });
});
