/** What a dog is and what it is given: shared by the framework (dogs.ts) and every dog. */
import type { Town } from '../town/town.js';

/** One thing a dog did (or, in a dry run, would do). */
export interface DogAction {
  /** A verb: rotated, removed, pruned, reclaimed, checkpointed, acked, compacted, exported, stopped… */
  action: string;
  /** What it acted on: a file, a run, an agent, a branch, a bead. */
  target: string;
  detail?: string;
}

/** What a dog needs beyond the town: the parts only the composition root can build. */
export interface DogPorts {
  /** The ledger as Beads JSONL for `path`: whether the file differs from it, and (with `write`) the file rewritten atomically when it does. */
  exportLedger(town: Town, path: string, options: { write: boolean }): Promise<{ issues: number; changed: boolean }>;
}

export interface DogContext {
  town: Town;
  ports: DogPorts;
  /** Say what would be done, change nothing. */
  dryRun: boolean;
}

export interface Dog {
  name: DogName;
  description: string;
  /** Why it is off even when enabled (the export dog without `export.auto`), or undefined. */
  idleReason?: (town: Town) => string | undefined;
  run(ctx: DogContext): Promise<DogAction[]>;
}

export type DogName = 'logs' | 'runs' | 'polecats' | 'orphans' | 'mail' | 'compact' | 'export' | 'memory';
