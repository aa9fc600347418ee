/**
 * `gt demo`: the main job end to end in a temporary town, with no network and
 * no API key. A sample repository, four beads (one depending on another) that
 * the shell runtime can do, polecats working in parallel in real sessions,
 * the refinery merging, and a summary. Exits non-zero if anything did not land.
 */
import { stopSession } from '../../../core/agents/sessions.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Ledger } from '../../../core/beads/ledger.js';
import { parseToml, renderToml, setKey } from '../../../core/town/config.js';
import { runRefinery } from '../../../core/merge/refinery.js';
import { addRig, installTown } from '../../../core/town/rigs.js';
import { slingBeads } from '../../../core/work/work.js';
import { gitPort, installPorts, openTown, townFiles as nodeTownFiles } from '../../../app/index.js';
import { GtError } from '../../../shared/errors.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';
import { heartbeatDemo } from '../demo-heartbeat.js';

/**
 * Ctrl-C (SIGINT) or SIGTERM while the demo runs: the demo stops at its next
 * step and cleans up as it does at the end (sessions stopped, the temporary
 * town removed unless --keep). A second signal leaves at once, saying what is
 * left behind and how to remove it.
 */
class Interruption {
  signal: NodeJS.Signals | undefined;
  private wake: (() => void) | undefined;
  private readonly handler = (signal: NodeJS.Signals) => {
    if (this.signal) {
      this.onSecond();
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    }
    this.signal = signal;
    this.wake?.();
  };

  constructor(private readonly onSecond: () => void) {
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  /** Throws once a signal came: the caller's `finally` cleans up. */
  check(): void {
    if (this.signal) throw new DemoInterrupted(this.signal);
  }

  /** Sleeps, cut short by a signal. */
  async sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
    this.check();
  }

  dispose(): void {
    process.off('SIGINT', this.handler);
    process.off('SIGTERM', this.handler);
  }
}

class DemoInterrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}

const TEST_SCRIPT = `#!/bin/sh
# The sample project's tests: every script parses, every test passes.
set -e
for s in src/*.sh; do [ -e "$s" ] && sh -n "$s"; done
for t in tests/*.test.sh; do [ -e "$t" ] && sh "$t"; done
echo "all tests passed"
`;

interface DemoBead {
  key: string;
  title: string;
  run: string[];
  after?: string;
}

