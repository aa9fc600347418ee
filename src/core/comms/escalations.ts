/**
 * Escalations (issue 14 §3): a problem a person must look at, as a bead of
 * type `escalation` with validated metadata — severity, source, reason, the
 * subject bead — and a state read from its status (open, acked = in_progress,
 * closed). Every automatic escalation (ESCALATED done, a stall, a crash loop, a
 * permission or gate timeout, a budget stop, a merge rejected twice) and every
 * `gt escalate` goes through `raiseEscalation`, so there is one dedupe rule —
 * one open escalation per (subject, reason) — and one way out: `deliverRoute`,
 * which sends it along each route of its severity (town.toml
 * `[escalation.routes]`). The person's inbox (`human`) gets every escalation,
 * whatever the routes say: that is where it is acked.
 *
 * An escalation about stuck work blocks its subject bead (a `blocks` edge), so
 * `bd ready` stops offering it and `bd blocked` lists it with the escalation as
 * the reason; closing the escalation unblocks it, and the subject closing
 * (merged) closes the escalation and its mail.
 */
import { parseDuration } from '../../shared/duration.js';
import { conflictError, errorMessage, notFoundError, validationError } from '../../shared/errors.js';
import { lockFile } from '../../shared/paths.js';
import { single } from '../beads/ledger.js';
import type { Issue } from '../beads/types.js';
import { parseIdentity } from '../agents/identity.js';
import { DEFAULT_ROUTES, ROUTE_PATTERN, SEVERITIES, type Severity } from './routes.js';
import type { Town } from '../town/town.js';
import { Mailbox } from './mail.js';
import { wakeForMail } from './delivery.js';
import { dispatcherOf as beadDispatcher } from './leader.js';
import { enqueueNotification } from '../notify/outbox.js';

export { SEVERITIES, type Severity };
export const ESCALATION_LABEL = 'gt:escalation';
export type EscalationState = 'open' | 'acked' | 'closed';
export const ESCALATION_STATES: EscalationState[] = ['open', 'acked', 'closed'];

/** Who or what raised it: an agent or a person (`gt escalate`), or one of gt's own supervisors. */
export const SOURCES = ['agent', 'person', 'done', 'witness', 'supervisor', 'permission', 'gate', 'budget', 'refinery'] as const;
export type EscalationSource = (typeof SOURCES)[number];

const PRIORITY: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3 };

/** What happened to one route on one round: delivered (mailed, or queued in the notifications outbox), skipped (nobody to send to) or failed. */
export interface Delivery {
  route: string;
  round: number;
  at: string;
  result: 'delivered' | 'skipped' | 'failed';
  detail: string;
  to?: string;
  mail?: string;
}

/** The escalation's metadata: checked when written and when read (never parsed out of a description). */
type EscalationMetadata = {
  severity: Severity;
  source: EscalationSource;
  reason: string;
  dedupe: string;
  subject?: string;
  raised_by: string;
  agent?: string;
  rig?: string;
  blocks: boolean;
  reescalations: number;
  last_routed_at: string;
  deliveries: Delivery[];
  acked_by?: string;
  acked_at?: string;
  closed_by?: string;
};

const OPTIONAL_TEXT = ['subject', 'agent', 'rig', 'acked_by', 'acked_at', 'closed_by'] as const;

/** Validates escalation metadata; the problem names its key. (No schema library: the hot bundle raises escalations too.) */
function checkedMetadata(raw: Record<string, unknown>): EscalationMetadata | string {
  const text = (key: string) => typeof raw[key] === 'string' && raw[key] !== '';
  if (!(SEVERITIES as readonly unknown[]).includes(raw.severity)) return `severity: one of ${SEVERITIES.join(', ')}`;
  if (!(SOURCES as readonly unknown[]).includes(raw.source)) return `source: one of ${SOURCES.join(', ')}`;
  for (const key of ['reason', 'dedupe', 'raised_by', 'last_routed_at']) if (!text(key)) return `${key}: a non-empty string`;
  for (const key of OPTIONAL_TEXT) if (raw[key] !== undefined && raw[key] !== null && typeof raw[key] !== 'string') return `${key}: a string`;
  const count = raw.reescalations ?? 0;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) return 'reescalations: a whole number';
  const deliveries = raw.deliveries ?? [];
  if (!Array.isArray(deliveries) || deliveries.some((d) => d === null || typeof d !== 'object' || typeof (d as Delivery).route !== 'string'))
    return 'deliveries: a list of route outcomes';
  const out: EscalationMetadata = {
    severity: raw.severity as Severity,
    source: raw.source as EscalationSource,
    reason: raw.reason as string,
    dedupe: raw.dedupe as string,
    raised_by: raw.raised_by as string,
    blocks: raw.blocks === true,
    reescalations: count,
    last_routed_at: raw.last_routed_at as string,
    deliveries: deliveries as Delivery[],
  };
  for (const key of OPTIONAL_TEXT) if (typeof raw[key] === 'string') out[key] = raw[key];
  return out;
}

