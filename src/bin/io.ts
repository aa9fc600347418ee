import { actingEnv } from '../app/town.js';
import { processIo, reportError, type Io } from '../cli/output.js';
import { EXIT_CODES, GtError } from '../shared/errors.js';

/** Commands that only show the town (nothing in them answers, writes or starts): any process may run them. `gt feed` is not one: it approves. */
const VIEW_COMMANDS = new Set(['swarm', 'status', 'agents', 'events', 'hosts', 'metrics', 'version', '--version', '--help', 'help']);

/**
 * The process's I/O, with the agent it works for even when its shell dropped
 * GT_AGENT (see actingEnv). A process that may not act at all (an agent posing
 * as another) is told why and exits: gt with the error's code, bd with 1.
 */
export function agentAwareIo(tool: 'gt' | 'bd' = 'gt'): Io {
  const command = process.argv[2];
  try {
    return processIo(actingEnv(process.env, { viewOnly: tool === 'gt' && command !== undefined && VIEW_COMMANDS.has(command) }));
  } catch (error) {
    reportError(processIo(), error, process.argv.includes('--json'));
    process.exit(tool === 'bd' || !(error instanceof GtError) ? 1 : EXIT_CODES[error.kind]);
  }
}
