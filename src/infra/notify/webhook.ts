/**
 * Webhooks: a POST of JSON in one of four shapes — gt's own (`plain`, every
 * field), Slack's and Discord's incoming webhooks, or ntfy (JSON publishing to
 * the server's root with the topic from the URL's path).
 */
import type { NotifyChannelConfig, OutgoingMessage } from '../../core/notify/types.js';
import { postJson, replyError } from './http.js';
import type { ChannelSecrets } from './secrets.js';

type WebhookConfig = Extract<NotifyChannelConfig, { type: 'webhook' }>;

const NTFY_PRIORITY: Record<OutgoingMessage['severity'], number> = { info: 2, low: 2, medium: 3, high: 4, critical: 5 };

/** The URL to post to and the JSON body, for a format. */
export function webhookRequest(format: WebhookConfig['format'], url: string, message: OutgoingMessage): { url: string; body: unknown } {
  const line = `[gt ${message.town}] ${message.title}`;
  const text = [line, message.body, message.bead ? `(${message.bead})` : ''].filter((x) => x !== '').join('\n');
  switch (format) {
    case 'slack':
      return { url, body: { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `*${line}*\n${message.body}` } }] } };
    case 'discord':
      // Discord's content holds 2000 characters; an embed's description 4096.
      return { url, body: { content: line.slice(0, 2000), embeds: [{ title: message.title.slice(0, 256), description: message.body.slice(0, 4096) }] } };
    case 'ntfy': {
      const parsed = new URL(url);
      const topic = parsed.pathname.replace(/^\/+|\/+$/g, '');
      return {
        url: `${parsed.origin}/`,
        body: { topic, title: line, message: message.body || message.title, priority: NTFY_PRIORITY[message.severity], tags: [message.severity, message.kind] },
      };
    }
    default:
      return {
        url,
        body: {
          town: message.town,
          id: message.id,
          severity: message.severity,
          kind: message.kind,
          title: message.title,
          body: message.body,
          ...(message.bead !== undefined ? { bead: message.bead } : {}),
          actions: message.actions.map((a) => a.verb),
        },
      };
  }
}

export async function sendWebhook(config: WebhookConfig, secrets: ChannelSecrets, message: OutgoingMessage): Promise<void> {
  try {
    const target = secrets.get(config, 'url') ?? '';
    const headers: Record<string, string> = { ...config.headers };
    for (const [header, variable] of Object.entries(config.headers_env)) headers[header] = secrets.fromEnv(variable, `headers_env.${header}`);
    const { url, body } = webhookRequest(config.format, target, message);
    const reply = await postJson(url, body, { headers });
    if (reply.status < 200 || reply.status >= 300) throw replyError(reply, 'the webhook');
  } catch (error) {
    throw secrets.error(error, 'webhook');
  }
}
