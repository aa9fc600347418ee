import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Git } from '../../src/infra/exec.js';
import { parseTownConfig } from '../../src/core/town/config.js';
import { anthropicTokens, codexUsage, priceOf, StreamUsageReader } from '../../src/core/governance/costs.js';
import { parseIdentity } from '../../src/core/agents/identity.js';
import { evaluatePolicy, simpleCommands, suggestRules, type PolicyLayer } from '../../src/core/governance/permissions.js';

const WT = '/town/app/polecats/nux';
const polecat = parseIdentity('app/polecats/nux');
const mayor = parseIdentity('mayor');
const bash = (command: string) => ({ tool: 'Bash', input: { command }, cwd: WT });
const layer = (source: string, toml: string): PolicyLayer => ({ source, config: parseTownConfig(`name = "t"\n${toml}`, source).permissions });

describe('the permission policy', () => {
  it('allows by default and names the rule that decided', () => {
    expect(evaluatePolicy([], polecat, WT, bash('npm test'))).toMatchObject({ action: 'allow', rule: 'default' });
    const askAll = layer('town.toml', '[permissions]\ndefault = "ask"');
    expect(evaluatePolicy([askAll], polecat, WT, bash('npm test'))).toMatchObject({ action: 'ask', rule: 'town.toml permissions.default' });
  });

  it('denies force pushes in every spelling, and not ordinary pushes', () => {
    for (const command of [
      'git push --force',
      'git push -f origin main',
      'cd x && git push origin +main',
      'git push --force-with-lease',
      'FOO=1 git push -uf origin x',
      'git -C repo push --force',
    ]) {
      expect(evaluatePolicy([], polecat, WT, bash(command)), command).toMatchObject({ action: 'deny', rule: 'builtin force-push' });
    }
    for (const command of ['git push origin main', 'git push --follow-tags', 'echo "git push --force"', 'git commit -m "force"']) {
      expect(evaluatePolicy([], polecat, WT, bash(command)).action, command).toBe('allow');
    }
  });

  it('sees a force push, a deletion or a push around origin through wrappers, shells, blocks and new lines (issue 12, finding 4)', () => {
    for (const command of [
      '/usr/bin/git push -f origin main',
      'command git push --force',
      'env git push -f',
      'env -u X FOO=1 git push --force',
      'bash -c "git push --force origin main"',
      "sh -lc 'cd x && git push -f'",
      'eval "git push -f"',
      'eval git push -f',
      'ls\ngit push -f origin main',
      'if true; then git push -f; fi',
      'for i in 1; do git push -f; done',
      '{ git push -f; }',
      '! git push -f',
      '(git push -f)',
      'git send-pack --force ../../.repo.git main',
      'git push --mirror',
      'git push origin :main',
      'git push --delete origin main',
      'git push -d origin main',
      'git push https://github.com/o/r.git main',
      'git push /tmp/origin.git main',
      'git -c alias.p=push p -f',
      'git config alias.p "push -f"',
      'git remote set-url --push origin /tmp/x',
      'git config --unset remote.origin.pushurl',
      'bash -c "bash -c \\"git push -f\\""',
      'nohup git push -f &',
      // Found by an adversarial probe: configuration from the environment, variables as the target,
      // the shared repository's refs, protections and hooks, and wrappers with an operand.
      'GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.pushurl GIT_CONFIG_VALUE_0=/tmp/origin.git git push origin HEAD:main',
      'X=/tmp/o.git git --config-env=remote.origin.pushurl=X push origin main',
      'U=/tmp/origin.git; git push -f $U aa9814d:main',
      'git push $U main',
      'timeout 60 git push -f origin main',
      'git update-ref refs/heads/main HEAD',
      'git update-ref -d refs/heads/polecat/nux/app-1',
      'git config receive.denyNonFastForwards false',
      'git config core.hooksPath /tmp/hooks',
      'git -c core.hooksPath=/tmp/hooks commit -m x',
      'git branch -D polecat/slit/app-2',
      'git branch -f main HEAD',
    ]) {
      expect(evaluatePolicy([], polecat, WT, bash(command)), command).toMatchObject({ action: 'deny', rule: 'builtin force-push' });
    }
    for (const command of [
      'git push origin polecat/nux/app-1',
      'git push',
      'git commit -m "git push -f\nmore"',
      'bash -c "npm test"',
      'git config user.name x',
      'git config --get remote.origin.url',
      'git remote -v',
      'git fetch origin',
    ]) {
      expect(evaluatePolicy([], polecat, WT, bash(command)).action, command).toBe('allow');
    }
  });

  it("denies writes outside the worktree, relative paths resolved from the agent's directory", () => {
    const write = (file_path: string, cwd = WT) => ({ tool: 'Write', input: { file_path, content: 'x' }, cwd });
    expect(evaluatePolicy([], polecat, WT, write('src/a.ts'))).toMatchObject({ action: 'allow' });
    expect(evaluatePolicy([], polecat, WT, write(`${WT}/deep/b.ts`))).toMatchObject({ action: 'allow' });
    expect(evaluatePolicy([], polecat, WT, write('../furiosa/a.ts'))).toMatchObject({ action: 'deny', rule: 'builtin outside-worktree' });
    expect(evaluatePolicy([], polecat, WT, write('/etc/passwd'))).toMatchObject({ action: 'deny' });
    expect(evaluatePolicy([], polecat, WT, { tool: 'Read', input: { file_path: '/etc/hosts' }, cwd: WT })).toMatchObject({ action: 'allow' });
    const off = layer('town.toml', '[permissions]\nbuiltin_rules = false');
    expect(evaluatePolicy([off], polecat, WT, write('/etc/passwd'))).toMatchObject({ action: 'allow' });
  });

  it("denies an agent's commands that answer permission requests, vouch for command gates or drop its identity, even with builtin_rules off", () => {
    const off = layer('town.toml', '[permissions]\nbuiltin_rules = false');
    for (const command of [
      'gt permission approve hq-1',
      'gt --json permission deny hq-1',
      '/usr/local/bin/gt permission approve hq-1',
      'env -u GT_AGENT gt permission approve hq-1',
      'bd update hq-1 --set-metadata decision=allow --status closed',
      'gt bd update hq-1 --set-metadata decided_by=human',
      'bd create x -t permission',
      'command bd update app-1 --set-metadata command_approved_by=human',
    ]) {
      expect(evaluatePolicy([off], polecat, WT, bash(command)), command).toMatchObject({ action: 'deny', rule: 'builtin person-decides' });
    }
    for (const command of ['GT_AGENT=mayor gt mail inbox', 'unset GT_AGENT && bd list', 'env -i PATH=/bin bd list']) {
      expect(evaluatePolicy([off], polecat, WT, bash(command)), command).toMatchObject({ action: 'deny', rule: 'builtin agent-identity' });
    }
    for (const command of ['gt permission list', 'bd update app-1 --status in_progress', 'bd create "Record the decision" -t decision', 'echo $GT_AGENT']) {
      expect(evaluatePolicy([], polecat, WT, bash(command)).action, command).toBe('allow');
    }
  });

  it("protects the policy, gt's state, installed formulas and other workspaces from every write, Bash included, even with builtin_rules off", () => {
    const off = layer('town.toml', '[permissions]\nbuiltin_rules = false');
    const denied = (request: { tool: string; input: Record<string, unknown>; cwd: string }, who = polecat, wt = WT) =>
      evaluatePolicy([off], who, wt, request, (path) => path, '/home/me');
    for (const command of [
      'sed -i s/true/false/ /town/town.toml',
      'sed -i s/x/y/ ../../../town.toml',
      'cd ../.. && sed -i s/x/y/ rig.toml',
      'echo "builtin_rules = false" >> $GT_ROOT/town.toml',
      'sqlite3 /town/.gt/ledger.db "update issues set status=\'closed\'"',
      'rm -rf ../furiosa',
      'cp evil.toml /town/formulas/release.formula.toml',
      'git -C /town/app/refinery commit -am x',
      'FOO=1 tee /town/app/rig.toml < x',
      'rm -rf /town/app',
      'mv x /town/.gt/bin/gt',
      'printf x > ../../../mayor/AGENTS.md',
      'env /bin/rm /town/.gt/ledger.db',
      'ls\nrm /town/town.toml',
      'if true; then ls\nsed -i x /town/app/rig.toml; fi',
      // Found by an adversarial probe: variables the line sets or knows, ~, and programs that write by a flag.
      'printf "\\n[permissions]\\nleaders = [1]" >> $PWD/../../../town.toml',
      'R=../../rig.toml; sed -i "s|^test = .*|test = \\"touch x\\"|" $R',
      'F=../../../town.toml; echo x >> $F',
      'echo x > ~/../town/town.toml',
      'echo x > ~/gt/town.toml',
      'echo x > $HOME/gt/rig.toml',
      'tree -o ../../rig.toml',
      'printf "#!/bin/sh" > $PWD/../../../.gt/bin/gt',
      'timeout 5 sed -i x /town/town.toml',
    ]) {
      expect(denied(bash(command)), command).toMatchObject({ action: 'deny', rule: 'builtin protected-files' });
    }
    for (const command of [
      'cat /town/town.toml',
      'grep -r x ../../../.gt/logs',
      'ls ..',
      'sed -i s/a/b/ src/a.ts',
      'git add . && git commit -m "edit /town/town.toml"',
      'npm test > out.txt',
      'rm -rf node_modules',
      'gt config get permissions',
    ]) {
      expect(denied(bash(command)).action, command).toBe('allow');
    }
    const write = (file_path: string) => ({ tool: 'Write', input: { file_path, content: 'x' }, cwd: WT });
    expect(denied(write('/town/town.toml'))).toMatchObject({ action: 'deny', rule: 'builtin protected-files' });
    expect(denied(write('/town/app/polecats/furiosa/a.ts'))).toMatchObject({ action: 'deny', rule: 'builtin protected-files' });
    expect(denied(write(`${WT}/src/a.ts`)).action).toBe('allow');
    // A witness works in its rig's directory, which holds the others' workspaces: those stay closed to it.
    const witness = parseIdentity('app/witness');
    expect(denied({ tool: 'Edit', input: { file_path: '/town/app/polecats/nux/a.ts' }, cwd: '/town/app' }, witness, '/town/app')).toMatchObject({
      action: 'deny',
      rule: 'builtin protected-files',
    });
    expect(denied({ tool: 'Edit', input: { file_path: '/town/app/rig.toml' }, cwd: '/town/app' }, witness, '/town/app')).toMatchObject({ action: 'deny' });
    expect(denied({ tool: 'Edit', input: { file_path: '/town/mayor/MEMORY.md' }, cwd: '/town/mayor' }, mayor, '/town/mayor').action).toBe('allow');
  });

  it('denies git configuration that runs commands for gt and the person, even with builtin_rules off (review of 2026-11-28, finding 1)', () => {
    const off = layer('town.toml', '[permissions]\nbuiltin_rules = false');
    for (const command of [
      'git config core.fsmonitor /tmp/evil.sh',
      'git config --local core.sshCommand "sh /tmp/x"',
      'git config set core.pager "sh x"',
      'git config filter.x.clean "sh x"',
      'git config diff.x.textconv evil',
      'git config --add include.path /tmp/x',
      'git config includeIf.gitdir:/.path /tmp/x',
      'git config credential.helper "!sh x"',
      'git config gpg.program /tmp/x',
      'git config --file ../../../.repo.git/config user.name x',
      'git -c core.fsmonitor=/tmp/evil.sh status',
      'git -c filter.x.smudge=evil checkout .',
      'bash -c "git config core.editor /tmp/x"',
    ]) {
      expect(evaluatePolicy([off], polecat, WT, bash(command)), command).toMatchObject({ action: 'deny', rule: 'builtin git-runs-commands' });
    }
    for (const command of [
      'git config user.email a@b',
      'git config core.fsmonitor',
      'git config --get core.fsmonitor',
      'git config --list',
      'git -c core.pager=cat log',
      'git -c user.name=x commit -m y',
    ]) {
      expect(evaluatePolicy([off], polecat, WT, bash(command)).action, command).toBe('allow');
    }
  });

  it("protects a worktree's .git and the runtimes' project settings, globs and apply_patch included (review of 2026-11-28, findings 1-4)", () => {
    const off = layer('town.toml', '[permissions]\nbuiltin_rules = false');
    const check = (request: { tool: string; input: Record<string, unknown>; cwd: string }) =>
      evaluatePolicy([off], polecat, WT, request, (path) => path, '/home/me');
    for (const command of [
      "printf '[[permissions.rules]]' >> ../../rig.tom?",
      'tee -a ../../rig.tom? < x',
      'rm ../../.repo.gi?/hooks/pre-receive',
      'rm ../../.repo.*/hooks/pre-receive',
      'echo x > ../../../town.tom[l]',
      'curl --unix-socket $(ls -d $GT_ROOT/.g?)/town-host.sock http://x/',
      'echo "gitdir: /tmp/fake.git" > .git',
      'echo x > .gi?',
      'echo "{}" > .claude/settings.local.json',
      'cp evil.toml .codex/config.toml',
      'rm -rf ../furios?',
    ]) {
      expect(check(bash(command)), command).toMatchObject({ action: 'deny', rule: 'builtin protected-files' });
    }
    for (const command of ['rm -rf build/*', 'git add *', 'ls ../../.repo.gi?', 'rm -f src/*.ts', 'cat .claude/settings.json']) {
      expect(check(bash(command)).action, command).toBe('allow');
    }
    const write = (file_path: string) => ({ tool: 'Write', input: { file_path, content: 'x' }, cwd: WT });
    expect(check(write('.git'))).toMatchObject({ action: 'deny', rule: 'builtin protected-files' });
    expect(check(write('.claude/settings.json'))).toMatchObject({ action: 'deny', rule: 'builtin protected-files' });
    expect(check(write('.gemini/settings.json'))).toMatchObject({ action: 'deny', rule: 'builtin protected-files' });
    expect(check(write('.claude/commands/x.md')).action).toBe('allow');
    // The runtimes' configuration in HOME (finding 4): a trusted Codex project or a settings hook runs outside the broker.
    for (const command of [
      `printf '[projects."/"]\\ntrust_level="trusted"' >> ~/.codex/config.toml`,
      'tee -a $HOME/.claude/settings.json < x',
      'cp x /home/me/.gemini/settings.json',
      'echo x > ~/.claude/setting?.json',
    ]) {
      expect(check(bash(command)), command).toMatchObject({ action: 'deny', rule: 'builtin protected-files' });
    }
    expect(check(write('/home/me/.codex/config.toml'))).toMatchObject({ action: 'deny', rule: 'builtin protected-files' });
    expect(check(bash('cat ~/.codex/config.toml')).action).toBe('allow');
    // gt's compile cache: the person's next gt runs the compiled code it holds.
    expect(check(write('/home/me/.cache/gt/gt-full-full-x.v8'))).toMatchObject({ action: 'deny', rule: 'builtin protected-files' });
    expect(check(bash('cp crafted.v8 ~/.cache/gt/bd-main-ready-x.v8'))).toMatchObject({ action: 'deny', rule: 'builtin protected-files' });
    expect(check(write('/home/me/.cache/pip/x')).action).toBe('allow');
    const patch = (body: string) => ({ tool: 'apply_patch', input: { command: `*** Begin Patch\n${body}\n*** End Patch` }, cwd: WT });
    for (const body of [
      '*** Update File: #x/../../../../town.toml\n@@\n-a\n+b',
      '*** Add File: ../../rig.toml\n+x',
      '*** Delete File: .git',
      '*** Update File: src/a.ts\n*** Move to: ../../../.gt/bin/gt',
    ]) {
      expect(check(patch(body)), body).toMatchObject({ action: 'deny', rule: 'builtin protected-files' });
    }
    expect(check(patch('*** Update File: src/a.ts\n@@\n-a\n+b')).action).toBe('allow');
    expect(evaluatePolicy([], polecat, WT, patch('*** Add File: /tmp/x.ts\n+x'))).toMatchObject({ action: 'deny', rule: 'builtin outside-worktree' });
  });

  it('an exact "always allow" matches only the identical line, its * a character (review of 2026-11-28, finding 5)', () => {
    const exact = layer(
      'app/rig.toml',
      '[permissions]\ndefault = "ask"\n[[permissions.rules]]\naction = "allow"\ntool = "Bash"\ncommand = "rm -rf build/*"\nexact = true\nover_ask = true',
    );
    expect(evaluatePolicy([exact], polecat, WT, bash('rm -rf build/*'))).toMatchObject({ action: 'allow', rule: 'app/rig.toml permissions.rules[0]' });
    expect(evaluatePolicy([exact], polecat, WT, bash('rm -rf build/ ~/.ssh')).action).toBe('ask');
    expect(suggestRules(bash('rm -rf build/*'), WT)[0]).toEqual({ action: 'allow', tool: 'Bash', command: 'rm -rf build/*', exact: true });
  });

  it('matches rules by tool, command, path and role; the strictest match wins across rig and town', () => {
    const town = layer(
      'town.toml',
      `[permissions]
[[permissions.rules]]
action = "ask"
tool = "Bash"
command = "npm publish*"
[[permissions.rules]]
action = "deny"
tool = "Edit"
path = "migrations/*"
role = "polecat"
[[permissions.rules]]
action = "allow"
tool = "mcp__*"`,
    );
    const rig = layer(
      'app/rig.toml',
      `[permissions]
default = "deny"
[[permissions.rules]]
action = "allow"
tool = "Bash"
command = "npm *"`,
    );
    const layers = [rig, town];
    expect(evaluatePolicy(layers, polecat, WT, bash('npm test'))).toMatchObject({ action: 'allow', rule: 'app/rig.toml permissions.rules[0]' });
    expect(evaluatePolicy(layers, polecat, WT, bash('npm run build && npm publish --tag next'))).toMatchObject({
      action: 'ask',
      rule: 'town.toml permissions.rules[0]',
    });
    expect(evaluatePolicy(layers, polecat, WT, { tool: 'Edit', input: { file_path: 'migrations/001.sql' }, cwd: WT })).toMatchObject({
      action: 'deny',
      rule: 'town.toml permissions.rules[1]',
    });
    expect(
      evaluatePolicy(layers, mayor, '/town/mayor', { tool: 'Edit', input: { file_path: '/town/mayor/migrations/001.sql' }, cwd: '/town/mayor' }),
    ).toMatchObject({ action: 'deny', rule: 'app/rig.toml permissions.default' });
    expect(evaluatePolicy(layers, polecat, WT, { tool: 'mcp__github__create_issue', input: {}, cwd: WT })).toMatchObject({
      action: 'allow',
      rule: 'town.toml permissions.rules[2]',
    });
    expect(evaluatePolicy(layers, polecat, WT, bash('ls'))).toMatchObject({ action: 'deny', rule: 'app/rig.toml permissions.default' });
  });

  it('splits a shell line into simple commands, keeping quoted words whole', () => {
    expect(simpleCommands('cd a && FOO=1 git push -f || echo "a && b" ; ls | wc -l')).toEqual([
      ['cd', 'a'],
      ['git', 'push', '-f'],
      ['echo', 'a && b'],
      ['ls'],
      ['wc', '-l'],
    ]);
  });

  it('rejects a malformed rule with the file and key', () => {
    expect(() => layer('town.toml', '[permissions]\n[[permissions.rules]]\naction = "maybe"')).toThrow(/town\.toml: key permissions\.rules\.0\.action/);
    expect(() => layer('town.toml', '[permissions]\ntimeout = "soon"')).toThrow(/key permissions\.timeout: a duration/);
  });
});