export interface Escalation extends EscalationMetadata {
  id: string;
  title: string;
  message: string;
  state: EscalationState;
  created_at: string;
  closed_at?: string;
  close_reason?: string;
}

export interface RaiseInput {
  message: string;
  severity: Severity;
  source: EscalationSource;
  /** A short stable word for what went wrong (`stalled`, `done`, `merge-rejected`): with the subject, the dedupe key. */
  reason: string;
  /** The bead it is about. */
  subject?: string;
  /** The address that raised it (an agent, `human`, `<rig>/witness`, `deacon`…). */
  raisedBy: string;
  /** The agent whose work it concerns (`gt agents` shows it as escalated). */
  agent?: string;
  rig?: string;
  /** The title and mail subject; default: the message's first line. */
  headline?: string;
  /** Whether the subject bead waits for the escalation (stuck work): default true when there is a subject. */
  blocks?: boolean;
  /** More for the `escalation.raised` event's payload (the witness's pass). */
  eventPayload?: Record<string, unknown>;
}

export interface RaiseResult {
  escalation: Escalation;
  /** An open escalation with the same subject and reason already existed: it is returned, nothing new is sent. */
  deduped: boolean;
}

export function escalationFrom(issue: Issue): Escalation {
  const metadata = checkedMetadata(issue.metadata ?? {});
  if (typeof metadata === 'string') throw validationError(`${issue.id} is not a valid escalation: metadata ${metadata}`);
  return {
    id: issue.id,
    title: issue.title,
    message: issue.description ?? '',
    state: issue.status === 'closed' ? 'closed' : issue.status === 'in_progress' ? 'acked' : 'open',
    created_at: issue.created_at,
    ...(issue.closed_at ? { closed_at: issue.closed_at } : {}),
    ...(issue.close_reason ? { close_reason: issue.close_reason } : {}),
    ...metadata,
  };
}

function dedupeKey(subject: string | undefined, reason: string): string {
  return `${subject ?? '-'}|${reason}`;
}

/**
 * Raises an escalation (or finds the open one for the same subject and
 * reason) and delivers it along its severity's routes. The one entry point
 * for every escalation gt makes.
 */
export async function raiseEscalation(town: Town, input: RaiseInput): Promise<RaiseResult> {
  const { ledger } = town;
  const message = input.message.trim();
  if (message === '') throw validationError('an escalation needs a message', 'say what is wrong: gt escalate "the API key is missing"');
  if (input.subject !== undefined) input = { ...input, subject: await ledger.resolveAs(input.subject, notFoundError(`no bead ${input.subject}`)) };
  const dedupe = dedupeKey(input.subject, input.reason);
  // Two processes raising the same problem at once (a hook and the daemon) must make one bead.
  const release = await town.ports.files.lock(town.path(lockFile('escalations')), { waitMs: 30_000 });
  let created: Escalation;
  try {
    const [existing] = await ledger.list({ types: ['escalation'], metadataFields: { dedupe }, excludeStatuses: ['closed'], includeEphemeral: true, limit: 1 });
    if (existing) return { escalation: escalationFrom(existing), deduped: true };
    const blocks = input.blocks ?? input.subject !== undefined;
    const metadata = checkedMetadata({
      severity: input.severity,
      source: input.source,
      reason: input.reason,
      dedupe,
      raised_by: input.raisedBy,
      blocks: blocks && input.subject !== undefined,
      last_routed_at: town.ports.now(),
      ...(input.subject ? { subject: input.subject } : {}),
      ...(input.agent ? { agent: input.agent } : {}),
      ...(input.rig ? { rig: input.rig } : {}),
    });
    if (typeof metadata === 'string') throw validationError(`not a valid escalation: ${metadata}`);
    const headline = (input.headline ?? message.split('\n')[0] ?? message).slice(0, 200);
    const issue = await ledger.create({
      title: headline,
      description: message,
      type: 'escalation',
      prefix: 'hq',
      priority: PRIORITY[input.severity],
      labels: [ESCALATION_LABEL],
      metadata,
      ...(metadata.blocks && input.subject ? { deps: [{ type: 'blocks', id: input.subject, reverse: true }] } : {}),
      townEvent: (id) => ({
        kind: 'escalation.raised',
        actor: input.raisedBy,
        bead: input.subject ?? id,
        ...(input.agent ? { agent: input.agent } : {}),
        ...(input.rig ? { rig: input.rig } : {}),
        payload: { ...input.eventPayload, escalation: id, severity: input.severity, source: input.source, reason: input.reason, message: headline },
      }),
    });
    created = escalationFrom(issue);
  } finally {
    release();
  }
  return { escalation: await deliverEscalation(town, created, 0), deduped: false };
}

