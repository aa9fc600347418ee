/**
 * Convoys (design §1; research/gastown.md §4.3): a named bundle of beads
 * tracked together until every one is closed — "landed". A convoy is a bead
 * of type convoy in the town ledger (`hq-cv-…`) with a `tracks` edge to each
 * bead. Landing is checked when a bead closes, and the check is idempotent:
 * a landed convoy is closed once, and its requester is told once.
 */
import { conflictError, errorMessage, notFoundError, usageError } from '../../shared/errors.js';
import { single } from '../beads/ledger.js';
import type { Issue } from '../beads/types.js';
import { parseIdentity } from '../agents/identity.js';
import { Mailbox } from '../comms/mail.js';
import type { Town } from '../town/town.js';

export const CONVOY_LABEL = 'gt:convoy';

export interface ConvoyView {
  id: string;
  name: string;
  status: 'open' | 'landed' | 'closed';
  owner: string;
  notify: string[];
  beads: Array<{ id: string; title: string; status: string; assignee?: string }>;
  closed: number;
  total: number;
  created_at: string;
  landed_at?: string;
}

async function convoyIssue(town: Town, idText: string): Promise<Issue> {
  const id = await town.ledger.resolveAs(idText, notFoundError(`no convoy ${JSON.stringify(idText)}`, 'see gt convoy list --all'));
  const issue = await town.ledger.find(id);
  if (!issue || issue.issue_type !== 'convoy') throw notFoundError(`${idText} is not a convoy`, 'see gt convoy list --all');
  return issue;
}

async function trackedIds(town: Town, convoy: string): Promise<string[]> {
  return (await town.ledger.listDependencies(convoy, 'down', 'tracks')).map((d) => d.depends_on_id);
}

export async function convoyView(town: Town, idText: string): Promise<ConvoyView> {
  const issue = await convoyIssue(town, idText);
  const ids = await trackedIds(town, issue.id);
  const beads = (ids.length ? await town.ledger.show(ids) : []).map((b) => ({
    id: b.id,
    title: b.title,
    status: b.status,
    ...(b.assignee ? { assignee: b.assignee } : {}),
  }));
  const m = issue.metadata ?? {};
  const landedAt = typeof m.landed_at === 'string' ? m.landed_at : undefined;
  return {
    id: issue.id,
    name: issue.title,
    status: issue.status !== 'closed' ? 'open' : landedAt ? 'landed' : 'closed',
    owner: typeof m.owner === 'string' ? m.owner : 'human',
    notify: Array.isArray(m.notify) ? m.notify.filter((n): n is string => typeof n === 'string') : [],
    beads,
    closed: beads.filter((b) => b.status === 'closed').length,
    total: beads.length,
    created_at: issue.created_at,
    ...(landedAt ? { landed_at: landedAt } : {}),
  };
}

async function checkBeads(town: Town, beads: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const text of beads) {
    const [bead] = await town.ledger.show([await town.ledger.resolveAs(text, notFoundError(`no bead ${text}`))]);
    if (!bead) throw notFoundError(`no bead ${text}`);
    if (bead.issue_type === 'convoy') throw usageError(`${bead.id} is a convoy; a convoy tracks work beads`);
    found.push(bead.id);
  }
  return found;
}

/** Creates a convoy tracking `beads` (checked first, like the notify addresses: nothing is created for an unknown bead or a bad address). */
export async function createConvoy(town: Town, name: string, beads: string[], options: { owner: string; notify?: string[] }): Promise<ConvoyView> {
  if (name.trim() === '') throw usageError('a convoy needs a name');
  const notify = [...new Set((options.notify ?? []).map((address) => parseIdentity(address).address))];
  const ids = await checkBeads(town, beads);
  const convoy = await town.ledger.create({
    title: name.trim(),
    type: 'convoy',
    prefix: 'hq',
    idInfix: 'cv',
    labels: [CONVOY_LABEL],
    metadata: { owner: options.owner, notify },
    deps: ids.map((id) => ({ type: 'tracks', id })),
  });
  return convoyView(town, convoy.id);
}

