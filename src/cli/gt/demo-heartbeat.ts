/**
 * `gt demo --heartbeat`: a heartbeat round trip with no API key. A temporary
 * town whose Mayor is the real Claude Code (the pinned one) talking to the
 * scripted model server; HEARTBEAT.md holds the seed's daily-news example.
 * Three ticks: one the Mayor acks after writing the news to its memory log,
 * one that raises an alert, and one skipped because HEARTBEAT.md is empty —
 * which makes no model request. Then the memory log and its git history.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopSession } from '../../core/agents/sessions.js';
import { configuredForDryRun } from '../../core/agents/claude-config.js';
import type { Ledger } from '../../core/beads/ledger.js';
import { runHeartbeatNow, type HeartbeatOutcome } from '../../core/heartbeat/heartbeat.js';
import { showMemory } from '../../core/memory/memory.js';
import { installTown } from '../../core/town/rigs.js';
import { checkRuntime } from '../../core/work/work.js';
import { gitPort, installPorts, modelServer, openTown, townFiles } from '../../app/index.js';
import type { GtContext } from './context.js';

/** The seed's example (shared/seeds/001): every morning, three news items to the memory log; notify only if something big happened. */
export const DAILY_NEWS_HEARTBEAT = `# Heartbeat

## Daily news
- Search today's tech news (WebSearch)
- Summarize the 3 most important items and write them to today's memory log: gt memory add "…"
- If one of them is a major breakthrough, reply with it as an alert; otherwise reply HEARTBEAT_OK
`;

const DRY_RUN_KEY = 'sk-ant-gt-dry-run-0000000000000000000000';

