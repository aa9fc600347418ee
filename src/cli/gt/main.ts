/**
 * `gt`: the town CLI. Only the invoked command's module is loaded, so the
 * commands agent hooks call on every turn (prime, signal, hook, mail check)
 * start close to bare Node start-up time.
 */
import { Command } from 'commander';
import { EXIT_CODES, GtError } from '../../shared/errors.js';
import { VERSION } from '../../shared/version.js';
import { commandWord, dispatch } from '../dispatch.js';
import type { Io } from '../output.js';
import { agentReadGuard, agentWriteGuard } from '../../core/governance/agent-writes.js';
import { isLeader } from '../../core/governance/permissions.js';
import type { Town } from '../../core/town/town.js';
import { ExitCode, GtContext } from './context.js';
import type { Entry } from './commands.js';

const VALUE_FLAGS = new Set(['-C', '--directory']);

function rootProgram(ctx: GtContext, COMMANDS: Entry[]): Command {
  const program = new Command('gt')
    .description('A workspace manager for many AI coding agents, with a Beads-compatible ledger built in')
    .version(VERSION, '--version')
    .option('--json', 'machine-readable output')
    .option('-C, --directory <dir>', 'run as if started in <dir>')
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.stdout(s), writeErr: (s) => ctx.io.stderr(s), outputError: () => undefined })
    .showSuggestionAfterError(true);
  program.addHelpText(
    'after',
    () => `
Commands:
${COMMANDS.filter((c) => !c.hidden)
  .map((c) => `  ${c.names.join(', ').padEnd(12)} ${c.summary}`)
  .join('\n')}
  bd           The ledger (same as the bd command)

Examples:
  gt install ~/gt && cd ~/gt
  gt rig add app https://github.com/me/app.git
  bd create "Fix the login timeout" -p 1        # in ~/gt/app: an app- bead
  gt sling app-a3f8 app                          # a polecat takes it
  gt agents                                      # who is doing what
  gt up                                          # the daemon merges finished work

Run 'gt <command> --help' for a command's flags and examples.
Exit codes: 0 ok, 1 error, 2 bad usage, 3 invalid value, 4 not found, 5 conflict, 6 external tool failed, 7 schema, 8 file system.`,
  );
  return program;
}

/**
 * An agent session's gt (GT_AGENT set): its ledger refuses the writes only a
 * person or a configured leader makes (core/governance/agent-writes.ts).
 */
class AgentAwareContext extends GtContext {
  private guarded = false;

  override async town(options: { light?: boolean } = {}): Promise<Town> {
    const town = await super.town(options);
    const agent = this.io.env.GT_AGENT;
    if (agent && !this.guarded) {
      this.guarded = true;
      town.ledger.guard({ write: agentWriteGuard(agent, () => isLeader(town, agent)), read: agentReadGuard(agent) });
    }
    return town;
  }
}

/** Runs gt with a command table: the full one, or the hot subset agent hooks call (see bin/gt.ts). */
export async function runGt(argv: string[], io: Io, COMMANDS: Entry[]): Promise<number> {
  const word = commandWord(argv, VALUE_FLAGS);
  if (word === 'bd') return (await import('../bd/main.js')).runBd(argv.slice(argv.indexOf('bd') + 1), io);
  if (word === 'version') {
    io.stdout(`${VERSION}\n`);
    return 0;
  }
  const ctx = new AgentAwareContext(io);
  return dispatch({
    tool: 'gt',
    argv,
    io,
    ctx,
    program: rootProgram(ctx, COMMANDS),
    table: COMMANDS,
    valueFlags: VALUE_FLAGS,
    chosenExit: (error) => (error instanceof ExitCode ? error.code : undefined),
    errorExit: (error) => (error instanceof GtError ? EXIT_CODES[error.kind] : EXIT_CODES.internal),
  });
}
