/**
 * `gt`: the town CLI. This first version carries the ledger (`gt bd …` runs bd);
 * town, rigs, agents and the work loop arrive with their issues.
 */
import { runBd } from '../bd/main.js';
import type { Io } from '../output.js';
import { EXIT_CODES } from '../../shared/errors.js';
import { VERSION } from '../../shared/version.js';


const HELP = `gt — a workspace manager for many AI coding agents, with a Beads-compatible ledger built in

Usage: gt <command> [options]

Commands:
  bd <args…>     the ledger (same as the bd command)
  version        print the version

Examples:
  gt bd init --prefix hq
  gt bd ready --json

Exit codes: 0 ok, 1 error, 2 bad usage, 3 invalid value, 4 not found, 5 conflict, 6 external tool failed, 7 schema, 8 file system.
`;

export async function runGt(argv: string[], io: Io): Promise<number> {
  const [word, ...rest] = argv;
  if (word === undefined || word === '--help' || word === '-h' || word === 'help') {
    io.stdout(HELP);
    return 0;
  }
  if (word === '--version' || word === 'version') {
    io.stdout(`${VERSION}\n`);
    return 0;
  }
  if (word === 'bd') return runBd(rest, io);
  io.stderr(`Error: unknown command ${JSON.stringify(word)}\nHint: see gt --help\n`);
  return EXIT_CODES.usage;
}
