/**
 * OpenClaw's heartbeat contract (research/peers.md §3), as pure functions:
 * when HEARTBEAT.md is effectively empty, what the agent is sent, and whether
 * its reply is an ack (dropped) or an alert (sent to the person).
 */

/** OpenClaw's default prompt, verbatim but for the file's place: the agent's home. */
export const DEFAULT_HEARTBEAT_PROMPT =
  'Read HEARTBEAT.md if it exists (workspace context). Follow it strictly. Do not infer or repeat old tasks from prior chats. If nothing needs attention, reply HEARTBEAT_OK.';

export const HEARTBEAT_OK = 'HEARTBEAT_OK';
export const HEARTBEAT_FILE = 'HEARTBEAT.md';
/** HEARTBEAT.md is prompt context on every tick: past this size it is cut (and the agent told so). */
export const MAX_HEARTBEAT_FILE_CHARS = 8000;

/**
 * Blank lines, Markdown headings and HTML comments only: nothing to do, so the
 * tick is skipped with no model call. (A missing file is not empty: the prompt
 * still runs, as in OpenClaw.)
 */
export function isEffectivelyEmpty(text: string): boolean {
  const withoutComments = text.replace(/<!--[\s\S]*?(?:-->|$)/g, '');
  return withoutComments.split('\n').every((line) => line.trim() === '' || /^\s{0,3}#{1,6}(?:\s|$)/.test(line));
}

export type ReplyVerdict = { kind: 'ok'; rest: string } | { kind: 'alert'; text: string };

/**
 * `HEARTBEAT_OK` at the start or the end of the reply, with at most
 * `ackMaxChars` of anything else, is an ack; in the middle it is not special.
 * Anything else is an alert. Markdown emphasis around the token (`**HEARTBEAT_OK**`)
 * still counts, as models like to bold it.
 */
export function classifyReply(reply: string, ackMaxChars: number): ReplyVerdict {
  const text = reply.trim();
  const token = /^[*_`\s]*HEARTBEAT_OK[*_`.!\s]*/;
  const tail = /[*_`\s]*HEARTBEAT_OK[*_`.!\s]*$/;
  const stripped = token.test(text) ? text.replace(token, '') : tail.test(text) ? text.replace(tail, '') : undefined;
  if (stripped !== undefined && stripped.trim().length <= ackMaxChars) return { kind: 'ok', rest: stripped.trim() };
  return { kind: 'alert', text };
}

export interface HeartbeatMessage {
  /** `hb-…`: marks the message, so its turn is found in the transcript. */
  id: string;
  prompt: string;
  /** The time as the agent should read it, with its zone. */
  time: string;
  /** Queued `gt heartbeat event` lines. */
  events: string[];
  /** HEARTBEAT.md's text; undefined when the file is missing. */
  checklist: string | undefined;
  /** Where the agent's daily memory log is, relative to its home. */
  logPath: string;
}

/** The marker that begins every heartbeat message (and so the transcript's user entry of its turn). */
export const marker = (id: string): string => `[gt heartbeat ${id}]`;

/**
 * The whole heartbeat message: the prompt, the time, queued system events and
 * HEARTBEAT.md itself (workspace context, so the model sees its tasks even
 * before it reads a file).
 */
export function renderHeartbeat(message: HeartbeatMessage): string {
  const lines = [`${marker(message.id)} ${message.prompt}`, '', `Current time: ${message.time}`];
  for (const event of message.events) lines.push(`System: ${event}`);
  if (message.checklist !== undefined) {
    const text = message.checklist.trim();
    const cut = text.length > MAX_HEARTBEAT_FILE_CHARS;
    lines.push(
      '',
      `<${HEARTBEAT_FILE}>`,
      cut ? `${text.slice(0, MAX_HEARTBEAT_FILE_CHARS)}\n… (cut: read the file for the rest)` : text,
      `</${HEARTBEAT_FILE}>`,
    );
  }
  lines.push(
    '',
    `Write what you found or did to today's memory log (${message.logPath}) with \`gt memory add "…"\`.`,
    `If nothing needs the person's attention, reply ${HEARTBEAT_OK}; otherwise reply only with the alert (without ${HEARTBEAT_OK}).`,
  );
  return lines.join('\n');
}

/** The one line typed into an interactive session; the rest arrives as context at its prompt hook. */
export function wakeLine(id: string): string {
  return `${marker(id)} Heartbeat: follow the heartbeat instructions attached to this message.`;
}
