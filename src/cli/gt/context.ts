/**
 * What a `gt` command gets: I/O, global flags, and the town — found from
 * GT_ROOT or a town.toml above the cwd, opened on first use, with its ports
 * built here (the composition root of the CLI edge).
 */
import type { Command } from 'commander';
import { parseIdentity, type Identity } from '../../core/agents/identity.js';
import type { Town } from '../../core/town/town.js';
import { commandExists, findTownRoot, runtimeProbe, writeLaunchers } from '../../app/town.js';
import type { RuntimeProbe } from '../../core/work/work.js';
import { GtError } from '../../shared/errors.js';
import { CliContext } from '../context.js';
import type { CommandEntry } from '../dispatch.js';

export interface GtGlobals {
  json?: boolean;
  directory?: string;
}

export class GtContext extends CliContext<GtGlobals> {
  /** The command table, set by dispatch. */
  commands?: Array<CommandEntry<GtContext>>;
  private opened: Town | undefined;
  private light = false;

  /** Who is acting: the agent of this session, else the human. */
  get actor(): string {
    return this.io.env.GT_AGENT || 'human';
  }

  townRoot(): string {
    const root = findTownRoot(this.cwd, this.io.env);
    if (!root)
      throw new GtError('not_found', `no gt town here (no town.toml in ${this.cwd} or above, and GT_ROOT is not set)`, {
        hint: 'create one with gt install <dir>, then cd into it or set GT_ROOT',
      });
    return root;
  }

  /** The town; `light` (hot hook commands) skips the config and its schema library. */
  async town(options: { light?: boolean } = {}): Promise<Town> {
    const { openTown, configParsers } = await import('../../app/town.js');
    if (!this.opened) {
      this.opened = await openTown(this.townRoot(), this.io.env, this.actor, (line) => this.io.stderr(`${line}\n`), options);
      this.light = options.light === true;
    } else if (this.light && !options.light) {
      this.opened.useParsers(await configParsers());
      void this.opened.config;
      this.light = false;
    }
    return this.opened;
  }

  /** The town, with launchers refreshed: for commands that start sessions. */
  async townForSessions(): Promise<Town> {
    const town = await this.town();
    writeLaunchers(town.root);
    return town;
  }

  /** The agent running this command (GT_AGENT or its workspace); `human` when neither. */
  async me(explicit?: string): Promise<Identity> {
    if (explicit) {
      const identity = parseIdentity(explicit);
      // An agent session acts as itself only: `--agent` would otherwise read another's mail or finish its work.
      const self = this.io.env.GT_AGENT;
      if (self && identity.address !== parseIdentity(self).address) {
        throw new GtError('conflict', `${self} is an agent session and acts only as itself, not as ${identity.address}`, {
          hint: "run this from a terminal that is no agent's session",
        });
      }
      return identity;
    }
    const town = await this.town({ light: true });
    return town.identityFrom(this.io.env, this.cwd, { address: 'human', role: 'human' });
  }

  /**
   * Refuses an agent session what only a person may do (with `leaders`, also an
   * agent town.toml lists in permissions.leaders). The permission broker lets
   * every `gt` line through, so each command that changes the town's daemon,
   * policy, queue or a person's attention says here who may run it.
   */
  async forPeople(what: string, options: { leaders?: boolean } = {}): Promise<void> {
    const self = this.io.env.GT_AGENT;
    if (!self) return;
    if (options.leaders && ((await this.town()).config.permissions.leaders ?? []).includes(parseIdentity(self).address)) return;
    throw new GtError('conflict', `${self} is an agent session; ${what} is a person's to do${options.leaders ? " (or a leader's)" : ''}`, {
      hint: options.leaders
        ? "run it from a terminal that is no agent's session; leaders are listed in town.toml permissions.leaders"
        : "run it from a terminal that is no agent's session",
    });
  }

  commandExists = (command: string): boolean => commandExists(command, this.io.env);

  get runtimeProbe(): RuntimeProbe {
    return runtimeProbe(this.io.env);
  }

  async close(): Promise<void> {
    const town = this.opened;
    this.opened = undefined;
    if (town) await town.ledger.release();
  }
}

/** Commander glue: reads global flags, then runs the command body. */
export function action(ctx: GtContext, body: (...args: unknown[]) => Promise<number | void>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    ctx.globals = command.optsWithGlobals<GtGlobals>();
    const code = await body(...args);
    if (typeof code === 'number' && code !== 0) throw new ExitCode(code);
  };
}

/** A command's chosen exit status (not an error: the command already reported). */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
