import type { Command } from 'commander';
import { Mailbox } from '../../../core/comms/mail.js';
import { moleculeProgress } from '../../../core/formulas/molecule.js';
import { renderPrime, runSteps } from '../../../core/work/prime.js';
import { hookedWork } from '../../../core/work/work.js';
import { action, type GtContext } from '../context.js';
import { recordSignal } from '../../../core/agents/signals.js';
import { readHookInput } from './signal.js';

export interface PrimeOptions {
  hook?: boolean;
  agent?: string;
}

export async function primeCommand(ctx: GtContext, options: PrimeOptions): Promise<void> {
  const identity = await ctx.me(options.agent);
  const town = await ctx.town({ light: true });
  if (options.hook) await recordSignal(town, identity, 'session-start', await readHookInput());
  const mailbox = new Mailbox(town.ledger, identity.address);
  const [hooked, inbox] = await Promise.all([hookedWork(town.ledger, identity.address), mailbox.inbox(identity.address)]);
  const handoff = inbox.find((m) => m.kind === 'handoff');
  const first = hooked[0];
  const input = {
    identity, hooked, mail: inbox.filter((m) => m.kind !== 'handoff'), ...(handoff ? { handoff } : {}),
    ...(typeof first?.metadata?.branch === 'string' ? { branch: first.metadata.branch } : {}),
    ...(first ? { steps: runSteps(first) } : {}),
    ...(first?.issue_type === 'molecule' ? { molecule: await moleculeProgress(town.ledger, first.id) } : {}),
  };
  if (handoff && !handoff.read) await mailbox.markRead(handoff.id);
  ctx.emit({ agent: identity.address, role: identity.role, hooked: hooked.map((b) => ({ id: b.id, title: b.title, description: b.description ?? '' })), branch: input.branch, mail: input.mail, handoff: handoff ?? null, ...(input.molecule ? { molecule: { id: input.molecule.root.id, closed: input.molecule.closed, total: input.molecule.total, current: input.molecule.current.map((s) => ({ id: s.id, title: s.title })), next: input.molecule.next.map((s) => ({ id: s.id, title: s.title })), gates: input.molecule.gates.map((g) => g.id) } } : {}), text: renderPrime(input) },
    () => renderPrime(input));
}

export default function register(program: Command, ctx: GtContext): void {
  program.command('prime').description('Role, hooked work, unread mail and handoff note: what an agent reads at session start')
    .option('--hook', 'called by a runtime hook (reads its JSON from stdin, records session start)')
    .option('--agent <address>', 'prime as this agent (default: this session\'s agent)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt prime\n  gt prime --json\n  gt prime --agent app/polecats/nux')
    .action(action(ctx, async (opts: unknown) => primeCommand(ctx, opts as PrimeOptions)));
}
