/** Commands gt runs for itself: the shell runtime, the headless session host, deferred session control. */
import type { Command } from 'commander';
import { parseIdentity } from '../../../core/town/identity.js';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { SessionSpec } from '../../../core/town/ports.js';
import { hostHandlers } from '../../../core/town/session-host.js';
import { runShellAgent } from '../../../core/town/shell-runner.js';
import { restartSession } from '../../../core/town/work.js';
import { runSessionHost } from '../../../infra/headless.js';
import { action, type GtContext } from '../context.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export default function register(program: Command, ctx: GtContext): void {
  program.command('run-shell').description('The shell runtime: run the hooked bead\'s commands, commit, gt done')
    .action(action(ctx, async () => {
      const identity = await ctx.me();
      const town = await ctx.town();
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(ctx.io.env)) if (v !== undefined) env[k] = v;
      const { code } = await runShellAgent(town, identity, env, (text) => ctx.io.stdout(text));
      return code;
    }));

  program.command('session-host <runDir>').description('Host of one agent session: runs it, serves its hooks, records its usage')
    .option('--tty', 'the agent runs on this terminal (a tmux pane)')
    .action(action(ctx, async (runDir: unknown, opts: unknown) => {
      const dir = runDir as string;
      const spec = JSON.parse(readFileSync(join(dir, 'session.json'), 'utf8')) as SessionSpec;
      const town = await ctx.town();
      const identity = parseIdentity(spec.env.GT_AGENT ?? 'human');
      const tty = (opts as { tty?: boolean }).tty === true;
      const handlers = hostHandlers(town, identity, { run: basename(dir), runDir: dir, cwd: spec.cwd, runtime: spec.env.GT_RUNTIME ?? '', tty });
      const code = await runSessionHost(dir, { tty, onHook: handlers.onHook, onOutputLine: handlers.onOutputLine });
      await handlers.settle();
      return code;
    }));

  const session = program.command('session').description('Stop or restart an agent\'s session');
  session.command('stop <agent>').option('--after-ms <ms>', 'wait first', '0')
    .action(action(ctx, async (address: unknown, opts: unknown) => {
      await sleep(Number((opts as { afterMs: string }).afterMs) || 0);
      const town = await ctx.town();
      const agent = await town.agent(parseIdentity(address as string));
      // The agent ended its own work (gt done): a stream-protocol agent may finish its turn and report its usage.
      if (agent) await town.stopSession(agent, agent.state === 'done' ? 'idle' : agent.state, { graceMs: 10_000 });
    }));
  session.command('restart <agent>').option('--after-ms <ms>', 'wait first', '0')
    .action(action(ctx, async (address: unknown, opts: unknown) => {
      await sleep(Number((opts as { afterMs: string }).afterMs) || 0);
      const town = await ctx.townForSessions();
      const record = await restartSession(town, parseIdentity(address as string));
      ctx.emit(record, () => `Restarted ${record.address} (${record.session})`);
    }));
}