/** The routes of a severity: town.toml's, else the defaults — the person's inbox first, always. */
export function routesFor(town: Town, severity: Severity): string[] {
  const configured = town.config.escalation.routes[severity] ?? DEFAULT_ROUTES[severity];
  return [...new Set(['mail:human', ...configured])];
}

/** Sends an escalation along every route of its current severity (round 0 = raised, n = re-escalated n times) and records each outcome. */
async function deliverEscalation(town: Town, escalation: Escalation, round: number): Promise<Escalation> {
  const deliveries: Delivery[] = [];
  const reached = new Set<string>();
  for (const route of routesFor(town, escalation.severity)) deliveries.push(await deliverRoute(town, escalation, route, round, reached));
  const all = [...escalation.deliveries, ...deliveries];
  await town.ledger.update([escalation.id], { setMetadata: { deliveries: all, last_routed_at: town.ports.now() }, volatile: true });
  return { ...escalation, deliveries: all, last_routed_at: town.ports.now() };
}

/** Whoever slung the subject bead, when that is someone who reads mail (the daemon does not). */
async function dispatcherOf(town: Town, escalation: Escalation): Promise<string | undefined> {
  if (!escalation.subject) return undefined;
  const subject = await town.ledger.find(escalation.subject);
  return subject ? beadDispatcher(subject, escalation.agent) : undefined;
}

/**
 * Delivers one escalation along one route: `mail:<address>` to an inbox,
 * `notify:<channel>` to the notifications outbox (a channel that is not
 * configured is recorded as failed, never dropped: the person's inbox has it).
 * `reached` holds the addresses mailed this round (one mail per recipient).
 */
