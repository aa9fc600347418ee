/**
 * Daily log files with retention. `.gt/daemon.log` is the daemon's live log
 * and `.gt/logs/<name>.log` gt's other logs: their lines from past days move
 * to `.gt/logs/<name>-YYYY-MM-DD.log` (by each logfmt line's `time=`), today's
 * stay where they are; day files older than `keep_days` are removed.
 */
import { DAEMON_LOGFILE, LOGS_DIR } from '../../shared/paths.js';
import type { Town } from '../town/town.js';
import type { Dog, DogAction, DogContext } from './types.js';

const DAY_FILE = /^(.+)-(\d{4}-\d{2}-\d{2})\.log$/;
const TIME = /(?:^|\s)time=(\d{4}-\d{2}-\d{2})T/;

/** Lines by day; a line without a time (a crash's stack trace) belongs to the day of the line before it. */
export function linesByDay(text: string): Map<string, string[]> {
  const days = new Map<string, string[]>();
  let day: string | undefined;
  const orphans: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const found = TIME.exec(line)?.[1];
    if (found) day = found;
    if (!day) {
      orphans.push(line);
      continue;
    }
    const list = days.get(day) ?? [];
    if (orphans.length) list.push(...orphans.splice(0));
    list.push(line);
    days.set(day, list);
  }
  // Undated lines with nothing dated after them stay with today's (they are the newest).
  if (orphans.length) days.set('', orphans);
  return days;
}

/** Moves a live log's lines of past days into `<dir>/<stem>-<day>.log`; today's stay in the live file. */
function rotate(ctx: DogContext, live: string, stem: string, today: string): DogAction[] {
  const { files } = ctx.town.ports;
  const text = files.read(live);
  if (!text) return [];
  const days = linesByDay(text);
  const past = [...days.keys()].filter((d) => d !== '' && d < today).sort();
  if (past.length === 0) return [];
  const actions = past.map((day) => ({
    action: 'rotated',
    target: `${LOGS_DIR}/${stem}-${day}.log`,
    detail: `${days.get(day)?.length ?? 0} line(s) from ${relative(ctx.town, live)}`,
  }));
  if (ctx.dryRun) return actions;
  const dir = ctx.town.path(LOGS_DIR);
  for (const day of past) files.append(`${dir}/${stem}-${day}.log`, `${(days.get(day) ?? []).join('\n')}\n`);
  const kept = [...days.entries()].filter(([d]) => d === '' || d >= today).flatMap(([, lines]) => lines);
  // Lines a writer appended since the read stay too (all of this runs without yielding, so in the daemon there are none).
  const since = (files.read(live) ?? '').slice(text.length);
  files.overwrite(live, `${kept.length ? `${kept.join('\n')}\n` : ''}${since}`);
  return actions;
}

function relative(town: Town, path: string): string {
  return path.startsWith(`${town.root}/`) ? path.slice(town.root.length + 1) : path;
}

async function run(ctx: DogContext): Promise<DogAction[]> {
  const { town } = ctx;
  const { files } = town.ports;
  const now = town.ports.now();
  const today = now.slice(0, 10);
  const dir = town.path(LOGS_DIR);
  const actions = rotate(ctx, town.path(DAEMON_LOGFILE), 'daemon', today);
  for (const name of files.list(dir)) {
    if (!name.endsWith('.log') || DAY_FILE.test(name)) continue;
    actions.push(...rotate(ctx, `${dir}/${name}`, name.slice(0, -'.log'.length), today));
  }
  const keepDays = town.config.dogs.logs.keep_days;
  const oldest = new Date(Date.parse(`${today}T00:00:00Z`) - (keepDays - 1) * 86_400_000).toISOString().slice(0, 10);
  for (const name of files.list(dir)) {
    const day = DAY_FILE.exec(name)?.[2];
    if (!day || day >= oldest) continue;
    actions.push({ action: 'removed', target: `${LOGS_DIR}/${name}`, detail: `older than ${keepDays} day(s)` });
    if (!ctx.dryRun) files.remove(`${dir}/${name}`);
  }
  return actions;
}

export const logsDog: Dog = {
  name: 'logs',
  description: 'Daily log files: .gt/daemon.log and .gt/logs/*.log rotate into .gt/logs/<name>-YYYY-MM-DD.log, kept dogs.logs.keep_days days',
  run,
};
