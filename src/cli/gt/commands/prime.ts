import type { Command } from 'commander';
import { assemblePrime } from '../../../core/work/prime.js';
import { recordSignal } from '../../../core/agents/signals.js';
import { action, type GtContext } from '../context.js';
import { readHookInput } from './signal.js';

export interface PrimeOptions {
  hook?: boolean;
  agent?: string;
}

export async function primeCommand(ctx: GtContext, options: PrimeOptions): Promise<void> {
  const identity = await ctx.me(options.agent);
  const town = await ctx.town({ light: true });
  const input = options.hook ? await readHookInput() : {};
  if (options.hook) await recordSignal(town, identity, 'session-start', input);
  // Claude Code's SessionStart says how the session began: a resumed or compacted one continues earlier work.
  const resumed = input.source === 'resume' || input.source === 'compact';
  const prime = await assemblePrime(town, identity, { resumed, loadConfig: () => ctx.town() });
  ctx.emit(prime.json, () => prime.text);
}

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('prime')
    .description('Role, hooked work, unread mail and handoff note: what an agent reads at session start')
    .option('--hook', 'called by a runtime hook (reads its JSON from stdin, records session start)')
    .option('--agent <address>', "prime as this agent (default: this session's agent)")
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt prime\n  gt prime --json\n  gt prime --agent app/polecats/nux')
    .action(action(ctx, async (opts: unknown) => primeCommand(ctx, opts as PrimeOptions)));
}