export async function deliverRoute(town: Town, escalation: Escalation, route: string, round: number, reached: Set<string> = new Set()): Promise<Delivery> {
  const at = town.ports.now();
  const outcome = (result: Delivery['result'], detail: string, extra: Partial<Delivery> = {}): Delivery => ({ route, round, at, result, detail, ...extra });
  if (!ROUTE_PATTERN.test(route)) return outcome('failed', `not a route (expected mail:<address> or notify:<channel>)`);
  const [kind, target = ''] = [route.slice(0, route.indexOf(':')), route.slice(route.indexOf(':') + 1)];
  if (kind === 'notify') {
    // The notifications outbox delivers (retries, quiet hours for all but critical); its Ack button comes back to ackFromChannel.
    try {
      const queued = await enqueueNotification(town, {
        routes: [route],
        severity: escalation.severity,
        kind: 'escalation',
        title:
          round === 0 ? `Escalation (${escalation.severity}): ${escalation.title}` : `Re-escalated (${round}, ${escalation.severity}): ${escalation.title}`,
        body: mailBody(escalation, round),
        bead: escalation.id,
        dedupeKey: `escalation:${escalation.id}:${round}`,
        actions: [{ verb: 'ack', label: 'Ack' }],
      });
      // notify:default in a town with no channel: nowhere to send, and nothing wrong (the defaults name it).
      if (queued.length === 0) return outcome('skipped', 'no notification channel is configured ([notify.<name>] in town.toml)');
      return outcome('delivered', `queued for ${queued.map((q) => q.channel).join(', ')}`, { to: queued.map((q) => `notify:${q.channel}`).join(',') });
    } catch (error) {
      return outcome('failed', `${errorMessage(error)}; the human inbox has it`);
    }
  }
  const address = target === 'dispatcher' ? await dispatcherOf(town, escalation) : target;
  if (!address) return outcome('skipped', 'the subject bead has no dispatcher who reads mail');
  const identity = parseIdentity(address);
  if (identity.rig && !town.rigNames().includes(identity.rig)) return outcome('failed', `no rig ${identity.rig} in this town`);
  if (reached.has(identity.address)) return outcome('skipped', `${identity.address} already has it`, { to: identity.address });
  reached.add(identity.address);
  try {
    const subject = round === 0 ? escalation.title : `RE-ESCALATED (${round}) ${escalation.title}`;
    const sent = await new Mailbox(town.ledger, escalation.raised_by).send(identity.address, subject, mailBody(escalation, round), {
      kind: 'protocol',
      priority: PRIORITY[escalation.severity],
      escalation: escalation.id,
    });
    // An idle agent is woken so it reads it now; a person reads gt mail or gt status.
    if (identity.role !== 'human') await wakeForMail(town, identity, escalation.raised_by, subject).catch(() => 'inbox');
    return outcome('delivered', `mail ${sent.id} to ${identity.address}`, { to: identity.address, mail: sent.id });
  } catch (error) {
    return outcome('failed', errorMessage(error), { to: identity.address });
  }
}

function mailBody(escalation: Escalation, round: number): string {
  const about = [
    `Escalation ${escalation.id}: ${escalation.severity}, raised by ${escalation.raised_by} (${escalation.source}, ${escalation.reason})`,
    escalation.subject ? `about ${escalation.subject}` : '',
  ]
    .filter((s) => s !== '')
    .join(' ');
  const again = round > 0 ? `\nNobody acked it for ${round === 1 ? 'a while' : `${round} rounds`}: raised again as ${escalation.severity}.` : '';
  return `${escalation.message}\n\n${about}.${again}\nAck it: gt mail ack <this message> (or gt escalations ack ${escalation.id}). Resolved: gt escalations close ${escalation.id} -r "why".`;
}

export interface EscalationFilter {
  states?: EscalationState[];
  severities?: Severity[];
  subject?: string;
  agent?: string;
  limit?: number;
}

const STATUS_OF: Record<EscalationState, string> = { open: 'open', acked: 'in_progress', closed: 'closed' };

export async function listEscalations(town: Town, filter: EscalationFilter = {}): Promise<Escalation[]> {
  const states = filter.states ?? ['open', 'acked'];
  const issues = await town.ledger.list({
    types: ['escalation'],
    statuses: states.map((s) => STATUS_OF[s]),
    includeEphemeral: true,
    limit: 0,
    sort: 'priority',
    ...(filter.subject ? { metadataFields: { subject: filter.subject } } : {}),
  });
  const out: Escalation[] = [];
  for (const issue of issues) {
    let escalation: Escalation;
    try {
      escalation = escalationFrom(issue);
    } catch {
      continue; // a hand-made bead of this type without gt's metadata: bd show tells what it holds
    }
    if (filter.severities && !filter.severities.includes(escalation.severity)) continue;
    if (filter.agent && escalation.agent !== filter.agent) continue;
    out.push(escalation);
  }
  return filter.limit ? out.slice(0, filter.limit) : out;
}

export async function getEscalation(town: Town, idText: string): Promise<Escalation> {
  const missing = notFoundError(`no escalation ${JSON.stringify(idText)}`, 'see gt escalations list');
  const issue = await town.ledger.find(await town.ledger.resolveAs(idText, missing));
  if (!issue || issue.issue_type !== 'escalation') throw missing;
  return escalationFrom(issue);
}

/** A person has seen it and is on it: no re-escalation; the person's copy of its mail is handled. */
/**
 * Who may ack or close an escalation: a person (at a terminal, or through a
 * channel), gt's own roles (the daemon, a witness, a refinery), or a leader
 * (town.toml permissions.leaders) that neither raised it nor is its agent.
 * Never another agent: an escalation about an agent is the person's view of
 * it, and an agent closing it would free its own blocked bead and silence the
 * re-escalation.
 */
