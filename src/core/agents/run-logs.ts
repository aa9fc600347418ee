import { RUNS_DIR } from '../../shared/paths.js';
import type { Town } from '../town/town.js';

/** The JSON lines of one log file (`usage.jsonl`, `permissions.jsonl`) across every run folder, ordered by `at`. */
export function readRunLogs<T extends { at: string }>(town: Town, file: string): T[] {
  const runs = town.path(RUNS_DIR);
  const entries: T[] = [];
  for (const run of town.ports.files.list(runs)) {
    for (const line of (town.ports.files.read(`${runs}/${run}/${file}`) ?? '').split('\n')) {
      if (line === '') continue;
      try {
        entries.push(JSON.parse(line) as T);
      } catch {
        // A line cut short by a crash: the others still count.
      }
    }
  }
  return entries.sort((a, b) => a.at.localeCompare(b.at));
}