/** Adds beads to a convoy; a landed convoy is open again (it has work once more). */
export async function addToConvoy(town: Town, idText: string, beads: string[]): Promise<ConvoyView> {
  const issue = await convoyIssue(town, idText);
  const ids = await checkBeads(town, beads);
  for (const id of ids) await town.ledger.addDependency(issue.id, id, 'tracks');
  if (issue.status === 'closed' && ids.length > 0) {
    await town.ledger.reopen([issue.id], `work added: ${ids.join(', ')}`);
    await town.ledger.update([issue.id], { unsetMetadata: ['landed_at'] });
  }
  return convoyView(town, issue.id);
}

export async function listConvoys(town: Town, options: { all?: boolean } = {}): Promise<ConvoyView[]> {
  const issues = await town.ledger.list({
    types: ['convoy'],
    limit: 0,
    sort: 'created',
    includeEphemeral: true,
    ...(options.all ? {} : { excludeStatuses: ['closed'] }),
  });
  return Promise.all(issues.map((i) => convoyView(town, i.id)));
}

export async function closeConvoy(town: Town, idText: string, reason?: string): Promise<ConvoyView> {
  const issue = await convoyIssue(town, idText);
  if (issue.status === 'closed') throw conflictError(`convoy ${issue.id} is already closed`);
  await town.ledger.close([issue.id], { reason: reason ?? 'closed by hand' });
  return convoyView(town, issue.id);
}

/**
 * Lands every open convoy whose tracked beads are all closed (and that tracks
 * at least one): closes it, and mails its owner and `notify` list. With
 * `bead`, only the convoys tracking that bead are checked (a close event).
 * Idempotent: a second check finds nothing to do.
 */
export async function checkConvoys(town: Town, options: { bead?: string } = {}): Promise<ConvoyView[]> {
  let candidates: string[];
  if (options.bead) {
    candidates = (await town.ledger.listDependencies(options.bead, 'up', 'tracks')).map((d) => d.issue_id);
  } else {
    candidates = (await town.ledger.list({ types: ['convoy'], excludeStatuses: ['closed'], limit: 0, includeEphemeral: true })).map((c) => c.id);
  }
  const landed: ConvoyView[] = [];
  // One convoy that fails (say an address stored before create checked them) is a warning; the others still land.
  for (const id of candidates) {
    try {
      const view = await landConvoy(town, id);
      if (view) landed.push(view);
    } catch (error) {
      town.ports.progress(`warning: could not check convoy ${id}: ${errorMessage(error)}`);
    }
  }
  return landed;
}

async function landConvoy(town: Town, id: string): Promise<ConvoyView | undefined> {
  const view = await convoyView(town, id);
  if (view.status !== 'open' || view.total === 0 || view.closed < view.total) return undefined;
  const now = town.ports.now();
  try {
    // Compare-and-set: of two checks racing, one lands the convoy and tells its people.
    single(
      await town.ledger.update([id], {
        status: 'closed',
        closeReason: `landed: all ${view.total} beads closed`,
        setMetadata: { landed_at: now },
        expect: { statuses: ['open'] },
        townEvent: { kind: 'convoy.landed', bead: id, payload: { name: view.name, beads: view.beads.map((b) => b.id), total: view.total } },
      }),
    );
  } catch {
    return undefined;
  }
  const mail = new Mailbox(town.ledger, 'deacon');
  for (const to of new Set([view.owner, ...view.notify])) {
    try {
      await mail.send(
        to,
        `Convoy landed: ${view.name}`,
        `${view.id} "${view.name}": all ${view.total} beads are closed (${view.beads.map((b) => b.id).join(', ')}).`,
        { kind: 'protocol' },
      );
    } catch (error) {
      town.ports.progress(`warning: could not tell ${JSON.stringify(to)} that ${id} landed: ${errorMessage(error)}`);
    }
  }
  return convoyView(town, id);
}
