/**
 * What a `bd` command gets: I/O, the global flags, and the ledger, opened on
 * first use and closed by the wrapper after the command.
 */
import type { CommandEntry } from '../dispatch.js';
import type { Command } from 'commander';
import { partialIdNote, type Ledger } from '../../core/beads/ledger.js';
import { agentReadGuard, agentWriteGuard } from '../../core/governance/agent-writes.js';
import { gitUserName, isPostgresLocation, locateLedger, openLedger, rigPrefix, type LedgerLocation } from '../../app/index.js';
import { GtError } from '../../shared/errors.js';
import { CliContext } from '../context.js';
import { existsSync } from 'node:fs';

export interface GlobalOptions {
  json?: boolean;
  actor?: string;
  db?: string;
  directory?: string;
  quiet?: boolean;
}

export class BdContext extends CliContext<GlobalOptions> {
  /** The command table, set by dispatch. */
  commands?: Array<CommandEntry<BdContext>>;
  private opened: Ledger | undefined;

  /** Actor: --actor, BEADS_ACTOR, BD_ACTOR, git user.name, $USER (research/beads.md §3, Claim). */
  actor(): string {
    const env = this.io.env;
    return this.globals.actor || env.BEADS_ACTOR || env.BD_ACTOR || gitUserName(this.cwd, env) || env.USER || env.USERNAME || 'unknown';
  }

  location(): LedgerLocation {
    return locateLedger(this.cwd, this.io.env, this.globals.db);
  }

  /** In a gt town, new beads take the prefix of the rig they are created in (or `--rig`). */
  createPrefix(rig?: string): string | undefined {
    const location = this.location();
    return location.kind === 'town' ? rigPrefix(location.root, this.cwd, rig) : undefined;
  }

  async ledger(): Promise<Ledger> {
    if (!this.opened) {
      const location = this.location();
      if (location.kind === 'town' && !isPostgresLocation(location.path) && !existsSync(location.path)) {
        throw new GtError('not_found', `this is inside the gt town ${location.root}, whose ledger ${location.path} does not exist yet`, {
          hint: 'create the town with `gt install` (or point BEADS_DIR at a standalone .beads directory)',
        });
      }
      // Lazy: a read (bd ready, bd list) never asks git who is acting.
      const ledger = openLedger(location.path, () => this.actor());
      // A partial ID says on stderr which one it resolved to (as gt's town does).
      ledger.onPartialId((input, id) => this.err(partialIdNote(input, id)));
      // An agent session's bd refuses the writes only a person makes, and sees no one else's mail (core/governance/agent-writes.ts).
      const agent = this.io.env.GT_AGENT;
      if (agent) ledger.guard({ write: agentWriteGuard(agent), read: agentReadGuard(agent) });
      this.opened = ledger;
    }
    return Promise.resolve(this.opened);
  }

  adopt(ledger: Ledger): void {
    this.opened = ledger;
  }

  async close(): Promise<void> {
    const ledger = this.opened;
    this.opened = undefined;
    if (ledger) await ledger.release();
  }
}

/** Exit status a command asks for without throwing (partial failures). */
export class ExitStatus {
  constructor(readonly code: number) {}
}

/** Commander glue: reads global flags, then runs the command body. */
export function action(ctx: BdContext, body: (...args: unknown[]) => Promise<ExitStatus | void>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    ctx.globals = command.optsWithGlobals<GlobalOptions>();
    const status = await body(...args);
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- carried to runBd, which turns it into the exit code
    if (status instanceof ExitStatus) throw status;
  };
}
