/**
 * The words of notifications, free of the config schemas: the hot and session-host
 * bundles replace config.ts with a stand-in, and code there (an escalation raised
 * by a permission time-out) may still enqueue a notification.
 */

/** How much a notification matters; quiet hours hold all but `critical`. Escalations use the same words. */
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * What a channel gets besides what is routed to it by name (heartbeat.notify, escalation routes,
 * gt notify send): town events it subscribes to, and the daily digest (notify/subscriptions.ts).
 */
export const NOTIFY_EVENTS = [
  'permission.asked',
  'escalation.raised',
  'budget.stopped',
  'convoy.landed',
  'mr.rejected',
  'agent.stalled',
  'gate.escalated',
  'digest',
] as const;
export type NotifyEventName = (typeof NOTIFY_EVENTS)[number];

/** A channel with no `events` key gets these: what needs a person's answer or marks the end of work. */
export const DEFAULT_NOTIFY_EVENTS: readonly NotifyEventName[] = ['permission.asked', 'budget.stopped', 'convoy.landed'];

/** The keys of [notify] that are settings; every other key is a channel `[notify.<name>]`. */
export const NOTIFY_SETTINGS = ['quiet_hours', 'retry', 'digest'] as const;

export const severityRank = (severity: Severity): number => SEVERITIES.indexOf(severity);

/** What a button under a message carries: `gt:<verb>:<bead>` (Telegram allows 64 bytes); notify/answers.ts reads it back. */
export function buttonData(verb: 'approve' | 'deny' | 'always' | 'ack', bead: string): string {
  return `gt:${verb}:${bead}`;
}

/** Channel keys that hold a secret by value (a webhook's URL is one: Slack's and Discord's carry their key). */
const SECRET_VALUE_KEYS = ['token', 'password', 'smtp_url', 'url'];

/** True for a dotted config key that holds a channel's secret by value (`notify.phone.token`). */
export function isChannelSecretKey(key: string): boolean {
  const parts = key.split('.');
  return parts.length === 3 && parts[0] === 'notify' && SECRET_VALUE_KEYS.includes(parts[2] as string);
}

/**
 * A config (parsed or raw town.toml) with the secrets of its channels shown as
 * `[redacted]`: what `gt config show|get` print. The `*_env` names stay, they are no secret.
 */
export function withoutChannelSecrets<T>(config: T): T {
  const notify = (config as { notify?: unknown }).notify;
  if (notify === null || typeof notify !== 'object') return config;
  const copy = structuredClone(config) as T & { notify: Record<string, unknown> };
  for (const [name, channel] of Object.entries(copy.notify)) {
    if ((NOTIFY_SETTINGS as readonly string[]).includes(name) || channel === null || typeof channel !== 'object') continue;
    const entries = channel as Record<string, unknown>;
    for (const key of SECRET_VALUE_KEYS) if (typeof entries[key] === 'string') entries[key] = '[redacted]';
  }
  return copy;
}
