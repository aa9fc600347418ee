import type { Command } from 'commander';
import { notifyPort } from '../../../app/index.js';
import { drainOutbox, enqueueNotification, notificationLog, notifyChannels, type Delivery } from '../../../core/notify/outbox.js';
import { SEVERITIES, type Severity } from '../../../core/notify/vocabulary.js';
import type { NotifyChannelConfig } from '../../../core/notify/types.js';
import type { Town } from '../../../core/town/town.js';
import { GtError, notFoundError, usageError } from '../../../shared/errors.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

/** Where a channel sends, as a person may see it: never a token, password or webhook URL. */
function target(channel: NotifyChannelConfig): string {
  switch (channel.type) {
    case 'telegram':
      return `chat ${channel.chat_id} via ${new URL(channel.api_base).host}`;
    case 'email':
      return `to ${[channel.to].flat().join(', ')}`;
    case 'desktop':
      return process.platform === 'darwin' ? 'osascript' : 'notify-send';
    case 'webhook':
      return `${channel.format} webhook (${channel.url_env ? `$${channel.url_env}` : new URL(channel.url ?? 'http://x').host})`;
  }
}

interface DeliveryView {
  id: number | undefined;
  channel: string;
  status: 'sent' | 'queued' | 'failed' | 'deduplicated';
  detail?: string;
}

function view(channel: string, id: number | undefined, delivery: Delivery | undefined): DeliveryView {
  if (id === undefined) return { id, channel, status: 'deduplicated' };
  if (delivery === undefined) return { id, channel, status: 'queued' };
  if (delivery.outcome === 'sent') return { id, channel, status: 'sent' };
  if (delivery.outcome === 'failed') return { id, channel, status: 'failed', ...(delivery.error ? { detail: delivery.error } : {}) };
  const why = delivery.outcome === 'held' ? 'quiet hours' : delivery.outcome === 'rate-limited' ? 'rate limit' : (delivery.error ?? 'in progress');
  return { id, channel, status: 'queued', detail: `${why}${delivery.next_at ? `; next try ${delivery.next_at.slice(0, 19)}Z` : ''}` };
}

function channelOf(town: Town, name: string): NotifyChannelConfig {
  const channel = notifyChannels(town.config).get(name);
  if (channel === undefined) {
    const names = [...notifyChannels(town.config).keys()];
    throw notFoundError(
      `no notification channel ${JSON.stringify(name)}`,
      names.length ? `configured: ${names.join(', ')}` : 'add one: [notify.<name>] in town.toml',
    );
  }
  return channel;
}

