/**
 * Run-folder pruning. `.gt/runs/<run>` holds one session's log, transcripts
 * and records; folders older than `keep_days`, or beyond the newest
 * `keep_count`, are removed. Never an active agent's current run (its session
 * may be running, or a person may still `gt peek` why it died), never one
 * touched within the hour. A pruned run's usage and permission records are
 * appended to `.gt/runs/archive/` first, so `gt costs` and `gt permission log`
 * lose nothing.
 */
import { RUNS_ARCHIVE, RUNS_DIR } from '../../shared/paths.js';
import type { Dog, DogAction, DogContext } from './types.js';

/** Records that outlive their run folder. */
const KEPT_RECORDS = ['usage.jsonl', 'permissions.jsonl'];
const RECENT_MS = 3_600_000;

/** `20261127T203050-gt-app-nux-k2x9` → its start, from the name startSession gives it. */
function runStart(run: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})-/.exec(run);
  return m ? Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`) : undefined;
}

async function run(ctx: DogContext): Promise<DogAction[]> {
  const { town } = ctx;
  const { files } = town.ports;
  const { keep_days: keepDays, keep_count: keepCount } = town.config.dogs.runs;
  const dir = town.path(RUNS_DIR);
  const archiveName = RUNS_ARCHIVE.slice(RUNS_DIR.length + 1);
  const current = new Set((await town.agents()).map((a) => a.run).filter((r): r is string => r !== undefined));
  const now = Date.parse(town.ports.now());
  const runs = files
    .list(dir)
    .filter((name) => name !== archiveName && files.isDirectory(`${dir}/${name}`))
    .map((name) => {
      const touched = Math.max(files.modifiedAt(`${dir}/${name}`) ?? 0, files.modifiedAt(`${dir}/${name}/agent.log`) ?? 0);
      return { name, started: runStart(name) ?? touched, touched };
    })
    .sort((a, b) => b.started - a.started || b.name.localeCompare(a.name));
  const actions: DogAction[] = [];
  for (const [index, entry] of runs.entries()) {
    const old = now - entry.started > keepDays * 86_400_000;
    if (!old && index < keepCount) continue;
    if (current.has(entry.name) || now - entry.touched < RECENT_MS) continue;
    actions.push({ action: 'pruned', target: `${RUNS_DIR}/${entry.name}`, detail: old ? `older than ${keepDays} day(s)` : `beyond the newest ${keepCount}` });
    if (ctx.dryRun) continue;
    for (const record of KEPT_RECORDS) {
      const text = files.read(`${dir}/${entry.name}/${record}`);
      if (text) files.append(town.path(RUNS_ARCHIVE, record), text.endsWith('\n') ? text : `${text}\n`);
    }
    files.remove(`${dir}/${entry.name}`);
  }
  return actions;
}

export const runsDog: Dog = {
  name: 'runs',
  description:
    'Run folders (.gt/runs): older than dogs.runs.keep_days or beyond the newest keep_count are removed, never a live agent’s; usage and permission records are kept',
  run,
};
