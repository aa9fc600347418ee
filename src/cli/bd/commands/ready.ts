import type { Command } from 'commander';
import type { SortPolicy } from '../../../core/beads/types.js';
import { usageError } from '../../../shared/errors.js';
import { action, type BdContext } from '../context.js';
import { collect, keyValues, limitOption, prioritiesOption } from '../options.js';
import { jsonIssue } from '../render.js';
import { renderJson } from '../../output.js';
import { printIssues } from './list.js';

interface ReadyOptions {
  limit?: string;
  priority?: string[];
  assignee?: string;
  unassigned?: boolean;
  sort?: string;
  label?: string[];
  labelAny?: string[];
  excludeLabel?: string[];
  type?: string[];
  excludeType?: string[];
  parent?: string;
  mol?: string;
  includeDeferred?: boolean;
  includeEphemeral?: boolean;
  metadataField?: string[];
  hasMetadataKey?: string[];
  claim?: boolean;
  explain?: boolean;
}

const POLICIES: SortPolicy[] = ['priority', 'hybrid', 'oldest'];

export default function register(program: Command, ctx: BdContext): void {
  program
    .command('ready')
    .description('Open issues with no open blockers, most important first')
    .option('-n, --limit <n>', 'at most n (0 = all; default 100)')
    .option('-p, --priority <p>', 'only these priorities', collect)
    .option('-a, --assignee <name>', 'assigned to')
    .option('-u, --unassigned', 'unassigned only')
    .option('-s, --sort <policy>', 'priority (default) | hybrid | oldest')
    .option('-l, --label <labels>', 'has all these labels', collect)
    .option('--label-any <labels>', 'has any of these labels', collect)
    .option('--exclude-label <labels>', 'has none of these labels', collect)
    .option('-t, --type <types>', 'only these types (also non-work types such as gate)', collect)
    .option('--exclude-type <types>', 'leave out these types', collect)
    .option('--parent <id>', 'descendants of this issue')
    .option('--mol <id>', 'steps of this molecule')
    .option('--include-deferred', 'include deferred issues')
    .option('--include-ephemeral', 'include wisps')
    .option('--metadata-field <k=v>', 'metadata key equals value', collect)
    .option('--has-metadata-key <key>', 'metadata has this key', collect)
    .option('--claim', 'atomically claim the first ready issue')
    .option('--explain', 'say why each issue is ready or blocked')
    .addHelpText(
      'after',
      '\nExamples:\n  bd ready\n  bd ready --json -n 5\n  bd ready --claim --json     # take the next one, atomically\n  bd ready --explain',
    )
    .action(
      action(ctx, async (opts) => {
        const o = opts as ReadyOptions;
        if (o.sort !== undefined && !POLICIES.includes(o.sort as SortPolicy))
          throw usageError(`invalid --sort ${JSON.stringify(o.sort)}`, 'use priority, hybrid or oldest');
        const limit = limitOption(o.limit, 100);
        const ledger = await ctx.ledger();
        const filter = {
          priorities: prioritiesOption(o.priority),
          assignee: o.assignee,
          unassigned: o.unassigned,
          policy: o.sort as SortPolicy | undefined,
          labelsAll: o.label,
          labelsAny: o.labelAny,
          excludeLabels: o.excludeLabel,
          types: o.type,
          excludeTypes: o.excludeType,
          parent: o.parent,
          mol: o.mol,
          includeDeferred: o.includeDeferred,
          includeEphemeral: o.includeEphemeral,
          metadataFields: keyValues(o.metadataField, '--metadata-field'),
          hasMetadataKeys: o.hasMetadataKey,
        };
        if (o.claim) {
          const claimed = await ledger.claimNextReady(filter);
          if (ctx.json) return ctx.io.stdout(renderJson(claimed ? jsonIssue(claimed) : { claimed: null }));
          return ctx.out(claimed ? `✓ Claimed ${ctx.style.bold(claimed.id)}: ${claimed.title}` : 'No ready work to claim.');
        }
        if (o.explain) {
          const explained = await ledger.explainReady({ ...filter, limit });
          if (ctx.json) return ctx.io.stdout(renderJson({ ...explained, ready: explained.ready.map(jsonIssue), blocked: explained.blocked.map(jsonIssue) }));
          const lines = [`Ready (${explained.summary.total_ready}):`];
          for (const r of explained.ready) lines.push(`  ${r.id} P${r.priority} ${r.title} — ${r.reason}`);
          lines.push(`Blocked (${explained.summary.total_blocked}):`);
          for (const b of explained.blocked)
            lines.push(`  ${b.id} P${b.priority} ${b.title} — waiting on ${b.blocked_by.map((x) => `${x.id} [${x.status}]`).join(', ') || 'a blocked parent'}`);
          if (explained.cycles.length) lines.push(`Cycles (${explained.cycles.length}):`, ...explained.cycles.map((c) => `  ${c.join(' → ')}`));
          return ctx.out(lines.join('\n'));
        }
        const issues = await ledger.ready({ ...filter, limit: limit > 0 ? limit + 1 : 0 });
        printIssues(ctx, issues, limit, 'No ready work. (bd blocked shows what is waiting.)');
      }),
    );
}
