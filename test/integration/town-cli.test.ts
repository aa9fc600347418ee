/**
 * The town CLI on real git and real files: install, config validation, bad
 * input that changes nothing, gt done's refusals, the refinery's rejections,
 * and the daemon's lifecycle.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BD, GT } from '../support/env.js';
import { makeTown, waitFor, type TestTown } from '../support/town.js';

function polecatWithCommit(town: TestTown, file = 'work.txt', content = 'work\n'): { agent: string; dir: string; bead: string } {
  const bead = town.bead('A change', ['true']);
  const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--no-start']);
  const agent = slung?.agent ?? '';
  const dir = join(town.root, 'app', 'polecats', agent.split('/')[2] ?? '');
  writeFileSync(join(dir, file), content);
  town.git(dir, ['add', '-A']);
  town.git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', `change ${file}`]);
  return { agent, dir, bead };
}

describe('gt install', () => {
  it('creates the town layout, and re-running it changes nothing', () => {
    const town = makeTown();
    for (const path of ['town.toml', '.gt/ledger.db', '.gt/bin/gt', '.gt/bin/bd', 'mayor/AGENTS.md', 'mayor/.git'])
      expect(existsSync(join(town.root, path)), path).toBe(true);
    expect(town.gt(['bd', 'config', 'get', 'issue_prefix']).stdout.trim()).toContain('hq');
    const edited = `${readFileSync(join(town.root, 'town.toml'), 'utf8')}# my note\n`;
    writeFileSync(join(town.root, 'town.toml'), edited);
    const again = town.gt(['install', town.root]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing changed');
    expect(readFileSync(join(town.root, 'town.toml'), 'utf8')).toBe(edited);

    rmSync(join(town.root, 'mayor'), { recursive: true });
    const repaired = town.json<{ created: string[] }>(['install', town.root, '--force']);
    expect(repaired.created).toEqual(expect.arrayContaining(['mayor/AGENTS.md', 'mayor/.git']));
    expect(repaired.created).not.toContain('town.toml');
    expect(readFileSync(join(town.root, 'town.toml'), 'utf8')).toBe(edited);
  });

  it('refuses a non-empty directory that is not a town', () => {
    const town = makeTown({ install: false });
    const dir = join(town.base, 'busy');
    town.git(town.base, ['init', '-q', dir]);
    const r = town.gt(['install', dir]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('not empty');
    expect(existsSync(join(dir, 'town.toml'))).toBe(false);
  });
});

describe('config files', () => {
  it('an invalid town.toml is reported with its file and key, and gt refuses to act on it', () => {
    const town = makeTown();
    const file = join(town.root, 'town.toml');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, `colour = "red"\n${good}`);
    let r = town.gt(['agents']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`${file}: key (top level): unknown key(s) "colour"`);
    writeFileSync(file, good.replace('backend = "auto"', 'backend = "screen"'));
    r = town.gt(['agents']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/town\.toml: key sessions\.backend: .*"auto".*"tmux".*"headless"/);
    writeFileSync(file, `${good}\n[daemon\n`);
    r = town.gt(['status']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/town\.toml at line \d+/);
    writeFileSync(file, good);
  });

  it('config set validates the whole file before writing, so a bad value changes nothing', () => {
    const town = makeTown({ rig: 'app' });
    const file = join(town.root, 'town.toml');
    const before = readFileSync(file, 'utf8');
    const r = town.gt(['config', 'set', 'sessions.backend', 'screen']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('sessions.backend');
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(town.gt(['config', 'set', 'role_agents.polecat', 'shell']).code).toBe(0);
    expect(town.json<{ value: string }>(['config', 'get', 'role_agents.polecat']).value).toBe('shell');
    expect(town.gt(['config', 'set', 'merge.test', 'make check', '--rig', 'app']).code).toBe(0);
    expect(town.json<{ value: string }>(['config', 'get', 'merge.test', '--rig', 'app']).value).toBe('make check');
    expect(town.gt(['config', 'set', 'merge.push', 'maybe', '--rig', 'app']).code).toBe(3);
    expect(town.gt(['config', 'set', 'merge.test', 'true', '--rig', 'app']).code).toBe(0); // a string key takes the words
    expect(town.json<{ value: unknown }>(['config', 'get', 'merge.test', '--rig', 'app']).value).toBe('true');
    expect(town.gt(['config', 'set', 'merge.push', 'false', '--rig', 'app']).code).toBe(0);
    expect(town.json<{ value: unknown }>(['config', 'get', 'merge.push', '--rig', 'app']).value).toBe(false);

    const piped = town.gt(['config', 'agent', 'set', 'piped', 'mybot | tee log']);
    expect(piped.code).toBe(3);
    expect(piped.stderr).toContain('shell operators');
    expect(readFileSync(file, 'utf8')).not.toContain('piped');
    expect(town.gt(['config', 'agent', 'set', 'mybot', 'mybot --yes', '--like', 'claude']).code).toBe(0);
    const agents = town.json<Array<{ name: string; custom: boolean; hooks: string }>>(['config', 'agent', 'list']);
    expect(agents.find((a) => a.name === 'mybot')).toMatchObject({ custom: true, hooks: 'claude' });
    expect(agents.map((a) => a.name)).toEqual(expect.arrayContaining(['claude', 'codex', 'gemini', 'cursor', 'amp', 'auggie', 'opencode', 'copilot', 'shell']));
    expect(town.gt(['config', 'default-agent', 'nosuch']).code).toBe(4);
    expect(town.json<{ default_agent: string }>(['config', 'default-agent', 'mybot']).default_agent).toBe('mybot');
    expect(town.gt(['config', 'agent', 'remove', 'mybot']).code).toBe(0);
  });
});

describe('messages a person acts on', () => {
  it('config set with a bad value blames the value, not the file; a file that is already broken is still named', () => {
    const town = makeTown();
    const file = join(town.root, 'town.toml');
    const bad = town.gt(['config', 'set', 'sessions.backend', 'screen']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/^Error: cannot set sessions.backend: key sessions.backend: /m);
    expect(bad.stderr).toContain(`Hint: ${file} is unchanged; see gt config --help`);
    expect(bad.stderr).not.toContain('fix');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n[daemon]\ninterval = 5\n`);
    const broken = town.gt(['config', 'set', 'sessions.backend', 'tmux']);
    expect(broken.code).toBe(3);
    expect(broken.stderr).toContain(`Hint: fix ${file}`);
  });

  it('gt handoff and gt done run by a person (no agent session) say to name the agent with --agent', () => {
    const town = makeTown();
    for (const command of ['handoff', 'done']) {
      const r = town.gt([command]);
      expect(r.code, command).toBe(2);
      expect(r.stderr).toContain(`gt ${command} acts for an agent, and this is no agent's session (you are human)`);
      expect(r.stderr).toContain(`Hint: name the agent: gt ${command} --agent <address>`);
    }
  });

  it('gt and bd colour their output on a terminal, and neither does with NO_COLOR', () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead('Colourful', ['true']);
    expect(town.gt(['sling', bead, 'app', '--no-start']).code).toBe(0);
    // `script` gives the command a terminal, as a person's shell would.
    const onTerminal = (tool: string, args: string[], env: Record<string, string>) => {
      const command = [process.execPath, tool, ...args].map((a) => `'${a}'`).join(' ');
      return spawnSync('script', ['-qec', command, '/dev/null'], { cwd: town.root, env: { ...town.env, TERM: 'xterm', ...env }, encoding: 'utf8' }).stdout;
    };
    const sgr = /\u001b\[[0-9;]*m/;
    const { NO_COLOR: _unset, ...colourEnv } = town.env;
    const coloured = { ...(colourEnv as Record<string, string>), NO_COLOR: '' };
    expect(onTerminal(GT, ['agents'], coloured)).toMatch(sgr);
    expect(onTerminal(BD, ['list'], coloured)).toMatch(sgr);
    expect(onTerminal(GT, ['agents'], { NO_COLOR: '1' })).not.toMatch(sgr);
    expect(onTerminal(BD, ['list'], { NO_COLOR: '1' })).not.toMatch(sgr);
    expect(town.gt(['agents'], { env: { NO_COLOR: '' } }).stdout).not.toMatch(sgr); // not a terminal
  });

  it("rig add shows git's progress on stderr without a line per redraw", () => {
    const town = makeTown();
    // A git that redraws a progress line 500 times before cloning, as a big repository's clone does.
    const bin = join(town.base, 'slow-git');
    mkdirSync(bin);
    const real = spawnSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(
      join(bin, 'git'),
      `#!/bin/sh\ncase " $* " in *" clone "*) i=0; while [ $i -lt 500 ]; do printf 'Receiving objects: %d%% (%d/500)\\r' $((i/5)) $i >&2; i=$((i+1)); done; printf 'Receiving objects: 100%% (500/500), done.\\n' >&2;; esac\nexec ${real} "$@"\n`,
      { mode: 0o755 },
    );
    const r = town.gt(['rig', 'add', 'app', town.origin('app')], { env: { PATH: `${bin}:${town.env.PATH ?? ''}` } });
    expect(r.code, r.stderr).toBe(0);
    const receiving = r.stderr.split('\n').filter((l) => l.startsWith('Receiving objects'));
    expect(receiving.length).toBeLessThanOrEqual(4);
    expect(receiving).toContain('Receiving objects: 100% (500/500), done.');
    expect(r.stderr).toContain('Cloning ');
  });

  it('rig add interrupted by Ctrl-C removes the unfinished rig (exit 130), so the name is free for the next try', async () => {
    const town = makeTown();
    const origin = town.origin('app');
    // A clone that takes its time after creating the repository, as a big one does.
    const bin = join(town.base, 'slow-clone');
    mkdirSync(bin);
    const real = spawnSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(
      join(bin, 'git'),
      `#!/bin/sh\ncase " $* " in *" clone "*) for last; do :; done; mkdir -p "$last/objects"; echo "Cloning into bare repository..." >&2; sleep 30;; esac\nexec ${real} "$@"\n`,
      { mode: 0o755 },
    );
    const child = spawn(process.execPath, [GT, 'rig', 'add', 'app', origin], {
      cwd: town.base,
      env: { ...town.env, PATH: `${bin}:${town.env.PATH ?? ''}` },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor('the clone to start', () => stderr.includes('Cloning into bare repository') || undefined, 20_000);
    process.kill(-(child.pid as number), 'SIGINT'); // Ctrl-C: the whole foreground group, git included
    expect(await exited, stderr).toBe(130);
    expect(stderr).toContain(`Interrupted (SIGINT): removed the unfinished rig ${join(town.root, 'app')}`);
    expect(existsSync(join(town.root, 'app'))).toBe(false);
    const again = town.gt(['rig', 'add', 'app', origin]);
    expect(again.code, again.stderr).toBe(0);
  });
});

describe('the hot hook commands', () => {
  it('answer bad flags, unknown signals and a missing town like every other command', () => {
    const town = makeTown({ rig: 'app' });
    let r = town.gt(['prime', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Unknown option '--bogus'");
    r = town.gt(['signal', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown signal "nope"');
    r = town.gt(['prime', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: gt prime');
    expect(r.stdout).toContain('Examples:');
    r = town.gt(['hook', '--json'], { env: { GT_ROOT: join(town.base, 'nowhere') } });
    expect(r.code).toBe(4);
    expect(JSON.parse(r.stderr)).toMatchObject({ code: 'not_found' });
    // A human outside any agent's workspace primes as the human.
    expect(town.json<{ agent: string }>(['prime']).agent).toBe('human');
  });
});

describe('bad input changes nothing', () => {
  it('rig add: an invalid name, a URL that does not clone, a taken name', () => {
    const town = makeTown({ rig: 'app' });
    let r = town.gt(['rig', 'add', 'Bad Name', town.origin('x')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('invalid rig name');
    r = town.gt(['rig', 'add', 'ghost', join(town.base, 'no-such-repo.git')]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('git clone failed');
    expect(existsSync(join(town.root, 'ghost'))).toBe(false);
    expect(town.json<Array<{ name: string }>>(['rig', 'list']).map((x) => x.name)).toEqual(['app']);
    r = town.gt(['rig', 'add', 'app', town.origin('y')]);
    expect(r.code).toBe(5);
  });

  it('sling: unknown rig, unknown bead, a closed bead, a runtime that is not installed', () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead('Real work', ['true']);
    let r = town.gt(['sling', bead, 'nope']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('no rig named "nope"');
    r = town.gt(['sling', 'app-zzzzzz', 'app']);
    expect(r.code).toBe(4);
    r = town.gt(['sling', bead, 'app/polecats/Not-Valid']);
    expect(r.code).toBe(3);
    expect(town.gt(['config', 'agent', 'set', 'ghost', 'definitely-not-installed-gt-test --yes']).code).toBe(0);
    r = town.gt(['sling', bead, 'app', '--agent', 'ghost']);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('definitely-not-installed-gt-test');
    // Nothing was created: the bead is open and unassigned, no polecat, no worktree.
    const [after] = town.json<Array<{ status: string; assignee?: string }>>(['bd', 'show', bead]);
    expect(after?.status).toBe('open');
    expect(after?.assignee).toBeUndefined();
    expect(town.json<unknown[]>(['polecat', 'list'])).toEqual([]);
    expect(existsSync(join(town.root, 'app', 'polecats')) ? readdirSync(join(town.root, 'app', 'polecats')) : []).toEqual([]);
    expect(town.gt(['sling', bead, 'app', '--agent', 'nosuch']).code).toBe(4);
    town.gt(['bd', 'close', bead]);
    r = town.gt(['sling', bead, 'app']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('closed');
  });

  it('sling refuses a bead blocked by an open dependency, naming the blocker; --force slings it anyway', () => {
    const town = makeTown({ rig: 'app' });
    const first = town.bead('Schema first', ['true']);
    const then = town.bead('Then the API', ['true']);
    expect(town.gt(['bd', 'dep', 'add', then, first]).code).toBe(0);
    const r = town.gt(['sling', then, 'app', '--no-start']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`${then} is blocked by ${first} (Schema first, open)`);
    const [after] = town.json<Array<{ status: string; assignee?: string }>>(['bd', 'show', then]);
    expect(after).toMatchObject({ status: 'open' });
    expect(town.json<unknown[]>(['polecat', 'list'])).toEqual([]);
    const [forced] = town.json<Array<{ bead: string }>>(['sling', then, 'app', '--no-start', '--force']);
    expect(forced?.bead).toBe(then);
    // Once the blocker is closed the bead is ready and slings without --force.
    expect(town.gt(['bd', 'close', first]).code).toBe(0);
    const other = town.bead('Also after the schema', ['true']);
    expect(town.gt(['bd', 'dep', 'add', other, first]).code).toBe(0);
    expect(town.gt(['sling', other, 'app', '--no-start']).code).toBe(0);
  });

  it('an ambiguous partial ID is reported as ambiguous, with its matches, by every command that takes one', () => {
    const town = makeTown({ rig: 'app' });
    for (const id of ['app-abc1', 'app-abc2']) expect(town.gt(['bd', 'create', `Work ${id}`, '--id', id], { cwd: join(town.root, 'app') }).code).toBe(0);
    const ambiguous = 'ambiguous ID "app-abc" matches 2 issues: app-abc1, app-abc2';
    const commands = [
      ['bd', 'show', 'app-abc'],
      ['sling', 'app-abc', 'app', '--no-start'],
      ['unsling', 'app-abc'],
      ['convoy', 'create', 'X', 'app-abc'],
      ['convoy', 'show', 'app-abc'],
      ['gate', 'approve', 'app-abc'],
      ['mq', 'retry', 'app-abc'],
      ['permission', 'approve', 'app-abc'],
      ['bd', 'mol', 'show', 'app-abc'],
    ];
    for (const args of commands) {
      const r = town.gt(args);
      expect(r.code, args.join(' ')).toBe(args[0] === 'bd' ? 1 : 4); // bd keeps Beads' one exit code
      expect(r.stderr, args.join(' ')).toContain(ambiguous);
    }
    expect(town.json<unknown[]>(['convoy', 'list', '--all'])).toEqual([]);
    // Unique partial IDs still resolve, and the result names the full ID.
    expect(town.json<Array<{ bead: string }>>(['sling', 'app-abc1', 'app', '--no-start'])[0]?.bead).toBe('app-abc1');
  });

  it('a partial ID that is unique is taken, and gt says which bead it resolved to, as bd does', () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['bd', 'create', 'Work', '--id', 'app-8vj'], { cwd: join(town.root, 'app') }).code).toBe(0);
    const slung = town.gt(['sling', 'app-8v', 'app', '--no-start']);
    expect(slung.code).toBe(0);
    expect(slung.stdout).toContain('app-8vj');
    expect(slung.stderr.match(/Note: .*/g)).toEqual(['Note: "app-8v" resolved to app-8vj']);
    const unslung = town.gt(['unsling', 'app-8v']);
    expect(unslung.code).toBe(0);
    expect(unslung.stderr).toContain('Note: "app-8v" resolved to app-8vj');
    expect(town.gt(['bd', 'update', 'app-8v', '--priority', '1']).stderr).toContain('Note: "app-8v" resolved to app-8vj');
    expect(town.gt(['sling', 'app-8vj', 'app', '--no-start']).stderr).not.toContain('Note:');
  });

  it('a reused polecat gets the runtime of this sling, not the one of its last bead; taking back its own bead keeps it', () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'set', 'default_agent', 'codex']).code).toBe(0);
    const first = town.bead('First', ['true']);
    const [shell] = town.json<Array<{ agent: string; runtime: string }>>(['sling', first, 'app', '--agent', 'shell', '--no-start']);
    expect(shell?.runtime).toBe('shell');
    expect(town.gt(['unsling', first]).code).toBe(0);
    const second = town.bead('Second', ['true']);
    const [reused] = town.json<Array<{ agent: string; runtime: string; spawned: boolean }>>(['sling', second, 'app', '--no-start']);
    expect(reused).toMatchObject({ agent: shell?.agent, runtime: 'codex' });
    const row = town.json<Array<{ agent: string; runtime: string }>>(['agents']).find((a) => a.agent === shell?.agent);
    expect(row?.runtime).toBe('codex');
    // The same worker back on the same bead (its session died): the runtime it was slung with, so it can resume.
    const [again] = town.json<Array<{ agent: string; runtime: string }>>(['sling', second, 'app', '--no-start', '--force']);
    expect(again).toMatchObject({ agent: shell?.agent, runtime: 'codex' });
    expect(town.gt(['config', 'set', 'role_agents.polecat', 'shell']).code).toBe(0);
    expect(town.json<Array<{ runtime: string }>>(['sling', second, 'app', '--no-start', '--force'])[0]?.runtime).toBe('codex');
  });

  it('sling rolls back everything it created when the session cannot start', () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead('Real work', ['true']);
    // Failure injection: a tmux that answers everything but refuses to create sessions.
    const bin = join(town.base, 'fake-bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'tmux'), '#!/bin/sh\nfor a in "$@"; do [ "$a" = new-session ] && { echo "server exploded" >&2; exit 1; }; done\nexit 1\n');
    chmodSync(join(bin, 'tmux'), 0o755);
    const r = town.gt(['sling', bead, 'app', '--agent', 'shell', '--backend', 'tmux'], { env: { PATH: `${bin}:${process.env.PATH ?? ''}` } });
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('server exploded');
    const [after] = town.json<Array<{ status: string; assignee?: string }>>(['bd', 'show', bead]);
    expect(after?.status).toBe('open');
    expect(after?.assignee).toBeUndefined();
    expect(readdirSync(join(town.root, 'app', 'polecats'))).toEqual([]);
    expect(town.git(join(town.root, 'app', '.repo.git'), ['for-each-ref', '--format=%(refname)', 'refs/heads/polecat/']).trim()).toBe('');
    expect(town.json<unknown[]>(['agents'])).toEqual([]);
  });
});

