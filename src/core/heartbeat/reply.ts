/**
 * The reply of one turn, read from what the runtime itself writes — its
 * stream (headless) or its transcript (interactive) — never from the screen.
 */

type Json = Record<string, unknown>;

function parseLines(text: string): Json[] {
  const out: Json[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const value: unknown = JSON.parse(line);
      if (value !== null && typeof value === 'object') out.push(value as Json);
    } catch {
      // a line still being written, or not JSON (a host's own log line)
    }
  }
  return out;
}

export type TurnReply = { text: string; error?: undefined } | { error: string; text?: undefined };

/**
 * Claude Code's stream-json output (`-p --output-format stream-json`): the
 * first `result` line after the message was written ends its turn and carries
 * the final text. Undefined while the turn runs.
 */
export function replyFromStream(output: string): TurnReply | undefined {
  for (const line of parseLines(output)) {
    if (line.type !== 'result') continue;
    if (line.is_error === true || (typeof line.subtype === 'string' && line.subtype !== 'success'))
      return { error: typeof line.result === 'string' && line.result ? line.result : typeof line.subtype === 'string' ? line.subtype : 'error' };
    return { text: typeof line.result === 'string' ? line.result : '' };
  }
  return undefined;
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: unknown) => {
      const p = part && typeof part === 'object' ? (part as Json) : undefined;
      return p?.type === 'text' && typeof p.text === 'string' ? p.text : '';
    })
    .filter(Boolean)
    .join('\n');
}

/** A user entry the person (or gt) typed, as opposed to a tool result carried back to the model. */
function isPrompt(entry: Json): boolean {
  if (entry.type !== 'user') return false;
  const message = entry.message as Json | undefined;
  const content = message?.content;
  if (typeof content === 'string') return true;
  return Array.isArray(content) && content.some((part: unknown) => part && typeof part === 'object' && (part as Json).type === 'text');
}

/**
 * Claude Code's transcript (JSONL, one entry per message): the user entry
 * that carries `marker`, then the last assistant text before the next prompt.
 * Undefined when the marked prompt or an answer to it is not there (yet).
 */
export function replyFromTranscript(transcript: string, marker: string): TurnReply | undefined {
  const entries = parseLines(transcript);
  const start = entries.findIndex((e) => isPrompt(e) && contentText((e.message as Json | undefined)?.content).includes(marker));
  if (start < 0) return undefined;
  let reply: string | undefined;
  for (const entry of entries.slice(start + 1)) {
    if (isPrompt(entry)) break;
    if (entry.type !== 'assistant') continue;
    const text = contentText((entry.message as Json | undefined)?.content);
    if (text.trim()) reply = text;
  }
  return reply === undefined ? undefined : { text: reply };
}
