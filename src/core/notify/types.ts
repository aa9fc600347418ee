/**
 * The notification outbox's records and the port channels are sent through
 * (design §9 "Attention"). core decides what to send, to which channel, when;
 * infra/notify speaks Telegram, SMTP, notify-send/osascript and webhooks.
 */
import type { NotifyChannelConfig } from '../town/config.js';
import type { Severity } from './vocabulary.js';

export type { NotifyChannelConfig } from '../town/config.js';
export type { Severity } from './vocabulary.js';

/** A button under a message (Telegram): what pressing it does to the subject. */
export interface NotificationAction {
  /** `always`: approve and add the request's narrowest suggested rule to the policy (governance/always-allow.ts). */
  verb: 'approve' | 'deny' | 'always' | 'ack';
  label: string;
}

export type NotificationStatus = 'pending' | 'sent' | 'failed';

/** One message for one channel in the outbox. */
export interface NotificationRecord {
  id: number;
  channel: string;
  severity: Severity;
  /** What it is about: heartbeat.alert, escalation, permission.asked, convoy.landed, digest, message, test… */
  kind: string;
  title: string;
  body: string;
  /** The bead it is about (a permission request, an escalation, a convoy): what buttons act on. */
  bead?: string;
  dedupe_key?: string;
  actions: NotificationAction[];
  status: NotificationStatus;
  attempts: number;
  /** Not sent before this time (a retry's back-off, quiet hours, a rate limit). */
  next_at: string;
  last_error?: string;
  /** The channel's id of the delivered message (Telegram message_id, SMTP Message-ID). */
  receipt?: string;
  created_at: string;
  created_by: string;
  sent_at?: string;
}

export type NotificationInsert = Omit<NotificationRecord, 'id' | 'status' | 'attempts' | 'sent_at' | 'receipt' | 'last_error'>;

export type NotificationPatch = Partial<Pick<NotificationRecord, 'status' | 'attempts' | 'next_at' | 'last_error' | 'receipt' | 'sent_at'>>;

export interface NotificationFilter {
  channel?: string;
  statuses?: NotificationStatus[];
  /** Only those due at or before this time (pending ones the daemon sends now). */
  dueBy?: string;
  /** Only those sent at or after this time (a channel's rate window). */
  sentSince?: string;
  /** Newest first (a log) instead of oldest first (a queue). */
  newestFirst?: boolean;
  limit?: number;
}

/** The message as a channel renders it. */
export interface OutgoingMessage {
  id: number;
  town: string;
  severity: Severity;
  kind: string;
  title: string;
  body: string;
  bead?: string;
  actions: NotificationAction[];
}

/** A delivery that did not happen. `retryAfterMs`: the channel said when to try again (Telegram's 429). */
export class DeliveryError extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: { retryAfterMs?: number } = {}) {
    super(message);
    this.name = 'DeliveryError';
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A button press read back from a channel (Telegram's callback_query), before gt decides whether to accept it. */
export interface ChannelAnswer {
  /** The channel's id of the press (Telegram's callback_query id), to acknowledge it. */
  id: string;
  /** Where it came from: the chat it was pressed in, and who pressed it. */
  chat: string;
  from: string;
  /** The button's data as gt wrote it (`gt:approve:hq-abc`). */
  data: string;
  /** The message the button was under (to take its buttons away once answered). */
  message?: string;
}

/** What gt needs from the outside to notify: sending, and reading answers back. */
export interface NotifyPort {
  /** Delivers one message; resolves with the channel's receipt, or rejects with DeliveryError (its message holds no secret). */
  send(name: string, channel: NotifyChannelConfig, message: OutgoingMessage): Promise<{ receipt?: string }>;
  /**
   * Waits (long polling, up to `waitSec`) for button presses on a channel that has buttons;
   * `offset` is the position after the last one handled. Resolves with the presses and the next offset.
   */
  answers(
    name: string,
    channel: NotifyChannelConfig,
    offset: number,
    waitSec: number,
    signal?: AbortSignal,
  ): Promise<{ answers: ChannelAnswer[]; next: number }>;
  /** Tells the presser what happened (a toast) and, when `done`, takes the message's buttons away. */
  acknowledge(name: string, channel: NotifyChannelConfig, answer: ChannelAnswer, text: string, done: boolean): Promise<void>;
}