export function mayAnswerEscalation(town: Town, escalation: Pick<Escalation, 'raised_by' | 'agent'>, by: string): boolean {
  let role: string;
  try {
    role = parseIdentity(by).role;
  } catch {
    return true; // not an agent address: a person through a channel (telegram:alice)
  }
  if (role !== 'polecat' && role !== 'crew' && role !== 'mayor') return true;
  let leaders: readonly string[];
  try {
    leaders = town.config.permissions.leaders ?? [];
  } catch {
    leaders = [];
  }
  return leaders.includes(by) && by !== escalation.agent && by !== escalation.raised_by;
}

function requireAnswerer(town: Town, escalation: Escalation, by: string, what: string): void {
  if (!mayAnswerEscalation(town, escalation, by))
    throw conflictError(`${by} is an agent session and may not ${what} ${escalation.id}: that is a person's to do, or a leader's that is not involved in it`);
}

export async function ackEscalation(town: Town, idText: string, by: string): Promise<Escalation> {
  const escalation = await getEscalation(town, idText);
  requireAnswerer(town, escalation, by, 'ack');
  if (escalation.state === 'closed') throw conflictError(`${escalation.id} is closed already`);
  if (escalation.state === 'acked') return escalation;
  const now = town.ports.now();
  single(
    await town.ledger.update([escalation.id], {
      status: 'in_progress',
      setMetadata: { acked_by: by, acked_at: now },
      expect: { statuses: ['open'] },
      townEvent: eventOf('escalation.acked', escalation, by),
    }),
  );
  await ackMailOf(town, escalation.id, [by, 'human']);
  return { ...escalation, state: 'acked', acked_by: by, acked_at: now };
}

/**
 * Resolved: the escalation closes, its mail is handled everywhere, and its
 * subject — if the escalation had put it aside (`blocked`) — is open work again.
 */
export async function closeEscalation(town: Town, idText: string, by: string, reason?: string): Promise<Escalation> {
  const escalation = await getEscalation(town, idText);
  requireAnswerer(town, escalation, by, 'close');
  if (escalation.state === 'closed') return escalation;
  const why = reason?.trim() || `closed by ${by}`;
  single(
    await town.ledger.close([escalation.id], {
      reason: why,
      force: true,
      townEvent: () => eventOf('escalation.closed', escalation, by, { reason: why }),
    }),
  );
  await town.ledger.update([escalation.id], { setMetadata: { closed_by: by }, volatile: true });
  await ackMailOf(town, escalation.id);
  if (escalation.subject && escalation.blocks) {
    const subject = await town.ledger.find(escalation.subject);
    if (subject?.status === 'blocked' && !(await town.ledger.openBlockers(subject.id)).length) {
      await town.ledger.update([subject.id], {
        status: 'open',
        removeLabels: ['gt:escalated'],
        appendNotes: `Escalation ${escalation.id} closed by ${by}: ${why}`,
      });
    }
  }
  return { ...(await getEscalation(town, escalation.id)) };
}

function eventOf(
  kind: 'escalation.acked' | 'escalation.closed' | 'escalation.reescalated',
  escalation: Escalation,
  actor: string,
  payload: Record<string, unknown> = {},
) {
  return {
    kind,
    actor,
    bead: escalation.subject ?? escalation.id,
    ...(escalation.agent ? { agent: escalation.agent } : {}),
    ...(escalation.rig ? { rig: escalation.rig } : {}),
    payload: { escalation: escalation.id, severity: escalation.severity, reason: escalation.reason, ...payload },
  };
}

/** Closes (acks) the escalation's mail — every copy, or only those addressed to `to`. */
async function ackMailOf(town: Town, id: string, to?: string[]): Promise<void> {
  const mails = await town.ledger.list({
    types: ['message'],
    metadataFields: { escalation: id },
    excludeStatuses: ['closed'],
    includeEphemeral: true,
    limit: 0,
  });
  for (const mail of mails) {
    if (to && !to.includes(mail.assignee ?? '')) continue;
    await town.ledger.close([mail.id], { reason: `escalation ${id} handled`, force: true });
  }
}

/**
 * `gt mail ack` of an escalation's mail acks the escalation (or, with
 * `close`, resolves it): the inbox is where a person meets it.
 */
