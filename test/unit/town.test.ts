import { describe, expect, it } from 'vitest';
import { parseRigConfig, parseTownConfig } from '../../src/core/town/config.js';
import { parseDuration } from '../../src/shared/duration.js';
import { agentBeadId, identityFromPath, parseIdentity, sessionName } from '../../src/core/agents/identity.js';
import { NAME_POOL, nextPolecatName } from '../../src/core/agents/names.js';
import { renderPrime, runSteps } from '../../src/core/work/prime.js';
import { HOOK_URL_PLACEHOLDER, launchPlan, resolveRuntime } from '../../src/core/agents/runtimes.js';
import type { Issue } from '../../src/core/beads/types.js';

describe('town.toml and rig.toml', () => {
  it('fills defaults for a minimal town', () => {
    const town = parseTownConfig('name = "work"\n', 'town.toml');
    expect(town).toMatchObject({ name: 'work', default_agent: 'claude', sessions: { backend: 'auto' }, daemon: { interval: '5s' }, agents: {} });
  });

  it('names the file and the key of every mistake', () => {
    expect(() => parseTownConfig('name = "w"\n[sessions]\nbackend = "screen"\n', '/t/town.toml')).toThrow(/\/t\/town\.toml: key sessions\.backend:/);
    expect(() => parseTownConfig('name = "w"\n[role_agents]\nwizard = "claude"\n', 'town.toml')).toThrow(/key role_agents: unknown key\(s\) "wizard"/);
    expect(() => parseTownConfig('name = "w"\n[agents.x]\ncommand = ""\n', 'town.toml')).toThrow(/key agents\.x\.command/);
    expect(() => parseTownConfig('name = "w"\ndaemon = { interval = "soon" }\n', 'town.toml')).toThrow(/key daemon\.interval: .*"30s"/);
    // ledger.url: a PostgreSQL URL or a SQLite file; a mistyped scheme is refused by name.
    expect(() => parseTownConfig('name = "w"\n[ledger]\nurl = "postgress://gt@db/town"\n', '/t/town.toml')).toThrow(
      /\/t\/town\.toml: key ledger\.url: .*postgres:\/\/ or postgresql:\/\/ URL, or the path of a SQLite file/,
    );
    expect(parseTownConfig('name = "w"\n[ledger]\nurl = "postgresql://gt@db/town"\n', 't').ledger.url).toBe('postgresql://gt@db/town');
    expect(parseTownConfig('name = "w"\n[ledger]\nurl = "/srv/gt/ledger.db"\n', 't').ledger.url).toBe('/srv/gt/ledger.db');
    expect(() => parseTownConfig('name = \n', 'town.toml')).toThrow(/town\.toml at line 1, column \d+: not valid TOML/);
    expect(() => parseRigConfig('name = "app"\ngit_url = "u"\ndefault_branch = "main"\nprefix = "App"\n', 'app/rig.toml')).toThrow(
      /app\/rig\.toml: key prefix/,
    );
  });

  it('reads durations', () => {
    expect([parseDuration('250ms'), parseDuration('30s'), parseDuration('5m'), parseDuration('1.5h')]).toEqual([250, 30_000, 300_000, 5_400_000]);
    expect(() => parseDuration('5 minutes')).toThrow();
  });
});

describe('identities', () => {
  it('parses every address form and refuses the rest', () => {
    expect(parseIdentity('app/polecats/nux')).toEqual({ address: 'app/polecats/nux', role: 'polecat', rig: 'app', name: 'nux' });
    expect(parseIdentity('app/crew/ada/')).toMatchObject({ address: 'app/crew/ada', role: 'crew' });
    expect(parseIdentity('app/refinery')).toMatchObject({ role: 'refinery', rig: 'app' });
    expect(parseIdentity('mayor')).toEqual({ address: 'mayor', role: 'mayor' });
    for (const bad of ['app', 'app/polecats', 'App/polecats/nux', 'app/dogs/x', 'app/polecats/a b'])
      expect(() => parseIdentity(bad)).toThrow(/invalid agent address/);
  });

  it('derives bead IDs, session names and identities from paths', () => {
    const nux = parseIdentity('app/polecats/nux');
    expect(agentBeadId(nux)).toBe('hq-app-polecat-nux');
    expect(sessionName(nux)).toBe('gt-app-nux');
    expect(sessionName(parseIdentity('app/crew/ada'))).toBe('gt-app-crew-ada');
    expect(identityFromPath('app/polecats/nux/src/lib')).toEqual(nux);
    expect(identityFromPath('mayor')).toMatchObject({ role: 'mayor' });
    expect(identityFromPath('app/src')).toBeUndefined();
  });

  it('hands out pool names in order, then numbered ones', () => {
    expect(nextPolecatName(new Set())).toBe('furiosa');
    expect(nextPolecatName(new Set(['furiosa']))).toBe('nux');
    expect(nextPolecatName(new Set(NAME_POOL))).toBe('furiosa-2');
  });
});