describe('gt done and the refinery', () => {
  it('done refuses a dirty worktree and a branch without commits', () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead('Nothing yet', ['true']);
    const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--no-start']);
    const agent = slung?.agent ?? '';
    let r = town.gt(['done', '--agent', agent]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('no commits');
    writeFileSync(join(town.root, 'app', 'polecats', agent.split('/')[2] ?? '', 'x.txt'), 'x');
    r = town.gt(['done', '--agent', agent]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('uncommitted');
    expect(town.json<{ hooked: unknown[] }>(['hook', '--agent', agent]).hooked).toHaveLength(1);
  });

  it('a failing test rejects the merge request: the bead reopens, the worker gets the output, the branch stays', () => {
    const town = makeTown({ rig: 'app', test: 'sh test.sh' });
    const { agent, dir, bead } = polecatWithCommit(town, 'FAIL.txt', 'breaks the tests\n');
    const done = town.json<{ merge_request: string; commits: number; branch: string }>(['done', '--agent', agent]);
    expect(done.commits).toBe(1);
    const [open] = town.json<Array<{ status: string; assignee: string }>>(['bd', 'show', bead]);
    expect(open).toMatchObject({ status: 'in_progress', assignee: 'app/refinery' });
    // A retried done (say the first one died after filing the request) finds the same request.
    town.gt(['bd', 'update', bead, '--status', 'hooked', '--assignee', agent]);
    town.git(dir, ['checkout', '-q', done.branch]);
    expect(town.json<{ merge_request: string }>(['done', '--agent', agent]).merge_request).toBe(done.merge_request);
    expect(town.json<unknown[]>(['refinery', 'queue', 'app'])).toHaveLength(1);
    const run = town.gt(['refinery', 'run', 'app', '--json']);
    expect(run.code).toBe(1); // some request was rejected
    const [outcome] = JSON.parse(run.stdout) as Array<{ result: string; reason: string }>;
    expect(outcome).toMatchObject({ result: 'rejected' });
    expect(outcome?.reason).toContain('test failed (exit 1)');
    const [after] = town.json<Array<{ status: string; notes: string }>>(['bd', 'show', bead]);
    expect(after?.status).toBe('open');
    expect(after?.notes).toContain('Merge rejected');
    const mail = town.json<Array<{ subject: string; body: string }>>(['mail', 'inbox', '--agent', agent]);
    expect(mail[0]?.subject).toContain(`MERGE_FAILED ${bead}`);
    expect(town.git(join(town.root, 'app', '.repo.git'), ['rev-parse', '--verify', done.branch]).trim()).toMatch(/^[0-9a-f]{40}$/);
    expect(town.git(join(town.base, 'app.git'), ['ls-tree', '--name-only', 'main'])).not.toContain('FAIL.txt');
  });

  it('a conflicting change is rejected without touching the target; a clean one merges after rebasing', () => {
    const town = makeTown({ rig: 'app' });
    const first = polecatWithCommit(town, 'README.md', 'first version\n');
    const second = polecatWithCommit(town, 'README.md', 'second version\n');
    const third = polecatWithCommit(town, 'other.txt', 'independent\n');
    for (const p of [first, second, third]) town.json(['done', '--agent', p.agent]);
    const outcomes = JSON.parse(town.gt(['refinery', 'run', 'app', '--json']).stdout) as Array<{ bead: string; result: string; reason?: string }>;
    // The conflict is found while the candidate is built, before the batch of the other two lands.
    expect(Object.fromEntries(outcomes.map((o) => [o.bead, o.result]))).toEqual({ [first.bead]: 'merged', [second.bead]: 'rejected', [third.bead]: 'merged' });
    expect(outcomes.find((o) => o.bead === second.bead)?.reason).toContain('conflict');
    const origin = join(town.base, 'app.git');
    expect(town.git(origin, ['show', 'main:README.md'])).toBe('first version\n');
    expect(town.git(origin, ['show', 'main:other.txt'])).toBe('independent\n');
    const refinery = join(town.root, 'app', 'refinery');
    expect(town.git(refinery, ['status', '--porcelain'])).toBe('');
    expect(town.git(refinery, ['symbolic-ref', '--short', 'HEAD']).trim()).toBe('main');
  });
});

describe('the town daemon', () => {
  it('starts once, merges on its own, reports, and stops on SIGTERM; a stale pidfile is detected', async () => {
    const town = makeTown({ rig: 'app' });
    writeFileSync(join(town.root, 'town.toml'), readFileSync(join(town.root, 'town.toml'), 'utf8').replace('interval = "5s"', 'interval = "200ms"'));
    // A slow machine, made certain: git takes a second to delete a merged branch, after the bead is closed and before mr.merged is logged.
    const bin = join(town.base, 'slow-git');
    mkdirSync(bin);
    const git = spawnSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(join(bin, 'git'), `#!/bin/sh\n[ "$1" = branch ] && [ "$2" = -D ] && sleep 1\nexec ${git} "$@"\n`);
    chmodSync(join(bin, 'git'), 0o755);
    const up = town.json<{ running: boolean; pid: number; started: boolean }>(['up'], { env: { PATH: `${bin}:${process.env.PATH ?? ''}` } });
    expect(up).toMatchObject({ running: true, started: true });
    const again = town.json<{ pid: number; started: boolean }>(['up']);
    expect(again).toMatchObject({ pid: up.pid, started: false });
    expect(town.json<{ daemon: { running: boolean; pid: number } }>(['status']).daemon).toMatchObject({ running: true, pid: up.pid });

    const { agent, bead } = polecatWithCommit(town);
    town.json(['done', '--agent', agent]);
    await waitFor('the daemon to merge', () => town.json<Array<{ status: string }>>(['bd', 'show', bead])[0]?.status === 'closed' || undefined, 30_000);
    // The bead closes inside the refinery's pass; the daemon logs mr.merged when the pass returns, a moment later.
    await waitFor(
      'mr.merged in the daemon log',
      () => /msg=mr\.merged rig=app/.test(readFileSync(join(town.root, '.gt', 'daemon.log'), 'utf8')) || undefined,
      30_000,
    );

    const down = town.json<{ daemon_stopped: boolean }>(['down']);
    expect(down.daemon_stopped).toBe(true);
    expect(existsSync(join(town.root, '.gt', 'daemon.pid'))).toBe(false);
    expect(readFileSync(join(town.root, '.gt', 'daemon.log'), 'utf8')).toMatch(/msg=stopped/);

    writeFileSync(join(town.root, '.gt', 'daemon.pid'), '999999\n');
    expect(town.json<{ daemon: { running: boolean; stale_pidfile: boolean } }>(['status']).daemon).toMatchObject({ running: false, stale_pidfile: true });
    const restarted = town.json<{ running: boolean; started: boolean }>(['up']);
    expect(restarted).toMatchObject({ running: true, started: true });
    expect(town.json<{ daemon_stopped: boolean }>(['down']).daemon_stopped).toBe(true);
  });
});

describe('gt permission check (command hooks: Gemini BeforeTool, Codex PreToolUse)', () => {
  it("answers a hook's JSON on stdin in each runtime's format, logs the decision, and refuses an unknown format", () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead('Ask first', ['true']);
    const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--no-start']);
    const agent = slung?.agent as string;
    const dir = join(town.root, 'app', 'polecats', agent.split('/')[2] as string);
    const check = (format: string, input: unknown) =>
      town.gt(['permission', 'check', '--format', format, '--agent', agent], { cwd: dir, input: JSON.stringify(input), env: { GT_RUN: 'manual' } });
    const gemini = check('gemini', { tool_name: 'run_shell_command', tool_input: { command: 'git push --force origin main' }, cwd: dir });
    expect(gemini.code, gemini.stderr).toBe(0);
    expect(JSON.parse(gemini.stdout)).toMatchObject({ decision: 'deny', reason: expect.stringContaining('builtin force-push') });
    const claude = check('claude', { tool_name: 'Bash', tool_input: { command: 'npm test' }, cwd: dir });
    expect(JSON.parse(claude.stdout)).toEqual({
      hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'allow', permissionDecisionReason: expect.stringContaining('gt allowed this') },
    });
    expect(town.json<Array<{ action: string; rule: string }>>(['permission', 'log']).map((e) => [e.action, e.rule])).toEqual([
      ['deny', 'builtin force-push'],
      ['allow', 'default'],
    ]);
    const bad = check('cursor', {});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown hook format "cursor"');
  });
});

