/**
 * `gt doctor`: named checks over a town, each answering ok, warn or fail with
 * a message a person can act on and, where there is one, the fix. A check is
 * one entry of a list (DOCTOR_CHECKS): adding one is one object, nothing else.
 * Checks only look; they never change the town.
 */
import type { Town } from '../town/town.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

/** What a check found. `details` names the files, rigs or processes it is about. */
export interface CheckOutcome {
  status: CheckStatus;
  message: string;
  /** What to run or change to make it pass. */
  fix?: string;
  details?: string[];
}

/** What the checks read besides the town's own ports: file modes and other processes (infra implements them). */
export interface DoctorPorts {
  /** A file's or directory's permission bits (0o777 mask); undefined when it does not exist. */
  mode(path: string): number | undefined;
  /** The command lines (argv joined by spaces) of the processes this user can see. */
  processCommandLines(): string[];
  /** The name of the town's tmux server socket (`tmux -L <name>`). */
  tmuxSocket: string;
}

export interface DoctorContext {
  town: Town;
  ports: DoctorPorts;
}

export interface DoctorCheck {
  /** Stable, kebab-case: `--json` consumers and future `--check <name>` filters key on it. */
  name: string;
  /** What it looks at, in a few words. */
  title: string;
  run(context: DoctorContext): Promise<CheckOutcome>;
}

export interface CheckReport extends CheckOutcome {
  check: string;
  title: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: CheckReport[];
  summary: Record<CheckStatus, number>;
}

/** Runs every check; one that throws is a failed check, not a failed doctor. */
export async function runDoctor(town: Town, ports: DoctorPorts, checks: readonly DoctorCheck[]): Promise<DoctorReport> {
  const reports: CheckReport[] = [];
  for (const check of checks) {
    let outcome: CheckOutcome;
    try {
      outcome = await check.run({ town, ports });
    } catch (error) {
      outcome = { status: 'fail', message: `the check itself failed: ${error instanceof Error ? error.message : String(error)}` };
    }
    reports.push({ check: check.name, title: check.title, ...outcome });
  }
  const summary: Record<CheckStatus, number> = { ok: 0, warn: 0, fail: 0 };
  for (const report of reports) summary[report.status]++;
  return { ok: summary.fail === 0, checks: reports, summary };
}

/** Every file under `dir` (recursively), through the town's file port. */
export function filesUnder(town: Town, dir: string): string[] {
  const { files } = town.ports;
  if (!files.exists(dir)) return [];
  return files.list(dir).flatMap((name) => {
    const path = `${dir}/${name}`;
    return files.isDirectory(path) ? filesUnder(town, path) : [path];
  });
}
