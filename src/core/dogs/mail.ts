/**
 * Stale mail. gt's own messages about a bead — `ESCALATED <bead>`, `STALLED
 * <agent>: <bead>`, `CRASH LOOP <agent>: <bead>`, `MERGE_FAILED <bead>`, `GATE
 * FAILED|TIMEOUT <gate>`, `Work on your hook: <bead>` — say nothing any more
 * once that bead is closed: they are acked (closed) with the reason, so an
 * inbox shows only what still needs someone. A person's own mail is never
 * touched, nor news whose bead was closed when it was sent (PERMISSION
 * TIMEOUT: the request was denied, and the person should still read that).
 */
import type { IssueWithCounts } from '../beads/types.js';
import { MAIL_LABEL } from '../comms/mail.js';
import type { Dog, DogAction, DogContext } from './types.js';

/** Subjects gt writes, each with the bead it is about in group 1. */
const SUBJECTS = [
  /^ESCALATED (\S+?):/,
  /^(?:STALLED|CRASH LOOP) \S+: (\S+)$/,
  /^MERGE_FAILED (\S+?):/,
  /^GATE (?:FAILED|TIMEOUT) (\S+?):/,
  /^Work on your hook: (\S+)/,
];

/** The bead a message of gt's is about: `metadata.bead` when the sender recorded it, else its subject. */
export function subjectBead(message: Pick<IssueWithCounts, 'title' | 'metadata'>, kind: string): string | undefined {
  const recorded = message.metadata?.bead;
  if (typeof recorded === 'string') return recorded;
  if (kind !== 'protocol' && kind !== 'nudge') return undefined;
  for (const pattern of SUBJECTS) {
    const found = pattern.exec(message.title)?.[1];
    if (found) return found;
  }
  return undefined;
}

async function run(ctx: DogContext): Promise<DogAction[]> {
  const { ledger } = ctx.town;
  const open = await ledger.list({
    types: ['message'],
    labelsAll: [MAIL_LABEL],
    excludeStatuses: ['closed'],
    includeEphemeral: true,
    limit: 0,
    sort: 'created',
  });
  const actions: DogAction[] = [];
  const statuses = new Map<string, string | undefined>();
  for (const message of open) {
    const kind = typeof message.metadata?.kind === 'string' ? message.metadata.kind : 'message';
    const bead = subjectBead(message, kind);
    if (!bead) continue;
    if (!statuses.has(bead)) statuses.set(bead, (await ledger.find(bead))?.status);
    const status = statuses.get(bead);
    if (status !== 'closed') continue;
    const reason = `auto-acked: ${bead} is closed`;
    actions.push({ action: 'acked', target: message.id, detail: `to ${message.assignee ?? '?'}: "${message.title}" (${bead} is closed)` });
    if (!ctx.dryRun) await ledger.close([message.id], { reason, force: true });
  }
  return actions;
}

export const mailDog: Dog = {
  name: 'mail',
  description: 'Stale mail: gt’s ESCALATED, STALLED, CRASH LOOP, MERGE_FAILED, GATE and work-on-hook messages are acked once their bead is closed',
  run,
};
