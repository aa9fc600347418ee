import type { Command } from 'commander';
import { listEscalations } from '../../../core/comms/escalations.js';
import { Mailbox } from '../../../core/comms/mail.js';
import { usageError } from '../../../shared/errors.js';
import { completionScript, completionSpec, DYNAMIC_KINDS, registerAll, SHELLS, type DynamicKind, type Shell } from '../../completion.js';
import { action, type GtContext } from '../context.js';

/** The fixed addresses every town has, besides its agents. */
const FIXED_ADDRESSES = ['mayor', 'human', 'deacon'];

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('completion <shell>')
    .description(`Shell completion script (${SHELLS.join(', ')}): commands, flags, rigs, agents and bead IDs`)
    .addHelpText(
      'after',
      `
Install:
  bash:  echo 'source <(gt completion bash)' >> ~/.bashrc
  zsh:   echo 'source <(gt completion zsh)' >> ~/.zshrc      # after compinit
  fish:  gt completion fish > ~/.config/fish/completions/gt.fish
Rig names, agent addresses and bead IDs are read from the town at TAB time.

Examples:
  gt completion bash > /etc/bash_completion.d/gt
  gt completion zsh > "\${fpath[1]}/_gt"`,
    )
    .action(
      action(ctx, async (shell: unknown) => {
        if (!(SHELLS as readonly string[]).includes(shell as string))
          throw usageError(`no completion for ${JSON.stringify(shell)}`, `one of: ${SHELLS.join(', ')}`);
        const root = program;
        const COMMANDS = ctx.commands ?? [];
        await registerAll(root, COMMANDS, ctx);
        const hidden = new Set(COMMANDS.filter((c) => c.hidden).flatMap((c) => c.names));
        hidden.add('bd');
        const specs = completionSpec(root, hidden);
        // `gt bd …` is bd: its words complete as bd's would.
        ctx.io.stdout(completionScript(shell as Shell, 'gt', specs));
      }),
    );

  program
    .command('__complete <kind> [prefix]')
    .description('Values for shell completion, one "value<TAB>description" a line (hidden)')
    .action(
      action(ctx, async (kind: unknown, prefix: unknown) => {
        if (!(DYNAMIC_KINDS as readonly string[]).includes(kind as string)) throw usageError(`kind must be one of ${DYNAMIC_KINDS.join(', ')}`);
        const start = typeof prefix === 'string' ? prefix : '';
        const lines: string[] = [];
        // Completion is best effort: outside a town there is nothing to offer, and no error to show.
        let town;
        try {
          town = await ctx.town();
        } catch {
          return;
        }
        const values = await dynamicValues(town, kind as DynamicKind, ctx.actor);
        for (const [value, description] of values) if (value.startsWith(start)) lines.push(`${value}\t${description.replace(/\s+/g, ' ').slice(0, 60)}`);
        if (lines.length) ctx.io.stdout(`${lines.join('\n')}\n`);
      }),
    );
}

async function dynamicValues(town: Awaited<ReturnType<GtContext['town']>>, kind: DynamicKind, actor: string): Promise<Array<[string, string]>> {
  if (kind === 'rigs') return town.rigNames().map((name) => [name, 'rig']);
  if (kind === 'agents') {
    const agents = (await town.agents()).map((a): [string, string] => [a.address, `${a.role}${a.state ? ` (${a.state})` : ''}`]);
    return [...FIXED_ADDRESSES.filter((a) => !agents.some(([address]) => address === a)).map((a): [string, string] => [a, 'address']), ...agents];
  }
  if (kind === 'mail') {
    const messages = await new Mailbox(town.ledger, actor).inbox(actor);
    return messages.map((m) => [m.id, `${m.from}: ${m.subject}`]);
  }
  if (kind === 'escalations') return (await listEscalations(town)).map((e) => [e.id, `${e.severity} ${e.state}: ${e.title}`]);
  // Beads a person names: open work, most recently touched first.
  const beads = await town.ledger.list({
    excludeStatuses: ['closed'],
    excludeTypes: ['message', 'agent', 'rig', 'role', 'event', 'slot', 'escalation'],
    limit: 300,
    sort: 'updated',
    reverse: true,
  });
  return beads.map((b) => [b.id, b.title]);
}