export default function register(program: Command, ctx: GtContext): void {
  const notify = program
    .command('notify')
    .description('Notifications to Telegram, email, desktop and webhooks: channels, test, send, log')
    .addHelpText(
      'after',
      `
Channels are [notify.<name>] tables in town.toml with a type (telegram, email, desktop, webhook).
Messages go through a durable outbox the daemon drains: retried with back-off while a channel is
down, deduplicated, rate-limited, and held in [notify] quiet_hours unless critical.

Examples:
  gt notify channels
  gt notify test phone
  gt notify send "Deploy window opens at 18:00"
  gt notify send --channel phone --severity critical "Production is down"
  gt notify log --status pending --json`,
    );

  notify
    .command('channels')
    .description('The configured channels: type, where they send, what they subscribe to')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async () => {
        const town = await ctx.town();
        const rows = [...notifyChannels(town.config)].map(([name, c]) => ({
          name,
          type: c.type,
          target: target(c),
          default: c.default,
          events: c.events ?? null,
          min_severity: c.min_severity,
        }));
        ctx.emit(rows, () =>
          rows.length === 0
            ? 'No notification channels. Add one to town.toml, e.g.\n  [notify.phone]\n  type = "telegram"\n  token_env = "TELEGRAM_BOT_TOKEN"\n  chat_id = "123456789"'
            : table([
                ['NAME', 'TYPE', 'TARGET', 'EVENTS', 'MIN'],
                ...rows.map((r) => [
                  `${r.name}${r.default ? ' (default)' : ''}`,
                  r.type,
                  r.target,
                  r.events ? r.events.join(',') : '(default)',
                  r.min_severity,
                ]),
              ]),
        );
      }),
    );

  notify
    .command('test <name>')
    .description('Send a test message to one channel now (even in quiet hours) and say whether it arrived')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (name: unknown) => {
        const town = await ctx.town();
        const channel = channelOf(town, name as string);
        const [queued] = await enqueueNotification(town, {
          channel: name as string,
          severity: 'info',
          kind: 'test',
          title: 'gt test notification',
          body: `If you can read this, channel ${name as string} (${channel.type}) of town ${town.config.name} works.`,
        });
        const id = queued?.id as number;
        const [delivery] = await drainOutbox(town, notifyPort(ctx.io.env), { only: [id], ignoreQuietHours: true });
        if (delivery?.outcome !== 'sent') {
          // A test is not retried: it answers the person now.
          const error = delivery?.error ?? delivery?.outcome ?? 'not sent';
          await town.ledger.updateNotification(id, { status: 'failed', last_error: error });
          throw new GtError('external', `${name as string}: ${error}`, { hint: 'check the channel in town.toml and the variables its *_env keys name' });
        }
        const result = { id, channel: name as string, type: channel.type, status: 'sent' as const };
        ctx.emit(result, () => `sent a test message to ${name as string} (${channel.type}, ${target(channel)})`);
      }),
    );

  notify
    .command('send <text...>')
    .description('Send a message to the default channels (or one): the first line is its title')
    .option('--channel <name>', 'only this channel (default: the channels marked default = true, else all)')
    .option('--severity <level>', `${SEVERITIES.join(' | ')}; quiet hours hold all but critical`, 'info')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (words: unknown, opts: unknown) => {
        const options = opts as { channel?: string; severity: string };
        if (!(SEVERITIES as readonly string[]).includes(options.severity))
          throw usageError(`unknown severity ${JSON.stringify(options.severity)}`, `use one of ${SEVERITIES.join(', ')}`);
        const text = (words as string[]).join(' ').trim();
        if (text === '') throw usageError('nothing to send', 'gt notify send "text"');
        const town = await ctx.town();
        if (options.channel !== undefined) channelOf(town, options.channel);
        const [title = text, ...rest] = text.split('\n');
        const queued = await enqueueNotification(town, {
          ...(options.channel !== undefined ? { channel: options.channel } : { routes: ['default'] }),
          severity: options.severity as Severity,
          kind: 'message',
          title,
          body: rest.join('\n').trim(),
        });
        if (queued.length === 0) throw notFoundError('no notification channels to send to', 'add one: [notify.<name>] in town.toml');
        const ids = queued.flatMap((q) => (q.id === undefined ? [] : [q.id]));
        const deliveries = await drainOutbox(town, notifyPort(ctx.io.env), { only: ids });
        const rows = queued.map((q) =>
          view(
            q.channel,
            q.id,
            deliveries.find((d) => d.id === q.id),
          ),
        );
        if (rows.some((r) => r.status === 'queued')) ctx.io.stderr('Queued messages are sent by the daemon (gt up) when they are due.\n');
        ctx.emit(rows, () => rows.map((r) => `${r.channel}: ${r.status}${r.detail ? ` (${r.detail})` : ''}`).join('\n'));
      }),
    );

  notify
    .command('log')
    .description('The outbox, newest first: what was sent, what waits, what failed and why')
    .option('--channel <name>', 'only this channel')
    .option('--status <status>', 'only pending, sent or failed')
    .option('--limit <n>', 'at most n messages', '50')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (opts: unknown) => {
        const options = opts as { channel?: string; status?: string; limit: string };
        if (options.status !== undefined && !['pending', 'sent', 'failed'].includes(options.status))
          throw usageError(`unknown status ${JSON.stringify(options.status)}`, 'use pending, sent or failed');
        const limit = Number(options.limit);
        if (!Number.isInteger(limit) || limit < 1) throw usageError(`--limit ${options.limit} is not a positive number`);
        const town = await ctx.town();
        const rows = await notificationLog(town, {
          limit,
          ...(options.channel !== undefined ? { channel: options.channel } : {}),
          ...(options.status !== undefined ? { status: options.status as 'pending' | 'sent' | 'failed' } : {}),
        });
        ctx.emit(rows, () =>
          rows.length === 0
            ? 'No notifications yet.'
            : table([
                ['ID', 'CREATED', 'CHANNEL', 'SEVERITY', 'KIND', 'STATUS', 'TRIES', 'TITLE', 'NOTE'],
                ...rows.map((r) => [
                  String(r.id),
                  `${r.created_at.slice(0, 19)}Z`,
                  r.channel,
                  r.severity,
                  r.kind,
                  r.status,
                  String(r.attempts),
                  r.title.length > 48 ? `${r.title.slice(0, 47)}…` : r.title,
                  r.status === 'pending' ? `next ${r.next_at.slice(0, 19)}Z${r.last_error ? `: ${r.last_error}` : ''}` : (r.last_error ?? ''),
                ]),
              ]),
        );
      }),
    );
}
