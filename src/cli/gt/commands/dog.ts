import type { Command } from 'commander';
import { dogList, runDog, DOGS, type DogRun, type DogStatus } from '../../../core/dogs/dogs.js';
import { GtError } from '../../../shared/errors.js';
import { dogPorts } from '../../../app/index.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

function ago(iso: string | undefined, now: number): string {
  if (!iso) return '-';
  const ms = Date.parse(iso) - now;
  const abs = Math.abs(ms);
  const text =
    abs < 60_000
      ? `${Math.round(abs / 1000)}s`
      : abs < 3_600_000
        ? `${Math.round(abs / 60_000)}m`
        : abs < 86_400_000
          ? `${Math.round(abs / 3_600_000)}h`
          : `${Math.round(abs / 86_400_000)}d`;
  return ms <= 0 ? (abs < 1000 ? 'now' : `${text} ago`) : `in ${text}`;
}

function lastResult(status: DogStatus): string {
  if (!status.last_result) return 'never ran';
  if (status.last_result === 'failed') return `failed: ${status.last_error ?? '?'}`;
  if (status.last_result === 'nothing') return 'nothing to do';
  const first = status.last_actions?.[0];
  const more = (status.last_action_count ?? 0) - 1;
  return first ? `${first.action} ${first.target}${more > 0 ? ` (+${more} more)` : ''}` : 'did work';
}

function renderRun(run: DogRun): string {
  const head = `${run.dry_run ? 'Dry run of' : 'Ran'} dog ${run.dog} in ${run.duration_ms} ms: ${
    run.result === 'failed' ? `failed: ${run.error ?? '?'}` : run.actions.length === 0 ? 'nothing to do' : `${run.actions.length} action(s)`
  }`;
  const lines = run.actions.map((a) => `  ${run.dry_run ? 'would be ' : ''}${a.action} ${a.target}${a.detail ? ` — ${a.detail}` : ''}`);
  return [head, ...lines].join('\n');
}

export default function register(program: Command, ctx: GtContext): void {
  const dog = program
    .command('dog')
    .description("Dogs: the daemon's maintenance jobs (logs, run folders, idle polecats, orphans, stale mail, compaction, export, memory roll-up)")
    .addHelpText(
      'after',
      `
The daemon (gt up) runs each enabled dog when it is due. Settings in town.toml:
  [dogs.logs]       every = "1h", keep_days = 14       # daily files in .gt/logs/
  [dogs.runs]       every = "1h", keep_days = 7, keep_count = 200
  [dogs.polecats]   every = "5m", keep_idle = 4        # per rig; rig.toml [polecats] keep_idle overrides
  [dogs.orphans]    every = "10m"
  [dogs.mail]       every = "5m"
  [dogs.compact]    every = "1h", wisps_after = "1h", closed_after = "7d"
  [dogs.export]     every = "15m"                      # only with [export] auto = true
  [dogs.memory]     every = "24h"                      # daily memory logs older than memory.rollup_after_days → weekly
  Each takes enabled = false to turn it off.

Dogs: ${DOGS.map((d) => d.name).join(', ')}

Examples:
  gt dog list
  gt dog run polecats --dry-run        # what it would do, changing nothing
  gt dog run orphans --json
  gt dog run --all`,
    );

  dog
    .command('list')
    .description('Every dog: schedule, last run, what it did, next run')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async () => {
        const town = await ctx.town();
        const rows = await dogList(town);
        const now = Date.parse(town.ports.now());
        ctx.emit(rows, () =>
          table([
            ['DOG', 'EVERY', 'LAST RUN', 'LAST RESULT', 'NEXT RUN'],
            ...rows.map((r) => [
              r.dog,
              r.enabled ? r.every : 'off',
              ago(r.last_run_at, now),
              lastResult(r),
              !r.enabled ? '-' : r.idle_reason ? `(${r.idle_reason})` : ago(r.next_run_at, now),
            ]),
          ]),
        );
      }),
    );

  dog
    .command('run [name]')
    .description('Run a dog now (or every enabled one with --all), whatever its schedule')
    .option('--all', 'every enabled dog, in turn')
    .option('--dry-run', 'say what it would do; change nothing (its record included)')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (name: unknown, opts: unknown) => {
        const o = opts as { all?: boolean; dryRun?: boolean };
        if (!name && !o.all) throw new GtError('usage', 'name a dog, or pass --all', { hint: `dogs: ${DOGS.map((d) => d.name).join(', ')}` });
        if (name && o.all) throw new GtError('usage', 'name a dog or pass --all, not both');
        // The deacon's jobs are a person's to run by hand: an agent would reach past its own worktree.
        if (!o.dryRun) await ctx.forPeople('running a dog (the daemon runs them; --dry-run looks)');
        const town = await ctx.townForSessions();
        const ports = dogPorts();
        const names = o.all ? DOGS.filter((d) => town.config.dogs[d.name].enabled && !d.idleReason?.(town)).map((d) => d.name) : [(name as string).trim()];
        const runs: DogRun[] = [];
        for (const each of names) runs.push(await runDog(town, each, ports, { dryRun: o.dryRun ?? false }));
        ctx.emit(o.all ? runs : runs[0], () => runs.map(renderRun).join('\n'));
        return runs.some((r) => r.result === 'failed') ? 1 : 0;
      }),
    );
}
