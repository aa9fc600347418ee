/**
 * The notification outbox (design §9 "Attention"). Whoever decides to tell the
 * person — an escalation route, a heartbeat alert, a subscribed town event,
 * `gt notify send` — calls `enqueueNotification`: one row per channel in the
 * ledger, deduplicated per channel by key. The daemon drains it each pass:
 * quiet hours hold all but `critical`, each channel is rate-limited, a failed
 * delivery is retried with exponential back-off (or when the channel says, as
 * Telegram's 429 does) and nothing is dropped while a channel is down. A row is
 * leased before it is sent, so two senders (the daemon and `gt notify send`)
 * never send it twice; a sender killed between sending and recording leaves it
 * to be sent again (at least once, never lost).
 */
import { nextWindowEnd, parseActiveHours } from '../../shared/active-hours.js';
import { parseDuration } from '../../shared/duration.js';
import { errorMessage, validationError } from '../../shared/errors.js';
import { redactSecrets } from '../../shared/secrets.js';
import { fromDate } from '../../shared/time.js';
import type { TownConfig } from '../town/config.js';
import type { Town } from '../town/town.js';
import { NOTIFY_SETTINGS } from './vocabulary.js';
import type { NotificationAction, NotificationRecord, NotifyChannelConfig, NotifyPort, OutgoingMessage, Severity } from './types.js';
import { DeliveryError } from './types.js';

/** What a caller asks to be told. */
export interface NotificationInput {
  /** Channel names, `notify:<name>` as escalation routes write them, or `default`; or one `channel`. */
  routes?: string[];
  channel?: string;
  severity: Severity;
  kind: string;
  title: string;
  body?: string;
  bead?: string;
  /** The same key on the same channel is sent once, however often it is enqueued. */
  dedupeKey?: string;
  actions?: NotificationAction[];
}

export interface Enqueued {
  channel: string;
  /** The outbox row, or undefined when the channel already had this dedupe key. */
  id: number | undefined;
  deduplicated: boolean;
}

/** The channels `[notify.<name>]` of a config, by name, in file order. */
export function notifyChannels(config: TownConfig): Map<string, NotifyChannelConfig> {
  const channels = new Map<string, NotifyChannelConfig>();
  for (const [name, value] of Object.entries(config.notify as Record<string, unknown>)) {
    if (!(NOTIFY_SETTINGS as readonly string[]).includes(name)) channels.set(name, value as NotifyChannelConfig);
  }
  return channels;
}

/**
 * The channel names routes stand for. `default` is the channels marked
 * `default = true`, or every channel when none is (a town with no channel has
 * nowhere to send: nothing, no error). A named channel must exist.
 */
export function resolveRoutes(config: TownConfig, routes: string[]): string[] {
  const channels = notifyChannels(config);
  const out = new Set<string>();
  for (const route of routes) {
    const name = route.startsWith('notify:') ? route.slice('notify:'.length) : route;
    if (channels.has(name)) out.add(name);
    else if (name === 'default') {
      const marked = [...channels].filter(([, c]) => c.default).map(([n]) => n);
      for (const n of marked.length > 0 ? marked : [...channels.keys()]) out.add(n);
    } else {
      throw validationError(
        `no notification channel ${JSON.stringify(name)}`,
        channels.size === 0 ? 'add one to town.toml, e.g. [notify.phone] type = "telegram"' : `configured: ${[...channels.keys()].join(', ')}`,
      );
    }
  }
  return [...out];
}

