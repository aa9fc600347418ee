/**
 * Answers from the phone: a button pressed under a notification (Telegram's
 * inline keyboard) comes back as a ChannelAnswer. It is accepted only from the
 * channel's own chat; a permission request is then decided by the same
 * function as `gt permission approve|deny` (same rules, same audit trail:
 * `permission.decided` with who pressed it), an escalation acknowledged by its
 * own handler. Every press is an event: answered, or refused with where it came from.
 */
import { GtError, errorMessage } from '../../shared/errors.js';
import { alwaysAllow } from '../governance/always-allow.js';
import { answerPermission } from '../governance/permissions.js';
import type { Town } from '../town/town.js';
import type { ChannelAnswer, NotificationAction, NotifyChannelConfig, NotifyPort } from './types.js';

function parseButton(data: string): { verb: NotificationAction['verb']; bead: string } | undefined {
  const match = /^gt:(approve|deny|always|ack):([A-Za-z0-9._-]+)$/.exec(data);
  return match ? { verb: match[1] as NotificationAction['verb'], bead: match[2] as string } : undefined;
}

/** Acknowledges an escalation (supplied by comms/escalations where it exists). */
export type AckHandler = (town: Town, bead: string, by: string) => Promise<string>;

export interface AnswerResult {
  accepted: boolean;
  /** Shown to the presser (a toast on the phone). */
  text: string;
  /** The question is settled: its buttons can go. */
  done: boolean;
}

/** The chat a channel accepts answers from. */
function chatOf(channel: NotifyChannelConfig): string | undefined {
  return channel.type === 'telegram' ? String(channel.chat_id) : undefined;
}

export async function applyAnswer(town: Town, name: string, channel: NotifyChannelConfig, answer: ChannelAnswer, ack?: AckHandler): Promise<AnswerResult> {
  const { ledger } = town;
  const button = parseButton(answer.data);
  const where = { channel: name, chat: answer.chat, from: answer.from, data: answer.data };
  if (chatOf(channel) !== answer.chat || button === undefined) {
    const reason = button === undefined ? 'not a gt button' : `chat ${answer.chat} is not this channel's chat`;
    await ledger.emit({ kind: 'notification.refused', actor: `telegram:${answer.from}`, payload: { ...where, reason } });
    return { accepted: false, text: 'Not accepted: this chat does not answer for gt.', done: false };
  }
  const by = `telegram:${answer.from}`;
  let text: string;
  let done = true;
  try {
    if (button.verb === 'ack') {
      if (ack === undefined) throw new GtError('conflict', 'escalations cannot be acknowledged from here');
      text = await ack(town, button.bead, by);
    } else if (button.verb === 'always') {
      // A person's press: "always allow" adds the narrowest suggested rule to the rig's policy, audited like gt permission approve --always.
      const view = await alwaysAllow(town, button.bead, { by, via: 'person' }, 1, 'answered from Telegram');
      text = `${view.id} approved; added to ${view.rule_added?.file ?? 'the policy'}: ${view.rule_added?.rule ?? ''}`;
    } else {
      const view = await answerPermission(town, button.bead, button.verb === 'approve' ? 'allow' : 'deny', { by, via: 'person' }, 'answered from Telegram');
      text = `${view.id} ${view.status === 'allowed' ? 'approved' : 'denied'}`;
    }
  } catch (error) {
    // Already answered elsewhere (gt permission approve, a second press): say so, and take the buttons away.
    text = errorMessage(error);
    done = error instanceof GtError && error.kind === 'conflict';
    await ledger.emit({ kind: 'notification.answered', actor: by, bead: button.bead, payload: { ...where, verb: button.verb, applied: false, result: text } });
    return { accepted: true, text, done };
  }
  await ledger.emit({ kind: 'notification.answered', actor: by, bead: button.bead, payload: { ...where, verb: button.verb, applied: true, result: text } });
  return { accepted: true, text, done };
}

export interface PolledAnswer extends AnswerResult {
  channel: string;
  chat: string;
  from: string;
  data: string;
}

/**
 * One round of reading a channel's button presses (a long poll of up to
 * `waitSec`): each is applied, acknowledged to the presser, and the channel's
 * offset is saved only after, so a daemon killed mid-round applies nothing twice
 * (a second answer to a decided request is refused by answerPermission) and loses none.
 */
export async function pollAnswers(
  town: Town,
  port: NotifyPort,
  name: string,
  channel: NotifyChannelConfig,
  options: { waitSec: number; signal?: AbortSignal; ack?: AckHandler },
): Promise<PolledAnswer[]> {
  const cursor = `telegram:${name}`;
  const offset = Number((await town.ledger.notifyCursor(cursor)) ?? 0);
  const { answers, next } = await port.answers(name, channel, offset, options.waitSec, options.signal);
  const results: PolledAnswer[] = [];
  for (const answer of answers) {
    const result = await applyAnswer(town, name, channel, answer, options.ack);
    try {
      await port.acknowledge(name, channel, answer, result.text, result.done && result.accepted);
    } catch {
      // The toast is a courtesy: the answer is applied and recorded whether or not it shows.
    }
    results.push({ ...result, channel: name, chat: answer.chat, from: answer.from, data: answer.data });
  }
  if (next !== offset) await town.ledger.setNotifyCursor(cursor, String(next));
  return results;
}
