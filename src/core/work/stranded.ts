/**
 * The convoy feeder (research/gastown.md §4.3): the daemon keeps convoys
 * moving. A close event checks the convoys tracking that bead (other events
 * change nothing). A "stranded" convoy — ready beads, nobody working on any —
 * gets its next ready bead slung to its rig, one per convoy per scan; an
 * empty one is closed. A failed dispatch or a bead of an unknown rig is
 * reported and the scan goes on.
 */
import { parseDuration } from '../../shared/duration.js';
import { errorMessage } from '../../shared/errors.js';
import { checkConvoys, convoyView, type ConvoyView } from './convoys.js';
import type { Town } from '../town/town.js';
import { HOOK_STATUSES } from './hooked.js';
import { slingBeads, type RuntimeProbe } from './work.js';
import { QUEUE_LABEL } from '../scheduler/queue.js';

export interface StrandedAction {
  convoy: string;
  action: 'slung' | 'closed-empty' | 'skipped' | 'failed';
  bead?: string;
  agent?: string;
  detail: string;
}

/** The rig whose prefix a bead's ID carries, if any. */
export function rigOf(town: Town, beadId: string): string | undefined {
  const prefix = beadId.slice(0, beadId.indexOf('-'));
  return town.rigNames().find((name) => town.rig(name).prefix === prefix);
}

/** One scan: each open convoy past its grace period is fed or closed. */
export async function feedStrandedConvoys(town: Town, probe: RuntimeProbe): Promise<StrandedAction[]> {
  const grace = parseDuration(town.config.convoys.stranded_grace);
  const now = Date.parse(town.ports.now());
  const actions: StrandedAction[] = [];
  const convoys = await town.ledger.list({ types: ['convoy'], excludeStatuses: ['closed'], limit: 0, sort: 'created', includeEphemeral: true });
  for (const convoy of convoys) {
    if (now - Date.parse(convoy.created_at) < grace) continue;
    const action = await feedOne(town, await convoyView(town, convoy.id), probe).catch((error: unknown) => ({
      convoy: convoy.id,
      action: 'failed' as const,
      detail: errorMessage(error),
    }));
    if (action) actions.push(action);
  }
  return actions;
}

async function feedOne(town: Town, convoy: ConvoyView, probe: RuntimeProbe): Promise<StrandedAction | undefined> {
  if (convoy.total === 0) {
    await town.ledger.close([convoy.id], { reason: 'stranded: it tracks no beads' });
    return { convoy: convoy.id, action: 'closed-empty', detail: 'it tracks no beads' };
  }
  if (convoy.beads.some((b) => HOOK_STATUSES.includes(b.status))) return undefined;
  const open = convoy.beads.filter((b) => b.status !== 'closed').map((b) => b.id);
  if (open.length === 0) return undefined;
  // Work waiting in the dispatch queue is on its way: the convoy is not stranded.
  if ((await town.ledger.list({ ids: open, labelsAll: [QUEUE_LABEL], limit: 1 })).length > 0) return undefined;
  const [next] = await town.ledger.ready({ ids: open, limit: 1 });
  if (!next) return undefined;
  const rig = rigOf(town, next.id);
  if (!rig) return { convoy: convoy.id, action: 'skipped', bead: next.id, detail: `warning: no rig has the prefix of ${next.id}; it cannot be slung` };
  try {
    const [result] = await slingBeads(town, [next.id], rig, { convoy: false }, probe);
    return { convoy: convoy.id, action: 'slung', bead: next.id, ...(result ? { agent: result.agent } : {}), detail: `slung to ${rig}` };
  } catch (error) {
    return { convoy: convoy.id, action: 'failed', bead: next.id, detail: errorMessage(error) };
  }
}

/**
 * Reads ledger events after `cursor` and checks the convoys of every bead a
 * `closed` event names; returns the new cursor and what landed.
 */
export async function convoysOnEvents(town: Town, cursor: number): Promise<{ cursor: number; landed: ConvoyView[] }> {
  const landed: ConvoyView[] = [];
  for (;;) {
    const events = await town.ledger.events(cursor, 500);
    if (events.length === 0) return { cursor, landed };
    for (const event of events) {
      cursor = Math.max(cursor, event.id);
      if (event.event_type === 'closed') landed.push(...(await checkConvoys(town, { bead: event.issue_id })));
    }
  }
}

/** The newest event's position: where a feeder starting now begins. */
export async function latestEventId(town: Town): Promise<number> {
  let cursor = 0;
  for (;;) {
    const events = await town.ledger.events(cursor, 1000);
    const last = events[events.length - 1];
    if (!last) return cursor;
    cursor = last.id;
  }
}
