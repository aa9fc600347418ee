import { actingEnv } from '../app/town.js';
import { processIo, type Io } from '../cli/output.js';

/** The process's I/O, with the agent it works for even when its shell dropped GT_AGENT (see actingEnv). */
export function agentAwareIo(): Io {
  return processIo(actingEnv(process.env));
}
