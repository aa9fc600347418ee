/**
 * What notifies without being routed by name: the town events a channel
 * subscribes to (`events = [...]` in `[notify.<name>]`, default
 * DEFAULT_NOTIFY_EVENTS) and the daily digest. The daemon calls these each
 * pass; the place it has read to is kept in the ledger, so a restart neither
 * repeats nor skips one, and dedupe keys make a repeat harmless anyway.
 */
import { wallMinute } from '../../shared/active-hours.js';
import { fromDate } from '../../shared/time.js';
import type { TownEvent } from '../events/town-events.js';
import type { Town } from '../town/town.js';
import { DEFAULT_NOTIFY_EVENTS, severityRank, type NotifyEventName } from './vocabulary.js';
import { costReport } from '../governance/costs.js';
import { enqueueNotification, notifyChannels, type NotificationInput } from './outbox.js';
import type { NotifyChannelConfig, Severity } from './types.js';

const EVENTS_CURSOR = 'events';
const DIGEST_CURSOR = 'digest';

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function severityOf(value: unknown, fallback: Severity): Severity {
  return value === 'info' || value === 'low' || value === 'medium' || value === 'high' || value === 'critical' ? value : fallback;
}

/** How an event reads as a notification; undefined for kinds nobody subscribes to. */
export function notificationOfEvent(event: TownEvent): Omit<NotificationInput, 'routes' | 'channel'> | undefined {
  const p = event.payload;
  const bead = event.bead;
  const subject = bead !== undefined ? { bead } : {};
  switch (event.kind) {
    case 'permission.asked':
      return {
        severity: 'high',
        kind: event.kind,
        title: `${event.agent ?? event.actor} asks to run ${text(p.tool) ?? 'a tool'}`,
        body: [text(p.summary), text(p.reason) ? `Rule: ${text(p.rule) ?? ''} (${text(p.reason) ?? ''})` : undefined, bead ? `Request ${bead}` : undefined]
          .filter((l) => l !== undefined)
          .join('\n'),
        ...subject,
        dedupeKey: `permission:${bead ?? event.id}`,
        actions: [
          { verb: 'approve', label: 'Approve' },
          { verb: 'deny', label: 'Deny' },
          { verb: 'always', label: 'Always allow' },
        ],
      };
    case 'escalation.raised': {
      const severity = severityOf(p.severity, 'medium');
      return {
        severity,
        kind: event.kind,
        title: `Escalation (${severity}): ${text(p.title) ?? text(p.message) ?? text(p.reason) ?? bead ?? ''}`,
        body: [text(p.message) ?? text(p.description), text(p.source) ? `Source: ${text(p.source) ?? ''}` : undefined, bead ? `Bead ${bead}` : undefined]
          .filter((l) => l !== undefined)
          .join('\n'),
        ...subject,
        dedupeKey: `event:${event.id}`,
        actions: bead !== undefined ? [{ verb: 'ack', label: 'Ack' }] : [],
      };
    }
    case 'budget.stopped':
      return {
        severity: 'high',
        kind: event.kind,
        title: `Budget reached: dispatch paused`,
        body: [text(p.reason) ?? text(p.budget), text(p.detail)].filter((l) => l !== undefined).join('\n'),
        ...subject,
        dedupeKey: `event:${event.id}`,
      };
    case 'convoy.landed':
      return {
        severity: 'info',
        kind: event.kind,
        title: `Convoy landed: ${text(p.name) ?? bead ?? ''}`,
        body: typeof p.total === 'number' ? `${p.total} bead(s) done` : typeof p.beads === 'number' ? `${p.beads} bead(s) done` : '',
        ...subject,
        dedupeKey: `convoy:${bead ?? event.id}`,
      };
    case 'mr.rejected':
      return {
        severity: 'medium',
        kind: event.kind,
        title: `Merge rejected${bead ? `: ${bead}` : ''}`,
        body: text(p.reason) ?? '',
        ...subject,
        dedupeKey: `event:${event.id}`,
      };
    case 'agent.stalled':
      return {
        severity: 'medium',
        kind: event.kind,
        title: `${event.agent ?? 'an agent'} stalled`,
        body: text(p.detail) ?? '',
        ...subject,
        dedupeKey: `event:${event.id}`,
      };
    case 'gate.escalated':
      return {
        severity: 'medium',
        kind: event.kind,
        title: `Gate escalated${bead ? `: ${bead}` : ''}`,
        body: text(p.detail) ?? text(p.reason) ?? '',
        ...subject,
        dedupeKey: `event:${event.id}`,
      };
    default:
      return undefined;
  }
}

function subscribes(channel: NotifyChannelConfig, name: NotifyEventName): boolean {
  return (channel.events ?? DEFAULT_NOTIFY_EVENTS).includes(name);
}

/** How far back a town's first notifier pass looks: what happened just before the daemon first started is still news. */
const FIRST_LOOK_BACK_MS = 10 * 60_000;

