/**
 * Telegram through the Bot API (https://core.telegram.org/bots/api):
 * sendMessage with HTML formatting (every text escaped), split at Telegram's
 * 4096-character limit, inline buttons for answers; getUpdates long polling
 * and answerCallbackQuery for the presses. `api_base` points elsewhere for a
 * local Bot API server (and the tests' stand-in). A 429 says how long to wait
 * (`parameters.retry_after`); gt waits that long.
 */
import { DeliveryError, type ChannelAnswer, type NotifyChannelConfig, type OutgoingMessage } from '../../core/notify/types.js';
import { buttonData } from '../../core/notify/vocabulary.js';
import { postJson } from './http.js';
import type { ChannelSecrets } from './secrets.js';

type TelegramConfig = Extract<NotifyChannelConfig, { type: 'telegram' }>;

/** Telegram's limit on one message's text, in characters after entity parsing; gt counts the HTML it sends, which is never less. */
export const TELEGRAM_LIMIT = 4096;

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const SEVERITY_MARK: Record<OutgoingMessage['severity'], string> = { info: 'ℹ️', low: '🔹', medium: '🔸', high: '⚠️', critical: '🚨' };

/**
 * The message as HTML parts of at most TELEGRAM_LIMIT characters: the title in
 * bold on the first, the body split at line ends where it can be (never inside
 * an escaped entity), the town and subject in italics at the end.
 */
export function telegramParts(message: OutgoingMessage): string[] {
  const head = `${SEVERITY_MARK[message.severity]} <b>${escapeHtml(message.title)}</b>`;
  const foot = `<i>${escapeHtml([message.town, message.severity, message.bead].filter((x) => x !== undefined && x !== '').join(' · '))}</i>`;
  const body = escapeHtml(message.body);
  const whole = [head, body, foot].filter((x) => x !== '').join('\n\n');
  if (whole.length <= TELEGRAM_LIMIT) return [whole];
  const parts: string[] = [];
  let rest = body;
  let first = `${head}\n\n`;
  while (rest.length > 0) {
    const room = TELEGRAM_LIMIT - first.length;
    let cut = rest.length <= room ? rest.length : rest.lastIndexOf('\n', room);
    if (cut <= room / 2) cut = room;
    // Never inside an entity (&amp; &lt; &gt;).
    const amp = rest.lastIndexOf('&', cut - 1);
    if (amp >= 0 && amp > cut - 5 && rest.indexOf(';', amp) >= cut) cut = amp;
    parts.push(`${first}${rest.slice(0, cut)}`.trimEnd());
    rest = rest.slice(cut).replace(/^\n/, '');
    first = '';
  }
  const last = parts[parts.length - 1] ?? '';
  if (last.length + foot.length + 2 <= TELEGRAM_LIMIT) parts[parts.length - 1] = `${last}\n\n${foot}`;
  else parts.push(foot);
  return parts;
}

interface BotReply<T> {
  ok: boolean;
  result?: T;
  error_code?: number;
  description?: string;
  parameters?: { retry_after?: number };
}

export class TelegramBot {
  constructor(
    private readonly config: TelegramConfig,
    private readonly secrets: ChannelSecrets,
  ) {}

  private async call<T>(method: string, body: Record<string, unknown>, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<T> {
    const token = this.secrets.get(this.config, 'token') ?? '';
    const url = `${this.config.api_base.replace(/\/+$/, '')}/bot${token}/${method}`;
    let reply;
    try {
      reply = await postJson(url, body, options);
    } catch (error) {
      throw this.secrets.error(error, `telegram ${method}`);
    }
    let parsed: BotReply<T>;
    try {
      parsed = JSON.parse(reply.text) as BotReply<T>;
    } catch {
      throw this.secrets.error(new Error(`HTTP ${reply.status}, not a Bot API reply`), `telegram ${method}`);
    }
    if (parsed.ok && parsed.result !== undefined) return parsed.result;
    const retryAfter = parsed.parameters?.retry_after;
    const error = new DeliveryError(`HTTP ${reply.status} ${parsed.error_code ?? ''} ${parsed.description ?? ''}`.replace(/\s+/g, ' ').trim(), {
      ...(reply.status === 429 || parsed.error_code === 429 ? { retryAfterMs: (retryAfter ?? 30) * 1000 } : {}),
    });
    throw this.secrets.error(error, `telegram ${method}`);
  }

  /** Sends every part; the buttons go under the last. Resolves with the last part's message_id. */
  async send(message: OutgoingMessage): Promise<string> {
    const parts = telegramParts(message);
    const buttons =
      this.config.buttons && message.bead !== undefined && message.actions.length > 0
        ? { inline_keyboard: [message.actions.map((a) => ({ text: a.label, callback_data: buttonData(a.verb, message.bead as string) }))] }
        : undefined;
    let id = '';
    for (const [i, text] of parts.entries()) {
      const sent = await this.call<{ message_id: number }>('sendMessage', {
        chat_id: this.config.chat_id,
        text,
        parse_mode: 'HTML',
        link_preview_options: { is_disabled: true },
        ...(i === parts.length - 1 && buttons ? { reply_markup: buttons } : {}),
      });
      id = String(sent.message_id);
    }
    return id;
  }

  async updates(offset: number, waitSec: number, signal?: AbortSignal): Promise<{ answers: ChannelAnswer[]; next: number }> {
    const updates = await this.call<Array<{ update_id: number; callback_query?: CallbackQuery }>>(
      'getUpdates',
      { offset, timeout: waitSec, allowed_updates: ['callback_query'] },
      { timeoutMs: (waitSec + 15) * 1000, ...(signal ? { signal } : {}) },
    );
    let next = offset;
    const answers: ChannelAnswer[] = [];
    for (const update of updates) {
      next = Math.max(next, update.update_id + 1);
      const query = update.callback_query;
      if (query === undefined) continue;
      answers.push({
        id: query.id,
        chat: String(query.message?.chat.id ?? ''),
        from: query.from.username ?? String(query.from.id),
        data: query.data ?? '',
        ...(query.message ? { message: String(query.message.message_id) } : {}),
      });
    }
    return { answers, next };
  }

  async acknowledge(answer: ChannelAnswer, text: string, done: boolean): Promise<void> {
    await this.call('answerCallbackQuery', { callback_query_id: answer.id, text: text.slice(0, 200) });
    if (done && answer.message !== undefined) {
      await this.call('editMessageReplyMarkup', { chat_id: answer.chat, message_id: Number(answer.message), reply_markup: { inline_keyboard: [] } });
      await this.call('sendMessage', {
        chat_id: answer.chat,
        text: escapeHtml(text),
        parse_mode: 'HTML',
        reply_parameters: { message_id: Number(answer.message) },
      });
    }
  }
}

interface CallbackQuery {
  id: string;
  from: { id: number; username?: string };
  message?: { message_id: number; chat: { id: number | string } };
  data?: string;
}
