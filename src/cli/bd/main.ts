/**
 * `bd`: the Beads-compatible ledger CLI. Only the invoked command's module is
 * loaded (each is its own bundle chunk), which keeps hot commands such as
 * `bd ready` and `bd create` close to bare Node start-up time.
 * Exit codes follow Beads: 0 success (also a partial multi-ID success), 1 any
 * error, 2 bad usage.
 */
import { Command } from 'commander';
import { GtError } from '../../shared/errors.js';
import { VERSION } from '../../shared/version.js';
import { dispatch, type CommandEntry } from '../dispatch.js';
import type { Io } from '../output.js';
import { BdContext, ExitStatus } from './context.js';

/** The command table: one line per command file. */
const COMMANDS: Array<CommandEntry<BdContext>> = [
  { names: ['init'], summary: 'Create a ledger (.beads/) in this directory', load: () => import('./commands/init.js') },
  { names: ['create', 'new'], summary: 'Create an issue', load: () => import('./commands/create.js') },
  { names: ['q'], summary: 'Quick create: print only the new ID', load: () => import('./commands/create.js') },
  { names: ['show', 'view'], summary: 'Show issues in full', load: () => import('./commands/show.js') },
  { names: ['list'], summary: 'List issues (open by default)', load: () => import('./commands/list.js') },
  { names: ['update'], summary: 'Change fields, claim, label, reparent', load: () => import('./commands/update.js') },
  { names: ['close', 'done'], summary: 'Close issues (guarded by open blockers)', load: () => import('./commands/close.js') },
  { names: ['reopen'], summary: 'Reopen closed issues', load: () => import('./commands/close.js') },
  { names: ['ready'], summary: 'Issues ready to work on (no open blockers)', load: () => import('./commands/ready.js') },
  { names: ['blocked'], summary: 'Issues blocked by open dependencies', load: () => import('./commands/blocked.js') },
  { names: ['dep'], summary: 'Dependencies: add, remove, list, tree, cycles', load: () => import('./commands/dep.js') },
  { names: ['label'], summary: 'Labels: add, remove, list, list-all', load: () => import('./commands/label.js') },
  { names: ['comments', 'comment'], summary: 'Comments: list, add', load: () => import('./commands/comments.js') },
  { names: ['search'], summary: 'Search titles, descriptions and IDs', load: () => import('./commands/search.js') },
  { names: ['mol'], summary: 'Molecules: pour, wisp, show, progress, current, squash, burn', load: () => import('./commands/mol.js') },
  { names: ['cook'], summary: 'Resolve a formula and print its step graph', load: () => import('./commands/cook.js') },
  { names: ['stats', 'status'], summary: 'Counts by status, ready, blocked, lead time', load: () => import('./commands/stats.js') },
  { names: ['defer'], summary: 'Put issues on ice (optionally until a time)', load: () => import('./commands/defer.js') },
  { names: ['undefer'], summary: 'Bring deferred issues back', load: () => import('./commands/defer.js') },
  { names: ['delete'], summary: 'Delete issues (preview unless --force)', load: () => import('./commands/delete.js') },
  { names: ['export'], summary: 'Write Beads JSONL', load: () => import('./commands/export.js') },
  { names: ['import'], summary: 'Upsert issues from Beads JSONL', load: () => import('./commands/import.js') },
  { names: ['config'], summary: 'Ledger settings: get, set, unset, list', load: () => import('./commands/config.js') },
  { names: ['events', 'history'], summary: 'The audit trail (append-only events)', load: () => import('./commands/events.js') },
  { names: ['doctor'], summary: 'Check the ledger: integrity, schema, blocked state', load: () => import('./commands/doctor.js') },
  { names: ['completion'], summary: 'Shell completion script: bash, zsh, fish', load: () => import('./commands/completion.js') },
  { names: ['__complete'], summary: 'Values for shell completion', hidden: true, load: () => import('./commands/completion.js') },
];

const VALUE_FLAGS = new Set(['--actor', '--db', '-C', '--directory']);

export function rootProgram(ctx: BdContext): Command {
  const program = new Command('bd')
    .description('Beads-compatible issue ledger on embedded SQLite (part of gt)')
    .version(VERSION, '--version')
    .option('--json', 'machine-readable output')
    .option('--actor <name>', 'who is acting (default: BEADS_ACTOR, BD_ACTOR, git user.name, $USER)')
    .option('--db <path>', 'use this database file')
    .option('-C, --directory <dir>', 'run as if started in <dir>')
    .option('-q, --quiet', 'less output')
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.stdout(s), writeErr: (s) => ctx.io.stderr(s), outputError: () => undefined })
    .showSuggestionAfterError(true);
  program.addHelpText(
    'after',
    () => `
Commands:
${COMMANDS.filter((c) => !c.hidden)
  .map((c) => `  ${c.names.join(', ').padEnd(18)} ${c.summary}`)
  .join('\n')}

Examples:
  bd init --prefix app
  bd create "Fix login timeout" -p 1 -t bug
  bd ready --json
  bd update app-a3f --claim
  bd close app-a3f -r "fixed in 4c1d2e"

Run 'bd <command> --help' for a command's flags.
Exit codes: 0 ok (also when some of several IDs failed), 1 error, 2 bad usage.`,
  );
  return program;
}

export async function runBd(argv: string[], io: Io): Promise<number> {
  const ctx = new BdContext(io);
  return dispatch({
    tool: 'bd',
    argv,
    io,
    ctx,
    program: rootProgram(ctx),
    table: COMMANDS,
    valueFlags: VALUE_FLAGS,
    chosenExit: (error) => (error instanceof ExitStatus ? error.code : undefined),
    // Beads' codes: 2 for bad usage, 1 for every other error.
    errorExit: (error) => (error instanceof GtError && error.kind === 'usage' ? 2 : 1),
  });
}