const BEADS: DemoBead[] = [
  { key: 'greet', title: 'Add a greeting script', run: ['mkdir -p src', 'printf \'#!/bin/sh\\necho "Hello, ${1:-world}"\\n\' > src/greet.sh', 'sleep 1'] },
  {
    key: 'farewell',
    title: 'Add a farewell script',
    run: ['mkdir -p src', 'printf \'#!/bin/sh\\necho "Goodbye, ${1:-world}"\\n\' > src/farewell.sh', 'sleep 1'],
  },
  {
    key: 'usage',
    title: 'Document the scripts in USAGE.md',
    run: ["printf '# Usage\\n\\n    sh src/greet.sh NAME\\n    sh src/farewell.sh NAME\\n' > USAGE.md", 'sleep 1'],
  },
  {
    key: 'test',
    title: 'Test the greeting script',
    after: 'greet',
    run: ['mkdir -p tests', 'printf \'out=$(sh src/greet.sh gt)\\n[ "$out" = "Hello, gt" ]\\n\' > tests/greet.test.sh', 'sh tests/greet.test.sh'],
  },
];

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('demo')
    .description('Run the whole loop in a temporary town: sling beads to polecats, work in parallel, merge, summarize')
    .option('--agent <runtime>', 'runtime for the polecats (default shell: no LLM; claude uses Claude Code)', 'shell')
    .option('--backend <backend>', 'tmux or headless (default: tmux when installed)')
    .option('--timeout <seconds>', 'give up after this long', '300')
    .option('--keep', 'keep the temporary town (its path is printed)')
    .option(
      '--heartbeat',
      "instead: a heartbeat round trip — Claude Code as the Mayor against a scripted model (no API key), the seed's daily-news HEARTBEAT.md",
    )
    .option('--json', 'machine-readable summary')
    .addHelpText(
      'after',
      '\nExamples:\n  gt demo\n  gt demo --backend headless --json\n  gt demo --agent claude      # needs Claude Code and an API key\n  gt demo --heartbeat         # ack, alert, skipped tick; memory log in git',
    )
    .action(
      action(ctx, async (opts: unknown) => {
        const options = opts as { agent: string; backend?: string; timeout: string; keep?: boolean; heartbeat?: boolean };
        if (options.heartbeat) return heartbeatDemo(ctx, { ...(options.backend ? { backend: options.backend } : {}), ...(options.keep ? { keep: true } : {}) });
        const started = Date.now();
        const base = mkdtempSync(join(tmpdir(), 'gt-demo-'));
        const root = join(base, 'town');
        const env: NodeJS.ProcessEnv = { ...ctx.io.env, GT_ROOT: root, GT_TMUX_SOCKET: `gt-demo-${process.pid}` };
        for (const key of ['GT_AGENT', 'BD_ACTOR', 'BEADS_DIR']) delete env[key];
        const say = (line: string) => ctx.err(`${ctx.style.dim('demo')} ${line}`);
        const git = gitPort(env);
        let town: Awaited<ReturnType<typeof openTown>> | undefined;
        const interruption = new Interruption(() =>
          say(
            `interrupted again: left behind ${base} (its sessions may still run: tmux -L ${env.GT_TMUX_SOCKET ?? ''} kill-server); remove it with: rm -rf ${base}`,
          ),
        );
        try {
          // 1. A sample project with a bare origin, as a real remote would be.
          const seed = join(base, 'sample');
          nodeTownFiles.write(join(seed, 'README.md'), '# sample\n\nA tiny project that gt agents extend.\n');
          nodeTownFiles.write(join(seed, 'test.sh'), TEST_SCRIPT, 0o755);
          await git.run(seed, ['init', '-q', '-b', 'main']);
          await git.run(seed, ['add', '-A']);
          await git.run(seed, ['-c', 'user.name=demo', '-c', 'user.email=demo@gt.local', 'commit', '-q', '-m', 'Sample project']);
          await git.run(base, ['clone', '-q', '--bare', seed, join(base, 'sample.git')]);
          say(`sample repository: ${join(base, 'sample.git')}`);
          interruption.check();

          // 2. The town, the rig, the beads.
          let ledger: Ledger | undefined;
          await installTown(
            root,
            'demo',
            installPorts(root, env, (opened) => (ledger = opened)),
            {},
          );
          await ledger?.release();
          const townFile = join(root, 'town.toml');
          nodeTownFiles.write(
            townFile,
            renderToml(setKey(parseToml(nodeTownFiles.read(townFile) ?? '', townFile), 'role_agents.polecat', JSON.stringify(options.agent))),
            0o600, // config files are private, as gt install and gt config set write them (gt doctor checks)
          );
          town = await openTown(root, env, 'human', say);
          say(`town: ${root}`);
          interruption.check();
          const rig = await addRig(town, 'sample', join(base, 'sample.git'), { progress: () => undefined });
          const rigFile = join(root, 'sample', 'rig.toml');
          nodeTownFiles.write(rigFile, renderToml(setKey(parseToml(nodeTownFiles.read(rigFile) ?? '', rigFile), 'merge.test', '"sh test.sh"')), 0o600);
          await town.ledger.release();
          town = await openTown(root, env, 'human', say);
          const ids = new Map<string, string>();
          for (const bead of BEADS) {
            const after = bead.after ? ids.get(bead.after) : undefined;
            const issue = await town.ledger.create({
              title: bead.title,
              prefix: rig.prefix,
              type: 'task',
              priority: 2,
              description: `${bead.title}.\n\n\`\`\`run\n${bead.run.join('\n')}\n\`\`\``,
              ...(after ? { deps: [{ id: after, type: 'blocks' }] } : {}),
            });
            ids.set(bead.key, issue.id);
            say(`bead ${issue.id}: ${bead.title}${after ? ` (after ${after})` : ''}`);
          }
          interruption.check();

          // 3. Sling what is ready; merge what is done; repeat until everything landed.
          const deadline = started + Number(options.timeout) * 1000;
          const all = [...ids.values()];
          for (;;) {
            const beads = await town.ledger.list({ ids: all, limit: 0 });
            if (beads.every((b) => b.status === 'closed')) break;
            const stuck = beads.filter((b) => b.labels.includes('gt:escalated'));
            if (stuck.length) throw new GtError('internal', `${stuck.map((b) => b.id).join(', ')} escalated: ${stuck[0]?.notes ?? ''}`);
            if (Date.now() > deadline)
              throw new GtError(
                'internal',
                `timed out after ${options.timeout}s; not landed: ${beads
                  .filter((b) => b.status !== 'closed')
                  .map((b) => b.id)
                  .join(', ')}`,
              );
            const ready = (await town.ledger.ready({ ids: all, limit: 0 })).filter((b) => b.status === 'open');
            if (ready.length) {
              const results = await slingBeads(
                town,
                ready.map((b) => b.id),
                'sample',
                { runtime: options.agent, ...(options.backend ? { backend: options.backend } : {}) },
                ctx.runtimeProbe,
              );
              for (const r of results) say(`slung ${r.bead} to ${r.agent} (${r.runtime}, ${r.backend})`);
            }
            interruption.check();
            for (const outcome of await runRefinery(town, 'sample', { probe: ctx.runtimeProbe })) {
              say(outcome.result === 'merged' ? `merged ${outcome.bead} as ${outcome.commit?.slice(0, 10)}` : `rejected ${outcome.bead}: ${outcome.reason}`);
            }
            await interruption.sleep(300);
          }

          // 4. The summary, from the ledger and the origin's history.
          const closed = await town.ledger.list({ ids: all, limit: 0 });
          const mrs = await town.ledger.list({ types: ['merge-request'], metadataFields: { rig: 'sample' }, includeEphemeral: true, limit: 0 });
          const rows = closed.map((b) => {
            const mr = mrs.find((m) => m.metadata?.source_issue === b.id && typeof m.metadata?.merged_commit === 'string');
            const text = (v: unknown) => (typeof v === 'string' ? v : '');
            return { bead: b.id, title: b.title, worker: text(mr?.metadata?.worker) || '?', commit: text(mr?.metadata?.merged_commit), status: b.status };
          });
          const log = (await git.run(join(base, 'sample.git'), ['log', '--format=%h %an %s', 'main'])).trim().split('\n');
          const seconds = (Date.now() - started) / 1000;
          const landed = rows.every((r) => r.status === 'closed' && r.commit !== '');
          const summary = { landed, seconds, town: root, beads: rows, origin_log: log, kept: options.keep === true };
          ctx.emit(summary, () =>
            [
              '',
              `${landed ? 'All work landed' : 'NOT everything landed'} in ${seconds.toFixed(1)} s.`,
              table([['BEAD', 'TITLE', 'DONE BY', 'MERGED AS'], ...rows.map((r) => [r.bead, r.title, r.worker, r.commit.slice(0, 10)])]),
              '',
              `origin main now (${log.length} commits):`,
              ...log.map((l) => `  ${l}`),
              ...(options.keep ? ['', `The town is kept at ${root} (GT_ROOT=${root} gt agents).`] : []),
            ].join('\n'),
          );
          return landed ? 0 : 1;
        } catch (error) {
          // Ctrl-C reaches the whole process group: a git or test run of ours may fail of it first.
          const signal = error instanceof DemoInterrupted ? error.signal : interruption.signal;
          if (!signal) throw error;
          say(`interrupted (${signal}): stopping the sessions${options.keep ? '' : ' and removing the temporary town'}`);
          return 128 + (signal === 'SIGINT' ? 2 : 15);
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
          if (!options.keep) rmSync(base, { recursive: true, force: true });
          else if (interruption.signal) say(`the town is kept at ${root}; remove it with: rm -rf ${base}`);
          interruption.dispose();
        }
      }),
    );
}