async function firstCursor(town: Town): Promise<number> {
  const since = fromDate(new Date(Date.now() - FIRST_LOOK_BACK_MS));
  const [first] = await town.ledger.townEvents(0, { since }, 1);
  return first !== undefined ? first.id - 1 : await town.ledger.lastTownEventId();
}

/**
 * Enqueues a notification for each new subscribed event on each channel that
 * wants it (at or above its min_severity). The first pass of a town looks back
 * ten minutes, no further: older history is not news. A permission request
 * answered before its notification was queued is not sent (its buttons would
 * only say "already answered"). Returns how many rows were queued.
 */
export async function notifyOnEvents(town: Town): Promise<number> {
  const { ledger } = town;
  const channels = notifyChannels(town.config);
  const stored = await ledger.notifyCursor(EVENTS_CURSOR);
  let cursor = stored === undefined ? await firstCursor(town) : Number(stored);
  if (stored === undefined) await ledger.setNotifyCursor(EVENTS_CURSOR, String(cursor));
  if (channels.size === 0) {
    const last = await ledger.lastTownEventId();
    if (last !== cursor) await ledger.setNotifyCursor(EVENTS_CURSOR, String(last));
    return 0;
  }
  let queued = 0;
  for (;;) {
    const events = await ledger.townEvents(cursor, {}, 500);
    if (events.length === 0) break;
    for (const event of events) {
      const notification = notificationOfEvent(event);
      if (notification === undefined) continue;
      if (event.kind === 'permission.asked' && event.bead !== undefined && (await ledger.find(event.bead))?.status === 'closed') continue;
      const wanted = [...channels]
        .filter(([, c]) => subscribes(c, event.kind as NotifyEventName) && severityRank(notification.severity) >= severityRank(c.min_severity))
        .map(([n]) => n);
      if (wanted.length === 0) continue;
      queued += (await enqueueNotification(town, { ...notification, routes: wanted })).filter((e) => !e.deduplicated).length;
    }
    cursor = events[events.length - 1]?.id ?? cursor;
    await ledger.setNotifyCursor(EVENTS_CURSOR, String(cursor));
  }
  return queued;
}

/** The digest's day (YYYY-MM-DD) in its zone: the key that makes it once a day. */
function dayIn(timezone: string, at: Date): string {
  const format = new Intl.DateTimeFormat('en-CA', {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    ...(timezone === 'local' ? {} : { timeZone: timezone }),
  });
  return format.format(at);
}

/**
 * The daily digest — merged in the last 24 hours, open work, today's cost — to
 * the channels subscribed to "digest", once a day at `[notify] digest.at`.
 * Returns the day it was queued for, or undefined when not yet due.
 */
export async function sendDigestIfDue(town: Town, now: Date = new Date()): Promise<string | undefined> {
  const digest = town.config.notify.digest;
  if (digest === undefined) return undefined;
  const wanted = [...notifyChannels(town.config)].filter(([, c]) => subscribes(c, 'digest')).map(([n]) => n);
  if (wanted.length === 0) return undefined;
  const [hours, minutes] = digest.at.split(':').map(Number) as [number, number];
  const at = hours * 60 + minutes;
  // Due from `at` until midnight: a daemon that was down at `at` still sends it later that day.
  if (wallMinute(digest.timezone, now) < at) return undefined;
  const day = dayIn(digest.timezone, now);
  if ((await town.ledger.notifyCursor(DIGEST_CURSOR)) === day) return undefined;
  const since = fromDate(new Date(now.getTime() - 24 * 3_600_000));
  const merged = await town.ledger.townEvents(0, { kinds: ['mr.merged'], since }, 10_000);
  const landed = await town.ledger.townEvents(0, { kinds: ['convoy.landed'], since }, 10_000);
  const open = await town.ledger.list({ statuses: ['open', 'in_progress', 'hooked', 'blocked'], limit: 0 });
  const work = open.filter((i) => ['task', 'bug', 'feature', 'epic', 'chore'].includes(i.issue_type));
  const cost = (await costReport(town, 'day', { since })).total;
  const lines = [
    `Merged: ${merged.length}`,
    ...merged.slice(0, 10).map((e) => `  • ${e.bead ?? ''} ${typeof e.payload.title === 'string' ? e.payload.title : ''}`.trimEnd()),
    `Convoys landed: ${landed.length}`,
    `Open work: ${work.length}`,
    `Cost (24 h): $${cost.usd.toFixed(2)}`,
  ];
  await enqueueNotification(town, {
    routes: wanted,
    severity: 'info',
    kind: 'digest',
    title: `Daily digest ${day}`,
    body: lines.join('\n'),
    dedupeKey: `digest:${day}`,
  });
  await town.ledger.setNotifyCursor(DIGEST_CURSOR, day);
  return day;
}