const bead = (extra: Partial<Issue> = {}): Issue => ({
  id: 'app-a3f8',
  title: 'Fix the login timeout',
  status: 'hooked',
  priority: 1,
  issue_type: 'bug',
  created_at: '',
  updated_at: '',
  ...extra,
});

describe('gt prime', () => {
  it('stays under 2 KB for a polecat with one hooked bead, and says what to do', () => {
    const text = renderPrime({
      identity: parseIdentity('app/polecats/nux'),
      hooked: [bead({ description: 'Users are logged out after 5 minutes. '.repeat(8) })],
      branch: 'polecat/nux/app-a3f8',
      mail: [
        {
          id: 'hq-1',
          from: 'mayor',
          to: 'app/polecats/nux',
          subject: 'Use the v2 API',
          body: '',
          kind: 'message',
          thread: 'hq-1',
          priority: 2,
          created_at: '',
          delivered: true,
          read: false,
          acked: false,
        },
      ],
    });
    expect(Buffer.byteLength(text)).toBeLessThan(2048);
    expect(text).toContain('## Hooked: app-a3f8 — Fix the login timeout');
    expect(text).toContain('gt done');
    expect(text).toContain('hq-1 from mayor: Use the v2 API');
  });

  it('clips a long description so the prime stays short', () => {
    const text = renderPrime({ identity: parseIdentity('app/polecats/nux'), hooked: [bead({ description: 'x'.repeat(10_000) })], mail: [] });
    expect(Buffer.byteLength(text)).toBeLessThan(2048);
    expect(text).toContain('bd show for the rest');
  });

  it('finds run steps in metadata (one step each) or a fenced block (one script)', () => {
    expect(runSteps({ metadata: { run: ['make', 'make test'] } })).toEqual([
      { command: 'make', script: false },
      { command: 'make test', script: false },
    ]);
    expect(runSteps({ description: 'Do it.\n\n```run\necho a > a.txt\n# a comment\n\ngit add a.txt\n```\n' })).toEqual([
      { command: 'echo a > a.txt\n# a comment\n\ngit add a.txt', script: true },
    ]);
    expect(runSteps({ description: '```js\nnot this\n```' })).toEqual([]);
  });
});

