import type { BatchResult } from '../../core/beads/ledger.js';
import { reportError } from '../output.js';
import { ExitStatus, type BdContext } from './context.js';

/**
 * Reports per-ID failures on stderr. Beads' rule: exit 1 only when nothing
 * succeeded; a partial multi-ID success exits 0.
 */
export function finishBatch<T>(ctx: BdContext, result: BatchResult<T>): ExitStatus | undefined {
  for (const failure of result.failed) reportError(ctx.io, failure.error, ctx.json);
  return result.done.length === 0 && result.failed.length > 0 ? new ExitStatus(1) : undefined;
}
