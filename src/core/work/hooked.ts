import type { Ledger } from '../beads/ledger.js';
import type { Issue } from '../beads/types.js';

export const HOOK_STATUSES = ['hooked', 'in_progress'];

/** The beads on an identity's hook: hooked (or started) and assigned to it. */
export async function hookedWork(ledger: Ledger, address: string): Promise<Issue[]> {
  return ledger.list({ assignee: address, statuses: HOOK_STATUSES, excludeTypes: ['message', 'agent'], includeEphemeral: true, limit: 0, sort: 'priority' });
}