/** Puts a message in the outbox for each channel its routes name; returns what happened per channel. */
export async function enqueueNotification(town: Town, input: NotificationInput): Promise<Enqueued[]> {
  const channels = resolveRoutes(town.config, input.channel !== undefined ? [input.channel] : (input.routes ?? ['default']));
  if (channels.length === 0) return [];
  const now = town.ports.now();
  // Due from this millisecond: the ledger clock's sub-millisecond digits would put it after a drain in the same one.
  const due = fromDate(new Date(Date.parse(now)));
  const rows = channels.map((channel) => ({
    channel,
    severity: input.severity,
    kind: input.kind,
    // What a person is shown, and what the ledger keeps, holds no secret a caller let slip in.
    title: redactSecrets(input.title).slice(0, 500),
    body: redactSecrets(input.body ?? ''),
    ...(input.bead !== undefined ? { bead: input.bead } : {}),
    ...(input.dedupeKey !== undefined ? { dedupe_key: input.dedupeKey } : {}),
    actions: input.actions ?? [],
    next_at: due,
    created_at: now,
    created_by: town.ledger.actor,
  }));
  const ids = await town.ledger.enqueueNotifications(rows);
  return channels.map((channel, i) => ({ channel, id: ids[i], deduplicated: ids[i] === undefined }));
}

export type DeliveryOutcome = 'sent' | 'retry' | 'failed' | 'held' | 'rate-limited' | 'busy';

export interface Delivery {
  id: number;
  channel: string;
  outcome: DeliveryOutcome;
  /** When it goes next (retry, held, rate-limited). */
  next_at?: string;
  error?: string;
}

/** How long a sender holds a row it is sending: longer than any channel's time-out. */
const LEASE_MS = 120_000;

export interface DrainOptions {
  /** Only these rows (gt notify send/test delivering what it just queued). */
  only?: number[];
  /** Send even in quiet hours (gt notify test: the person asked for it now). */
  ignoreQuietHours?: boolean;
  now?: Date;
}

/** Sends what is due. One pass: each row at most once; a channel that fails is not tried again in the same pass. */
export async function drainOutbox(town: Town, port: NotifyPort, options: DrainOptions = {}): Promise<Delivery[]> {
  const { ledger } = town;
  const now = options.now ?? new Date();
  const nowText = fromDate(now);
  const config = town.config;
  const channels = notifyChannels(config);
  const settings = config.notify;
  const quiet = settings.quiet_hours && !options.ignoreQuietHours ? parseActiveHours(settings.quiet_hours, 'notify.quiet_hours') : undefined;
  const due = (await ledger.notifications({ statuses: ['pending'], dueBy: nowText, limit: 500 })).filter(
    (n) => options.only === undefined || options.only.includes(n.id),
  );
  const deliveries: Delivery[] = [];
  const down = new Set<string>();
  const sentInWindow = new Map<string, string[]>();
  for (const row of due) {
    const channel = channels.get(row.channel);
    if (channel === undefined) {
      const error = `channel ${row.channel} is no longer configured in town.toml`;
      await ledger.updateNotification(row.id, { status: 'failed', last_error: error }, failedEvent(row, error, { final: true }));
      deliveries.push({ id: row.id, channel: row.channel, outcome: 'failed', error });
      continue;
    }
    if (quiet && row.severity !== 'critical') {
      const until = fromDate(nextWindowEnd(quiet, now));
      if (until > nowText) {
        await ledger.updateNotification(row.id, { next_at: until });
        deliveries.push({ id: row.id, channel: row.channel, outcome: 'held', next_at: until });
        continue;
      }
    }
    if (down.has(row.channel)) continue;
    // Rate limit: at most `count` sent per `per` on this channel; the next one waits for the oldest to leave the window.
    const per = parseDuration(channel.rate_limit.per);
    let sent = sentInWindow.get(row.channel);
    if (sent === undefined) {
      const since = fromDate(new Date(now.getTime() - per));
      sent = (await ledger.notifications({ channel: row.channel, statuses: ['sent'], sentSince: since })).map((n) => n.sent_at ?? nowText).sort();
      sentInWindow.set(row.channel, sent);
    }
    if (sent.length >= channel.rate_limit.count) {
      const oldest = sent[sent.length - channel.rate_limit.count] ?? nowText;
      const until = fromDate(new Date(Date.parse(oldest) + per));
      await ledger.updateNotification(row.id, { next_at: until });
      deliveries.push({ id: row.id, channel: row.channel, outcome: 'rate-limited', next_at: until });
      continue;
    }
    if (!(await ledger.claimNotification(row.id, nowText, fromDate(new Date(now.getTime() + LEASE_MS))))) {
      deliveries.push({ id: row.id, channel: row.channel, outcome: 'busy' });
      continue;
    }
    const delivery = await deliver(town, port, row, channel, now);
    if (delivery.outcome === 'sent') sent.push(nowText);
    else down.add(row.channel);
    deliveries.push(delivery);
  }
  return deliveries;
}

