/**
 * The one way bd and gt run a command line: find the command in a table, load
 * only its module, let commander parse, and turn every outcome into an exit
 * code — help and version are 0, commander's complaints are usage errors,
 * GtErrors are reported (as JSON with --json) with the code the tool gives them.
 */
import { CommanderError, type Command } from 'commander';
import { GtError } from '../shared/errors.js';
import { reportError, type Io } from './output.js';

export interface CommandEntry<C> {
  names: string[];
  summary: string;
  hidden?: boolean;
  load: () => Promise<{ default: (program: Command, ctx: C) => void }>;
}

/** The command word: the first argument that is not a global flag or its value. */
export function commandWord(argv: string[], valueFlags: ReadonlySet<string>): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (valueFlags.has(arg)) {
      i++;
      continue;
    }
    if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

export interface Dispatch<C> {
  tool: 'bd' | 'gt';
  argv: string[];
  io: Io;
  /** `commands` is given the table: a command that describes the others (completion) reads it there. */
  ctx: C & { json: boolean; close: () => Promise<void>; commands?: Array<CommandEntry<C>> };
  program: Command;
  table: Array<CommandEntry<C>>;
  valueFlags: ReadonlySet<string>;
  /** A command's own chosen exit status (not an error), if `error` is one. */
  chosenExit: (error: unknown) => number | undefined;
  /** The exit code of a reported error. */
  errorExit: (error: unknown) => number;
}

export async function dispatch<C>(d: Dispatch<C>): Promise<number> {
  const { argv, io, ctx, program, table, tool } = d;
  const word = commandWord(argv, d.valueFlags);
  ctx.commands = table;
  try {
    const entry = word === undefined ? undefined : table.find((c) => c.names.includes(word));
    if (word !== undefined && word !== 'help' && entry === undefined) {
      const close = table
        .filter((c) => !c.hidden)
        .flatMap((c) => c.names)
        .filter((n) => n.startsWith(word.slice(0, 2)));
      throw new GtError('usage', `unknown command ${JSON.stringify(word)}`, {
        hint: close.length ? `did you mean ${close.join(' or ')}? See ${tool} --help` : `see ${tool} --help`,
      });
    }
    if (word === 'help') {
      const target = argv[argv.indexOf('help') + 1];
      const helpEntry = target === undefined ? undefined : table.find((c) => c.names.includes(target));
      if (helpEntry && target) {
        (await helpEntry.load()).default(program, ctx);
        await program.parseAsync([target, '--help'], { from: 'user' });
      } else program.outputHelp();
      return 0;
    }
    if (entry) (await entry.load()).default(program, ctx);
    if (argv.length === 0) {
      program.outputHelp();
      return 0;
    }
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    const chosen = d.chosenExit(error);
    if (chosen !== undefined) return chosen;
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0) return 0;
      reportError(io, new GtError('usage', error.message.replace(/^error: /, ''), { hint: `see ${tool} ${word ?? ''} --help`.replace('  ', ' ') }), ctx.json);
      return 2;
    }
    reportError(io, error, ctx.json || argv.includes('--json'));
    return d.errorExit(error);
  } finally {
    await ctx.close();
  }
}
