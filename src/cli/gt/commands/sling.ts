import type { Command } from 'commander';
import { GtError, usageError } from '../../../shared/errors.js';
import { slingFormula } from '../../../core/work/molecule-work.js';
import { slingBeads, type SlingOptions } from '../../../core/work/work.js';
import { describePlace } from '../../../core/scheduler/decide.js';
import { collectVar } from '../../formulas.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';
import { formulaLibrary } from './formula.js';

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('sling <beads...>')
    .description(
      "Put beads on workers' hooks and start their sessions. The last argument is the target: a rig (one polecat per bead) or an agent address. A formula name instead of beads pours a molecule and slings its root",
    )
    .option('--agent <runtime>', 'runtime for the session (claude, codex, gemini, shell, or your own)')
    .option('--backend <backend>', 'tmux or headless (default: town sessions.backend, tmux when installed)')
    .option('--mode <mode>', 'team mode for these sessions: auto, tmux, iterm2 or in-process (default: town sessions.mode)')
    .option('--force', 'take over a bead hooked to a worker whose session is dead (its commits are kept), or sling a bead its open dependencies still block')
    .option('--no-start', 'hook only; start no session')
    .option('--no-convoy', 'several beads: do not track them as a convoy')
    .option('--var <key=value>', 'a formula var (repeatable)', collectVar, {})
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nExamples:\n  gt sling app-a3f8 app                     # a polecat of rig app\n  gt sling app-a3f8 app-b71c app --agent shell\n  gt sling app-a3f8 app/crew/ada\n  gt sling app-a3f8 app --force             # restart work whose session died\n  gt sling app-1 app-2 app-3 app            # past [scheduler] max_agents: "queued, 1st of 2" (gt queue)\n  gt sling release app --var version=1.2.0  # pour the formula, hook its root\n  gt sling tdd-cycle app/crew/ada --var behaviour="empty input is refused"',
    )
    .action(
      action(ctx, async (args: unknown, opts: unknown) => {
        const words = args as string[];
        const options = opts as {
          agent?: string;
          backend?: string;
          mode?: string;
          force?: boolean;
          start?: boolean;
          convoy?: boolean;
          var: Record<string, string>;
        };
        const target = words[words.length - 1];
        if (words.length < 2 || target === undefined) {
          ctx.err('Error: name the bead(s) and a target: gt sling <bead…> <rig|agent>, or gt sling <formula> <rig|agent> --var k=v');
          return 2;
        }
        const town = await ctx.townForSessions();
        // Captured once, here (as Claude Code's teammate-mode snapshot): every session this sling starts uses it.
        town.captureTeamMode(options.mode);
        const sling: SlingOptions = {
          ...(options.agent ? { runtime: options.agent } : {}),
          ...(options.backend ? { backend: options.backend } : {}),
          ...(options.force ? { force: true } : {}),
          ...(options.start === false ? { noStart: true } : {}),
          ...(options.convoy === false ? { convoy: false } : {}),
        };
        const first = words[0] as string;
        const lookup = await town.ledger.resolve(first).then(
          () => undefined,
          (error: unknown) => error,
        );
        const isBead = lookup === undefined;
        if (words.length === 2 && !isBead) {
          const rig = target.includes('/') ? target.split('/')[0] : target;
          const library = await formulaLibrary(ctx, rig && town.rigNames().includes(rig) ? rig : undefined);
          // A partial ID matching several beads is reported as such (as bd show does), unless a formula has that name.
          if (lookup instanceof GtError && lookup.kind === 'ambiguous' && !library.list().some((f) => f.name === first)) throw lookup;
          const result = await slingFormula(town, library.load, first, options.var, target, sling, ctx.runtimeProbe);
          ctx.err(`Poured ${result.formula} as ${result.molecule} (${result.steps} steps); its root is on ${result.agent}'s hook.`);
          ctx.emit(result, () =>
            table([
              ['MOLECULE', 'AGENT', 'RUNTIME', 'BACKEND', 'BRANCH'],
              [result.molecule, `${result.agent}${result.spawned ? ' (new)' : ''}`, result.runtime, result.backend, result.branch ?? '-'],
            ]),
          );
          return;
        }
        if (Object.keys(options.var).length > 0)
          throw usageError('--var is for slinging a formula', `${first} is a bead; gt sling <formula> <target> --var k=v pours a formula`);
        const results = await slingBeads(town, words.slice(0, -1), target, sling, ctx.runtimeProbe);
        if (results[0]?.convoy) ctx.err(`Convoy ${results[0].convoy} tracks these ${results.length} beads (gt convoy show ${results[0].convoy}).`);
        const queued = results.filter((r) => r.queued);
        if (queued.length > 0) {
          const why = [...new Set(queued.map((r) => r.queued?.reason))].join('; ');
          // A rig of another host: its daemon, not this one, claims and starts the work (issue 19 §2).
          const hosts = new Set(queued.map((r) => /^rig \S+ runs on host (\S+):/.exec(r.queued?.reason ?? '')?.[1]));
          const [host] = hosts;
          ctx.err(
            hosts.size === 1 && host !== undefined
              ? `${queued.length} handed to host ${host}'s daemon (${why}; gt queue shows it).`
              : `${queued.length} queued (${why}): the daemon starts them as agents finish (gt up; gt queue shows the order).`,
          );
        }
        ctx.emit(results, () =>
          table([
            ['BEAD', 'AGENT', 'RUNTIME', 'BACKEND', 'BRANCH'],
            ...results.map((r) =>
              r.queued
                ? [r.bead, describePlace(r.queued), r.runtime, '-', '-']
                : [r.bead, `${r.agent}${r.spawned ? ' (new)' : ''}`, r.runtime, r.backend, r.branch ?? '-'],
            ),
          ]),
        );
      }),
    );
}
