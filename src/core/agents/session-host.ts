/**
 * What a session host does for its agent besides running it: answers the
 * runtime's hooks (Claude Code over HTTP), notes the runtime's session id and
 * transcripts, and records usage as it is reported.
 */
import { answerClaudeHook } from './claude-hooks.js';
import { appendUsage, attributionOf, codexUsage, collectTranscriptUsage, StreamUsageReader, type Attribution } from '../governance/costs.js';
import type { Identity } from './identity.js';
import type { Town } from '../town/town.js';
import { noteRateLimit } from '../scheduler/backoff.js';
import { isRateLimit } from '../scheduler/decide.js';

/** Codex `exec --json`: the message of an `error` or `turn.failed` line (a 429 shows here after Codex's own retries). */
export function codexFailure(line: string): string | undefined {
  if (!line.includes('"error"') && !line.includes('"turn.failed"')) return undefined;
  try {
    const event = JSON.parse(line) as { type?: unknown; message?: unknown; error?: { message?: unknown } };
    if (event.type === 'error' && typeof event.message === 'string') return event.message;
    if (event.type === 'turn.failed' && typeof event.error?.message === 'string') return event.error.message;
  } catch {
    // not a JSON line
  }
  return undefined;
}

export interface HostContext {
  run: string;
  runDir: string;
  cwd: string;
  runtime: string;
  /** On a terminal: usage comes from the transcripts. On pipes it comes from the stream, and transcripts would count it twice. */
  tty: boolean;
}

export interface HostHandlers {
  onHook: (event: string, body: Record<string, unknown>) => Promise<Record<string, unknown>>;
  onOutputLine: (line: string) => void;
  /** Work still queued (usage, session ids): awaited before the host exits. */
  settle: () => Promise<void>;
}

export function hostHandlers(town: Town, identity: Identity, host: HostContext): HostHandlers {
  const transcripts = new Set((town.ports.files.read(`${host.runDir}/transcripts`) ?? '').split('\n').filter(Boolean));
  let attribution: Attribution = { run: host.run, agent: identity.address, ...(identity.rig ? { rig: identity.rig } : {}) };
  let pending: Promise<void> = attributionOf(town, identity, host.run).then(
    (a) => void (attribution = a),
    () => undefined,
  );
  // Output lines arrive in order and must be written in order: one chain.
  const queue = (work: () => Promise<void>) => {
    pending = pending.then(work).catch((error: unknown) => {
      town.ports.files.append(`${host.runDir}/host.log`, `${town.ports.now()} ${error instanceof Error ? error.message : String(error)}\n`);
    });
  };
  const noteSession = (id: string) =>
    queue(async () => {
      const agent = await town.agent(identity);
      if (agent) await town.saveAgentState(agent, { runtime_session: id });
    });
  const stream = new StreamUsageReader(() => attribution);
  return {
    async onHook(event, body) {
      const path = body.transcript_path;
      if (host.tty && typeof path === 'string' && !transcripts.has(path)) {
        transcripts.add(path);
        town.ports.files.append(`${host.runDir}/transcripts`, `${path}\n`);
      }
      const answer = await answerClaudeHook(town, identity, event, body, { cwd: host.cwd, runDir: host.runDir });
      // A turn's end is when its usage is final in the transcript.
      if (host.tty && (event === 'Stop' || event === 'SessionEnd' || event === 'StopFailure')) await collectTranscriptUsage(town, host.run);
      return answer;
    },
    onOutputLine(line) {
      const now = town.ports.now();
      if (host.runtime === 'codex') {
        if (line.includes('"thread.started"')) {
          const id = /"thread_id":"([^"]+)"/.exec(line)?.[1];
          if (id) noteSession(id);
        }
        const record = codexUsage(line, now, attribution);
        if (record) queue(async () => appendUsage(town, host.run, [record]));
        const failure = codexFailure(line);
        if (failure !== undefined && isRateLimit('', failure)) queue(async () => void (await noteRateLimit(town, host.runtime, identity.address, failure)));
        return;
      }
      const record = stream.read(line, now, noteSession);
      if (record) queue(async () => appendUsage(town, host.run, [record]));
    },
    settle: () => pending,
  };
}