function messageOf(town: Town, row: NotificationRecord): OutgoingMessage {
  return {
    id: row.id,
    town: town.config.name,
    severity: row.severity,
    kind: row.kind,
    title: row.title,
    body: row.body,
    ...(row.bead !== undefined ? { bead: row.bead } : {}),
    actions: row.actions,
  };
}

function failedEvent(row: NotificationRecord, error: string, detail: { final: boolean; retry_at?: string }) {
  return {
    kind: 'notification.failed' as const,
    ...(row.bead !== undefined ? { bead: row.bead } : {}),
    payload: { id: row.id, channel: row.channel, notification: row.kind, severity: row.severity, attempts: row.attempts + 1, error, ...detail },
  };
}

async function deliver(town: Town, port: NotifyPort, row: NotificationRecord, channel: NotifyChannelConfig, now: Date): Promise<Delivery> {
  const { ledger } = town;
  const retry = town.config.notify.retry;
  const attempts = row.attempts + 1;
  try {
    const { receipt } = await port.send(row.channel, channel, messageOf(town, row));
    const sentAt = fromDate(new Date());
    await ledger.updateNotification(
      row.id,
      { status: 'sent', attempts, sent_at: sentAt, ...(receipt !== undefined ? { receipt } : {}), last_error: undefined },
      {
        kind: 'notification.sent',
        ...(row.bead !== undefined ? { bead: row.bead } : {}),
        payload: { id: row.id, channel: row.channel, type: channel.type, notification: row.kind, severity: row.severity, attempts },
      },
    );
    return { id: row.id, channel: row.channel, outcome: 'sent' };
  } catch (caught) {
    // A channel's error names no secret (infra scrubs its own); known token shapes go too, whatever their source.
    const error = redactSecrets(errorMessage(caught)).slice(0, 500);
    const retryAfter = caught instanceof DeliveryError ? caught.retryAfterMs : undefined;
    const backoff = Math.min(parseDuration(retry.first) * 2 ** (attempts - 1), parseDuration(retry.max));
    const next = new Date(now.getTime() + (retryAfter ?? backoff));
    const final = retryAfter === undefined && now.getTime() - Date.parse(row.created_at) >= parseDuration(retry.give_up_after);
    const nextAt = fromDate(next);
    await ledger.updateNotification(
      row.id,
      final ? { status: 'failed', attempts, last_error: error } : { attempts, next_at: nextAt, last_error: error },
      failedEvent(row, error, final ? { final: true } : { final: false, retry_at: nextAt }),
    );
    return final
      ? { id: row.id, channel: row.channel, outcome: 'failed', error }
      : { id: row.id, channel: row.channel, outcome: 'retry', next_at: nextAt, error };
  }
}

/** The outbox, newest first: `gt notify log`. */
export async function notificationLog(
  town: Town,
  options: { channel?: string; status?: NotificationRecord['status']; limit?: number } = {},
): Promise<NotificationRecord[]> {
  return town.ledger.notifications({
    newestFirst: true,
    limit: options.limit ?? 50,
    ...(options.channel !== undefined ? { channel: options.channel } : {}),
    ...(options.status !== undefined ? { statuses: [options.status] } : {}),
  });
}
