/**
 * Dogs: the deacon's maintenance jobs (design §1, issue 14 §4). Each is a
 * named job with a schedule (`[dogs.<name>] every`, `enabled` in town.toml),
 * run by the daemon when due or by `gt dog run <name>`. A dog is idempotent
 * (a second run right after the first finds nothing to do) and safe by
 * construction: it never touches uncommitted or unmerged work without first
 * saving it on a checkpoint ref.
 *
 * Each run is recorded durably on the dog's own bead (`hq-dog-<name>`, an
 * infra type hidden from `bd list`): when it ran, how long it took, what it
 * did and when it runs next. A run that did something (or failed) is also a
 * `dog.ran` town event.
 */
import { parseDuration } from '../../shared/duration.js';
import { GtError, errorMessage, notFoundError } from '../../shared/errors.js';
import { logfmt, type LogFields, type LogLevel } from '../../shared/log.js';
import { DOGS_LOGFILE, lockFile } from '../../shared/paths.js';
import { redactSecrets } from '../../shared/secrets.js';
import type { Town } from '../town/town.js';
import type { Dog, DogAction, DogName, DogPorts } from './types.js';

export type { Dog, DogAction, DogContext, DogName, DogPorts } from './types.js';
import { compactDog } from './compact.js';
import { exportDog } from './export.js';
import { memoryDog } from './memory.js';
import { logsDog } from './logs.js';
import { mailDog } from './mail.js';
import { orphansDog } from './orphans.js';
import { polecatsDog } from './polecats.js';
import { runsDog } from './runs.js';

export const DOGS: readonly Dog[] = [logsDog, runsDog, polecatsDog, orphansDog, mailDog, compactDog, exportDog, memoryDog];

export interface DogRun {
  dog: string;
  started_at: string;
  duration_ms: number;
  /** `did-work`: it acted; `nothing`: nothing to do; `failed`: it stopped with an error (actions so far are kept). */
  result: 'did-work' | 'nothing' | 'failed';
  actions: DogAction[];
  error?: string;
  dry_run: boolean;
  next_run_at?: string;
}

export interface DogStatus {
  dog: string;
  description: string;
  enabled: boolean;
  every: string;
  /** Why an enabled dog does not run (e.g. export.auto is off). */
  idle_reason?: string;
  last_run_at?: string;
  last_duration_ms?: number;
  last_result?: DogRun['result'];
  /** The first actions of the last run and how many there were. */
  last_actions?: DogAction[];
  last_action_count?: number;
  last_error?: string;
  next_run_at?: string;
  runs: number;
}

/** Actions kept on the dog's bead per run: enough to say what it did, never a growing list. */
const RECORDED_ACTIONS = 20;

export function findDog(name: string): Dog {
  const dog = DOGS.find((d) => d.name === name);
  if (!dog) throw notFoundError(`no dog named ${JSON.stringify(name)}`, `dogs: ${DOGS.map((d) => d.name).join(', ')}`);
  return dog;
}

function settings(town: Town, dog: Dog): { every: string; enabled: boolean } {
  const { every, enabled } = town.config.dogs[dog.name];
  return { every, enabled };
}

export const dogBeadId = (name: string): string => `hq-dog-${name}`;

interface DogRecord {
  last_run_at?: string;
  last_duration_ms?: number;
  last_result?: DogRun['result'];
  last_actions?: DogAction[];
  last_action_count?: number;
  last_error?: string;
  next_run_at?: string;
  runs?: number;
}

async function readRecord(town: Town, name: string): Promise<DogRecord> {
  const bead = await town.ledger.find(dogBeadId(name));
  return bead?.metadata ?? {};
}

async function writeRecord(town: Town, dog: Dog, run: DogRun, previous: DogRecord): Promise<void> {
  const id = dogBeadId(dog.name);
  const metadata: Record<string, unknown> = {
    dog: dog.name,
    last_run_at: run.started_at,
    last_duration_ms: run.duration_ms,
    last_result: run.result,
    last_actions: run.actions.slice(0, RECORDED_ACTIONS),
    last_action_count: run.actions.length,
    last_error: run.error ?? null,
    next_run_at: run.next_run_at ?? null,
    runs: (previous.runs ?? 0) + 1,
  };
  const townEvent =
    run.result === 'nothing'
      ? undefined
      : {
          kind: 'dog.ran' as const,
          actor: 'deacon',
          payload: { dog: dog.name, result: run.result, actions: run.actions.length, duration_ms: run.duration_ms, ...(run.error ? { error: run.error } : {}) },
        };
  if (!(await town.ledger.find(id))) {
    await town.ledger.create({
      id,
      title: `dog ${dog.name}`,
      description: dog.description,
      type: 'role',
      prefix: 'hq',
      labels: ['gt:dog'],
      metadata: Object.fromEntries(Object.entries(metadata).filter(([, v]) => v !== null)),
      ...(townEvent ? { townEvent } : {}),
    });
    return;
  }
  // Volatile: a dog that runs every few minutes writes no audit rows (the ledger stays flat).
  await town.ledger.update([id], { setMetadata: metadata, volatile: true, ...(townEvent ? { townEvent } : {}) });
}

