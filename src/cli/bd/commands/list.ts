import type { Command } from 'commander';
import type { IssueFilter, ListSort } from '../../../core/beads/types.js';
import { BOOKKEEPING_TYPES } from '../../../core/beads/rules.js';
import { usageError } from '../../../shared/errors.js';
import { action, type BdContext } from '../context.js';
import { collect, keyValues, limitOption, prioritiesOption, whenOption } from '../options.js';
import { issueRows, jsonIssue } from '../render.js';
import { renderJson } from '../../output.js';

export interface FilterOptions {
  status?: string[];
  all?: boolean;
  type?: string[];
  priority?: string[];
  priorityMin?: string;
  priorityMax?: string;
  assignee?: string;
  noAssignee?: boolean;
  label?: string[];
  labelAny?: string[];
  excludeLabel?: string[];
  noLabels?: boolean;
  parent?: string;
  noParent?: boolean;
  titleContains?: string;
  descContains?: string;
  notesContains?: string;
  id?: string[];
  createdAfter?: string;
  createdBefore?: string;
  updatedAfter?: string;
  updatedBefore?: string;
  closedAfter?: string;
  closedBefore?: string;
  metadataField?: string[];
  hasMetadataKey?: string[];
  includeTemplates?: boolean;
  includeEphemeral?: boolean;
  includeInfra?: boolean;
  pinned?: boolean;
  deferred?: boolean;
  overdue?: boolean;
  limit?: string;
  sort?: string;
  reverse?: boolean;
}

const SORTS: ListSort[] = ['priority', 'created', 'updated', 'closed', 'status', 'id', 'title', 'type', 'assignee'];

export function addFilterOptions(cmd: Command): Command {
  return cmd
    .option('-s, --status <status>', 'only these statuses (comma-separated; default: all but closed)', collect)
    .option('--all', 'include closed issues')
    .option('-t, --type <type>', 'only these types', collect)
    .option('-p, --priority <p>', 'only these priorities (0-4 or P0-P4)', collect)
    .option('--priority-min <p>', 'priority at least (numerically)')
    .option('--priority-max <p>', 'priority at most (numerically)')
    .option('-a, --assignee <name>', 'assigned to')
    .option('--no-assignee', 'unassigned only')
    .option('-l, --label <labels>', 'has all these labels', collect)
    .option('--label-any <labels>', 'has any of these labels', collect)
    .option('--exclude-label <labels>', 'has none of these labels', collect)
    .option('--no-labels', 'has no labels')
    .option('--parent <id>', 'descendants of this issue')
    .option('--no-parent', 'top-level issues only')
    .option('--title-contains <text>', 'title contains')
    .option('--desc-contains <text>', 'description contains')
    .option('--notes-contains <text>', 'notes contain')
    .option('--id <ids>', 'only these IDs', collect)
    .option('--created-after <when>')
    .option('--created-before <when>')
    .option('--updated-after <when>')
    .option('--updated-before <when>')
    .option('--closed-after <when>')
    .option('--closed-before <when>')
    .option('--metadata-field <k=v>', 'metadata key equals value (repeatable)', collect)
    .option('--has-metadata-key <key>', 'metadata has this key', collect)
    .option('--include-templates', 'include template (proto) issues')
    .option('--include-ephemeral', 'include wisps')
    .option('--include-infra', "include gt's bookkeeping: agents, mail, merge requests, gates, convoys… (a --type naming one shows it too)")
    .option('--pinned', 'pinned issues only')
    .option('--no-pinned', 'leave out pinned issues')
    .option('--deferred', 'deferred issues only (status deferred or a future defer time)')
    .option('--overdue', 'past their due time and not closed');
}

