/**
 * Hook overhead benchmark (issue 4): the wall time gt's hooks add to one
 * Claude Code turn, and how many gt processes a turn spawns.
 *
 * The real Claude Code (devDependency) runs headless in stream-json mode under
 * gt's session host, against the scripted model server. Every turn is the
 * same: the model calls Bash once, then answers. Three set-ups, interleaved in
 * one run so the machine's noise hits them alike:
 *   - off:     no gt hooks (Bash allowed by a plain settings file) — the baseline;
 *   - http:    gt's hooks as gt installs them: per-turn events over HTTP to the
 *              session host, `gt prime` as the SessionStart command;
 *   - command: the same events as `gt signal` / `gt permission check` commands,
 *              one process each (for comparison: what gt does not do).
 * A turn is timed from its message landing in the session's inbox to Claude
 * Code's `result` line. Target: http adds < 250 ms per turn.
 *
 *   npm run bench:hooks
 *   BENCH_TURNS=5 BENCH_ROUNDS=2 npm run bench:hooks     # quicker
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { claudeSettings, HOOK_URL_PLACEHOLDER } from '../src/core/agents/runtimes.js';
import { parseModelScript, ScriptedModelServer } from '../src/infra/model-server.js';

const TURNS = Number(process.env.BENCH_TURNS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ROOT = resolve(import.meta.dirname, '..');
const GT = join(ROOT, 'dist', 'gt.cjs');
const CLAUDE = join(ROOT, 'node_modules', '.bin', 'claude');
const KEY = 'sk-ant-gt-bench-0123456789abcdefghijklmnop';
const MODES = ['off', 'http', 'command'] as const;
type Mode = (typeof MODES)[number];
const log = (text: string) => process.stderr.write(`${text}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

function sh(argv: string[], cwd: string, env: NodeJS.ProcessEnv): string {
  const r = spawnSync(argv[0] as string, argv.slice(1), { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function settingsFor(mode: Mode, gtBin: string): Record<string, unknown> {
  if (mode === 'off') return { permissions: { allow: ['Bash'] } };
  const gt = { prime: `${gtBin} prime --hook`, signal: (event: string, format?: string) => `${gtBin} signal ${event}${format ? ` --format ${format}` : ''}` };
  if (mode === 'http') return claudeSettings(gt, { url: HOOK_URL_PLACEHOLDER, permissionTimeoutSec: 600 });
  const command = (c: string) => [{ hooks: [{ type: 'command', command: c, timeout: 30 }] }];
  return {
    hooks: {
      SessionStart: command(gt.prime),
      UserPromptSubmit: command(gt.signal('prompt-submit', 'claude')),
      PreToolUse: command(`${gtBin} permission check --format claude`),
      Stop: command(gt.signal('stop', 'claude')),
    },
  };
}

function resultLines(path: string): number {
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{"type":"result"')).length;
  } catch {
    return 0;
  }
}

async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

async function main(): Promise<void> {
  if (!existsSync(CLAUDE)) throw new Error('Claude Code is not installed (npm ci installs it as a devDependency)');
  const base = mkdtempSync(join(tmpdir(), 'gt-bench-hooks-'));
  const root = join(base, 'town');
  const server = new ScriptedModelServer();
  await server.listen();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: base,
    GIT_CONFIG_GLOBAL: '/dev/null',
    NO_COLOR: '1',
    GT_ROOT: root,
    ANTHROPIC_API_KEY: KEY,
    DISABLE_TELEMETRY: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
  };
  for (const key of ['GT_AGENT', 'BD_ACTOR', 'BEADS_DIR', 'GT_RUN']) delete env[key];
  writeFileSync(
    join(base, '.claude.json'),
    JSON.stringify({ hasCompletedOnboarding: true, customApiKeyResponses: { approved: [KEY.slice(-20)], rejected: [] } }),
  );
  const hosts: ChildProcess[] = [];
  try {
    const seed = join(base, 'seed');
    mkdirSync(seed);
    writeFileSync(join(seed, 'README.md'), '# bench\n');
    sh(['git', 'init', '-q', '-b', 'main'], seed, env);
    sh(['git', 'add', '-A'], seed, env);
    sh(['git', '-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-q', '-m', 'seed'], seed, env);
    sh(['node', GT, 'install', root], base, env);
    sh(['node', GT, 'rig', 'add', 'app', seed], base, env);
    const bead = sh(['node', GT, 'bd', 'create', 'Benchmark turns', '--silent'], join(root, 'app'), env).trim();
    const agent = (JSON.parse(sh(['node', GT, 'sling', bead, 'app', '--no-start', '--json'], base, env)) as Array<{ agent: string }>)[0]?.agent as string;
    const worktree = join(root, 'app', 'polecats', agent.split('/')[2] as string);
    // Trust the worktree the way gt does for tmux sessions (headless needs no trust, but the config is shared).
    // Count gt processes: the launcher the hooks call appends a line per start.
    const gtBin = join(root, '.gt', 'bin', 'gt');
    const counter = join(base, 'gt-starts');
    const real = `${gtBin}.real`;
    renameSync(gtBin, real);
    writeFileSync(gtBin, `#!/bin/sh\necho "$*" >> '${counter}'\nexec '${real}' "$@"\n`);
    chmodSync(gtBin, 0o755);
    const starts = () => (existsSync(counter) ? readFileSync(counter, 'utf8').split('\n').filter(Boolean).length : 0);

    const perTurn: Record<Mode, number[]> = { off: [], http: [], command: [] };
    const spawned: Record<Mode, number[]> = { off: [], http: [], command: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of round % 2 === 0 ? MODES : [...MODES].reverse()) {
        const lane = `${mode}-${round}`;
        const turns = Array.from({ length: TURNS }, (_, i) => [
          { tools: [{ name: 'Bash', input: { command: `echo turn ${i}`, description: 'echo' } }] },
          { text: `done ${i}` },
        ]).flat();
        server.setScript(lane, parseModelScript({ turns }));
        const runDir = join(root, '.gt', 'runs', `bench-${lane}`);
        mkdirSync(join(runDir, 'inbox'), { recursive: true });
        const settings = join(root, '.gt', 'settings', `bench-${lane}.json`);
        mkdirSync(join(root, '.gt', 'settings'), { recursive: true });
        writeFileSync(settings, JSON.stringify(settingsFor(mode, gtBin), null, 2));
        const spec = {
          name: `bench-${lane}`,
          cwd: worktree,
          runDir,
          argv: [CLAUDE, '-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--settings', settings],
          env: {
            ...env,
            PATH: `${join(root, '.gt', 'bin')}:${env.PATH ?? ''}`,
            ANTHROPIC_BASE_URL: server.url(lane),
            GT_AGENT: agent,
            GT_RUN: `bench-${lane}`,
            GT_RUNTIME: 'claude',
            BD_ACTOR: agent,
          } as Record<string, string>,
          stdinLines: [JSON.stringify({ type: 'user', message: { role: 'user', content: 'warm up: say hi' } })],
          ...(mode === 'http' ? { hookServer: { files: [settings] } } : {}),
        };
        server.setScript(lane, parseModelScript({ turns: [{ text: 'hi' }, ...turns] }));
        writeFileSync(join(runDir, 'session.json'), JSON.stringify(spec));
        const host = spawn(process.execPath, [GT, 'session-host', runDir], { cwd: runDir, env, stdio: 'ignore' });
        hosts.push(host);
        const agentLog = join(runDir, 'agent.log');
        // The warm-up turn (session start, prime) is not timed.
        await until(`${lane} warm-up`, () => resultLines(agentLog) >= 1);
        const before = starts();
        for (let turn = 0; turn < TURNS; turn++) {
          const done = resultLines(agentLog);
          const message = JSON.stringify({ type: 'user', message: { role: 'user', content: `turn ${turn}: run the command` } });
          const start = process.hrtime.bigint();
          writeFileSync(join(runDir, 'inbox', `.${turn}.tmp`), `${message}\n`);
          renameSync(join(runDir, 'inbox', `.${turn}.tmp`), join(runDir, 'inbox', `${String(turn).padStart(4, '0')}.msg`));
          await until(`${lane} turn ${turn}`, () => resultLines(agentLog) > done);
          perTurn[mode].push(Number(process.hrtime.bigint() - start) / 1e6);
        }
        spawned[mode].push((starts() - before) / TURNS);
        host.kill('SIGTERM');
        await new Promise((r) => host.once('exit', r));
        log(`${lane}: median ${median(perTurn[mode].slice(-TURNS)).toFixed(0)} ms per turn`);
      }
    }
    const off = median(perTurn.off);
    const rows = MODES.map((mode) => {
      const m = median(perTurn[mode]);
      return `| ${mode} | ${m.toFixed(0)} ms | ${mode === 'off' ? '—' : `${(m - off).toFixed(0)} ms`} | ${(m / off).toFixed(2)}× | ${median(spawned[mode]).toFixed(1)} |`;
    });
    process.stdout.write(
      [
        `Claude Code ${sh([CLAUDE, '--version'], base, env).trim()}, one Bash call per turn, ${TURNS} turns × ${ROUNDS} rounds per set-up (medians)`,
        '',
        '| hooks | per turn | added by hooks | ratio to off | gt processes per turn |',
        '|---|---|---|---|---|',
        ...rows,
        '',
      ].join('\n'),
    );
  } finally {
    for (const host of hosts) if (host.exitCode === null) host.kill('SIGKILL');
    await server.close();
    rmSync(base, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

await main();