function addMs(iso: string, ms: number): string {
  return new Date(Date.parse(iso) + ms).toISOString();
}

/**
 * Runs one dog now (`gt dog run`, or the daemon when it is due). One run of a
 * dog at a time in the whole town: a second caller waits for the first
 * (`waitMs`) or, for the daemon, skips this pass.
 */
export async function runDog(town: Town, name: string, ports: DogPorts, options: { dryRun?: boolean; waitMs?: number } = {}): Promise<DogRun> {
  const dog = findDog(name);
  const dryRun = options.dryRun ?? false;
  const release = await town.ports.files.lock(town.path(lockFile(`dog-${dog.name}`)), { waitMs: options.waitMs ?? 60_000 });
  try {
    const previous = await readRecord(town, dog.name);
    const started = town.ports.now();
    const clock = Date.now();
    const actions: DogAction[] = [];
    let error: string | undefined;
    try {
      actions.push(...(await dog.run({ town, ports, dryRun })));
    } catch (caught) {
      error = errorMessage(caught);
    }
    const { every } = settings(town, dog);
    const run: DogRun = {
      dog: dog.name,
      started_at: started,
      duration_ms: Date.now() - clock,
      result: error ? 'failed' : actions.length > 0 ? 'did-work' : 'nothing',
      actions,
      ...(error ? { error } : {}),
      dry_run: dryRun,
      next_run_at: addMs(started, parseDuration(every)),
    };
    // A dry run changes nothing, its record and log included.
    if (!dryRun) {
      await writeRecord(town, dog, run, previous);
      logRun(town, run);
    }
    return run;
  } finally {
    release();
  }
}

/** One logfmt line per run and per action in `.gt/logs/dogs.log` (rotated daily by the logs dog), whoever ran it. */
function logRun(town: Town, run: DogRun): void {
  const line = (level: LogLevel, fields: LogFields) => redactSecrets(logfmt({ time: town.ports.now(), level, ...fields }));
  const lines = [
    line(run.result === 'failed' ? 'warn' : 'info', {
      msg: `dog.${run.result}`,
      dog: run.dog,
      actions: run.actions.length,
      duration_ms: run.duration_ms,
      by: town.ledger.actor,
      error: run.error,
    }),
    ...run.actions.map((a) => line('info', { msg: `dog.${run.dog}.${a.action}`, target: a.target, detail: a.detail })),
  ];
  town.ports.files.append(town.path(DOGS_LOGFILE), lines.join(''));
}

/** Every dog's schedule and last run, for `gt dog list`. */
export async function dogList(town: Town): Promise<DogStatus[]> {
  const out: DogStatus[] = [];
  for (const dog of DOGS) {
    const { every, enabled } = settings(town, dog);
    const record = await readRecord(town, dog.name);
    const idle = dog.idleReason?.(town);
    out.push({
      dog: dog.name,
      description: dog.description,
      enabled,
      every,
      ...(idle ? { idle_reason: idle } : {}),
      ...(record.last_run_at ? { last_run_at: record.last_run_at } : {}),
      ...(record.last_duration_ms !== undefined ? { last_duration_ms: record.last_duration_ms } : {}),
      ...(record.last_result ? { last_result: record.last_result } : {}),
      ...(record.last_actions ? { last_actions: record.last_actions, last_action_count: record.last_action_count ?? record.last_actions.length } : {}),
      ...(record.last_error ? { last_error: record.last_error } : {}),
      ...(enabled && !idle ? { next_run_at: record.next_run_at ?? town.ports.now() } : {}),
      runs: record.runs ?? 0,
    });
  }
  return out;
}

/** The dogs due now (enabled, not idle, next run reached or never run). */
export async function dueDogs(town: Town): Promise<Dog[]> {
  const now = Date.parse(town.ports.now());
  const due: Dog[] = [];
  for (const dog of DOGS) {
    const { enabled } = settings(town, dog);
    if (!enabled || dog.idleReason?.(town)) continue;
    const record = await readRecord(town, dog.name);
    if (!record.next_run_at || Date.parse(record.next_run_at) <= now) due.push(dog);
  }
  return due;
}

/**
 * The daemon's dog pass: each due dog in turn. A dog whose lock another
 * process holds (a `gt dog run` by hand) is skipped until the next pass.
 */
/** Dogs that tidy this machine (its log files, polecat worktrees, processes): every host runs them, not only the town-jobs holder. */
export const HOST_LOCAL_DOGS: readonly DogName[] = ['logs', 'polecats', 'orphans'];

export async function runDueDogs(town: Town, ports: DogPorts, options: { only?: readonly DogName[] } = {}): Promise<DogRun[]> {
  const runs: DogRun[] = [];
  for (const dog of await dueDogs(town)) {
    if (options.only && !options.only.includes(dog.name)) continue;
    try {
      runs.push(await runDog(town, dog.name, ports, { waitMs: 0 }));
    } catch (error) {
      if (error instanceof GtError && error.kind === 'conflict') continue;
      throw error;
    }
  }
  return runs;
}