describe('gt witness patrol', () => {
  it('restarts a session that died with work on its hook, leaves one that was stopped on purpose, and escalates a crash loop', async () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'agent', 'set', 'sleeper', 'sleep 600']).code).toBe(0);
    expect(town.gt(['config', 'set', 'witness.crash_loop_restarts', '1']).code).toBe(0);
    expect(town.gt(['config', 'set', 'witness.restart_backoff', '"0s"']).code).toBe(0);
    const bead = town.bead('Keep going', ['true']);
    const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--agent', 'sleeper', '--backend', 'tmux']);
    const agent = slung?.agent as string;
    const session = `gt-app-${agent.split('/')[2]}`;
    const crash = () => process.kill(Number(town.tmux(['display-message', '-p', '-t', `=${session}:`, '#{pane_pid}']).stdout.trim()), 'SIGKILL');
    const alive = () => town.json<Array<{ agent: string; session_alive: boolean }>>(['agents']).find((a) => a.agent === agent)?.session_alive;
    expect(town.json<unknown[]>(['witness', 'patrol'])).toEqual([]);
    // A crash: restarted on the same hook (a fresh session: this runtime has no conversation to resume).
    crash();
    await waitFor('the session to die', () => alive() === false || undefined, 20_000);
    expect(town.json<Array<{ agent: string; bead: string; action: string; detail: string }>>(['witness', 'patrol'])).toEqual([
      { agent, bead, action: 'restarted', detail: 'fresh session', state: 'dead' },
    ]);
    expect(alive()).toBe(true);
    // A second death of the same bead within the window is a crash loop (crash_loop_restarts = 1): the Mayor is told, no restart.
    crash();
    await waitFor('the session to die again', () => alive() === false || undefined, 20_000);
    expect(town.json<Array<{ action: string; state: string }>>(['witness', 'patrol'])).toMatchObject([{ action: 'escalated', state: 'dead' }]);
    expect(town.json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', 'mayor']).some((m) => m.subject === `CRASH LOOP ${agent}: ${bead}`)).toBe(true);
    expect(town.json<Array<{ agent: string; state: string }>>(['agents']).find((a) => a.agent === agent)?.state).toBe('dead');
    expect(town.json<unknown[]>(['witness', 'patrol'])).toEqual([]);
    expect(alive()).toBe(false);

    // Stopped on purpose (gt down --all): the patrol leaves it alone.
    const other = town.bead('Stop me', ['true']);
    town.json(['sling', other, 'app', '--agent', 'sleeper', '--backend', 'tmux']);
    expect(town.gt(['down', '--all']).code).toBe(0);
    expect(town.json<unknown[]>(['witness', 'patrol']).filter((a) => (a as { bead: string }).bead === other)).toEqual([]);
  });
});

