import type { Command } from 'commander';
import { usageError } from '../../../shared/errors.js';
import { action, type BdContext } from '../context.js';
import { jsonIssue } from '../render.js';
import { renderJson, table } from '../../output.js';

export default function register(program: Command, ctx: BdContext): void {
  const dep = program
    .command('dep')
    .description('Dependencies between issues: "A depends on B" means B blocks A')
    .addHelpText(
      'after',
      `
Examples:
  bd dep add bd-b bd-a              # bd-b depends on bd-a (bd-a blocks bd-b)
  bd dep bd-a --blocks bd-b         # the same, said the other way round
  bd dep add bd-c bd-a -t related   # a non-blocking link
  bd dep tree bd-b
  bd dep cycles`,
    )
    .argument('[id]', 'with --blocks: the blocking issue')
    .option('--blocks <id>', 'the issue that [id] blocks')
    .action(
      action(ctx, async (id, opts) => {
        const o = opts as { blocks?: string };
        if (id === undefined || o.blocks === undefined) {
          dep.outputHelp();
          return;
        }
        await addEdge(ctx, o.blocks, id as string, 'blocks', {});
      }),
    );

  dep
    .command('add')
    .argument('<issue>', 'the issue that depends')
    .argument('[depends-on]', 'the issue it depends on')
    .option('--blocked-by <id>', 'the issue it depends on (instead of the second argument)')
    .option('--depends-on <id>', 'the same as --blocked-by')
    .option('-t, --type <type>', 'blocks (default), parent-child, related, discovered-from, waits-for, …', 'blocks')
    .option('--metadata <json>', 'edge metadata, e.g. {"gate":"any-children"}')
    .option('--thread <id>', 'thread id (replies-to)')
    .option('--no-cycle-check', 'skip the cycle check (imports of known-good graphs)')
    .description('Add an edge; refused if it would create a cycle over blocking edges')
    .action(
      action(ctx, async (issue, dependsOn, opts) => {
        const o = opts as { type: string; metadata?: string; thread?: string; cycleCheck?: boolean; blockedBy?: string; dependsOn?: string };
        const targets = [dependsOn as string | undefined, o.blockedBy, o.dependsOn].filter((t): t is string => t !== undefined);
        if (targets.length !== 1)
          throw usageError('name the issue it depends on exactly once', 'e.g. bd dep add bd-b bd-a, or bd dep add bd-b --blocked-by bd-a');
        await addEdge(ctx, issue as string, targets[0] as string, o.type, { metadata: o.metadata, threadId: o.thread, noCycleCheck: o.cycleCheck === false });
      }),
    );

  dep
    .command('remove')
    .alias('rm')
    .argument('<issue>')
    .argument('<depends-on>')
    .description('Remove the edge between two issues')
    .action(
      action(ctx, async (issue, dependsOn) => {
        const ledger = await ctx.ledger();
        const removed = await ledger.removeDependency(issue as string, dependsOn as string);
        ctx.emit(
          { status: 'removed', ...removed },
          () => `✓ Removed dependency: ${removed.issue_id} no longer depends on ${removed.depends_on_id} (${removed.type})`,
        );
      }),
    );

  dep
    .command('list')
    .argument('<id>')
    .option('--direction <dir>', 'down (what it depends on, default), up (what depends on it), both', 'down')
    .option('-t, --type <type>', 'only this edge type')
    .description('List the edges of an issue')
    .action(
      action(ctx, async (id, opts) => {
        const o = opts as { direction: string; type?: string };
        if (!['down', 'up', 'both'].includes(o.direction)) throw usageError(`invalid --direction ${JSON.stringify(o.direction)}`, 'use down, up or both');
        const ledger = await ctx.ledger();
        const edges = await ledger.listDependencies(id as string, o.direction as 'down' | 'up' | 'both', o.type);
        if (ctx.json) return ctx.io.stdout(renderJson(edges.map(jsonIssue)));
        if (edges.length === 0) return ctx.out('No dependencies.');
        ctx.out(
          table(
            edges.map((e) =>
              e.direction === 'down'
                ? [`→ ${e.depends_on_id}`, e.type, e.status ?? '(missing)', e.title ?? '']
                : [`← ${e.issue_id}`, e.type, e.status ?? '(missing)', e.title ?? ''],
            ),
          ),
        );
      }),
    );

  dep
    .command('tree')
    .argument('<id>')
    .option('--direction <dir>', 'down (default) or up', 'down')
    .option('--max-depth <n>', 'stop at this depth', '50')
    .description('Show the dependency tree of an issue')
    .action(
      action(ctx, async (id, opts) => {
        const o = opts as { direction: string; maxDepth: string };
        if (!['down', 'up'].includes(o.direction)) throw usageError(`invalid --direction ${JSON.stringify(o.direction)}`, 'use down or up');
        const depth = Number(o.maxDepth);
        if (!Number.isInteger(depth) || depth < 1) throw usageError(`--max-depth must be a positive whole number, got ${JSON.stringify(o.maxDepth)}`);
        const ledger = await ctx.ledger();
        const nodes = await ledger.tree(id as string, o.direction as 'down' | 'up', depth);
        if (ctx.json) return ctx.io.stdout(renderJson(nodes.map(jsonIssue)));
        ctx.out(
          nodes
            .map(
              (n) =>
                `${'  '.repeat(n.depth)}${n.depth ? '└─ ' : ''}${ctx.style.bold(n.id)} [P${n.priority}] ${n.title} (${n.status})${n.dependency_type ? ctx.style.dim(` ${n.dependency_type}`) : ''}${n.truncated ? ' …' : ''}`,
            )
            .join('\n'),
        );
      }),
    );

  dep
    .command('cycles')
    .description('Find cycles over blocking edges (possible only through imports)')
    .action(
      action(ctx, async () => {
        const ledger = await ctx.ledger();
        const cycles = await ledger.cycles();
        if (ctx.json) return ctx.io.stdout(renderJson(cycles));
        ctx.out(cycles.length === 0 ? '✓ No dependency cycles.' : [`Found ${cycles.length} cycle(s):`, ...cycles.map((c) => `  ${c.join(' ↔ ')}`)].join('\n'));
      }),
    );
}

async function addEdge(
  ctx: BdContext,
  issue: string,
  dependsOn: string,
  type: string,
  options: { metadata?: string | undefined; threadId?: string | undefined; noCycleCheck?: boolean },
) {
  const ledger = await ctx.ledger();
  const opts: { metadata?: string; threadId?: string; noCycleCheck?: boolean } = { noCycleCheck: options.noCycleCheck ?? false };
  if (options.metadata !== undefined) opts.metadata = options.metadata;
  if (options.threadId !== undefined) opts.threadId = options.threadId;
  const added = await ledger.addDependency(issue, dependsOn, type, opts);
  const { result, ...edge } = added;
  ctx.emit({ status: result, ...jsonIssue(edge) }, () =>
    result === 'added'
      ? `✓ Added dependency: ${edge.issue_id} depends on ${edge.depends_on_id} (${edge.type})`
      : `✓ Dependency already exists: ${edge.issue_id} depends on ${edge.depends_on_id} (${edge.type})`,
  );
}