describe('usage and prices', () => {
  it('prices Anthropic and OpenAI models per million tokens, and says when a model has no price', () => {
    const tokens = { input_tokens: 1_000_000, output_tokens: 1_000_000, cache_read_tokens: 1_000_000, cache_write_tokens: 1_000_000 };
    expect(priceOf('claude-opus-4-8', tokens).usd).toBeCloseTo(5 + 25 + 0.5 + 6.25, 9);
    expect(priceOf('claude-opus-4-1-20250805', tokens).usd).toBeCloseTo(15 + 75 + 1.5 + 18.75, 9);
    expect(priceOf('claude-sonnet-4-5', tokens).usd).toBeCloseTo(3 + 15 + 0.3 + 3.75, 9);
    expect(priceOf('claude-haiku-4-5', tokens).usd).toBeCloseTo(1 + 5 + 0.1 + 1.25, 9);
    expect(priceOf('mystery-model', tokens)).toEqual({ usd: 0, priced: false });
    expect(priceOf(undefined, tokens).priced).toBe(false);
  });

  it("turns Claude Code's running total_cost_usd into per-turn USD, and reads the session id", () => {
    const reader = new StreamUsageReader(() => ({ run: 'r', agent: 'a' }));
    const sessions: string[] = [];
    expect(reader.read('{"type":"system","subtype":"init","session_id":"s-1"}', 't0', (id) => sessions.push(id))).toBeUndefined();
    const first = reader.read(
      JSON.stringify({
        type: 'result',
        total_cost_usd: 0.25,
        usage: { input_tokens: 10, output_tokens: 2, cache_read_input_tokens: 3, cache_creation_input_tokens: 4 },
        modelUsage: { 'claude-opus-4-8[1m]': {} },
      }),
      't1',
    );
    const second = reader.read(JSON.stringify({ type: 'result', total_cost_usd: 0.75, usage: { input_tokens: 1, output_tokens: 1 } }), 't2');
    expect(sessions).toEqual(['s-1']);
    expect(first).toMatchObject({
      usd: 0.25,
      input_tokens: 10,
      output_tokens: 2,
      cache_read_tokens: 3,
      cache_write_tokens: 4,
      model: 'claude-opus-4-8',
      source: 'stream-json',
    });
    expect(second?.usd).toBeCloseTo(0.5, 12);
    expect(reader.read('not json', 't3')).toBeUndefined();
    expect(anthropicTokens({ input_tokens: 'x' })).toEqual({ input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 });
  });

  it('reads Codex turn.completed usage, cached input counted as cache reads', () => {
    const record = codexUsage(
      '{"type":"turn.completed","usage":{"input_tokens":1500,"cached_input_tokens":500,"output_tokens":150}}',
      't',
      { run: 'r', agent: 'a' },
      'gpt-5',
    );
    expect(record).toMatchObject({ input_tokens: 1000, cache_read_tokens: 500, output_tokens: 150, source: 'codex', priced: true });
    expect(codexUsage('{"type":"turn.started"}', 't', { run: 'r', agent: 'a' })).toBeUndefined();
  });
});

describe("gt's own git commands", () => {
  it("do not run a core.fsmonitor an agent set in a worktree's shared config (review of 2026-11-28, finding 1)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gt-fsmonitor-'));
    try {
      const marker = join(dir, 'ran');
      execFileSync('git', ['init', '-q', join(dir, 'repo')]);
      writeFileSync(join(dir, 'evil.sh'), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
      execFileSync('git', ['-C', join(dir, 'repo'), 'config', 'core.fsmonitor', join(dir, 'evil.sh')]);
      await new Git(process.env).run(join(dir, 'repo'), ['status', '--porcelain']);
      expect(existsSync(marker)).toBe(false);
      // The same status by plain git runs it: the setting is live.
      execFileSync('git', ['-C', join(dir, 'repo'), 'status', '--porcelain']);
      expect(existsSync(marker)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