export async function ackEscalationMail(town: Town, mailIds: string[], by: string, options: { close?: boolean; reason?: string } = {}): Promise<string[]> {
  const handled: string[] = [];
  for (const id of mailIds) {
    const mail = await town.ledger.find(await town.ledger.resolve(id));
    const escalation = mail?.issue_type === 'message' ? mail.metadata?.escalation : undefined;
    if (typeof escalation !== 'string') continue;
    const current = await getEscalation(town, escalation);
    // An agent acks its own copy of the mail; the escalation stays the person's.
    if (!mayAnswerEscalation(town, current, by)) continue;
    if (options.close) await closeEscalation(town, current.id, by, options.reason);
    else if (current.state === 'open') await ackEscalation(town, current.id, by);
    handled.push(current.id);
  }
  return [...new Set(handled)];
}

const NEXT: Record<Severity, Severity> = { low: 'medium', medium: 'high', high: 'critical', critical: 'critical' };

export interface Reescalation {
  escalation: string;
  from: Severity;
  to: Severity;
  round: number;
}

/**
 * The daemon's pass: an escalation nobody acked within `escalation.stale_after`
 * is raised one severity (critical stays critical) and sent along that
 * severity's routes again — at most `max_reescalations` times.
 */
export async function reescalateStale(town: Town): Promise<Reescalation[]> {
  const { stale_after, max_reescalations } = town.config.escalation;
  const staleMs = parseDuration(stale_after);
  const now = Date.parse(town.ports.now());
  const done: Reescalation[] = [];
  for (const escalation of await listEscalations(town, { states: ['open'] })) {
    if (escalation.reescalations >= max_reescalations) continue;
    if (now - Date.parse(escalation.last_routed_at) < staleMs) continue;
    const round = escalation.reescalations + 1;
    const to = NEXT[escalation.severity];
    single(
      await town.ledger.update([escalation.id], {
        priority: PRIORITY[to],
        setMetadata: { severity: to, reescalations: round, last_routed_at: town.ports.now() },
        expect: { statuses: ['open'] },
        townEvent: eventOf('escalation.reescalated', { ...escalation, severity: to }, 'deacon', { from: escalation.severity, round }),
      }),
    );
    await deliverEscalation(town, { ...escalation, severity: to, reescalations: round }, round);
    done.push({ escalation: escalation.id, from: escalation.severity, to, round });
  }
  return done;
}

/**
 * The daemon's pass (and the refinery's, after a merge): an escalation whose
 * subject bead closed (merged, or closed by a person) is closed, and its mail
 * with it — nobody must be told about work that is done.
 */
export async function settleEscalations(town: Town, subject?: string): Promise<string[]> {
  const closed: string[] = [];
  for (const escalation of await listEscalations(town, subject ? { subject } : {})) {
    if (!escalation.subject) continue;
    const bead = await town.ledger.find(escalation.subject);
    if (bead && bead.status !== 'closed') continue;
    await closeEscalation(town, escalation.id, 'deacon', bead ? `${bead.id} closed: ${bead.close_reason ?? 'done'}` : `${escalation.subject} was deleted`);
    closed.push(escalation.id);
  }
  return closed;
}

/** Open escalations by the agent they concern, for `gt agents`. */
export async function escalationsByAgent(town: Town): Promise<Map<string, Escalation[]>> {
  const byAgent = new Map<string, Escalation[]>();
  for (const escalation of await listEscalations(town)) {
    if (!escalation.agent) continue;
    byAgent.set(escalation.agent, [...(byAgent.get(escalation.agent) ?? []), escalation]);
  }
  return byAgent;
}

/**
 * The Ack button under a notification (notify/answers.ts): the button names
 * the escalation, or — from the escalation.raised event subscription — its
 * subject bead, whose open escalations are then acked.
 */
export async function ackFromChannel(town: Town, bead: string, by: string): Promise<string> {
  const issue = await town.ledger.find(bead);
  const targets = issue?.issue_type === 'escalation' ? [issue.id] : (await listEscalations(town, { states: ['open'], subject: bead })).map((e) => e.id);
  if (targets.length === 0) throw conflictError(`no open escalation about ${bead}`);
  for (const id of targets) await ackEscalation(town, id, by);
  return `acked ${targets.join(', ')}`;
}
