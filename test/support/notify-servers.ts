/**
 * Loopback stand-ins for what cannot run here (design §8): a Telegram Bot API
 * server (sendMessage, getUpdates long polling, answerCallbackQuery,
 * editMessageReplyMarkup) and a webhook receiver. Real HTTP on 127.0.0.1, each
 * closed after the test; either can be taken down and brought back on the same
 * port to play an outage.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { onCleanup } from './env.js';

export interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => resolve(text));
  });
}

/** A loopback HTTP server whose handler a test sets; it can go down and come back on the same port. */
class Loopback {
  readonly received: Received[] = [];
  private server: Server | undefined;
  port = 0;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly handle: (r: Received, res: ServerResponse) => void | Promise<void>) {
    onCleanup(() => this.down());
  }

  async up(): Promise<this> {
    const server = createServer((req, res) => {
      void (async () => {
        const text = await readBody(req);
        let body: Record<string, unknown> = {};
        try {
          body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        } catch {
          body = { raw: text };
        }
        const r = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
        this.received.push(r);
        await this.handle(r, res);
      })();
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Stops listening and drops open connections: the channel is down (connection refused). */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export interface SentMessage {
  message_id: number;
  chat_id: unknown;
  text: string;
  parse_mode?: string;
  reply_markup?: { inline_keyboard: Array<Array<{ text: string; callback_data: string }>> };
}

export interface CallbackPress {
  chatId: number;
  fromId: number;
  username: string;
  data: string;
  messageId: number;
}

/** The Bot API as gt uses it, for one bot token. */
export class TelegramStandIn {
  private readonly http: Loopback;
  private nextMessageId = 100;
  private readonly sent: SentMessage[] = [];
  private nextUpdateId = 1;
  private readonly updates: Array<{ update_id: number; callback_query: Record<string, unknown> }> = [];
  private waiters: Array<() => void> = [];
  /** Answer the next n sendMessage calls with 429 and this retry_after. */
  tooManyRequests: { count: number; retryAfter: number } = { count: 0, retryAfter: 0 };

  constructor(readonly token: string) {
    this.http = new Loopback((r, res) => this.handle(r, res));
  }

  static async start(token: string): Promise<TelegramStandIn> {
    const bot = new TelegramStandIn(token);
    await bot.http.up();
    return bot;
  }

  get url(): string {
    return this.http.url;
  }

  get received(): Received[] {
    return this.http.received;
  }

  /** Calls of one method (sendMessage, getUpdates, answerCallbackQuery…). */
  calls(method: string): Array<Record<string, unknown>> {
    return this.http.received.filter((r) => r.path.endsWith(`/${method}`)).map((r) => r.body);
  }

  /** The messages it accepted (a 429 or a too-long text is no message), with the message_id it gave each. */
  messages(): SentMessage[] {
    return this.sent;
  }

  /** A person presses a button (a callback_query update for getUpdates). */
  press(press: CallbackPress): void {
    this.updates.push({
      update_id: this.nextUpdateId++,
      callback_query: {
        id: `cb${this.nextUpdateId}`,
        from: { id: press.fromId, is_bot: false, first_name: press.username, username: press.username },
        message: { message_id: press.messageId, chat: { id: press.chatId, type: 'private' }, date: 0, text: '' },
        chat_instance: '1',
        data: press.data,
      },
    });
    for (const wake of this.waiters.splice(0)) wake();
  }

  down(): Promise<void> {
    return this.http.down();
  }

  async up(): Promise<void> {
    await this.http.up();
  }

  private async handle(r: Received, res: ServerResponse): Promise<void> {
    const match = /^\/bot([^/]+)\/(\w+)$/.exec(r.path);
    if (!match || match[1] !== this.token) return json(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    const method = match[2];
    switch (method) {
      case 'sendMessage': {
        if (this.tooManyRequests.count > 0) {
          this.tooManyRequests.count--;
          const after = this.tooManyRequests.retryAfter;
          return json(res, 429, { ok: false, error_code: 429, description: `Too Many Requests: retry after ${after}`, parameters: { retry_after: after } });
        }
        const text = typeof r.body.text === 'string' ? r.body.text : '';
        if (text.length > 4096) return json(res, 400, { ok: false, error_code: 400, description: 'Bad Request: message is too long' });
        const sent = { ...(r.body as Omit<SentMessage, 'message_id'>), message_id: this.nextMessageId++ };
        this.sent.push(sent);
        return json(res, 200, { ok: true, result: { message_id: sent.message_id, chat: { id: r.body.chat_id }, date: 0, text } });
      }
      case 'getUpdates': {
        const offset = Number(r.body.offset ?? 0);
        const pending = () => this.updates.filter((u) => u.update_id >= offset);
        if (pending().length === 0) {
          // Long polling: hold the request until an update arrives or the timeout passes.
          const timeout = Math.min(Number(r.body.timeout ?? 0), 30) * 1000;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, timeout);
            this.waiters.push(() => {
              clearTimeout(timer);
              resolve();
            });
          });
        }
        return json(res, 200, { ok: true, result: pending() });
      }
      case 'answerCallbackQuery':
      case 'editMessageReplyMarkup':
        return json(res, 200, { ok: true, result: true });
      default:
        return json(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    }
  }
}

/** A webhook receiver: answers `status` (200 by default) and records every POST. */
export class WebhookSink {
  status = 200;
  private readonly http: Loopback;

  constructor() {
    this.http = new Loopback((_r, res) => json(res, this.status, this.status < 300 ? { ok: true } : { error: 'unavailable' }));
  }

  static async start(): Promise<WebhookSink> {
    const sink = new WebhookSink();
    await sink.http.up();
    return sink;
  }

  get url(): string {
    return this.http.url;
  }

  get received(): Received[] {
    return this.http.received;
  }

  down(): Promise<void> {
    return this.http.down();
  }

  async up(): Promise<void> {
    await this.http.up();
  }
}