export async function heartbeatDemo(ctx: GtContext, options: { backend?: string; keep?: boolean }): Promise<number> {
  const started = Date.now();
  const base = mkdtempSync(join(tmpdir(), 'gt-demo-heartbeat-'));
  const root = join(base, 'town');
  const home = join(base, 'home');
  const { ScriptedModelServer, parseModelScript } = await modelServer();
  // The "model": tick 1 writes the news and acks; tick 2 raises an alert.
  const server = new ScriptedModelServer(
    parseModelScript({
      turns: [
        {
          match: 'Daily news',
          tools: [
            {
              name: 'Bash',
              input: {
                command:
                  'gt memory add "News: 1) a new open-weights model tops the coding benchmarks 2) a RISC-V laptop ships 3) a browser drops third-party cookies"',
                description: 'Write the news to the memory log',
              },
            },
          ],
        },
        { text: 'HEARTBEAT_OK' },
        { match: '[gt heartbeat hb-', text: 'Major breakthrough: a room-temperature superconductor was independently replicated.' },
      ],
    }),
  );
  await server.listen();
  const env: NodeJS.ProcessEnv = {
    ...ctx.io.env,
    HOME: home,
    GT_ROOT: root,
    GT_TMUX_SOCKET: `gt-demo-hb-${process.pid}`,
    ANTHROPIC_BASE_URL: server.url(),
    ANTHROPIC_API_KEY: DRY_RUN_KEY,
    DISABLE_TELEMETRY: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
  };
  for (const key of ['GT_AGENT', 'BD_ACTOR', 'BEADS_DIR', 'CLAUDE_CONFIG_DIR', 'ANTHROPIC_AUTH_TOKEN']) delete env[key];
  const say = (line: string) => ctx.err(`${ctx.style.dim('demo')} ${line}`);
  let town: Awaited<ReturnType<typeof openTown>> | undefined;
  try {
    // Claude Code's first-run checks, answered in the demo's own HOME (yours is not touched).
    const claudeJson = join(home, '.claude.json');
    townFiles.write(claudeJson, configuredForDryRun(claudeJson, undefined, DRY_RUN_KEY, []) ?? '{}\n', 0o600);
    let ledger: Ledger | undefined;
    await installTown(
      root,
      'heartbeat-demo',
      installPorts(root, env, (opened) => (ledger = opened)),
      {},
    );
    await ledger?.release();
    townFiles.write(
      join(root, 'town.toml'),
      `${townFiles.read(join(root, 'town.toml')) ?? ''}\n[heartbeat]\nevery = "30m"\nagent = "mayor"\nack_max_chars = 300\nnotify = ["default"]\n`,
    );
    if (options.backend)
      townFiles.write(join(root, 'town.toml'), (townFiles.read(join(root, 'town.toml')) ?? '').replace('backend = "auto"', `backend = "${options.backend}"`));
    townFiles.write(join(root, 'mayor', 'HEARTBEAT.md'), DAILY_NEWS_HEARTBEAT);
    town = await openTown(root, env, 'human', say);
    const opened = town;
    say(`town: ${root}; the model is a scripted server at ${server.url()} (no API key)`);
    say('mayor/HEARTBEAT.md:');
    for (const line of DAILY_NEWS_HEARTBEAT.trimEnd().split('\n')) say(`  ${line}`);
    const tick = async (label: string): Promise<HeartbeatOutcome & { requests: number }> => {
      const before = server.requests.length;
      const outcome = await runHeartbeatNow(opened, { timeoutMs: 120_000, checkRuntime: (runtime) => checkRuntime(runtime, ctx.runtimeProbe) });
      const requests = server.requests.length - before;
      say(
        `${label}: ${outcome.result}${outcome.reason ? ` (${outcome.reason})` : ''}${outcome.text ? ` — ${outcome.text}` : ''}; ${requests} model request(s)`,
      );
      return { ...outcome, requests };
    };
    const idle = async () => {
      for (let i = 0; i < 200; i++) {
        const mayor = await opened.agent({ address: 'mayor', role: 'mayor' });
        if (mayor?.state === 'idle') return;
        await new Promise((r) => setTimeout(r, 150));
      }
    };
    const ack = await tick('tick 1 (starts the Mayor with the heartbeat)');
    await idle();
    const alert = await tick('tick 2');
    townFiles.write(join(root, 'mayor', 'HEARTBEAT.md'), '# Heartbeat\n\n## Daily news\n<!-- paused -->\n');
    const skipped = await tick('tick 3 (HEARTBEAT.md emptied)');
    const log = showMemory(opened, { address: 'mayor', role: 'mayor' }, { days: 1 }).files.find((f) => f.file.startsWith('memory/'));
    const history = (await gitPort(env).run(join(root, 'mayor'), ['log', '--format=%h %an %s'])).trim().split('\n');
    const ok = ack.result === 'ok' && alert.result === 'alert' && skipped.result === 'skipped' && skipped.requests === 0;
    const summary = {
      ok,
      seconds: (Date.now() - started) / 1000,
      town: root,
      ticks: [ack, alert, skipped],
      memory_log: log ?? null,
      mayor_history: history,
      kept: options.keep === true,
    };
    ctx.emit(summary, () =>
      [
        '',
        `${ok ? 'Heartbeat round trip done' : 'The heartbeat did NOT go as scripted'} in ${summary.seconds.toFixed(1)} s: ack dropped, alert routed to heartbeat.notify, empty file skipped with no model call.`,
        '',
        `mayor/${log?.file ?? 'memory/(none)'}:`,
        ...(log?.text.trimEnd().split('\n') ?? []).map((l) => `  ${l}`),
        '',
        'mayor/ history (every memory change is a commit by the Mayor):',
        ...history.map((l) => `  ${l}`),
        ...(options.keep ? ['', `The town is kept at ${root} (GT_ROOT=${root} gt heartbeat status).`] : []),
      ].join('\n'),
    );
    return ok ? 0 : 1;
  } finally {
    if (town) {
      for (const agent of await town.agents().catch(() => [])) await stopSession(town, agent).catch(() => undefined);
      if (town.ports.tmuxAvailable)
        await town.ports
          .backend('tmux')
          .stopAll()
          .catch(() => undefined);
      await town.ledger.release();
    }
    await server.close();
    if (!options.keep) rmSync(base, { recursive: true, force: true });
  }
}