describe('gt daemon install-service', () => {
  it("writes a systemd user unit that runs this town's daemon (checked by systemd-analyze where a user manager runs), and a launchd plist; --print writes nothing", () => {
    const town = makeTown();
    const home = town.env.HOME as string;
    const unit = town.json<{ file: string; name: string; content: string; written: boolean; enable: string[] }>([
      'daemon',
      'install-service',
      '--platform',
      'systemd',
    ]);
    expect(unit.file).toBe(join(home, '.config', 'systemd', 'user', unit.name));
    expect(unit.written).toBe(true);
    const text = readFileSync(unit.file, 'utf8');
    expect(text).toBe(unit.content);
    expect(text).toContain(`Environment=GT_ROOT=${town.root}`);
    expect(text).toMatch(/^ExecStart=\S*node\S* \S+ daemon run$/m);
    expect(text).toContain('Restart=on-failure');
    expect(unit.enable).toEqual(['systemctl --user daemon-reload', `systemctl --user enable --now ${unit.name}`]);
    // systemd's own parser, where this machine has it.
    const verify = spawnSync('systemd-analyze', ['verify', '--user', unit.file], { encoding: 'utf8', env: town.env });
    if (!verify.error) expect(verify.stderr).not.toMatch(/Unknown (key|section)|Failed to parse|Invalid/i);
    // A second run changes nothing; a file someone edited is not overwritten without --force.
    expect(town.json<{ written: boolean }>(['daemon', 'install-service', '--platform', 'systemd']).written).toBe(false);
    writeFileSync(unit.file, `${text}# mine\n`);
    const refused = town.gt(['daemon', 'install-service', '--platform', 'systemd']);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain('--force');
    expect(town.gt(['daemon', 'install-service', '--platform', 'systemd', '--force']).code).toBe(0);
    expect(readFileSync(unit.file, 'utf8')).toBe(text);

    const printed = town.gt(['daemon', 'install-service', '--platform', 'launchd', '--print']);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain('<key>RunAtLoad</key>');
    expect(printed.stdout).toContain(`<string>${town.root}</string>`);
    expect(existsSync(join(home, 'Library'))).toBe(false);
    const plist = town.json<{ file: string; name: string }>(['daemon', 'install-service', '--platform', 'launchd']);
    expect(plist.file).toBe(join(home, 'Library', 'LaunchAgents', `${plist.name}.plist`));
    expect(readFileSync(plist.file, 'utf8')).toMatch(
      /<key>ProgramArguments<\/key>\s*<array>\s*<string>[^<]*node[^<]*<\/string>\s*<string>[^<]+<\/string>\s*<string>daemon<\/string>\s*<string>run<\/string>/,
    );
    expect(town.gt(['daemon', 'install-service', '--platform', 'windows']).code).toBe(2);
  });
});

