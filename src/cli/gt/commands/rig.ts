import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { existsSync, rmSync } from 'node:fs';
import { RIG_FILE } from '../../../core/town/town.js';
import { addRig, removeRig, rigSummary } from '../../../core/town/rigs.js';
import { addPlacedRig, moveRig } from '../../../core/hosts/rigs.js';
import { rigPlacements } from '../../../core/hosts/placement.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

/**
 * Ctrl-C (or SIGTERM) while a rig is added — a big clone takes minutes —
 * removes the unfinished rig directory, as a failure does, so the name stays
 * free for the next try. Returns what ends the watch; after a failure it first
 * lets the event loop turn once, because Ctrl-C reaches git and gt together and
 * git's death can be seen before gt's own signal: the person pressed Ctrl-C,
 * so the exit is 130, not git's failure.
 */
function removeOnInterrupt(ctx: GtContext, dir: string): (failed?: boolean) => Promise<void> {
  if (existsSync(dir)) return async () => undefined; // not ours to remove: addRig refuses it
  const onSignal = (signal: NodeJS.Signals) => {
    if (!existsSync(join(dir, RIG_FILE))) {
      rmSync(dir, { recursive: true, force: true });
      ctx.err(`Interrupted (${signal}): removed the unfinished rig ${dir}`);
    }
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return async (failed = false) => {
    if (failed) await new Promise((resolveWait) => setTimeout(resolveWait, 50));
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

export default function register(program: Command, ctx: GtContext): void {
  const rig = program
    .command('rig')
    .description('Rigs: the git repositories of the town')
    .addHelpText(
      'after',
      '\nExamples:\n  gt rig add app https://github.com/me/app.git\n  gt rig add lib ../lib --prefix lib --branch develop\n  gt rig list --json\n  gt rig remove app',
    );

  rig
    .command('add <name> <url>')
    .description('Add a repository: bare clone, refinery worktree, rig.toml, ledger prefix')
    .option('--prefix <prefix>', 'bead ID prefix for this rig (default: from the name)')
    .option('--branch <branch>', "default branch (default: the remote's HEAD)")
    .option('--host <host>', 'a town across hosts: the host that runs it (default: this one); another host clones it from the origin')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (name: unknown, url: unknown, opts: unknown) => {
        const options = opts as { prefix?: string; branch?: string; host?: string };
        await ctx.forPeople('adding a rig');
        const town = await ctx.town();
        // A local path is cloned by its absolute path, so the rig does not depend on the cwd.
        const source = existsSync(resolve(ctx.cwd, url as string)) ? resolve(ctx.cwd, url as string) : (url as string);
        if (options.host !== undefined || town.hostName !== undefined) {
          const local = options.host === undefined || options.host === town.hostName;
          const stop = local ? removeOnInterrupt(ctx, town.path(name as string)) : async () => undefined;
          let placed;
          try {
            placed = await addPlacedRig(town, name as string, source, { ...options, progress: (line) => ctx.err(line) });
          } catch (error) {
            await stop(true);
            throw error;
          }
          await stop();
          ctx.emit(placed, () =>
            local
              ? `Added rig ${placed.name} (prefix ${placed.prefix}, branch ${placed.default_branch}) at ${town.path(placed.name)}, on host ${placed.host}`
              : `Added rig ${placed.name} (prefix ${placed.prefix}, branch ${placed.default_branch}) on host ${placed.host}: its daemon clones it from ${placed.git_url}`,
          );
          return;
        }
        const stop = removeOnInterrupt(ctx, town.path(name as string));
        let config;
        try {
          config = await addRig(town, name as string, source, { ...options, progress: (line) => ctx.err(line) });
        } catch (error) {
          await stop(true);
          throw error;
        }
        await stop();
        ctx.emit(config, () => `Added rig ${config.name} (prefix ${config.prefix}, branch ${config.default_branch}) at ${town.path(config.name)}`);
      }),
    );

  rig
    .command('move <name> <host>')
    .description('A town across hosts: run the rig on another host from now on; its hooked work resumes there from the last pushed checkpoints')
    .option('--force', 'move even while its agents run on their host (that host stops them)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt rig move app b          # host a was lost: app and its hooked work go on on b\n  gt rig move app a --force')
    .action(
      action(ctx, async (name: unknown, host: unknown, opts: unknown) => {
        await ctx.forPeople('moving a rig to another host');
        const town = await ctx.town();
        const result = await moveRig(town, name as string, host as string, opts as { force?: boolean });
        ctx.emit(result, () =>
          result.from === result.to
            ? `Rig ${result.rig} already runs on host ${result.to}`
            : `Rig ${result.rig} moved${result.from ? ` from host ${result.from}` : ''} to host ${result.to}${
                result.reslung.length ? `; slung again there: ${result.reslung.map((r) => `${r.bead} (was ${r.from_agent})`).join(', ')}` : ''
              }. Its daemon clones it and takes the work from the queue.`,
        );
      }),
    );

  rig
    .command('list')
    .description('List rigs')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async () => {
        const town = await ctx.town();
        // A town across hosts: every rig of the town, each with its host; another host's rig has no counts here.
        const placements = await rigPlacements(town);
        const local = await Promise.all(
          town.rigNames().map(async (name) => {
            const host = placements.get(name)?.host;
            return { ...(await rigSummary(town, name)), ...(host ? { host } : {}) };
          }),
        );
        const elsewhere = [...placements.values()]
          .filter((p) => p.host !== undefined && !town.rigNames().includes(p.name))
          .map((p) => ({ name: p.name, prefix: p.prefix ?? '-', default_branch: p.default_branch ?? '-', git_url: p.git_url, host: p.host }));
        const rigs = [...local, ...elsewhere].sort((x, y) => x.name.localeCompare(y.name));
        const count = (r: (typeof rigs)[number], key: 'polecats' | 'crew' | 'open_merge_requests') =>
          key in r ? String((r as Record<string, unknown>)[key]) : '-';
        ctx.emit(rigs, () =>
          rigs.length === 0
            ? 'No rigs yet: gt rig add <name> <git-url-or-path>'
            : table([
                ['RIG', 'HOST', 'PREFIX', 'BRANCH', 'POLECATS', 'CREW', 'MRS', 'URL'],
                ...rigs.map((r) => [
                  r.name,
                  r.host ?? '-',
                  r.prefix,
                  r.default_branch,
                  count(r, 'polecats'),
                  count(r, 'crew'),
                  count(r, 'open_merge_requests'),
                  r.git_url,
                ]),
              ]),
        );
      }),
    );

  rig
    .command('show <name>')
    .description('Show one rig')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (name: unknown) => {
        const town = await ctx.town();
        const summary = await rigSummary(town, name as string);
        ctx.emit({ ...summary, config: town.rig(name as string) }, () =>
          [
            `${summary.name}  prefix ${summary.prefix}  branch ${summary.default_branch}`,
            `url       ${summary.git_url}`,
            `test      ${summary.test || '(none: set merge.test in rig.toml)'}`,
            `polecats  ${summary.polecats}   crew ${summary.crew}   open merge requests ${summary.open_merge_requests}`,
          ].join('\n'),
        );
      }),
    );

  rig
    .command('remove <name>')
    .description('Remove a rig; refuses while any worktree, branch or checkpoint holds unmerged work')
    .option(
      '--discard-checkpoints',
      'also remove a rig whose only unmerged work is on refs/gt/checkpoints, stash entries or tags (they are deleted with it, and named)',
    )
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (name: unknown, opts: unknown) => {
        await ctx.forPeople('removing a rig');
        const town = await ctx.town();
        const result = await removeRig(town, name as string, opts as { discardCheckpoints?: boolean });
        ctx.emit(result, () => `Removed rig ${result.name}${result.discarded.length ? `; discarded ${result.discarded.join(', ')}` : ''}`);
      }),
    );
}