/** Filter from flags. `defaultOpen` = list's default of hiding closed issues. */
export async function filterFrom(o: FilterOptions, ctx: BdContext, defaultOpen: boolean): Promise<IssueFilter> {
  const raw = o as Omit<FilterOptions, 'assignee' | 'parent'> & { assignee?: string | boolean; labels?: boolean; parent?: string | boolean };
  const ledger = await ctx.ledger();
  const when = (v: string | undefined, flag: string) => whenOption(v, flag) ?? undefined;
  const statuses = o.status?.includes('all') ? undefined : o.status;
  const filter: IssueFilter = {
    statuses,
    excludeStatuses: !statuses && !o.all && !o.status?.includes('all') && defaultOpen ? ['closed'] : undefined,
    types: o.type,
    // gt's bookkeeping stays out of plain lists, as Beads' infra types do; asking for a type or IDs shows them.
    excludeTypes: o.type?.length || o.id?.length || o.includeInfra ? undefined : BOOKKEEPING_TYPES,
    priorities: prioritiesOption(o.priority),
    priorityMin: prioritiesOption(o.priorityMin ? [o.priorityMin] : undefined)?.[0],
    priorityMax: prioritiesOption(o.priorityMax ? [o.priorityMax] : undefined)?.[0],
    assignee: typeof raw.assignee === 'string' ? raw.assignee : undefined,
    unassigned: raw.assignee === false,
    labelsAll: o.label,
    labelsAny: o.labelAny,
    excludeLabels: o.excludeLabel,
    noLabels: raw.labels === false,
    parent: typeof raw.parent === 'string' ? await ledger.resolve(raw.parent) : undefined,
    noParent: raw.parent === false,
    titleContains: o.titleContains,
    descContains: o.descContains,
    notesContains: o.notesContains,
    ids: o.id,
    createdAfter: when(o.createdAfter, '--created-after'),
    createdBefore: when(o.createdBefore, '--created-before'),
    updatedAfter: when(o.updatedAfter, '--updated-after'),
    updatedBefore: when(o.updatedBefore, '--updated-before'),
    closedAfter: when(o.closedAfter, '--closed-after'),
    closedBefore: when(o.closedBefore, '--closed-before'),
    metadataFields: keyValues(o.metadataField, '--metadata-field'),
    hasMetadataKeys: o.hasMetadataKey,
    includeTemplates: o.includeTemplates,
    includeEphemeral: o.includeEphemeral,
    pinned: o.pinned,
    deferred: o.deferred,
    overdue: o.overdue,
    now: ledger.now(),
  };
  if (o.sort !== undefined) {
    if (!SORTS.includes(o.sort as ListSort)) throw usageError(`invalid --sort ${JSON.stringify(o.sort)}`, `use one of ${SORTS.join(', ')}`);
    filter.sort = o.sort as ListSort;
  }
  filter.reverse = o.reverse;
  return filter;
}

/** Prints a list with a truncation notice when the limit cut it (stderr under --json). */
export function printIssues(ctx: BdContext, issues: Parameters<typeof issueRows>[0], limit: number, empty: string): void {
  const shown = limit > 0 ? issues.slice(0, limit) : issues;
  const truncated = limit > 0 && issues.length > limit;
  if (ctx.json) {
    ctx.io.stdout(renderJson(shown.map(jsonIssue)));
    if (truncated) ctx.err(`showing the first ${limit}; use --limit 0 for all`);
    return;
  }
  if (shown.length === 0) return ctx.out(empty);
  ctx.out(issueRows(shown, ctx.style));
  if (truncated) ctx.out(ctx.style.dim(`… showing the first ${limit}; use --limit 0 for all`));
}

export default function register(program: Command, ctx: BdContext): void {
  addFilterOptions(program.command('list').description('List issues (all but closed unless --all or --status)'))
    .option('--ready', 'only ready issues (the same rules as bd ready)')
    .option('-n, --limit <n>', 'at most n (0 = all; default 50)')
    .option('--sort <field>', `sort by ${SORTS.join('|')} (default priority)`)
    .option('-r, --reverse', 'reverse the sort')
    .addHelpText(
      'after',
      "\nExamples:\n  bd list\n  bd list --status in_progress -a alice\n  bd list --all -l backend --json\n  bd list --parent bd-a3f\n  bd list --include-infra         # also gt's bookkeeping (agents, mail, merge requests, gates…)\n  bd list --type message          # only mail",
    )
    .action(
      action(ctx, async (opts) => {
        const o = opts as FilterOptions & { ready?: boolean };
        const limit = limitOption(o.limit, 50);
        const filter = await filterFrom(o, ctx, true);
        const ledger = await ctx.ledger();
        const query = { ...filter, limit: limit > 0 ? limit + 1 : 0 };
        const issues = o.ready ? await ledger.ready({ ...query, excludeStatuses: undefined, policy: 'priority' }) : await ledger.list(query);
        printIssues(ctx, issues, limit, 'No issues found.');
      }),
    );
}
