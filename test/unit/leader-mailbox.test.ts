/**
 * The leader's mailbox (issue 17 §3) in process: idle notes coalesced per
 * agent, the permission ask mailed to the leader with its suggested rules,
 * "always allow" writing an audited rule the next call matches (and refused to
 * a leader the policy does not trust with it), and the team roster in prime.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtimeProbe } from '../../src/app/index.js';
import { parseIdentity } from '../../src/core/agents/identity.js';
import { codexTrustedProject, codexTrusts, launchPlan, PRESETS, type ResolvedRuntime } from '../../src/core/agents/runtimes.js';
import { startSession } from '../../src/core/agents/sessions.js';
import { turnSignal } from '../../src/core/agents/signals.js';
import { Mailbox } from '../../src/core/comms/mail.js';
import { alwaysAllow } from '../../src/core/governance/always-allow.js';
import { agentWriteGuard } from '../../src/core/governance/agent-writes.js';
import {
  answerPermission,
  brokerPermission,
  evaluatePolicy,
  permissionRequests,
  suggestRules,
  type PolicyLayer,
} from '../../src/core/governance/permissions.js';
import { parseTownConfig } from '../../src/core/town/config.js';
import { assemblePrime } from '../../src/core/work/prime.js';
import { slingBeads } from '../../src/core/work/work.js';
import { townHarness, type Harness } from '../support/harness.js';

const WT = '/town/app/polecats/nux';
const polecat = parseIdentity('app/polecats/nux');
const bash = (command: string) => ({ tool: 'Bash', input: { command }, cwd: WT });
const layer = (toml: string): PolicyLayer => ({ source: 'app/rig.toml', config: parseTownConfig(`name = "t"\n${toml}`, 'rig.toml').permissions });

async function sling(h: Harness, title: string): Promise<string> {
  const bead = await h.bead(title, { run: ['true'] });
  const [result] = await slingBeads(h.town, [bead], 'app', { runtime: 'shell' }, runtimeProbe(h.env));
  return (result as { agent: string }).agent;
}

const idleNotes = async (h: Harness, to: string) => (await new Mailbox(h.ledger, to).inbox(to)).filter((m) => m.kind === 'idle');
const stop = (h: Harness, agent: string, said: string) => turnSignal(h.town, parseIdentity(agent), 'stop', { last_assistant_message: said }, 'claude');

describe('idle notifications', () => {
  it("a turn's end leaves the dispatcher one unread note per agent, the newest, with the turn's first line", async () => {
    const h = await townHarness();
    const nux = await sling(h, 'Fix the login timeout');
    const slit = await sling(h, 'Add the tests');
    expect(await stop(h, nux, 'Found the cause in session.ts.\nMore detail follows.')).toBe('');
    expect(await stop(h, nux, 'Fixed it; committing next.')).toBe('');
    await stop(h, slit, '');
    const notes = await idleNotes(h, 'human');
    expect(notes.map((n) => n.subject).sort()).toEqual([
      expect.stringMatching(new RegExp(`^idle: ${nux} \\(app-\\w+\\): Fixed it; committing next\\.$`)),
      expect.stringMatching(new RegExp(`^idle: ${slit} \\(app-\\w+\\): its turn ended$`)),
    ]);
    // The superseded note is closed, not lost: it says by which.
    const all = (await new Mailbox(h.ledger, 'human').inbox('human', { all: true })).filter((m) => m.kind === 'idle');
    expect(all).toHaveLength(3);
    expect(all.filter((m) => m.acked)).toHaveLength(1);
    // The agent is idle.
    expect((await h.town.agent(parseIdentity(nux)))?.state).toBe('idle');
  });

  it('a turn that ends with mail to deliver is not idle, and an agent with nothing on its hook tells nobody', async () => {
    const h = await townHarness();
    const nux = await sling(h, 'Fix it');
    await new Mailbox(h.ledger, 'human').send(nux, 'Use the v2 API', 'see docs');
    expect(await stop(h, nux, 'Done with step 1.')).toContain('Use the v2 API');
    expect(await idleNotes(h, 'human')).toEqual([]);
    // Its work closed: nothing on its hook, nobody to tell.
    const [bead] = await h.ledger.list({ assignee: nux, statuses: ['hooked'] });
    await h.ledger.update([bead?.id as string], { status: 'closed' });
    await stop(h, nux, 'All done.');
    expect(await idleNotes(h, 'human')).toEqual([]);
  });

  it('a leader agent is woken by the first idle note only; the rest wait with it until it reads them', async () => {
    const h = await townHarness();
    const mayor = parseIdentity('mayor');
    await startSession(h.town, mayor, { runtime: h.town.runtimeFor(mayor, 'shell'), backend: 'tmux', hooked: false });
    const agents = [await sling(h, 'One'), await sling(h, 'Two')];
    for (const agent of agents) {
      const [bead] = await h.ledger.list({ assignee: agent, statuses: ['hooked'] });
      await h.ledger.update([bead?.id as string], { setMetadata: { dispatcher: 'mayor' } });
    }
    await stop(h, agents[0] as string, 'first');
    await stop(h, agents[1] as string, 'second');
    await stop(h, agents[0] as string, 'third');
    const wakes = h.detached.calls.filter((c) => c.what === 'nudge' && c.agent === 'mayor');
    expect(wakes).toHaveLength(1);
    expect(wakes[0]?.text).toContain('idle:');
    expect((await idleNotes(h, 'mayor')).map((n) => n.subject.split(': ').pop()).sort()).toEqual(['second', 'third']);
    // Delivered at the Mayor's next turn boundary, each on one line.
    const delivered = await turnSignal(h.town, mayor, 'prompt-submit', {}, 'claude');
    expect(delivered).toContain(`idle: ${agents[0] as string}`);
    expect(delivered).toContain(`idle: ${agents[1] as string}`);
    expect(await idleNotes(h, 'human')).toEqual([]);
  });
});

describe('"always allow" in the policy', () => {
  it('answers an ask (a rule or the default), never a deny, and only for lines it wholly covers', () => {
    const always = '[[permissions.rules]]\naction = "allow"\ntool = "Bash"\ncommand = "npm test *"\nover_ask = true\nadded_by = "human"\n';
    const ask = layer(`[permissions]\ndefault = "ask"\n[[permissions.rules]]\naction = "ask"\ntool = "Bash"\ncommand = "npm *"\n${always}`);
    expect(evaluatePolicy([ask], polecat, WT, bash('npm test --watch=false'))).toMatchObject({ action: 'allow', rule: 'app/rig.toml permissions.rules[1]' });
    expect(evaluatePolicy([ask], polecat, WT, bash('npm test --ci && curl x | sh')).action).toBe('ask');
    expect(evaluatePolicy([ask], polecat, WT, bash('npm publish')).action).toBe('ask');
    const denied = layer(`[[permissions.rules]]\naction = "deny"\ntool = "Bash"\ncommand = "npm test --force*"\n${always}`);
    expect(evaluatePolicy([denied], polecat, WT, bash('npm test --force')).action).toBe('deny');
  });

  it('suggests the exact call first, then the program and subcommand with any arguments, or the folder', () => {
    expect(suggestRules(bash('npm test --watch=false'), WT)).toEqual([
      { action: 'allow', tool: 'Bash', command: 'npm test --watch=false', exact: true },
      { action: 'allow', tool: 'Bash', command: 'npm test *' },
    ]);
    expect(suggestRules(bash('touch A.txt'), WT).map((r) => r.command)).toEqual(['touch A.txt', 'touch *']);
    expect(suggestRules(bash('cd x && make'), WT).map((r) => r.command)).toEqual(['cd x && make']);
    expect(suggestRules({ tool: 'Edit', input: { file_path: `${WT}/src/db/schema.ts` }, cwd: WT }, WT)).toEqual([
      { action: 'allow', tool: 'Edit', path: 'src/db/schema.ts' },
      { action: 'allow', tool: 'Edit', path: 'src/db/*' },
    ]);
    expect(suggestRules({ tool: 'WebFetch', input: { url: 'https://x' }, cwd: WT }, WT)).toEqual([{ action: 'allow', tool: 'WebFetch' }]);
  });

  it('a leader answers with gt permission through its own tools, but never writes a decision into the ledger', () => {
    for (const leader of [true, false]) {
      const verdict = evaluatePolicy(
        [],
        parseIdentity('mayor'),
        '/town/mayor',
        { tool: 'Bash', input: { command: 'gt permission approve hq-1' }, cwd: '/town/mayor' },
        undefined,
        undefined,
        { leader },
      );
      expect(verdict.action).toBe(leader ? 'allow' : 'deny');
      const bd = evaluatePolicy(
        [],
        parseIdentity('mayor'),
        '/town/mayor',
        { tool: 'Bash', input: { command: 'bd update hq-1 --set-metadata decision=allow' }, cwd: '/town/mayor' },
        undefined,
        undefined,
        { leader },
      );
      expect(bd.action).toBe('deny');
    }
  });
});

describe('the permission round trip through the mailbox', () => {
  it('mails the ask to the dispatcher with its answers; always allow adds an audited rule the next call matches; a leader may not unless the policy says so', async () => {
    const h = await townHarness();
    const nux = await sling(h, 'Publish');
    const rigToml = join(h.root, 'app', 'rig.toml');
    writeFileSync(rigToml, readFileSync(rigToml, 'utf8').replace('[permissions]\n', '[permissions]\ndefault = "ask"\ntimeout = "1m"\n'));
    const town = join(h.root, 'town.toml');
    writeFileSync(town, `${readFileSync(town, 'utf8')}\n[permissions]\nleaders = ["mayor"]\n`);
    h.town.reloadConfig();
    const identity = parseIdentity(nux);
    const cwd = h.town.path('app', 'polecats', identity.name as string);
    const asking = brokerPermission(h.town, identity, { tool: 'Bash', input: { command: 'npm publish --tag next' }, cwd }, { pollMs: 20 });
    let mail;
    for (;;) {
      [mail] = (await new Mailbox(h.ledger, 'human').inbox('human')).filter((m) => m.permission !== undefined);
      if (mail) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const [request] = await permissionRequests(h.town);
    expect(mail.subject).toBe(`PERMISSION ${request?.id as string}: Bash: npm publish --tag next`);
    expect(mail.body).toContain(`gt permission deny ${request?.id as string} --reason`);
    expect(mail.body).toContain('1. allow Bash command "npm publish --tag next"');
    expect(mail.body).toContain('2. allow Bash command "npm publish *"');
    expect(mail.body).toContain('adds to app/rig.toml');
    // The agent's colour in the swarm view, as its session was given it.
    const colour = (await h.town.agent(identity))?.colour as string;
    expect(colour).toBeTruthy();
    expect(mail.body).toMatch(new RegExp(`^${nux} \\(${colour} \\(#[0-9a-f]{6}\\)\\) asks to run Bash in `));
    expect(request?.colour).toMatch(new RegExp(`^${colour} `));

    // A leader answers, but "always allow" changes the policy: refused, nothing written.
    const before = readFileSync(rigToml, 'utf8');
    await expect(alwaysAllow(h.town, request?.id as string, { by: 'mayor', via: 'leader' }, 2)).rejects.toThrow('"always allow" changes the policy');
    expect(readFileSync(rigToml, 'utf8')).toBe(before);

    const view = await alwaysAllow(h.town, request?.id as string, { by: 'human', via: 'person' }, 2);
    expect(view).toMatchObject({ status: 'allowed', rule_added: { file: 'app/rig.toml', rule: 'allow Bash command "npm publish *"' } });
    await expect(asking).resolves.toMatchObject({ action: 'allow', decided_by: 'human' });
    const after = readFileSync(rigToml, 'utf8');
    // Appended: the file's own comments stay.
    expect(after.startsWith('# gt rig: app.')).toBe(true);
    expect(after).toContain('command = "npm publish *"');
    expect(after).toContain('over_ask = true');
    expect(after).toContain(`request = "${request?.id as string}"`);
    const [added] = await h.ledger.townEvents(0, { kinds: ['permission.rule_added'] });
    expect(added).toMatchObject({ actor: 'human', agent: nux, payload: { file: 'app/rig.toml', rule: 'allow Bash command "npm publish *"' } });
    // The mail is closed once the ask is answered.
    expect((await new Mailbox(h.ledger, 'human').inbox('human')).filter((m) => m.permission !== undefined)).toEqual([]);

    // The next matching call is allowed by that rule, asking nobody.
    h.town.reloadConfig();
    const next = await brokerPermission(h.town, identity, { tool: 'Bash', input: { command: 'npm publish --tag latest' }, cwd }, { pollMs: 20 });
    expect(next).toMatchObject({ action: 'allow', decided_by: 'policy', rule: 'app/rig.toml permissions.rules[0]' });
    expect(await permissionRequests(h.town)).toEqual([]);

    // With permissions.leaders_always_allow, a leader may.
    writeFileSync(town, `${readFileSync(town, 'utf8').replace('leaders = ["mayor"]', 'leaders = ["mayor"]\nleaders_always_allow = true')}`);
    h.town.reloadConfig();
    const third = brokerPermission(h.town, identity, { tool: 'Bash', input: { command: 'make deploy' }, cwd }, { pollMs: 20 });
    let waiting;
    while (!(waiting = (await permissionRequests(h.town))[0])) await new Promise((r) => setTimeout(r, 20));
    await expect(alwaysAllow(h.town, waiting.id, { by: 'mayor', via: 'leader' })).resolves.toMatchObject({ status: 'allowed', decided_via: 'leader' });
    await expect(third).resolves.toMatchObject({ action: 'allow' });
  });
});

describe('an answer the ledger refuses', () => {
  it('says the ledger refused it, not that someone else answered (review of 2026-11-28, finding 8)', async () => {
    const h = await townHarness();
    const nux = await sling(h, 'Publish');
    const rigToml = join(h.root, 'app', 'rig.toml');
    writeFileSync(rigToml, readFileSync(rigToml, 'utf8').replace('[permissions]\n', '[permissions]\ndefault = "ask"\ntimeout = "1m"\n'));
    h.town.reloadConfig();
    const identity = parseIdentity(nux);
    const cwd = h.town.path('app', 'polecats', identity.name as string);
    const asking = brokerPermission(h.town, identity, { tool: 'Bash', input: { command: 'make deploy' }, cwd }, { pollMs: 20 });
    let waiting;
    while (!(waiting = (await permissionRequests(h.town))[0])) await new Promise((r) => setTimeout(r, 20));
    // A dashboard an agent started: its ledger carries that agent's write guard.
    let guarded = true;
    const guard = agentWriteGuard('app/polecats/furiosa');
    h.town.ledger.guard({ write: (before, after) => (guarded ? guard(before, after) : undefined) });
    const refused = answerPermission(h.town, waiting.id, 'allow', { by: 'human', via: 'person' });
    await expect(refused).rejects.toThrow(/is an agent session and may not/);
    await expect(refused).rejects.not.toThrow(/someone else/);
    guarded = false;
    await answerPermission(h.town, waiting.id, 'deny', { by: 'human', via: 'person' });
    await expect(asking).resolves.toMatchObject({ action: 'deny' });
  });
});

describe('team context on reconnect', () => {
  it("a resumed agent's prime lists its team with beads and states; a fresh start does not", async () => {
    const h = await townHarness();
    const nux = await sling(h, 'Fix the login timeout');
    const slit = await sling(h, 'Add the tests');
    await stop(h, slit, 'waiting');
    const load = async () => undefined;
    const fresh = await assemblePrime(h.town, parseIdentity(nux), { loadConfig: load });
    expect(fresh.text).not.toContain('## Team');
    const resumed = await assemblePrime(h.town, parseIdentity(nux), { resumed: true, loadConfig: load });
    expect(resumed.text).toMatch(new RegExp(`## Team \\(leader human\\)\\n- ${slit} (idle|working|starting) app-\\w+ Add the tests\\n`));
    expect(resumed.json.team).toMatchObject({ leader: 'human', members: [{ agent: slit, title: 'Add the tests' }] });
  });
});

describe("Codex's permission hook", () => {
  it('is given on the command line with a limit past the broker, unless the user trusts the workdir as a Codex project', () => {
    const runtime = { ...PRESETS.codex, custom: false } as ResolvedRuntime;
    const plan = launchPlan(runtime, {
      headless: true,
      prompt: 'go',
      settingsDir: '/s',
      gtBin: '/town/.gt/bin/gt',
      permissionTimeoutSec: 600,
      brokerCodex: true,
    });
    expect(plan.argv.slice(0, 3)).toEqual(['codex', '--dangerously-bypass-hook-trust', '-c']);
    expect(plan.argv[3]).toBe(
      'hooks.PreToolUse=[{matcher="*",hooks=[{type="command",command="/town/.gt/bin/gt permission check --format codex",timeout=660}]}]',
    );
    expect(launchPlan(runtime, { headless: true, prompt: 'go', settingsDir: '/s', gtBin: '/g' }).argv).not.toContain('--dangerously-bypass-hook-trust');
    const config = 'model = "gpt-5"\n[projects."/town/app"]\ntrust_level = "trusted"\n[projects."/elsewhere"]\ntrust_level = "untrusted"\n';
    expect(codexTrusts(config, '/town/app/polecats/nux')).toBe(true);
    expect(codexTrusts(config, '/town/application')).toBe(false);
    expect(codexTrusts(config, '/elsewhere/x')).toBe(false);
    expect(codexTrusts('projects = { "/town" = { trust_level = "trusted" } }', '/town/app')).toBe(true);
    expect(codexTrusts('not [ toml', '/town')).toBe(false);
    expect(codexTrusts(undefined, '/town')).toBe(false);
  });

  it('a Codex project trusted over the town refuses the start, naming the entry to remove (review of 2026-11-28, finding 4)', async () => {
    const h = await townHarness();
    mkdirSync(join(h.env.HOME as string, '.codex'), { recursive: true });
    writeFileSync(join(h.env.HOME as string, '.codex', 'config.toml'), '[projects."/"]\ntrust_level = "trusted"\n');
    const mayor = parseIdentity('mayor');
    const started = startSession(h.town, mayor, { runtime: h.town.runtimeFor(mayor, 'codex'), backend: 'tmux', hooked: false });
    await expect(started).rejects.toThrow(/Codex trusts \/ as a project .*skip gt's permission broker/);
    expect(codexTrustedProject('[projects."/"]\ntrust_level = "trusted"\n', '/town/mayor')).toBe('/');
  });
});
