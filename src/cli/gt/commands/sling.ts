import type { Command } from 'commander';
import { slingBeads } from '../../../core/town/work.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('sling <beads...>')
    .description('Put beads on workers\' hooks and start their sessions. The last argument is the target: a rig (one polecat per bead) or an agent address')
    .option('--agent <runtime>', 'runtime for the session (claude, codex, gemini, shell, or your own)')
    .option('--backend <backend>', 'tmux or headless (default: town sessions.backend, tmux when installed)')
    .option('--force', 'take over a bead hooked to a worker whose session is dead (its commits are kept)')
    .option('--no-start', 'hook only; start no session')
    .option('--no-convoy', 'several beads: do not track them as a convoy')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt sling app-a3f8 app                     # a polecat of rig app\n  gt sling app-a3f8 app-b71c app --agent shell\n  gt sling app-a3f8 app/crew/ada\n  gt sling app-a3f8 app --force             # restart work whose session died')
    .action(action(ctx, async (args: unknown, opts: unknown) => {
      const words = args as string[];
      const options = opts as { agent?: string; backend?: string; force?: boolean; start?: boolean; convoy?: boolean };
      const target = words[words.length - 1];
      if (words.length < 2 || target === undefined) {
        ctx.err('Error: name the bead(s) and a target: gt sling <bead…> <rig|agent>');
        return 2;
      }
      const town = await ctx.townForSessions();
      const results = await slingBeads(town, words.slice(0, -1), target, {
        ...(options.agent ? { runtime: options.agent } : {}), ...(options.backend ? { backend: options.backend } : {}),
        ...(options.force ? { force: true } : {}), ...(options.start === false ? { noStart: true } : {}), ...(options.convoy === false ? { convoy: false } : {}),
      }, ctx.runtimeProbe);
      if (results[0]?.convoy) ctx.err(`Convoy ${results[0].convoy} tracks these ${results.length} beads (gt convoy show ${results[0].convoy}).`);
      ctx.emit(results, () => table([['BEAD', 'AGENT', 'RUNTIME', 'BACKEND', 'BRANCH'], ...results.map((r) => [r.bead, `${r.agent}${r.spawned ? ' (new)' : ''}`, r.runtime, r.backend, r.branch ?? '-'])]));
    }));
}