describe('gt formula and bd cook', () => {
  it('lists the search path with shadowing, shows and cooks formulas, and names file, line and key of a broken one', () => {
    const town = makeTown({ rig: 'app' });
    mkdirSync(join(town.root, 'formulas'));
    writeFileSync(
      join(town.root, 'formulas', 'release.formula.toml'),
      'formula = "release"\ndescription = "Our own release"\n[[steps]]\nid = "ship"\ntitle = "Ship {{what}}"\n[vars.what]\ndefault = "it"\n',
    );
    writeFileSync(join(town.root, 'formulas', 'broken.formula.toml'), 'formula = "broken"\n[[steps]]\nid = "a"\ntitle = "A"\nneeds = ["ghost"]\n');
    const list = town.json<Array<{ name: string; source: string; shadows: string[] }>>(['formula', 'list']);
    expect(list.map((f) => f.name)).toEqual(expect.arrayContaining(['broken', 'code-review', 'polecat-work', 'release', 'shell-demo', 'tdd-cycle']));
    expect(list.find((f) => f.name === 'release')).toMatchObject({ source: join(town.root, 'formulas', 'release.formula.toml'), shadows: ['builtin:release'] });
    expect(town.json<{ steps: Array<{ title: string }> }>(['formula', 'cook', 'release', '--var', 'what=v2']).steps[0]?.title).toBe('Ship v2');
    expect(town.json<{ name: string; vars: object }>(['formula', 'show', 'tdd-cycle'])).toMatchObject({
      name: 'tdd-cycle',
      vars: { behaviour: { required: true } },
    });
    const broken = town.gt(['formula', 'show', 'broken']);
    expect(broken.code).toBe(3);
    expect(broken.stderr).toContain(`${join(town.root, 'formulas', 'broken.formula.toml')}:5: key steps.0.needs: step "a" needs "ghost"`);
    expect(town.gt(['formula', 'cook', 'nope']).code).toBe(4);
    const badVar = town.gt(['formula', 'cook', 'release', '--var', 'what']);
    expect(badVar.code).toBe(2);
    expect(badVar.stderr).toContain('--var "what" is not key=value');
    // bd cook finds the town's folder through GT_ROOT, and the built-ins anywhere.
    const cooked = town.gt(['bd', 'cook', 'shell-demo', '--var', 'file=a.txt']);
    expect(cooked.code, cooked.stderr).toBe(0);
    expect(cooked.stdout).toContain("write          Write a.txt  (run: printf '%s\\n' 'hello from gt' > 'a.txt' && git add 'a.txt')");
  });

  it('a formula folder takes any *.toml file, named by its formula key; other files are left alone', () => {
    const town = makeTown({ rig: 'app' });
    mkdirSync(join(town.root, 'formulas'));
    writeFileSync(
      join(town.root, 'formulas', 'deploy.toml'),
      'formula = "deploy"\ndescription = "Deploy it"\n[[steps]]\nid = "go"\ntitle = "Deploy {{env}}"\n[vars.env]\ndefault = "staging"\n',
    );
    writeFileSync(join(town.root, 'formulas', 'notes.md'), '# not a formula\n');
    const list = town.json<Array<{ name: string; source: string }>>(['formula', 'list']);
    expect(list.find((f) => f.name === 'deploy')).toMatchObject({ source: join(town.root, 'formulas', 'deploy.toml') });
    expect(list.some((f) => f.source.endsWith('notes.md'))).toBe(false);
    expect(town.json<{ steps: Array<{ title: string }> }>(['formula', 'cook', 'deploy']).steps[0]?.title).toBe('Deploy staging');
    const cooked = town.gt(['bd', 'cook', 'deploy', '--var', 'env=prod']);
    expect(cooked.code, cooked.stderr).toBe(0);
    expect(cooked.stdout).toContain('Deploy prod');
  });
});
