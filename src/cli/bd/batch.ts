import type { BatchResult } from '../../core/beads/ledger.js';
import { renderJson, reportError } from '../output.js';
import { ExitStatus, type BdContext } from './context.js';
import { jsonIssue } from './render.js';

/**
 * Prints the outcome of a multi-ID command: one object for one ID (Beads'
 * `close --json` shape), an array for several; a line per success in text.
 * Failures go to stderr. Beads' rule: exit 1 only when nothing succeeded.
 */
export function finishBatch<T extends object>(ctx: BdContext, ids: string[], result: BatchResult<T>, line: (item: T) => string): ExitStatus | undefined {
  if (ctx.json) {
    if (result.done.length > 0) ctx.io.stdout(renderJson(ids.length === 1 ? jsonIssue(result.done[0] as T) : result.done.map(jsonIssue)));
  } else for (const item of result.done) ctx.out(line(item));
  for (const failure of result.failed) reportError(ctx.io, failure.error, ctx.json);
  return result.done.length === 0 && result.failed.length > 0 ? new ExitStatus(1) : undefined;
}