describe('runtime presets', () => {
  const town = { agents: { mybot: { command: 'mybot --yes "two words"', like: 'claude' } } };

  it('starts Claude Code with gt-owned settings: prime on start, every per-turn hook to the session host over HTTP, each with a time limit', () => {
    const plan = launchPlan(resolveRuntime('claude', town), {
      headless: false,
      prompt: 'go',
      settingsDir: '/t/.gt/settings/s',
      gtBin: '/t/.gt/bin/gt',
      permissionTimeoutSec: 120,
      resume: 'abc-123',
    });
    // No --dangerously-skip-permissions: gt's broker answers every tool call (and root may not use that flag).
    expect(plan.argv).toEqual(['claude', '--settings', '/t/.gt/settings/s/claude-settings.json', '--resume', 'abc-123', 'go']);
    expect(plan.hookServer).toEqual({ files: ['/t/.gt/settings/s/claude-settings.json'] });
    type Hook = { type: string; command?: string; url?: string; timeout: number };
    const settings = JSON.parse(plan.files['/t/.gt/settings/s/claude-settings.json'] ?? '{}') as { hooks: Record<string, Array<{ hooks: Hook[] }>> };
    const hook = (event: string) => settings.hooks[event]?.[0]?.hooks[0] as Hook;
    expect(hook('SessionStart')).toEqual({ type: 'command', command: '/t/.gt/bin/gt prime --hook', timeout: 30 });
    // PreCompact holds a compaction once for the memory flush turn (gt signal pre-compact exits 2), then prints the prime.
    expect(hook('PreCompact')).toMatchObject({ type: 'command', command: '/t/.gt/bin/gt signal pre-compact --format claude' });
    for (const event of ['UserPromptSubmit', 'Stop', 'StopFailure', 'Notification', 'SessionEnd']) {
      expect(hook(event)).toEqual({ type: 'http', url: `${HOOK_URL_PLACEHOLDER}/${event}`, timeout: 30 });
    }
    // A permission may wait for a person: the hook outlives the broker's own timeout, which answers first.
    for (const event of ['PreToolUse', 'PermissionRequest'])
      expect(hook(event)).toEqual({ type: 'http', url: `${HOOK_URL_PLACEHOLDER}/${event}`, timeout: 180 });
  });

  it('runs Claude Code headless on its stream-json protocol, the prompt on stdin', () => {
    const plan = launchPlan(resolveRuntime('claude', town), { headless: true, prompt: 'go', settingsDir: '/s', gtBin: '/gt' });
    expect(plan.argv).toEqual(expect.arrayContaining(['-p', '--input-format', 'stream-json', '--output-format', 'stream-json']));
    expect(JSON.parse(plan.stdinLines?.[0] ?? '{}')).toEqual({ type: 'user', message: { role: 'user', content: 'go' } });
  });

  it('wires Codex and Gemini to their own hook mechanisms, and types the prompt for Codex', () => {
    const codex = launchPlan(resolveRuntime('codex', town), { headless: false, prompt: 'go', settingsDir: '/s', gtBin: '/gt' });
    expect(codex.argv).toEqual([
      'codex',
      '-c',
      'notify=["/gt","signal","stop","--format","codex"]',
      '-c',
      'allow_login_shell=false',
      '--dangerously-bypass-approvals-and-sandbox',
    ]);
    expect(codex.typeAfterReady).toBe('go');
    const gemini = launchPlan(resolveRuntime('gemini', town), { headless: false, prompt: 'go', settingsDir: '/s', gtBin: '/gt' });
    expect(gemini.env.GEMINI_CLI_SYSTEM_SETTINGS_PATH).toBe('/s/gemini-settings.json');
    const geminiHooks = (JSON.parse(gemini.files['/s/gemini-settings.json'] ?? '{}') as { hooks: Record<string, Array<{ hooks: Array<{ command: string }> }>> })
      .hooks;
    expect(Object.keys(geminiHooks)).toEqual(expect.arrayContaining(['SessionStart', 'BeforeAgent', 'AfterAgent', 'BeforeTool']));
    expect(geminiHooks.BeforeTool?.[0]?.hooks[0]?.command).toBe('/gt permission check --format gemini');
  });

  it('lets a custom agent behave like the preset it names, with its own words', () => {
    const mybot = resolveRuntime('mybot', town);
    expect(mybot).toMatchObject({ command: 'mybot', args: ['--yes', 'two words'], hooks: 'claude', custom: true });
    expect(() => resolveRuntime('nosuch', town)).toThrow(/unknown agent runtime "nosuch"/);
    const headless = launchPlan(mybot, { headless: true, prompt: 'go', settingsDir: '/s', gtBin: '/gt' });
    expect(headless.argv.slice(0, 6)).toEqual(['mybot', '--yes', 'two words', '-p', '--input-format', 'stream-json']);
  });

  it('refuses a custom command with shell operators instead of dropping them', () => {
    expect(() => resolveRuntime('piped', { agents: { piped: { command: 'mybot | tee log' } } })).toThrow(
      /agents\.piped\.command: shell operators are not supported/,
    );
  });

  it('refuses headless for a runtime without a headless mode', () => {
    expect(() => launchPlan(resolveRuntime('amp', town), { headless: true, prompt: 'go', settingsDir: '/s', gtBin: '/gt' })).toThrow(/no headless mode/);
  });
});
